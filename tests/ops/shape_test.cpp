// Shape ops: shape rules (with unknown dims and errors), kernels against the
// reference on float32 and int64, hand-computed results, and gradients (checked
// numerically, plus the Concat rule's static-size requirement).
#include <gtest/gtest.h>

#include <map>

#include "ops/gradient.h"
#include "ops/registry.h"
#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

TensorType infer1(const std::string& op, const std::string& attrs, const std::vector<TensorType>& inputs) {
  return infer_op(op, make_attrs(attrs), inputs).at(0);
}

Tensor random_tensor(DType dtype, const Dims& dims, std::mt19937& rng) {
  return dtype == DType::f32 ? random_floats(dims, rng) : random_ints(dims, rng, -1000, 1000);
}

Tensor iota_floats(const Dims& dims) {
  Tensor t(DType::f32, dims);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

Tensor iota_ints(const Dims& dims) {
  Tensor t(DType::i64, dims);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<int64_t>()[i] = i;
  return t;
}

// Both the kernel and the reference must produce exactly `expected`.
void expect_exact(const std::string& op, const std::string& attrs, const std::vector<Tensor>& inputs,
                  const Tensor& expected) {
  const pb::Node node = make_attrs(attrs);
  expect_tensors_near(run_kernel(op, node, inputs).at(0), expected, 0.f, op + " kernel");
  expect_tensors_near(run_reference(op, node, inputs).at(0), expected, 0.f, op + " reference");
}

const DType kDTypes[] = {DType::f32, DType::i64};

// ---- Reshape -------------------------------------------------------------------

TEST(Reshape, ShapeRule) {
  EXPECT_EQ(infer1("Reshape", "shape: [4, -1]", {f32({2, 3, 4})}), f32({4, 6}));
  EXPECT_EQ(infer1("Reshape", "shape: [0, 0, -1]", {i64({2, 3, 4})}), i64({2, 3, 4}));
  EXPECT_EQ(infer1("Reshape", "shape: [24]", {f32({2, 3, 4})}), f32({24}));
  EXPECT_EQ(infer1("Reshape", "", {f32({1, 1})}), f32({}));  // empty shape: a scalar
}

TEST(Reshape, ShapeRuleWithUnknownBatch) {
  // The unknown batch is copied by 0 and cancels out, so the -1 is known.
  EXPECT_EQ(infer1("Reshape", "shape: [0, -1]", {f32({-1, 40, 100})}), f32({-1, 4000}));
  EXPECT_EQ(infer1("Reshape", "shape: [0, 2, 3]", {f32({-1, 6})}), f32({-1, 2, 3}));
  // The -1 absorbs the unknown batch.
  EXPECT_EQ(infer1("Reshape", "shape: [-1, 2, 3]", {f32({-1, 6})}), f32({-1, 2, 3}));
  EXPECT_EQ(infer1("Reshape", "shape: [-1, 0]", {f32({-1, 40, 100})}), f32({-1, 40}));
  // Re-run on the concrete feed shape, as the runtime does.
  EXPECT_EQ(infer1("Reshape", "shape: [0, -1]", {f32({1, 40, 100})}), f32({1, 4000}));
  EXPECT_EQ(infer1("Reshape", "shape: [0, -1]", {f32({7, 40, 100})}), f32({7, 4000}));
}

TEST(Reshape, ShapeRuleErrors) {
  expect_infer_error("Reshape", "shape: [3, -1, -1]", {f32({3, 4})}, "shape [3,-1,-1] has more than one -1");
  expect_infer_error("Reshape", "shape: [4, 2]", {f32({2, 3})}, "cannot reshape input float32[2,3] to shape [4,2]");
  expect_infer_error("Reshape", "shape: [4, -1]", {f32({2, 3})}, "do not divide");
  expect_infer_error("Reshape", "shape: [0, 0]", {f32({6})}, "copies dim 1 with 0, but input float32[6] has rank 1");
  expect_infer_error("Reshape", "shape: [-2, 3]", {f32({6})}, "invalid dim -2");
  expect_infer_error("Reshape", "shape: [0, 5]", {f32({-1, 6})}, "the sizes differ");
  expect_infer_error("Reshape", "shape: [4, 5]", {f32({-1, 3})}, "not a multiple of 3");
  expect_infer_error("Reshape", "shape: [4294967296, 4294967296]", {f32({6})}, "has too many elements");
  // Element counts of the input, or of the dims a 0 copies, that overflow int64 are errors, not wrapped counts.
  const TensorType huge = f32({4294967296, 4294967296, 4});
  expect_infer_error("Reshape", "shape: [-1]", {huge}, "input float32[4294967296,4294967296,4] has more elements");
  expect_infer_error("Reshape", "shape: [0, 0, 0]", {huge}, "shape [0,0,0] has more elements than int64 can count");
  expect_infer_error("Flatten", "axis: 3", {huge}, "has more elements than int64 can count");
  expect_infer_error("ReshapeLike", "", {huge, f32({4})}, "data float32[4294967296,4294967296,4] has more elements");
}

TEST(Reshape, MatchesReference) {
  std::mt19937 rng(1);
  for (DType dtype : kDTypes) {
    expect_matches_reference("Reshape", make_attrs("shape: [0, -1]"), {random_tensor(dtype, {1, 4, 5}, rng)});
    expect_matches_reference("Reshape", make_attrs("shape: [0, -1]"), {random_tensor(dtype, {3, 7, 5}, rng)});
    expect_matches_reference("Reshape", make_attrs("shape: [-1]"), {random_tensor(dtype, {3, 7}, rng)});
    expect_matches_reference("Reshape", make_attrs("shape: [1, 1]"), {random_tensor(dtype, {}, rng)});
  }
}

TEST(Reshape, KeepsElementOrder) {
  expect_exact("Reshape", "shape: [3, -1]", {iota_ints({2, 3})}, iota_ints({3, 2}));
  expect_exact("Reshape", "shape: [0, 1, -1]", {iota_ints({2, 3})}, iota_ints({2, 1, 3}));
  expect_exact("Reshape", "shape: [-1]", {iota_floats({2, 3})}, iota_floats({6}));
}

// ---- Transpose -----------------------------------------------------------------

TEST(Transpose, ShapeRule) {
  EXPECT_EQ(infer1("Transpose", "", {f32({2, 3, 4})}), f32({4, 3, 2}));
  EXPECT_EQ(infer1("Transpose", "perm: [0, 2, 1]", {i64({-1, 3, 4})}), i64({-1, 4, 3}));
  EXPECT_EQ(infer1("Transpose", "", {f32({})}), f32({}));
  expect_infer_error("Transpose", "perm: [0, 0, 1]", {f32({2, 3, 4})},
                     "perm [0,0,1] is not a permutation of the 3 axes of input float32[2,3,4]");
  expect_infer_error("Transpose", "perm: [1, 0]", {f32({2, 3, 4})}, "is not a permutation");
  expect_infer_error("Transpose", "perm: [0, -1]", {f32({2, 3})}, "is not a permutation");
}

TEST(Transpose, MatchesReference) {
  std::mt19937 rng(2);
  const std::pair<Dims, std::string> cases[] = {
      {{2, 3}, ""},
      {{1, 7}, ""},
      {{5, 1, 3}, "perm: [1, 0, 2]"},
      {{2, 3, 5}, "perm: [2, 0, 1]"},
      {{3, 4, 5, 6}, "perm: [0, 2, 3, 1]"},
      {{2, 3, 4, 5}, ""},
      {{17, 13}, "perm: [1, 0]"},
      {{4}, ""},
      {{}, ""},
      {{0, 3}, ""},
  };
  for (DType dtype : kDTypes)
    for (const auto& [dims, attrs] : cases)
      expect_matches_reference("Transpose", make_attrs(attrs), {random_tensor(dtype, dims, rng)});
}

TEST(Transpose, HandComputed) {
  // [[0,1,2],[3,4,5]] transposed.
  const float expected[] = {0, 3, 1, 4, 2, 5};
  expect_exact("Transpose", "", {iota_floats({2, 3})}, Tensor::from_floats({3, 2}, expected));
  const int64_t expected_ints[] = {0, 3, 1, 4, 2, 5};
  expect_exact("Transpose", "perm: [1, 0]", {iota_ints({2, 3})}, Tensor::from_ints({3, 2}, expected_ints));
  // [2,3,2] with perm [2,0,1]: y[k,i,j] = x[i,j,k] = 6i + 2j + k.
  const float expected3[] = {0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11};
  expect_exact("Transpose", "perm: [2, 0, 1]", {iota_floats({2, 3, 2})}, Tensor::from_floats({2, 2, 3}, expected3));
}

// ---- Concat --------------------------------------------------------------------

TEST(Concat, ShapeRule) {
  EXPECT_EQ(infer1("Concat", "axis: 1", {f32({2, 3}), f32({2, 5})}), f32({2, 8}));
  EXPECT_EQ(infer1("Concat", "axis: -1", {i64({2, 3}), i64({2, 5}), i64({2, 1})}), i64({2, 9}));
  EXPECT_EQ(infer1("Concat", "axis: 0", {f32({4, 3})}), f32({4, 3}));
  // Unknown dims: a sum with an unknown is unknown; a known dim settles an unknown one.
  EXPECT_EQ(infer1("Concat", "axis: 1", {f32({-1, 3}), f32({-1, 5})}), f32({-1, 8}));
  EXPECT_EQ(infer1("Concat", "axis: 0", {f32({-1, 3}), f32({4, 3})}), f32({-1, 3}));
  EXPECT_EQ(infer1("Concat", "axis: 1", {f32({-1, 3}), f32({2, 5})}), f32({2, 8}));
}

TEST(Concat, ShapeRuleErrors) {
  expect_infer_error("Concat", "axis: 1", {f32({2, 3}), f32({3, 3})}, "dims other than axis 1 must match");
  expect_infer_error("Concat", "axis: 0", {f32({2, 3}), i64({2, 3})},
                     "input 1 is int64[2,3], but input 0 is float32[2,3]");
  expect_infer_error("Concat", "axis: 0", {f32({2, 3}), f32({2})}, "same dtype and rank");
  expect_infer_error("Concat", "", {f32({2, 3})}, "needs the axis attribute");
  expect_infer_error("Concat", "axis: 2", {f32({2, 3})}, "axis 2 is out of range for input 0 float32[2,3]");
}

TEST(Concat, MatchesReference) {
  std::mt19937 rng(3);
  const std::pair<std::vector<Dims>, std::string> cases[] = {
      {{{2, 3}, {2, 5}}, "axis: 1"},
      {{{1, 3}, {4, 3}, {2, 3}}, "axis: 0"},
      {{{3, 1, 5}, {3, 7, 5}}, "axis: -2"},
      {{{2, 3, 4}, {2, 3, 1}, {2, 3, 3}}, "axis: 2"},
      {{{7}}, "axis: 0"},
      {{{1, 1}, {1, 1}}, "axis: 1"},
      {{{2, 0}, {2, 3}}, "axis: 1"},  // an empty input adds nothing
  };
  for (DType dtype : kDTypes) {
    for (const auto& [shapes, attrs] : cases) {
      std::vector<Tensor> inputs;
      for (const Dims& dims : shapes) inputs.push_back(random_tensor(dtype, dims, rng));
      expect_matches_reference("Concat", make_attrs(attrs), inputs);
    }
  }
}

TEST(Concat, HandComputed) {
  const float a[] = {1, 2, 3, 4}, b[] = {5, 6};
  const float expected[] = {1, 2, 5, 3, 4, 6};
  expect_exact("Concat", "axis: 1", {Tensor::from_floats({2, 2}, a), Tensor::from_floats({2, 1}, b)},
               Tensor::from_floats({2, 3}, expected));
  const int64_t ia[] = {1, 2, 3, 4}, ib[] = {5, 6};
  const int64_t expected_rows[] = {1, 2, 3, 4, 5, 6};
  expect_exact("Concat", "axis: 0", {Tensor::from_ints({2, 2}, ia), Tensor::from_ints({1, 2}, ib)},
               Tensor::from_ints({3, 2}, expected_rows));
}

// ---- Slice ---------------------------------------------------------------------

TEST(Slice, ShapeRule) {
  EXPECT_EQ(infer1("Slice", "starts: [1] ends: [-1] axes: [1]", {f32({10, 20})}), f32({10, 18}));
  EXPECT_EQ(infer1("Slice", "starts: [0, 2] ends: [5, 4]", {i64({10, 20})}), i64({5, 2}));
  EXPECT_EQ(infer1("Slice", "starts: [0] ends: [10] steps: [3]", {f32({10})}), f32({4}));
  EXPECT_EQ(infer1("Slice", "starts: [-1] ends: [-100] steps: [-1]", {f32({10})}), f32({10}));
  EXPECT_EQ(infer1("Slice", "starts: [-1] ends: [-100] steps: [-3]", {f32({10})}), f32({4}));
  // Out-of-range ends and starts are clamped, as ONNX does.
  EXPECT_EQ(infer1("Slice", "starts: [2] ends: [9223372036854775807]", {f32({10})}), f32({8}));
  EXPECT_EQ(infer1("Slice", "starts: [-100] ends: [3]", {f32({10})}), f32({3}));
  EXPECT_EQ(infer1("Slice", "starts: [12] ends: [20]", {f32({10})}), f32({0}));
  EXPECT_EQ(infer1("Slice", "starts: [5] ends: [2]", {f32({10})}), f32({0}));
  EXPECT_EQ(infer1("Slice", "starts: [3] ends: [10] steps: [9223372036854775807]", {f32({10})}), f32({1}));
  EXPECT_EQ(infer1("Slice", "starts: [3] ends: [0] steps: [-9223372036854775808]", {f32({10})}), f32({1}));
  // Unknown dims: an unsliced one passes through; a sliced one stays unknown.
  EXPECT_EQ(infer1("Slice", "starts: [1] ends: [3] axes: [-1]", {f32({-1, 5})}), f32({-1, 2}));
  EXPECT_EQ(infer1("Slice", "starts: [1] ends: [3]", {f32({-1, 5})}), f32({-1, 5}));
}

TEST(Slice, ShapeRuleErrors) {
  expect_infer_error("Slice", "starts: [0] ends: [5] steps: [0]", {f32({10})}, "steps [0] has a 0");
  expect_infer_error("Slice", "starts: [0, 1] ends: [5]", {f32({10, 10})},
                     "starts [0,1] and ends [5] differ in length");
  expect_infer_error("Slice", "starts: [0] ends: [5] axes: [0, 1]", {f32({10, 10})}, "differ in length");
  expect_infer_error("Slice", "starts: [0, 0] ends: [5, 5] axes: [1, -1]", {f32({10, 10})}, "names axis 1 twice");
  expect_infer_error("Slice", "starts: [0] ends: [5] axes: [2]", {f32({10, 10})}, "axis 2 is out of range for rank 2");
  expect_infer_error("Slice", "", {f32({10})}, "needs starts and ends");
  expect_infer_error("Slice", "starts: [0, 0] ends: [1, 1]", {f32({10})},
                     "more entries than input float32[10] has dims");
}

// Slice's (data shape, attributes) cases; SliceGrad and the gradient check
// run on the same ones.
const std::pair<Dims, std::string> kSliceCases[] = {
    {{10, 20}, "starts: [1] ends: [-1] axes: [1]"},
    {{1, 20}, "starts: [0, 3] ends: [1, 17]"},
    {{7, 9, 5}, "starts: [1, 2] ends: [6, 9] axes: [0, 2] steps: [2, 1]"},
    {{7, 9, 5}, "starts: [8, -1] ends: [0, -100] axes: [1, 2] steps: [-3, -1]"},
    {{13}, "starts: [-5] ends: [9223372036854775807]"},
    {{3, 4}, "starts: [5] ends: [9] axes: [1]"},  // empty slice: all zeros
    {{6, 6}, "starts: [0, 0] ends: [6, 6] steps: [5, 5]"},
    {{6, 6}, "starts: [1, 5] ends: [6, 0] steps: [9223372036854775807, -9223372036854775808]"},
};

TEST(Slice, MatchesReference) {
  std::mt19937 rng(4);
  for (DType dtype : kDTypes)
    for (const auto& [dims, attrs] : kSliceCases)
      expect_matches_reference("Slice", make_attrs(attrs), {random_tensor(dtype, dims, rng)});
}

TEST(Slice, HandComputed) {
  const float forward[] = {1, 4, 7};
  expect_exact("Slice", "starts: [1] ends: [8] steps: [3]", {iota_floats({10})}, Tensor::from_floats({3}, forward));
  const int64_t backward[] = {9, 7, 5, 3, 1};
  expect_exact("Slice", "starts: [-1] ends: [-9223372036854775807] steps: [-2]", {iota_ints({10})},
               Tensor::from_ints({5}, backward));
  // Rows 1..2, columns 1..3 of a 3x4 iota.
  const float block[] = {5, 6, 7, 9, 10, 11};
  expect_exact("Slice", "starts: [1, 1] ends: [3, 100]", {iota_floats({3, 4})}, Tensor::from_floats({2, 3}, block));
}

// ---- Squeeze, Unsqueeze, Flatten -----------------------------------------------

TEST(Squeeze, ShapeRule) {
  EXPECT_EQ(infer1("Squeeze", "", {f32({1, 3, 1})}), f32({3}));
  EXPECT_EQ(infer1("Squeeze", "axes: [0]", {i64({1, 3, 1})}), i64({3, 1}));
  EXPECT_EQ(infer1("Squeeze", "axes: [-1, 0]", {f32({1, 3, 1})}), f32({3}));
  EXPECT_EQ(infer1("Squeeze", "axes: [1]", {f32({-1, 1, 5})}), f32({-1, 5}));
  expect_infer_error("Squeeze", "", {f32({-1, 1, 5})}, "unknown dims may or may not be 1; give axes");
  expect_infer_error("Squeeze", "axes: [1]", {f32({2, 3, 4})},
                     "cannot squeeze axis 1 of input float32[2,3,4]: its size is 3");
  expect_infer_error("Squeeze", "axes: [3]", {f32({1, 3, 1})}, "axis 3 is out of range for rank 3");
}

TEST(Unsqueeze, ShapeRule) {
  EXPECT_EQ(infer1("Unsqueeze", "axes: [0]", {f32({3, 4})}), f32({1, 3, 4}));
  EXPECT_EQ(infer1("Unsqueeze", "axes: [0, 3]", {i64({3, 4})}), i64({1, 3, 4, 1}));
  EXPECT_EQ(infer1("Unsqueeze", "axes: [-1]", {f32({-1, 4})}), f32({-1, 4, 1}));
  EXPECT_EQ(infer1("Unsqueeze", "axes: [0]", {f32({})}), f32({1}));
  expect_infer_error("Unsqueeze", "", {f32({3})}, "needs the axes attribute");
  expect_infer_error("Unsqueeze", "axes: [1, 1]", {f32({3})}, "names axis 1 twice");
  expect_infer_error("Unsqueeze", "axes: [3]", {f32({3})}, "axis 3 is out of range for rank 2");
}

TEST(Flatten, ShapeRule) {
  EXPECT_EQ(infer1("Flatten", "", {f32({2, 3, 4})}), f32({2, 12}));
  EXPECT_EQ(infer1("Flatten", "axis: 0", {f32({2, 3, 4})}), f32({1, 24}));
  EXPECT_EQ(infer1("Flatten", "axis: 3", {i64({2, 3, 4})}), i64({24, 1}));
  EXPECT_EQ(infer1("Flatten", "axis: -1", {f32({2, 3, 4})}), f32({6, 4}));
  EXPECT_EQ(infer1("Flatten", "", {f32({-1, 3, 4})}), f32({-1, 12}));
  EXPECT_EQ(infer1("Flatten", "axis: 0", {f32({-1, 3})}), f32({1, -1}));
  expect_infer_error("Flatten", "axis: 4", {f32({2, 3, 4})},
                     "axis 4 is out of range for input float32[2,3,4] (allowed: -3 to 3)");
}

TEST(SqueezeUnsqueezeFlatten, MatchReference) {
  std::mt19937 rng(5);
  for (DType dtype : kDTypes) {
    expect_matches_reference("Squeeze", make_attrs(""), {random_tensor(dtype, {1, 7, 1}, rng)});
    expect_matches_reference("Squeeze", make_attrs("axes: [0]"), {random_tensor(dtype, {1, 1, 3}, rng)});
    expect_matches_reference("Unsqueeze", make_attrs("axes: [1, -1]"), {random_tensor(dtype, {3, 5}, rng)});
    expect_matches_reference("Flatten", make_attrs(""), {random_tensor(dtype, {1, 3, 5}, rng)});
    expect_matches_reference("Flatten", make_attrs("axis: 2"), {random_tensor(dtype, {2, 3, 5}, rng)});
  }
}

TEST(SqueezeUnsqueezeFlatten, KeepElements) {
  expect_exact("Squeeze", "", {iota_floats({1, 3, 1})}, iota_floats({3}));
  expect_exact("Unsqueeze", "axes: [0]", {iota_ints({2, 2})}, iota_ints({1, 2, 2}));
  expect_exact("Flatten", "axis: 2", {iota_floats({2, 3, 2})}, iota_floats({6, 2}));
}

// ---- ReshapeLike ---------------------------------------------------------------

TEST(ReshapeLike, ShapeRule) {
  EXPECT_EQ(infer1("ReshapeLike", "", {f32({2, 3}), f32({3, 2})}), f32({3, 2}));
  EXPECT_EQ(infer1("ReshapeLike", "", {i64({6}), f32({1, 2, 3})}), i64({1, 2, 3}));  // data's dtype
  EXPECT_EQ(infer1("ReshapeLike", "", {f32({-1, 12}), f32({-1, 3, 4})}), f32({-1, 3, 4}));
  EXPECT_EQ(infer1("ReshapeLike", "", {f32({1, 1}), i64({})}), f32({}));
  expect_infer_error("ReshapeLike", "", {f32({2, 3}), f32({4})},
                     "cannot reshape data float32[2,3] like float32[4]: the sizes differ (6 vs 4 elements)");
}

TEST(ReshapeLike, MatchesReference) {
  std::mt19937 rng(6);
  const std::pair<Dims, Dims> cases[] = {{{2, 3}, {3, 2}},  {{1, 4, 5}, {1, 20}}, {{7}, {7, 1}},
                                         {{3, 5, 1}, {15}}, {{}, {1, 1}},         {{0, 3}, {3, 0}}};
  for (DType dtype : kDTypes)
    for (const auto& [data, like] : cases)
      expect_matches_reference("ReshapeLike", {}, {random_tensor(dtype, data, rng), random_floats(like, rng)});
}

TEST(ReshapeLike, KeepsElementOrder) {
  expect_exact("ReshapeLike", "", {iota_ints({2, 3}), iota_floats({3, 2})}, iota_ints({3, 2}));
  expect_exact("ReshapeLike", "", {iota_floats({6}), iota_ints({1, 2, 3})}, iota_floats({1, 2, 3}));
}

// ---- SliceGrad -----------------------------------------------------------------

TEST(SliceGrad, ShapeRule) {
  EXPECT_EQ(infer1("SliceGrad", "starts: [1] ends: [-1] axes: [1]", {f32({10, 18}), f32({10, 20})}), f32({10, 20}));
  EXPECT_EQ(infer1("SliceGrad", "starts: [1] ends: [3] axes: [-1]", {f32({-1, 2}), f32({-1, 5})}), f32({-1, 5}));
  EXPECT_EQ(infer1("SliceGrad", "starts: [0] ends: [2]", {f32({2, 4}), i64({-1, 4})}), f32({-1, 4}));
  expect_infer_error("SliceGrad", "starts: [1] ends: [-1] axes: [1]", {f32({10, 17}), f32({10, 20})},
                     "output_grad float32[10,17] does not have the shape [10,18] of the slice of data float32[10,20]");
  expect_infer_error("SliceGrad", "starts: [1] ends: [3]", {f32({2}), f32({5, 5})}, "does not have the shape [2,5]");
  expect_infer_error("SliceGrad", "starts: [1] ends: [3]", {i64({2}), f32({5})}, "expected float32");
  expect_infer_error("SliceGrad", "starts: [0] ends: [5] steps: [0]", {f32({2}), f32({10})}, "steps [0] has a 0");
}

TEST(SliceGrad, MatchesReference) {
  std::mt19937 rng(7);
  for (const auto& [dims, attrs] : kSliceCases) {
    const Tensor data = random_floats(dims, rng);
    const TensorType sliced = infer1("Slice", attrs, {f32(dims)});
    expect_matches_reference("SliceGrad", make_attrs(attrs), {random_floats(sliced.dims, rng), data}, 0.f);
  }
}

TEST(SliceGrad, HandComputed) {
  // Columns 1 and 3 of a [2,4] input: the gradient lands there, zeros elsewhere.
  const float grad[] = {1, 2, 3, 4};
  const float expected[] = {0, 1, 0, 2, 0, 3, 0, 4};
  expect_exact("SliceGrad", "starts: [1] ends: [4] axes: [1] steps: [2]",
               {Tensor::from_floats({2, 2}, grad), iota_floats({2, 4})}, Tensor::from_floats({2, 4}, expected));
  // Backwards with step -2 over [5]: positions 4, 2, 0.
  const float back_grad[] = {1, 2, 3};
  const float back_expected[] = {3, 0, 2, 0, 1};
  expect_exact("SliceGrad", "starts: [-1] ends: [-100] steps: [-2]",
               {Tensor::from_floats({3}, back_grad), iota_floats({5})}, Tensor::from_floats({5}, back_expected));
}

// ---- Gradients -----------------------------------------------------------------

void reshape_gradient_matches_numeric() {
  std::mt19937 rng(40);
  expect_gradients_match_numeric("Reshape", make_attrs("shape: [0, -1]"), {random_floats({1, 4, 5}, rng)});
  expect_gradients_match_numeric("Reshape", make_attrs("shape: [-1]"), {random_floats({3, 7}, rng)});
  expect_gradients_match_numeric("Reshape", make_attrs("shape: [5, 1, 3]"), {random_floats({3, 5}, rng)});
}

void transpose_gradient_matches_numeric() {
  std::mt19937 rng(41);
  const std::pair<Dims, std::string> cases[] = {
      {{2, 3}, ""},
      {{1, 7}, ""},
      {{2, 3, 5}, "perm: [2, 0, 1]"},  // not its own inverse
      {{3, 4, 5, 2}, "perm: [0, 2, 3, 1]"},
  };
  for (const auto& [dims, attrs] : cases)
    expect_gradients_match_numeric("Transpose", make_attrs(attrs), {random_floats(dims, rng)});
}

void concat_gradient_matches_numeric() {
  std::mt19937 rng(42);
  const std::pair<std::vector<Dims>, std::string> cases[] = {
      {{{2, 3}, {2, 5}}, "axis: 1"},
      {{{1, 3}, {4, 3}, {3, 3}}, "axis: 0"},
      {{{3, 1, 5}, {3, 7, 5}}, "axis: -2"},
      {{{1, 1}, {1, 1}}, "axis: 1"},
      {{{7}}, "axis: 0"},
  };
  for (const auto& [shapes, attrs] : cases) {
    std::vector<Tensor> inputs;
    for (const Dims& dims : shapes) inputs.push_back(random_floats(dims, rng));
    expect_gradients_match_numeric("Concat", make_attrs(attrs), inputs);
  }
}

void slice_gradient_matches_numeric() {
  std::mt19937 rng(43);
  for (const auto& [dims, attrs] : kSliceCases)
    expect_gradients_match_numeric("Slice", make_attrs(attrs), {random_floats(dims, rng)});
}

void squeeze_unsqueeze_flatten_gradients_match_numeric() {
  std::mt19937 rng(44);
  expect_gradients_match_numeric("Squeeze", make_attrs(""), {random_floats({1, 7, 1}, rng)});
  expect_gradients_match_numeric("Squeeze", make_attrs("axes: [0]"), {random_floats({1, 3, 5}, rng)});
  expect_gradients_match_numeric("Unsqueeze", make_attrs("axes: [1, -1]"), {random_floats({3, 5}, rng)});
  expect_gradients_match_numeric("Unsqueeze", make_attrs("axes: [0]"), {random_floats({1}, rng)});
  expect_gradients_match_numeric("Flatten", make_attrs(""), {random_floats({1, 3, 5}, rng)});
  expect_gradients_match_numeric("Flatten", make_attrs("axis: 2"), {random_floats({2, 3, 5}, rng)});
}

void reshape_like_gradient_matches_numeric() {
  std::mt19937 rng(45);
  // `like` only lends its shape and gets no gradient.
  const std::vector<size_t> like = {1};
  expect_gradients_match_numeric("ReshapeLike", {}, {random_floats({2, 3}, rng), random_floats({3, 2}, rng)}, 2e-3f,
                                 1e-3, like);
  expect_gradients_match_numeric("ReshapeLike", {}, {random_floats({1, 5, 3}, rng), random_floats({15}, rng)}, 2e-3f,
                                 1e-3, like);
  expect_gradients_match_numeric("ReshapeLike", {}, {random_floats({7}, rng), random_ints({7, 1}, rng, 0, 9)});
}

// A GradientBuilder for one node whose input types may have unknown dims (which
// the numeric check cannot have): records what the rule emits.
class RecordingBuilder final : public GradientBuilder {
 public:
  RecordingBuilder(const std::string& op, const pb::Node& attrs, const std::vector<TensorType>& input_types) {
    std::vector<ValueId> inputs;
    for (size_t i = 0; i < input_types.size(); ++i)
      inputs.push_back(graph_.add_value("x" + std::to_string(i), ValueKind::input, input_types[i]));
    const TensorType out_type = infer_op(op, attrs, input_types).at(0);
    const ValueId y = graph_.add_value("y", ValueKind::node_output, out_type);
    dy_ = graph_.add_value("dy", ValueKind::input, out_type);
    pb::Node def = attrs;
    def.set_name("cat");
    def.set_op(op);
    graph_.add_node(def, inputs, {y});
  }
  const Node& node() const override { return graph_.node(0); }
  const TensorType& type(ValueId value) const override { return graph_.value(value).type; }
  ValueId output_grad(size_t) const override { return dy_; }
  bool needs_grad(size_t) const override { return true; }
  void set_input_grad(size_t i, ValueId grad) override { input_grads[i] = grad; }
  std::vector<ValueId> emit(const std::string& op, const std::vector<ValueId>& inputs, const pb::Node& attrs) override {
    pb::Node def = attrs;
    def.set_op(op);
    emitted.push_back(def);
    const ValueId out = graph_.add_value("g" + std::to_string(emitted.size()), ValueKind::node_output, {});
    EXPECT_EQ(inputs, std::vector<ValueId>{dy_});
    return {out};
  }

  std::map<size_t, ValueId> input_grads;
  std::vector<pb::Node> emitted;

 private:
  Graph graph_;
  ValueId dy_ = kNoValue;
};

TEST(Concat, GradientSlicesAtStaticOffsets) {
  // An unknown batch is fine as long as the sizes along the axis are known.
  RecordingBuilder g("Concat", make_attrs("axis: -1"), {f32({-1, 2}), f32({-1, 3}), f32({-1, 4})});
  builtin_ops().get("Concat").gradient(g);
  ASSERT_EQ(g.emitted.size(), 3u);
  ASSERT_EQ(g.input_grads.size(), 3u);
  const int64_t offsets[] = {0, 2, 5, 9};
  for (size_t i = 0; i < 3; ++i) {
    const pb::Node& slice = g.emitted[i];
    EXPECT_EQ(slice.op(), "Slice");
    EXPECT_EQ(slice.starts(0), offsets[i]);
    EXPECT_EQ(slice.ends(0), offsets[i + 1]);
    EXPECT_EQ(slice.axes(0), 1);
  }
}

TEST(Concat, GradientNeedsStaticSizesAlongTheAxis) {
  RecordingBuilder g("Concat", make_attrs("axis: 0"), {f32({-1, 3}), f32({4, 3})});
  try {
    builtin_ops().get("Concat").gradient(g);
    ADD_FAILURE() << "no error for an unknown size along the concat axis";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("node 'cat' (Concat)"), std::string::npos) << message;
    EXPECT_NE(message.find("concat gradients need static sizes along the axis, but input 0 is float32[?,3]"),
              std::string::npos)
        << message;
  }
}

}  // namespace

std::vector<GradientCase> shape_gradient_cases() {
  return {
      {"Reshape_GradientMatchesNumeric", {"Reshape"}, reshape_gradient_matches_numeric},
      {"Transpose_GradientMatchesNumeric", {"Transpose"}, transpose_gradient_matches_numeric},
      {"Concat_GradientMatchesNumeric", {"Concat"}, concat_gradient_matches_numeric},
      {"Slice_GradientMatchesNumeric", {"Slice"}, slice_gradient_matches_numeric},
      {"SqueezeUnsqueezeFlatten_GradientsMatchNumeric",
       {"Squeeze", "Unsqueeze", "Flatten"},
       squeeze_unsqueeze_flatten_gradients_match_numeric},
      {"ReshapeLike_GradientMatchesNumeric", {"ReshapeLike"}, reshape_like_gradient_matches_numeric},
  };
}

}  // namespace graphrun::testing
