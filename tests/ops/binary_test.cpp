// Binary ops (Add, Sub, Mul, Div, Equal, Max, Min): broadcasting shape rules,
// kernels against the reference, Max/Min ties.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

const char* kBinaryOps[] = {"Add", "Sub", "Mul", "Div"};

TEST(Binary, ShapeRuleBroadcasts) {
  EXPECT_EQ(infer_op("Add", {}, {f32({3, 4}), f32({3, 4})})[0], f32({3, 4}));
  EXPECT_EQ(infer_op("Sub", {}, {f32({2, 3, 4}), f32({4})})[0], f32({2, 3, 4}));
  EXPECT_EQ(infer_op("Mul", {}, {f32({4}), f32({2, 3, 4})})[0], f32({2, 3, 4}));
  EXPECT_EQ(infer_op("Div", {}, {f32({3, 1}), f32({1, 4})})[0], f32({3, 4}));
  EXPECT_EQ(infer_op("Add", {}, {f32({}), f32({5, 2})})[0], f32({5, 2}));
  EXPECT_EQ(infer_op("Add", {}, {f32({}), f32({})})[0], f32({}));
  EXPECT_EQ(infer_op("Add", {}, {f32({1}), f32({})})[0], f32({1}));
}

TEST(Binary, ShapeRuleKeepsUnknownDims) {
  EXPECT_EQ(infer_op("Add", {}, {f32({-1, 10}), f32({10})})[0], f32({-1, 10}));
  EXPECT_EQ(infer_op("Mul", {}, {f32({-1, 1}), f32({1, 5})})[0], f32({-1, 5}));
  EXPECT_EQ(infer_op("Sub", {}, {f32({-1}), f32({-1})})[0], f32({-1}));
  EXPECT_EQ(infer_op("Div", {}, {f32({1}), f32({-1})})[0], f32({-1}));
  // An unknown dim against a known one takes the known size.
  EXPECT_EQ(infer_op("Add", {}, {f32({-1, 3}), f32({7, 3})})[0], f32({7, 3}));
}

TEST(Binary, ShapeRuleRejectsIncompatibleShapes) {
  EXPECT_THROW(infer_op("Add", {}, {f32({2, 3}), f32({4})}), Error);
  const std::string message = infer_error("Sub", {f32({-1, 3, 5}), f32({4, 5})});
  EXPECT_NE(message.find("input 0 has shape [?,3,5] and input 1 has shape [4,5]"), std::string::npos) << message;
  EXPECT_NE(message.find("dimensions 3 and 4 at axis -2"), std::string::npos) << message;
  EXPECT_NE(message.find("(Sub)"), std::string::npos) << message;
}

TEST(Binary, ShapeRuleRejectsRanksOneDnnCannotHold) {
  const std::string message = infer_error("Add", {f32(Dims(13, 1)), f32({2})});
  EXPECT_NE(message.find("output rank 13 is more than the 12 oneDNN supports"), std::string::npos) << message;
}

TEST(Binary, ShapeRuleRejectsInt64) {
  EXPECT_THROW(infer_op("Mul", {}, {{DType::i64, {3}}, f32({3})}), Error);
  EXPECT_NE(infer_error("Add", {f32({3}), {DType::i64, {3}}}).find("int64"), std::string::npos);
}

TEST(Binary, MatchesReferenceOnBroadcastShapes) {
  const std::pair<Dims, Dims> cases[] = {
      {{7}, {7}},  // same shape
      {{3, 5}, {3, 5}},
      {{2, 3, 17}, {2, 3, 17}},
      {{}, {}},      // scalars
      {{}, {3, 4}},  // scalar against a matrix, both orders
      {{3, 4}, {}},
      {{1}, {13}},  // [1] stretches
      {{13}, {1}},
      {{2, 3, 4}, {4}},  // leading-rank mismatch, both orders
      {{4}, {2, 3, 4}},
      {{3, 4}, {2, 1, 4}},
      {{3, 1}, {1, 4}},  // both sides broadcast
      {{7, 1, 5}, {1, 13, 1}},
      {{2, 1, 3}, {4, 1}},
      {{1, 17}, {1, 17}},  // batch of 1
      {{1, 3, 5}, {5}},
      {{5}, {1, 3, 5}},
      {{2, 1, 1, 3, 1}, {1, 4, 5, 1, 7}},
  };
  std::mt19937 rng(2);
  for (const auto& [a_dims, b_dims] : cases) {
    for (const char* op : kBinaryOps) {
      SCOPED_TRACE(std::string(op) + " " + dims_str(a_dims) + " " + dims_str(b_dims));
      Tensor a = random_floats(a_dims, rng, -2.f, 2.f);
      // Keep divisors away from 0 so Div compares well-conditioned values.
      Tensor b =
          std::string(op) == "Div" ? random_floats(b_dims, rng, 0.5f, 2.f) : random_floats(b_dims, rng, -2.f, 2.f);
      expect_matches_reference(op, {}, {a, b}, 1e-6f);
    }
  }
}

TEST(Binary, EmptyOutputIsANoOp) {
  std::mt19937 rng(3);
  for (const char* op : kBinaryOps) {
    auto out = run_kernel(op, {}, {random_floats({0, 3}, rng), random_floats({1, 3}, rng)});
    EXPECT_EQ(out[0].dims(), (Dims{0, 3}));
    expect_matches_reference(op, {}, {random_floats({3, 1}, rng), random_floats({0}, rng)});
  }
}

TEST(Binary, HandComputedValues) {
  const float a[] = {10.f, 20.f};     // shape [2,1]
  const float b[] = {1.f, 2.f, 4.f};  // shape [3]
  const Tensor ta = Tensor::from_floats({2, 1}, a), tb = Tensor::from_floats({3}, b);
  const struct {
    const char* op;
    std::vector<float> expected;  // shape [2,3]
  } cases[] = {
      {"Add", {11.f, 12.f, 14.f, 21.f, 22.f, 24.f}},
      {"Sub", {9.f, 8.f, 6.f, 19.f, 18.f, 16.f}},
      {"Mul", {10.f, 20.f, 40.f, 20.f, 40.f, 80.f}},
      {"Div", {10.f, 5.f, 2.5f, 20.f, 10.f, 5.f}},
  };
  for (const auto& c : cases) {
    const Tensor expected = Tensor::from_floats({2, 3}, c.expected);
    expect_tensors_near(run_kernel(c.op, {}, {ta, tb})[0], expected, 0.f, std::string(c.op) + " kernel");
    expect_tensors_near(run_reference(c.op, {}, {ta, tb})[0], expected, 0.f, std::string(c.op) + " reference");
  }
  // Operand order matters for Sub and Div even when input 1 has the full shape.
  const Tensor scalar = Tensor::scalar(1.f);
  expect_tensors_near(run_kernel("Sub", {}, {scalar, tb})[0],
                      Tensor::from_floats({3}, std::vector<float>{0.f, -1.f, -3.f}), 0.f, "1 - b");
  expect_tensors_near(run_kernel("Div", {}, {scalar, tb})[0],
                      Tensor::from_floats({3}, std::vector<float>{1.f, 0.5f, 0.25f}), 0.f, "1 / b");
}

void binary_gradients_match_numeric() {
  const std::pair<Dims, Dims> cases[] = {
      {{7}, {7}},                                               // same shape, odd size
      {{3, 5}, {3, 5}}, {{3, 1}, {1, 4}},                       // both sides broadcast
      {{}, {3, 4}},                                             // scalar against a matrix, both orders
      {{3, 4}, {}},     {{2, 3, 4}, {4}},                       // leading-rank mismatch, both orders
      {{4}, {2, 3, 4}}, {{2, 1, 3}, {4, 1}}, {{1, 5}, {1, 5}},  // batch of 1
      {{1, 3, 5}, {5}},
  };
  std::mt19937 rng(12);
  for (const auto& [a_dims, b_dims] : cases)
    for (const char* op : kBinaryOps) {
      SCOPED_TRACE(std::string(op) + " " + dims_str(a_dims) + " " + dims_str(b_dims));
      Tensor a = random_floats(a_dims, rng, -2.f, 2.f);
      // Divisors away from 0 keep Div's derivatives well-conditioned.
      Tensor b =
          std::string(op) == "Div" ? random_floats(b_dims, rng, 0.5f, 2.f) : random_floats(b_dims, rng, -2.f, 2.f);
      expect_gradients_match_numeric(op, {}, {a, b});
    }
}

// ---- Equal, Max, Min --------------------------------------------------------------

// A copy of `a` with each element moved up or down by `gap`, so Max/Min of the
// two never sit on a tie.
Tensor shifted_away(const Tensor& a, std::mt19937& rng, float gap) {
  Tensor b = a.clone();
  std::bernoulli_distribution up(0.5);
  for (float& v : b.values<float>()) v += up(rng) ? gap : -gap;
  return b;
}

TEST(EqualMaxMin, ShapeRules) {
  EXPECT_EQ(infer_op("Equal", {}, {{DType::i64, {-1, 1}}, {DType::i64, {5}}})[0], (TensorType{DType::f32, {-1, 5}}));
  EXPECT_THROW(infer_op("Equal", {}, {{DType::i64, {5}}, {DType::f32, {5}}}), Error);
  EXPECT_THROW(infer_op("Equal", {}, {{DType::f32, {4}}, {DType::f32, {5}}}), Error);

  EXPECT_EQ(infer_op("Max", {}, {{DType::f32, {3, 1}}, {DType::f32, {4}}})[0], (TensorType{DType::f32, {3, 4}}));
  EXPECT_THROW(infer_op("Min", {}, {{DType::f32, {3}}, {DType::f32, {4}}}), Error);
  EXPECT_THROW(infer_op("Max", {}, {{DType::i64, {3}}, {DType::i64, {3}}}), Error);
  const auto grads = infer_op("MaxGrad", {}, {{DType::f32, {3, 4}}, {DType::f32, {3, 1}}, {DType::f32, {4}}});
  EXPECT_EQ(grads[1], (TensorType{DType::f32, {3, 4}}));
  EXPECT_THROW(infer_op("MinGrad", {}, {{DType::f32, {3, 5}}, {DType::f32, {3, 1}}, {DType::f32, {4}}}), Error);
}

TEST(Equal, MatchesReferenceWithBroadcasting) {
  std::mt19937 rng(4);
  for (const auto& [a, b] : std::vector<std::pair<Dims, Dims>>{
           {{5}, {5}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{}, {2, 3}}, {{2, 1, 3}, {4, 1}}, {{0, 3}, {3}}}) {
    expect_matches_reference("Equal", {}, {random_ints(a, rng, 0, 3), random_ints(b, rng, 0, 3)});
    // Small integer-valued floats so that both outcomes occur.
    Tensor fa = random_floats(a, rng), fb = random_floats(b, rng);
    for (float& v : fa.values<float>()) v = std::round(v);
    for (float& v : fb.values<float>()) v = std::round(v);
    expect_matches_reference("Equal", {}, {fa, fb});
  }
  // Accuracy's building block: predictions against labels.
  const auto eq = run_kernel("Equal", {}, {ints({4}, {0, 2, 1, 1}), ints({4}, {0, 1, 1, 2})});
  EXPECT_EQ(std::vector<float>(eq[0].values<float>().begin(), eq[0].values<float>().end()),
            (std::vector<float>{1, 0, 1, 0}));
}

TEST(MaxMin, MatchReferenceOnBroadcastShapes) {
  std::mt19937 rng(7);
  // Same shape and src1-broadcast run on oneDNN (also with A the broadcast one,
  // by swapping); {3,1} x {1,4} and rank 0 x rank 0 exercise the other paths.
  for (const auto& [a, b] : std::vector<std::pair<Dims, Dims>>{
           {{7}, {7}}, {{3, 5}, {5}}, {{5}, {3, 5}}, {{3, 1}, {1, 4}}, {{}, {}}, {{2, 3, 4}, {3, 1}}, {{0, 3}, {3}}}) {
    for (const char* op : {"Max", "Min", "MaxGrad", "MinGrad"}) {
      std::vector<Tensor> inputs = {random_floats(a, rng), random_floats(b, rng)};
      if (op[3] == 'G') {  // the grad ops take dC of the broadcast shape first
        Dims out;
        ASSERT_TRUE(broadcast_dims(a, b, &out));
        inputs.insert(inputs.begin(), random_floats(out, rng));
      }
      expect_matches_reference(op, {}, inputs);
    }
  }
  // Ties route the gradient to A.
  const auto g = run_kernel("MaxGrad", {}, {floats({2}, {1, 2}), floats({2}, {3, 0}), floats({2}, {3, 1})});
  EXPECT_EQ(g[0].data<float>()[0], 1.f);
  EXPECT_EQ(g[1].data<float>()[0], 0.f);
  EXPECT_EQ(g[0].data<float>()[1], 0.f);
  EXPECT_EQ(g[1].data<float>()[1], 2.f);
}

void max_min_gradients_match_numeric() {
  std::mt19937 rng(9);
  for (const auto& [a, b] : std::vector<std::pair<Dims, Dims>>{{{2, 3}, {2, 3}}, {{2, 3}, {3}}, {{3, 1}, {1, 4}}}) {
    // B = A +- 0.3 where shapes match; elsewhere random values spaced apart.
    const Tensor ta = random_floats(a, rng, -2.f, 2.f);
    const Tensor tb = a == b ? shifted_away(ta, rng, 0.3f) : random_floats(b, rng, -2.f, 2.f);
    for (const char* op : {"Max", "Min"}) expect_gradients_match_numeric(op, {}, {ta, tb});
  }
}

}  // namespace

std::vector<GradientCase> binary_gradient_cases() {
  return {
      {"Binary_GradientsMatchNumeric", {"Add", "Sub", "Mul", "Div"}, binary_gradients_match_numeric},
      {"MaxMin_GradientsMatchNumeric", {"Max", "Min"}, max_min_gradients_match_numeric},
  };
}

}  // namespace graphrun::testing
