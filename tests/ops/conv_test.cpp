// Conv2D and Conv2DTranspose: shape rules (both paddings, strides, Keras' transpose output
// size), oneDNN against the reference kernels, the backward ops, numeric gradients, hand-computed
// values, and the adjoint identity that pins the kernel layouts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

pb::Node conv_attrs(int64_t sh, int64_t sw, bool same) {
  return make_attrs("strides: [" + std::to_string(sh) + ", " + std::to_string(sw) + "]" +
                    (same ? " auto_pad: \"SAME_UPPER\"" : ""));
}
pb::Node conv_attrs(int64_t stride, bool same) { return conv_attrs(stride, stride, same); }

// Dims of Y for one forward op.
Dims out_dims(const std::string& op, const pb::Node& attrs, const Dims& x, const Dims& w) {
  return infer_op(op, attrs, {f32(x), f32(w)})[0].dims;
}

TEST(Conv2D, ShapeRule) {
  const Dims w3 = {3, 3, 4, 64};
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(1, false), {2, 36, 36, 4}, w3), (Dims{2, 34, 34, 64}));
  EXPECT_EQ(out_dims("Conv2D", make_attrs(""), {2, 36, 36, 4}, w3), (Dims{2, 34, 34, 64}));  // VALID, stride 1 default
  EXPECT_EQ(out_dims("Conv2D", make_attrs("auto_pad: \"VALID\""), {2, 36, 36, 4}, w3), (Dims{2, 34, 34, 64}));
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(1, true), {2, 36, 36, 4}, w3), (Dims{2, 36, 36, 64}));
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(1, true), {-1, 36, 36, 4}, w3), (Dims{-1, 36, 36, 64}));
  // Stride 2 on odd sizes: VALID floor((L - k) / s) + 1, SAME ceil(L / s).
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(2, false), {1, 7, 9, 4}, w3), (Dims{1, 3, 4, 64}));
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(2, true), {1, 7, 9, 4}, w3), (Dims{1, 4, 5, 64}));
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(2, false), {1, 8, 8, 4}, w3), (Dims{1, 3, 3, 64}));  // a tail is dropped
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(2, 1, true), {1, 7, 9, 4}, w3), (Dims{1, 4, 9, 64}));
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(1, false), {1, 3, 3, 4}, w3), (Dims{1, 1, 1, 64}));
  // 1x1 kernels.
  const Dims w1 = {1, 1, 3, 8};
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(1, false), {2, 5, 6, 3}, w1), (Dims{2, 5, 6, 8}));
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(2, false), {2, 5, 6, 3}, w1), (Dims{2, 3, 3, 8}));
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(2, true), {2, 5, 6, 3}, w1), (Dims{2, 3, 3, 8}));
  // Unknown spatial dims stay unknown; a bias is optional.
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(2, true), {-1, -1, 6, 3}, w1), (Dims{-1, -1, 3, 8}));
  EXPECT_EQ(infer_op("Conv2D", conv_attrs(1, true), {f32({-1, 5, 5, 3}), f32(w1), f32({8})})[0], f32({-1, 5, 5, 8}));
}

TEST(Conv2DTranspose, ShapeRule) {
  // Keras: SAME L*s; VALID L*s + max(k - s, 0). The kernel is [kh, kw, out, in].
  const Dims w3 = {3, 3, 4, 64};
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(1, true), {2, 36, 36, 64}, w3), (Dims{2, 36, 36, 4}));
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(1, true), {-1, 36, 36, 64}, w3), (Dims{-1, 36, 36, 4}));
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(1, false), {2, 34, 34, 64}, w3), (Dims{2, 36, 36, 4}));
  EXPECT_EQ(out_dims("Conv2DTranspose", make_attrs(""), {2, 34, 34, 64}, w3), (Dims{2, 36, 36, 4}));
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(2, false), {1, 5, 4, 64}, w3), (Dims{1, 11, 9, 4}));
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(2, true), {1, 5, 4, 64}, w3), (Dims{1, 10, 8, 4}));
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(2, 1, true), {1, 5, 4, 64}, w3), (Dims{1, 10, 4, 4}));
  // 1x1 kernels: with k < s VALID still gives L*s (the last s - k positions get only the bias).
  const Dims w1 = {1, 1, 8, 3};
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(1, false), {2, 5, 6, 3}, w1), (Dims{2, 5, 6, 8}));
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(2, false), {2, 5, 6, 3}, w1), (Dims{2, 10, 12, 8}));
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(2, true), {2, 5, 6, 3}, w1), (Dims{2, 10, 12, 8}));
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(3, false), {1, 2, 3, 3}, {2, 2, 8, 3}), (Dims{1, 6, 9, 8}));
  EXPECT_EQ(out_dims("Conv2DTranspose", conv_attrs(2, false), {1, 1, 1, 3}, {3, 3, 8, 3}), (Dims{1, 3, 3, 8}));
  EXPECT_EQ(infer_op("Conv2DTranspose", conv_attrs(2, true), {f32({-1, 5, 5, 3}), f32(w1), f32({8})})[0],
            f32({-1, 10, 10, 8}));
}

TEST(Conv2D, BackwardShapeRules) {
  const pb::Node attrs = conv_attrs(2, false);
  const TensorType x = f32({-1, 7, 9, 3}), w = f32({3, 3, 3, 5}), dy = f32({-1, 3, 4, 5});
  EXPECT_EQ(infer_op("Conv2DBackwardData", attrs, {dy, w, x})[0], x);
  EXPECT_EQ(infer_op("Conv2DBackwardWeights", attrs, {dy, x, w})[0], w);
  // The transpose maps dY [N, 7, 9, 3] back to X [N, 3, 4, 5] with kernel [3, 3, 3, 5].
  EXPECT_EQ(infer_op("Conv2DTransposeBackwardData", attrs, {f32({2, 7, 9, 3}), w, f32({2, 3, 4, 5})})[0],
            f32({2, 3, 4, 5}));
  EXPECT_EQ(infer_op("Conv2DTransposeBackwardWeights", attrs, {f32({2, 7, 9, 3}), f32({2, 3, 4, 5}), w})[0], w);
  // dY must have the forward op's output shape (here 8 rows: Conv2D gives 3 rows for 7 or 8).
  EXPECT_NE(infer_error("Conv2DBackwardData", attrs, {f32({2, 4, 4, 5}), w, f32({2, 7, 9, 3})})
                .find("input 0 (dY) has shape [2,4,4,5], but Conv2D gives [2,3,4,5] for these X and W"),
            std::string::npos);
  EXPECT_NE(infer_error("Conv2DTransposeBackwardWeights", attrs, {f32({2, 8, 9, 3}), f32({2, 3, 4, 5}), w})
                .find("but Conv2DTranspose gives [2,7,9,3]"),
            std::string::npos);
}

TEST(Conv2D, ShapeRuleErrors) {
  const pb::Node valid = conv_attrs(1, false);
  EXPECT_THROW(infer_op("Conv2D", valid, {f32({2, 5, 5}), f32({3, 3, 5, 4})}), Error);  // X rank 3
  EXPECT_THROW(infer_op("Conv2D", valid, {f32({2, 5, 5, 3}), f32({3, 3, 3})}), Error);  // W rank 3
  EXPECT_THROW(infer_op("Conv2DTranspose", valid, {f32({5, 5, 3}), f32({3, 3, 4, 3})}), Error);
  EXPECT_THROW(infer_op("Conv2D", valid, {{DType::i64, {2, 5, 5, 3}}, f32({3, 3, 3, 4})}), Error);
  // Channels: Conv2D reads W[2], Conv2DTranspose W[3].
  EXPECT_NE(infer_error("Conv2D", valid, {f32({1, 5, 5, 3}), f32({3, 3, 4, 8})})
                .find("input 0 has shape [1,5,5,3] with 3 channels, but the kernel [3,3,4,8] ([kh, kw, in, out]) "
                      "takes 4"),
            std::string::npos);
  EXPECT_NE(infer_error("Conv2DTranspose", valid, {f32({1, 5, 5, 3}), f32({3, 3, 3, 4})})
                .find("with 3 channels, but the kernel [3,3,3,4] ([kh, kw, out, in]) takes 4"),
            std::string::npos);
  EXPECT_NE(infer_error("Conv2D", make_attrs("auto_pad: \"SAME\""), {f32({1, 5, 5, 3}), f32({3, 3, 3, 4})})
                .find("auto_pad must be \"VALID\" or \"SAME_UPPER\" (got \"SAME\")"),
            std::string::npos);
  EXPECT_NE(infer_error("Conv2DTranspose", make_attrs("auto_pad: \"same\""), {f32({1, 5, 5, 3}), f32({3, 3, 4, 3})})
                .find("(got \"same\")"),
            std::string::npos);
  // A kernel larger than the image: an error with VALID, fine with SAME.
  EXPECT_NE(
      infer_error("Conv2D", valid, {f32({1, 2, 5, 3}), f32({3, 3, 3, 4})})
          .find("input 0 has shape [1,2,5,3]: 2 positions on axis 1 are fewer than the kernel's 3 (VALID padding)"),
      std::string::npos);
  EXPECT_EQ(out_dims("Conv2D", conv_attrs(1, true), {1, 2, 5, 3}, {3, 3, 3, 4}), (Dims{1, 2, 5, 4}));
  EXPECT_NE(infer_error("Conv2D", make_attrs("strides: [2]"), {f32({1, 5, 5, 3}), f32({3, 3, 3, 4})})
                .find("strides must be two strides [sh, sw] >= 1 (got [2])"),
            std::string::npos);
  EXPECT_NE(infer_error("Conv2D", make_attrs("strides: [1, 0]"), {f32({1, 5, 5, 3}), f32({3, 3, 3, 4})})
                .find("strides must be two strides"),
            std::string::npos);
  EXPECT_NE(infer_error("Conv2D", valid, {f32({1, 5, 5, 3}), f32({3, 3, 3, 4}), f32({3})})
                .find("input 2 (the bias) has shape [3], expected [4]"),
            std::string::npos);
  EXPECT_NE(
      infer_error("Conv2D", valid, {f32({1, 5, 5, 3}), f32({0, 3, 3, 4})}).find("its dims must be known and >= 1"),
      std::string::npos);
  EXPECT_NE(infer_error("Conv2D", conv_attrs(1, true), {f32({1, 0, 5, 3}), f32({3, 3, 3, 4})}).find("an empty image"),
            std::string::npos);
}

struct Case {
  Dims x, w;  // w in the op's own layout
  int64_t sh, sw;
  bool same;
};

std::string case_str(const Case& c) {
  return dims_str(c.x) + " kernel " + dims_str(c.w) + " strides " + std::to_string(c.sh) + "," + std::to_string(c.sw) +
         (c.same ? " SAME_UPPER" : " VALID");
}

// Conv2D kernels [kh, kw, Ci, Co]: batch 1, strides 1 and 2 (and mixed), both paddings, odd sizes,
// even kernels (uneven SAME padding), 1x1, a dropped VALID tail, the notebook's layer sizes.
const Case kConvCases[] = {
    {{1, 5, 5, 1}, {3, 3, 1, 1}, 1, 1, false},      {{2, 7, 9, 3}, {3, 3, 3, 5}, 1, 1, true},
    {{2, 7, 9, 3}, {3, 3, 3, 5}, 2, 2, true},       {{2, 7, 9, 3}, {3, 3, 3, 5}, 2, 2, false},
    {{1, 8, 8, 4}, {3, 3, 4, 6}, 2, 2, false},      {{3, 6, 5, 2}, {1, 1, 2, 7}, 2, 2, true},
    {{1, 6, 6, 3}, {1, 1, 3, 4}, 1, 1, false},      {{2, 5, 6, 2}, {2, 2, 2, 3}, 1, 1, true},
    {{1, 7, 6, 2}, {4, 2, 2, 3}, 1, 2, true},       {{2, 9, 7, 5}, {2, 3, 5, 4}, 2, 1, false},
    {{1, 3, 3, 2}, {3, 3, 2, 3}, 1, 1, false},      {{1, 4, 4, 3}, {5, 5, 3, 2}, 3, 3, true},
    {{2, 36, 36, 4}, {3, 3, 4, 64}, 1, 1, true},    {{2, 12, 12, 64}, {3, 3, 64, 64}, 1, 1, true},
    {{1, 13, 11, 32}, {3, 3, 32, 16}, 2, 2, false},
};

// Conv2DTranspose kernels [kh, kw, Co, Ci], including k < s with VALID (Keras' L*s output).
const Case kTransposeCases[] = {
    {{1, 5, 5, 1}, {3, 3, 1, 1}, 1, 1, false},     {{2, 4, 5, 3}, {3, 3, 5, 3}, 1, 1, true},
    {{2, 4, 5, 3}, {3, 3, 5, 3}, 2, 2, true},      {{2, 4, 5, 3}, {3, 3, 5, 3}, 2, 2, false},
    {{1, 3, 4, 2}, {1, 1, 3, 2}, 2, 2, false},     {{2, 3, 3, 3}, {2, 2, 4, 3}, 3, 3, false},
    {{3, 3, 2, 2}, {1, 1, 7, 2}, 2, 2, true},      {{2, 5, 6, 2}, {2, 2, 3, 2}, 1, 1, true},
    {{1, 4, 5, 3}, {4, 4, 2, 3}, 2, 2, true},      {{2, 5, 4, 4}, {2, 3, 3, 4}, 2, 1, false},
    {{1, 1, 1, 2}, {3, 3, 3, 2}, 1, 1, false},     {{2, 36, 36, 64}, {3, 3, 4, 64}, 1, 1, true},
    {{2, 12, 12, 64}, {3, 3, 64, 64}, 1, 1, true}, {{1, 6, 5, 32}, {3, 3, 16, 32}, 2, 2, false},
};

// Bias on every other case, so both arities run.
std::vector<Tensor> forward_inputs(const Case& c, bool transposed, bool bias, std::mt19937& rng) {
  std::vector<Tensor> in = {random_floats(c.x, rng), random_floats(c.w, rng, -0.5f, 0.5f)};
  if (bias) in.push_back(random_floats({transposed ? c.w[2] : c.w[3]}, rng));
  return in;
}

void check_family(const std::string& op, bool transposed, const std::vector<Case>& cases, unsigned seed) {
  std::mt19937 rng(seed);
  bool bias = false;
  for (const Case& c : cases) {
    SCOPED_TRACE(op + " " + case_str(c));
    const pb::Node attrs = conv_attrs(c.sh, c.sw, c.same);
    const std::vector<Tensor> in = forward_inputs(c, transposed, bias = !bias, rng);
    expect_matches_reference(op, attrs, in, 1e-4f);
    // The backward ops on a random dY of the output's shape.
    const Dims y = infer_op(op, attrs, {f32(c.x), f32(c.w)})[0].dims;
    const Tensor dy = random_floats(y, rng);
    expect_matches_reference(op + "BackwardData", attrs, {dy, in[1], in[0]}, 1e-4f);
    expect_matches_reference(op + "BackwardWeights", attrs, {dy, in[0], in[1]}, 1e-4f);
  }
}

TEST(Conv2D, MatchesReference) {
  check_family("Conv2D", false, std::vector<Case>(std::begin(kConvCases), std::end(kConvCases)), 41);
}

TEST(Conv2DTranspose, MatchesReference) {
  check_family("Conv2DTranspose", true, std::vector<Case>(std::begin(kTransposeCases), std::end(kTransposeCases)), 42);
}

TEST(Conv2D, EmptyBatch) {
  std::mt19937 rng(43);
  const Tensor w = random_floats({3, 3, 2, 4}, rng), x = random_floats({0, 5, 5, 2}, rng);
  expect_matches_reference("Conv2D", conv_attrs(1, true), {x, w});
  expect_matches_reference("Conv2DBackwardWeights", conv_attrs(1, true), {random_floats({0, 5, 5, 4}, rng), x, w});
  const Tensor wt = random_floats({3, 3, 4, 2}, rng);
  expect_matches_reference("Conv2DTranspose", conv_attrs(2, false), {x, wt});
  expect_matches_reference("Conv2DTransposeBackwardWeights", conv_attrs(2, false),
                           {random_floats({0, 11, 11, 4}, rng), x, wt});
}

TEST(Conv2D, HandComputedValues) {
  // x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], kernel [[1, 2], [3, 4]]: y[p, q] = x[p, q] + 2 x[p, q+1] +
  // 3 x[p+1, q] + 4 x[p+1, q+1].
  const Tensor x = Tensor::from_floats({1, 3, 3, 1}, std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  const Tensor w = Tensor::from_floats({2, 2, 1, 1}, std::vector<float>{1, 2, 3, 4});
  const Tensor b = Tensor::from_floats({1}, std::vector<float>{0.5f});
  const Tensor valid = Tensor::from_floats({1, 2, 2, 1}, std::vector<float>{37.5f, 47.5f, 67.5f, 77.5f});
  expect_tensors_near(run_kernel("Conv2D", conv_attrs(1, false), {x, w, b})[0], valid, 0.f, "VALID kernel");
  expect_tensors_near(run_reference("Conv2D", conv_attrs(1, false), {x, w, b})[0], valid, 0.f, "VALID reference");
  // SAME with a 2x2 kernel pads one row and column, all at the bottom/right (the smaller half, 0, on top).
  const Tensor same = Tensor::from_floats({1, 3, 3, 1}, std::vector<float>{37, 47, 21, 67, 77, 33, 23, 26, 9});
  expect_tensors_near(run_kernel("Conv2D", conv_attrs(1, true), {x, w})[0], same, 0.f, "SAME kernel");
  expect_tensors_near(run_reference("Conv2D", conv_attrs(1, true), {x, w})[0], same, 0.f, "SAME reference");

  // Stride 2 SAME on 4x4 with a 3x3 kernel of ones: 2x2 outputs, total padding 1, at the bottom/right
  // (TensorFlow's choice), so the windows are rows/cols {0,1,2} and {2,3}.
  std::vector<float> sixteen(16);
  for (size_t i = 0; i < 16; ++i) sixteen[i] = static_cast<float>(i + 1);
  const Tensor x4 = Tensor::from_floats({1, 4, 4, 1}, sixteen);
  const Tensor ones = Tensor::from_floats({3, 3, 1, 1}, std::vector<float>(9, 1.f));
  const Tensor strided = Tensor::from_floats({1, 2, 2, 1}, std::vector<float>{54, 45, 72, 54});
  expect_tensors_near(run_kernel("Conv2D", conv_attrs(2, true), {x4, ones})[0], strided, 0.f, "stride 2 kernel");
  expect_tensors_near(run_reference("Conv2D", conv_attrs(2, true), {x4, ones})[0], strided, 0.f, "stride 2 reference");

  // Channels: kernel [1, 1, Ci = 2, Co = 3] = [[1, 2, 3], [4, 5, 6]], x = [1, 2]: y[o] = K[0, o] + 2 K[1, o].
  const Tensor xc = Tensor::from_floats({1, 1, 1, 2}, std::vector<float>{1, 2});
  const Tensor wc = Tensor::from_floats({1, 1, 2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  const Tensor yc = Tensor::from_floats({1, 1, 1, 3}, std::vector<float>{9, 12, 15});
  expect_tensors_near(run_kernel("Conv2D", conv_attrs(1, false), {xc, wc})[0], yc, 0.f, "channels kernel");
  expect_tensors_near(run_reference("Conv2D", conv_attrs(1, false), {xc, wc})[0], yc, 0.f, "channels reference");
}

TEST(Conv2DTranspose, HandComputedValues) {
  // Stride 2, 2x2 kernel [[1, 2], [3, 4]]: each x[p, q] writes x * kernel into the block at (2p, 2q).
  const Tensor x = Tensor::from_floats({1, 2, 2, 1}, std::vector<float>{1, 2, 3, 4});
  const Tensor w = Tensor::from_floats({2, 2, 1, 1}, std::vector<float>{1, 2, 3, 4});
  const Tensor y =
      Tensor::from_floats({1, 4, 4, 1}, std::vector<float>{1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16});
  expect_tensors_near(run_kernel("Conv2DTranspose", conv_attrs(2, false), {x, w})[0], y, 0.f, "kernel");
  expect_tensors_near(run_reference("Conv2DTranspose", conv_attrs(2, false), {x, w})[0], y, 0.f, "reference");

  // Channels: kernel [1, 1, Co = 3, Ci = 2] = [[1, 2], [3, 4], [5, 6]], x = [1, 2], bias [0.5, 0, -1].
  const Tensor xc = Tensor::from_floats({1, 1, 1, 2}, std::vector<float>{1, 2});
  const Tensor wc = Tensor::from_floats({1, 1, 3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6});
  const Tensor bc = Tensor::from_floats({3}, std::vector<float>{0.5f, 0, -1});
  const Tensor yc = Tensor::from_floats({1, 1, 1, 3}, std::vector<float>{5.5f, 11, 16});
  expect_tensors_near(run_kernel("Conv2DTranspose", conv_attrs(1, false), {xc, wc, bc})[0], yc, 0.f, "channels kernel");
  expect_tensors_near(run_reference("Conv2DTranspose", conv_attrs(1, false), {xc, wc, bc})[0], yc, 0.f,
                      "channels reference");

  // 1x1 kernel, stride 2, VALID: Keras' output is L*s; the positions no input reaches get the bias alone.
  const Tensor x2 = Tensor::from_floats({1, 1, 2, 1}, std::vector<float>{1, 2});
  const Tensor w2 = Tensor::from_floats({1, 1, 1, 1}, std::vector<float>{3});
  const Tensor b2 = Tensor::from_floats({1}, std::vector<float>{1});
  const Tensor y2 = Tensor::from_floats({1, 2, 4, 1}, std::vector<float>{4, 1, 7, 1, 1, 1, 1, 1});
  expect_tensors_near(run_kernel("Conv2DTranspose", conv_attrs(2, false), {x2, w2, b2})[0], y2, 0.f, "1x1 kernel");
  expect_tensors_near(run_reference("Conv2DTranspose", conv_attrs(2, false), {x2, w2, b2})[0], y2, 0.f,
                      "1x1 reference");
}

double dot(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.dims(), b.dims());
  double sum = 0;
  for (int64_t i = 0; i < a.num_elements(); ++i) sum += double(a.data<float>()[i]) * b.data<float>()[i];
  return sum;
}

// <Conv2D(x, w), y> == <x, Conv2DTranspose(y, w)> with the same kernel array: Keras' transpose
// kernel [kh, kw, filters, in_channels] is Conv2D's [kh, kw, Ci, Co] read as (Co_t = Ci, Ci_t = Co).
// This pins both kernels' layouts and paddings against each other on the oneDNN kernels. Sizes are
// chosen so that the transpose of Conv2D's output has x's size (no dropped tail).
TEST(Conv2DTranspose, IsTheAdjointOfConv2D) {
  const Case cases[] = {
      {{2, 6, 7, 3}, {3, 3, 3, 4}, 1, 1, true},  {{2, 6, 8, 3}, {3, 3, 3, 4}, 2, 2, true},
      {{1, 6, 7, 3}, {3, 3, 3, 5}, 1, 1, false}, {{1, 7, 9, 3}, {3, 3, 3, 2}, 2, 2, false},
      {{1, 6, 8, 2}, {1, 1, 2, 3}, 2, 2, false}, {{2, 5, 6, 2}, {2, 3, 2, 4}, 1, 1, true},
      {{1, 8, 6, 4}, {4, 2, 4, 3}, 2, 3, true},  {{2, 12, 12, 32}, {3, 3, 32, 64}, 1, 1, true},
  };
  std::mt19937 rng(44);
  for (const Case& c : cases) {
    SCOPED_TRACE(case_str(c));
    const pb::Node attrs = conv_attrs(c.sh, c.sw, c.same);
    const Tensor x = random_floats(c.x, rng), w = random_floats(c.w, rng);
    const Tensor conv = run_kernel("Conv2D", attrs, {x, w})[0];
    const Tensor y = random_floats(conv.dims(), rng);
    const Tensor transposed = run_kernel("Conv2DTranspose", attrs, {y, w})[0];
    ASSERT_EQ(transposed.dims(), c.x);
    const double lhs = dot(conv, y), rhs = dot(x, transposed);
    EXPECT_NEAR(lhs, rhs, 1e-4 * std::max(1.0, std::fabs(lhs)));
    // So each op's data gradient is the other op.
    expect_tensors_near(run_kernel("Conv2DBackwardData", attrs, {y, w, x})[0], transposed, 1e-4f, "Conv2D dX");
    expect_tensors_near(run_kernel("Conv2DTransposeBackwardData", attrs, {x, w, y})[0], conv, 1e-4f,
                        "Conv2DTranspose dX");
  }
}

void conv2d_gradients_match_numeric() {
  // Small shapes; Y is linear in each input, so central differences are exact up to rounding
  // and a larger step keeps float32 rounding small.
  const Case cases[] = {
      {{2, 4, 5, 2}, {3, 3, 2, 3}, 1, 1, true},
      {{1, 6, 5, 2}, {3, 3, 2, 2}, 2, 2, false},
      {{2, 5, 4, 3}, {1, 1, 3, 2}, 2, 2, true},
      {{1, 5, 5, 2}, {2, 2, 2, 2}, 2, 1, true},
  };
  std::mt19937 rng(45);
  bool bias = false;
  for (const Case& c : cases) {
    SCOPED_TRACE(case_str(c));
    expect_gradients_match_numeric("Conv2D", conv_attrs(c.sh, c.sw, c.same),
                                   forward_inputs(c, false, bias = !bias, rng), 2e-3f, 1e-2);
  }
}

void conv2d_transpose_gradients_match_numeric() {
  const Case cases[] = {
      {{2, 3, 3, 2}, {3, 3, 3, 2}, 2, 2, true},
      {{1, 3, 4, 2}, {3, 3, 2, 2}, 1, 1, false},
      {{1, 2, 3, 2}, {1, 1, 2, 2}, 2, 2, false},
      {{2, 3, 2, 3}, {2, 2, 2, 3}, 1, 2, true},
  };
  std::mt19937 rng(46);
  bool bias = false;
  for (const Case& c : cases) {
    SCOPED_TRACE(case_str(c));
    expect_gradients_match_numeric("Conv2DTranspose", conv_attrs(c.sh, c.sw, c.same),
                                   forward_inputs(c, true, bias = !bias, rng), 2e-3f, 1e-2);
  }
}

}  // namespace

std::vector<GradientCase> conv_gradient_cases() {
  return {
      {"Conv2D_GradientsMatchNumeric", {"Conv2D"}, conv2d_gradients_match_numeric},
      {"Conv2DTranspose_GradientsMatchNumeric", {"Conv2DTranspose"}, conv2d_transpose_gradients_match_numeric},
  };
}

}  // namespace graphrun::testing
