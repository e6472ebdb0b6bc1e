// MaxPool1D: the window shape rule, oneDNN's pooling against the reference
// kernel, the backward op, and numeric gradients.
#include <gtest/gtest.h>

#include <utility>

#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

pb::Node pool_attrs(int64_t kernel, int64_t stride = 0) {
  return make_attrs("kernel_shape: [" + std::to_string(kernel) + "]" +
                    (stride > 0 ? " strides: [" + std::to_string(stride) + "]" : ""));
}

TEST(MaxPool1D, ShapeRule) {
  EXPECT_EQ(infer_op("MaxPool1D", pool_attrs(2), {f32({2, 10, 3})})[0], f32({2, 5, 3}));
  EXPECT_EQ(infer_op("MaxPool1D", pool_attrs(3, 2), {f32({2, 10, 3})})[0], f32({2, 4, 3}));  // (10 - 3) / 2 + 1
  EXPECT_EQ(infer_op("MaxPool1D", pool_attrs(4), {f32({-1, 11, 3})})[0], f32({-1, 2, 3}));   // the tail is dropped
  EXPECT_EQ(infer_op("MaxPool1D", pool_attrs(2), {f32({2, -1, 3})})[0], f32({2, -1, 3}));
  EXPECT_EQ(infer_op("MaxPool1D", pool_attrs(10), {f32({1, 10, 1})})[0], f32({1, 1, 1}));
}

TEST(MaxPool1D, ShapeRuleRejectsBadWindows) {
  expect_infer_error("MaxPool1D", "kernel_shape: [5]", {f32({2, 4, 3})},
                     "input 0 has 4 time steps, fewer than the window of 5");
  expect_infer_error("MaxPool1D", "", {f32({2, 4, 3})}, "kernel_shape must be one window length >= 1");
  expect_infer_error("MaxPool1D", "kernel_shape: [2] strides: [0]", {f32({2, 4, 3})}, "strides must be one stride");
  EXPECT_THROW(infer_op("MaxPool1D", pool_attrs(2), {f32({4, 3})}), Error);
  EXPECT_THROW(infer_op("MaxPool1D", pool_attrs(2), {{DType::i64, {2, 4, 3}}}), Error);
}

// (input dims, kernel, stride) covering non-overlapping, overlapping and gapped
// windows, a dropped tail, batch 1, one channel and a window as long as T.
const std::tuple<Dims, int64_t, int64_t> kCases[] = {
    {{2, 10, 3}, 2, 0}, {{3, 11, 5}, 3, 1},   {{2, 9, 4}, 2, 3}, {{1, 17, 7}, 4, 0},
    {{4, 6, 1}, 6, 0},  {{2, 20, 16}, 10, 0}, {{1, 3, 2}, 1, 0},
};

TEST(MaxPool1D, MatchesReference) {
  std::mt19937 rng(31);
  for (const auto& [dims, kernel, stride] : kCases) {
    SCOPED_TRACE(dims_str(dims) + " kernel " + std::to_string(kernel) + " stride " + std::to_string(stride));
    expect_matches_reference("MaxPool1D", pool_attrs(kernel, stride), {random_floats(dims, rng, -3.f, 3.f)}, 0.f);
  }
  expect_matches_reference("MaxPool1D", pool_attrs(2), {random_floats({0, 4, 3}, rng)});  // empty batch
}

TEST(MaxPool1D, HandComputedValues) {
  // One sequence, 5 steps of 2 channels, window 2 stride 2: steps (0,1), (2,3); step 4 is dropped.
  const Tensor x = Tensor::from_floats({1, 5, 2}, std::vector<float>{1, -1, 3, -2, 0, 5, -4, 2, 9, 9});
  const Tensor expected = Tensor::from_floats({1, 2, 2}, std::vector<float>{3, -1, 0, 5});
  expect_tensors_near(run_kernel("MaxPool1D", pool_attrs(2), {x})[0], expected, 0.f, "kernel");
  expect_tensors_near(run_reference("MaxPool1D", pool_attrs(2), {x})[0], expected, 0.f, "reference");
  // Its gradient puts each dY on the window's winner: dY = [[10, 20], [30, 40]].
  const Tensor dy = Tensor::from_floats({1, 2, 2}, std::vector<float>{10, 20, 30, 40});
  const Tensor dx = Tensor::from_floats({1, 5, 2}, std::vector<float>{0, 20, 10, 0, 30, 40, 0, 0, 0, 0});
  expect_tensors_near(run_kernel("MaxPool1DGrad", pool_attrs(2), {dy, x})[0], dx, 0.f, "grad kernel");
  expect_tensors_near(run_reference("MaxPool1DGrad", pool_attrs(2), {dy, x})[0], dx, 0.f, "grad reference");
}

TEST(MaxPool1DGrad, MatchesReference) {
  std::mt19937 rng(32);
  for (const auto& [dims, kernel, stride] : kCases) {
    SCOPED_TRACE(dims_str(dims) + " kernel " + std::to_string(kernel) + " stride " + std::to_string(stride));
    const Tensor x = distinct_floats(dims, rng);
    const Tensor y = run_kernel("MaxPool1D", pool_attrs(kernel, stride), {x})[0];
    expect_matches_reference("MaxPool1DGrad", pool_attrs(kernel, stride), {random_floats(y.dims(), rng), x}, 1e-6f);
  }
}

void max_pool1d_gradients_match_numeric() {
  // Small inputs: distinct_floats grows with the size, and float32 central
  // differences lose precision on large values.
  const std::tuple<Dims, int64_t, int64_t> small_cases[] = {
      {{2, 6, 3}, 2, 0}, {{2, 7, 2}, 3, 1}, {{1, 9, 4}, 2, 3}, {{3, 4, 1}, 4, 0}, {{1, 3, 2}, 1, 0}};
  std::mt19937 rng(33);
  for (const auto& [dims, kernel, stride] : small_cases) {
    SCOPED_TRACE(dims_str(dims) + " kernel " + std::to_string(kernel) + " stride " + std::to_string(stride));
    expect_gradients_match_numeric("MaxPool1D", pool_attrs(kernel, stride), {distinct_floats(dims, rng)});
  }
}

}  // namespace

std::vector<GradientCase> pooling_gradient_cases() {
  return {
      {"MaxPool1D_GradientsMatchNumeric", {"MaxPool1D"}, max_pool1d_gradients_match_numeric},
  };
}

}  // namespace graphrun::testing
