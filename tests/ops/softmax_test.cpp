// Softmax and LogSoftmax: axis shape rule and the oneDNN kernel against the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <utility>

#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

const char* kSoftmaxOps[] = {"Softmax", "LogSoftmax"};

pb::Node axis_attrs(int64_t axis) { return make_attrs("axis: " + std::to_string(axis)); }

TEST(Softmax, ShapeRuleKeepsShape) {
  for (const char* op : kSoftmaxOps) {
    EXPECT_EQ(infer_op(op, {}, {f32({-1, 10})})[0], f32({-1, 10}));
    EXPECT_EQ(infer_op(op, axis_attrs(0), {f32({3, 4})})[0], f32({3, 4}));
    EXPECT_EQ(infer_op(op, axis_attrs(-3), {f32({2, 3, 4})})[0], f32({2, 3, 4}));
    EXPECT_EQ(infer_op(op, {}, {f32({7})})[0], f32({7}));
  }
}

TEST(Softmax, ShapeRuleRejectsBadAxis) {
  std::string message = infer_error("Softmax", axis_attrs(2), {f32({3, 4})});
  EXPECT_NE(message.find("axis 2 is out of range for input 0 of shape [3,4] (rank 2)"), std::string::npos) << message;
  message = infer_error("LogSoftmax", axis_attrs(-3), {f32({-1, 4})});
  EXPECT_NE(message.find("axis -3 is out of range for input 0 of shape [?,4]"), std::string::npos) << message;
  // A scalar has no axis to normalise over.
  EXPECT_THROW(infer_op("Softmax", {}, {f32({})}), Error);
  EXPECT_THROW(infer_op("Softmax", {}, {{DType::i64, {3}}}), Error);
  EXPECT_THROW(infer_op("Softmax", {}, {f32(Dims(13, 1))}), Error);
}

TEST(Softmax, MatchesReference) {
  const std::pair<Dims, std::vector<int64_t>> cases[] = {
      {{7}, {-1, 0}},
      {{3, 5}, {0, 1, -1, -2}},
      {{2, 3, 17}, {0, 1, 2}},
      {{1, 13}, {-1, 0}},  // batch of 1
      {{13, 1}, {-1}},     // a size-1 axis: Softmax 1, LogSoftmax 0
      {{2, 1, 3, 1, 5}, {3, 4, 0}},
      {{4, 17, 13}, {1}},
  };
  std::mt19937 rng(8);
  for (const auto& [dims, axes] : cases)
    for (int64_t axis : axes)
      for (const char* op : kSoftmaxOps) {
        SCOPED_TRACE(std::string(op) + " axis " + std::to_string(axis));
        expect_matches_reference(op, axis_attrs(axis), {random_floats(dims, rng, -3.f, 3.f)}, 1e-5f);
        // Large magnitudes: exp(x) alone would overflow; the max shift must keep it finite.
        expect_matches_reference(op, axis_attrs(axis), {random_floats(dims, rng, -80.f, 80.f)}, 1e-5f);
      }
}

TEST(Softmax, EmptyInputIsANoOp) {
  std::mt19937 rng(9);
  for (const char* op : kSoftmaxOps) {
    EXPECT_EQ(run_kernel(op, {}, {random_floats({0, 5}, rng)})[0].dims(), (Dims{0, 5}));
    expect_matches_reference(op, axis_attrs(0), {random_floats({3, 0}, rng)});
  }
}

TEST(Softmax, HandComputedValues) {
  // softmax([0, ln 3]) = [1/4, 3/4]; along axis 0 of [[0, 5], [ln 3, 5]] the second column is [1/2, 1/2].
  const float x[] = {0.f, 5.f, std::log(3.f), 5.f};
  const float expected[] = {0.25f, 0.5f, 0.75f, 0.5f};
  const Tensor input = Tensor::from_floats({2, 2}, x);
  expect_tensors_near(run_kernel("Softmax", axis_attrs(0), {input})[0], Tensor::from_floats({2, 2}, expected), 1e-6f,
                      "kernel");
  expect_tensors_near(run_reference("Softmax", axis_attrs(0), {input})[0], Tensor::from_floats({2, 2}, expected), 1e-6f,
                      "reference");

  // LogSoftmax of equal values is -ln(n), also far from 0 where exp overflows.
  const float same[] = {1000.f, 1000.f, 1000.f, 1000.f};
  const float log_quarter = -std::log(4.f);
  const float expected_log[] = {log_quarter, log_quarter, log_quarter, log_quarter};
  const Tensor same_input = Tensor::from_floats({4}, same);
  // oneDNN's vectorised log is good to about 1e-6 relative.
  expect_tensors_near(run_kernel("LogSoftmax", {}, {same_input})[0], Tensor::from_floats({4}, expected_log), 1e-5f,
                      "kernel");
  expect_tensors_near(run_reference("LogSoftmax", {}, {same_input})[0], Tensor::from_floats({4}, expected_log), 1e-6f,
                      "reference");
}

// The backward op of each forward op.
const std::pair<const char*, const char*> kGradOps[] = {{"Softmax", "SoftmaxGrad"}, {"LogSoftmax", "LogSoftmaxGrad"}};

TEST(SoftmaxGrad, ShapeRule) {
  for (const auto& [forward, grad] : kGradOps) {
    EXPECT_EQ(infer_op(grad, {}, {f32({-1, 10}), f32({-1, 10})})[0], f32({-1, 10}));
    EXPECT_EQ(infer_op(grad, axis_attrs(0), {f32({3, 4}), f32({-1, 4})})[0], f32({3, 4}));
    EXPECT_THROW(infer_op(grad, {}, {f32({3, 4}), f32({3, 5})}), Error);
    EXPECT_THROW(infer_op(grad, {}, {f32({3, 4}), f32({4})}), Error);
    EXPECT_THROW(infer_op(grad, axis_attrs(2), {f32({3, 4}), f32({3, 4})}), Error);
  }
}

TEST(SoftmaxGrad, MatchesReference) {
  const std::pair<Dims, std::vector<int64_t>> cases[] = {
      {{7}, {-1}},
      {{3, 5}, {0, 1}},
      {{2, 3, 17}, {0, 1, 2}},
      {{1, 13}, {-1}},  // batch of 1
      {{13, 1}, {-1}},  // a size-1 axis
      {{2, 1, 3, 1, 5}, {3, 4, 0}},
  };
  std::mt19937 rng(15);
  for (const auto& [dims, axes] : cases)
    for (int64_t axis : axes)
      for (const auto& [forward, grad] : kGradOps) {
        SCOPED_TRACE(std::string(grad) + " on " + dims_str(dims) + " axis " + std::to_string(axis));
        // Y from the forward op, as the gradient op sees it in a graph.
        const Tensor y = run_kernel(forward, axis_attrs(axis), {random_floats(dims, rng, -3.f, 3.f)})[0];
        expect_matches_reference(grad, axis_attrs(axis), {random_floats(dims, rng), y}, 1e-5f);
      }
  expect_matches_reference("SoftmaxGrad", {}, {random_floats({0, 3}, rng), random_floats({0, 3}, rng)});
}

TEST(SoftmaxGrad, HandComputedValues) {
  // y = [1/4, 3/4], dy = [1, 0]: SoftmaxGrad = y * (dy - sum(dy * y)) = [3/16, -3/16];
  // LogSoftmaxGrad (given log y) = dy - y * sum(dy) = [3/4, -3/4].
  const Tensor dy = Tensor::from_floats({2}, std::vector<float>{1.f, 0.f});
  const Tensor y = Tensor::from_floats({2}, std::vector<float>{0.25f, 0.75f});
  const Tensor log_y = Tensor::from_floats({2}, std::vector<float>{std::log(0.25f), std::log(0.75f)});
  const Tensor expected = Tensor::from_floats({2}, std::vector<float>{0.1875f, -0.1875f});
  const Tensor expected_log = Tensor::from_floats({2}, std::vector<float>{0.75f, -0.75f});
  for (const auto& run : {run_kernel, run_reference}) {
    expect_tensors_near(run("SoftmaxGrad", {}, {dy, y}, {})[0], expected, 1e-6f, "SoftmaxGrad");
    expect_tensors_near(run("LogSoftmaxGrad", {}, {dy, log_y}, {})[0], expected_log, 1e-6f, "LogSoftmaxGrad");
  }
}

void softmax_gradients_match_numeric() {
  const std::pair<Dims, std::vector<int64_t>> cases[] = {
      {{7}, {-1}},    {{3, 5}, {0, 1}}, {{2, 3, 5}, {0, 1, 2}}, {{1, 9}, {-1}},  // batch of 1
      {{4, 1}, {-1}},                                                            // a size-1 axis: zero gradient
  };
  std::mt19937 rng(16);
  for (const auto& [dims, axes] : cases)
    for (int64_t axis : axes)
      for (const char* op : kSoftmaxOps) {
        SCOPED_TRACE(std::string(op) + " on " + dims_str(dims) + " axis " + std::to_string(axis));
        expect_gradients_match_numeric(op, axis_attrs(axis), {random_floats(dims, rng, -2.f, 2.f)});
      }
}

}  // namespace

std::vector<GradientCase> softmax_gradient_cases() {
  return {
      {"Softmax_GradientsMatchNumeric", {"Softmax", "LogSoftmax"}, softmax_gradients_match_numeric},
  };
}

}  // namespace graphrun::testing
