// Eltwise ops: shape rule and oneDNN kernel against the reference; Sign and
// the casts (truncation, saturation, exactness).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

const char* kUnaryOps[] = {"Relu", "Tanh", "Sigmoid", "Exp", "Neg", "Abs"};

TEST(Eltwise, ShapeRuleKeepsShape) {
  EXPECT_EQ(infer_op("Relu", {}, {{DType::f32, {-1, 7}}})[0], (TensorType{DType::f32, {-1, 7}}));
  EXPECT_THROW(infer_op("Tanh", {}, {{DType::i64, {3}}}), Error);
}

TEST(Eltwise, MatchesReferenceOnSeveralShapes) {
  std::mt19937 rng(1);
  for (const Dims& dims : {Dims{1}, Dims{7}, Dims{1, 1}, Dims{3, 5}, Dims{2, 3, 17}, Dims{}}) {
    for (const char* op : kUnaryOps) expect_matches_reference(op, {}, {random_floats(dims, rng, -3.f, 3.f)}, 1e-5f);
    // Log and Sqrt on positive inputs, away from 0.
    for (const char* op : {"Log", "Sqrt"})
      expect_matches_reference(op, {}, {random_floats(dims, rng, 0.1f, 4.f)}, 1e-5f);
  }
}

TEST(Eltwise, ReluClampsNegatives) {
  const float x[] = {-2.f, 0.f, 3.f};
  auto y = run_kernel("Relu", {}, {Tensor::from_floats({3}, x)});
  EXPECT_EQ(y[0].data<float>()[0], 0.f);
  EXPECT_EQ(y[0].data<float>()[2], 3.f);
}

}  // namespace
}  // namespace graphrun::testing

namespace graphrun::testing {
namespace {

void eltwise_grad_matches_numeric_gradients() {
  std::mt19937 rng(2);
  for (const Dims& dims : {Dims{1}, Dims{3, 5}, Dims{2, 3, 7}}) {
    for (const char* op : {"Tanh", "Sigmoid", "Exp", "Neg"})
      expect_gradients_match_numeric(op, {}, {random_floats(dims, rng, -2.f, 2.f)});
    for (const char* op : {"Log", "Sqrt"})
      expect_gradients_match_numeric(op, {}, {random_floats(dims, rng, 0.5f, 3.f)});
    // Relu and Abs: inputs kept away from the kink at 0.
    Tensor x = random_floats(dims, rng, 0.2f, 2.f);
    for (int64_t i = 0; i < x.num_elements(); i += 2) x.data<float>()[i] = -x.data<float>()[i];
    for (const char* op : {"Relu", "Abs"}) expect_gradients_match_numeric(op, {}, {x});
  }
}

TEST(EltwiseGrad, BackwardOpsMatchReference) {
  std::mt19937 rng(3);
  for (const Dims& dims : {Dims{1}, Dims{7}, Dims{4, 13}}) {
    const Tensor dy = random_floats(dims, rng);
    for (const char* op : {"ReluGrad", "AbsGrad"})
      expect_matches_reference(op, {}, {dy, random_floats(dims, rng, -2.f, 2.f)});
    expect_matches_reference("TanhGrad", {}, {dy, random_floats(dims, rng, -0.9f, 0.9f)});
    expect_matches_reference("SigmoidGrad", {}, {dy, random_floats(dims, rng, 0.1f, 0.9f)});
    expect_matches_reference("SqrtGrad", {}, {dy, random_floats(dims, rng, 0.5f, 2.f)});
  }
  // Hand-computed: tanh'(.) from y = 0.5 is 0.75.
  const float dy[] = {2.f}, y[] = {0.5f};
  EXPECT_FLOAT_EQ(
      run_kernel("TanhGrad", {}, {Tensor::from_floats({1}, dy), Tensor::from_floats({1}, y)})[0].data<float>()[0],
      1.5f);
}

// ---- CastToFloat, CastToInt64, Sign ----------------------------------------------

TEST(CastSign, ShapeRules) {
  EXPECT_EQ(infer_op("CastToFloat", {}, {{DType::i64, {-1, 3}}})[0], (TensorType{DType::f32, {-1, 3}}));
  EXPECT_EQ(infer_op("CastToInt64", {}, {{DType::f32, {2}}})[0], (TensorType{DType::i64, {2}}));
  EXPECT_EQ(infer_op("Sign", {}, {{DType::f32, {2, 3}}})[0], (TensorType{DType::f32, {2, 3}}));
  EXPECT_THROW(infer_op("Sign", {}, {{DType::i64, {2}}}), Error);
}

TEST(Cast, ConvertsAndTruncatesTowardZero) {
  std::mt19937 rng(5);
  expect_matches_reference("CastToFloat", {}, {random_ints({3, 4}, rng, -1000, 1000)});
  expect_matches_reference("CastToFloat", {}, {random_floats({3, 4}, rng)});
  expect_matches_reference("CastToInt64", {}, {random_floats({3, 4}, rng, -50.f, 50.f)});
  expect_matches_reference("CastToInt64", {}, {random_ints({7}, rng, -5, 5)});

  const auto i = run_kernel("CastToInt64", {}, {floats({4}, {2.7f, -2.7f, 0.5f, -0.f})})[0];
  EXPECT_EQ(i.data<int64_t>()[0], 2);
  EXPECT_EQ(i.data<int64_t>()[1], -2);
  EXPECT_EQ(i.data<int64_t>()[2], 0);
  EXPECT_EQ(i.data<int64_t>()[3], 0);
  // Saturation instead of undefined behaviour.
  const float inf = std::numeric_limits<float>::infinity();
  const auto s = run_kernel("CastToInt64", {}, {floats({3}, {std::nanf(""), 1e30f, -inf})})[0];
  EXPECT_EQ(s.data<int64_t>()[0], 0);
  EXPECT_EQ(s.data<int64_t>()[1], std::numeric_limits<int64_t>::max());
  EXPECT_EQ(s.data<int64_t>()[2], std::numeric_limits<int64_t>::min());
  // int64 -> float is exact up to 2^24.
  EXPECT_EQ(run_kernel("CastToFloat", {}, {ints({1}, {16777216})})[0].data<float>()[0], 16777216.f);
}

TEST(Sign, MatchesReference) {
  std::mt19937 rng(6);
  expect_matches_reference("Sign", {}, {random_floats({4, 5}, rng)});
  const auto y = run_kernel("Sign", {}, {floats({3}, {-0.5f, 0.f, 7.f})})[0];
  EXPECT_EQ(y.data<float>()[0], -1.f);
  EXPECT_EQ(y.data<float>()[1], 0.f);
  EXPECT_EQ(y.data<float>()[2], 1.f);
}

void cast_sign_gradients_match_numeric() {
  std::mt19937 rng(9);
  expect_gradients_match_numeric("CastToFloat", {}, {random_floats({2, 3}, rng)});
  // Sign: away from 0, the true derivative is 0 and no gradient flows.
  Tensor x = random_floats({2, 3}, rng, 0.2f, 2.f);
  for (int64_t i = 0; i < x.num_elements(); i += 2) x.data<float>()[i] = -x.data<float>()[i];
  expect_gradients_match_numeric("Sign", {}, {x});
}

}  // namespace

std::vector<GradientCase> eltwise_gradient_cases() {
  return {
      {"EltwiseGrad_MatchesNumericGradients",
       {"Tanh", "Sigmoid", "Exp", "Neg", "Log", "Sqrt", "Relu", "Abs"},
       eltwise_grad_matches_numeric_gradients},
      {"CastSign_GradientsMatchNumeric", {"CastToFloat", "Sign"}, cast_sign_gradients_match_numeric},
  };
}

}  // namespace graphrun::testing
