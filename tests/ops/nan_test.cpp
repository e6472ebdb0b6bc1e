// NaN in, NaN out, as IEEE, NumPy and PyTorch: every op whose kernel (oneDNN)
// once dropped a NaN (Relu gave 0, Exp infinity, Max/Min/ReduceMax/MaxPool1D
// skipped it, Softmax left zeros beside it, Sign gave 0) now yields NaN wherever
// a NaN input reaches, and its reference kernel agrees.
#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <vector>

#include "ops/nan.h"
#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

constexpr float kNaN = NAN;

// The kernel's and the reference's output 0 are NaN exactly where `nan_at` says, and elsewhere finite.
void expect_nan_where(const std::string& op, const std::string& attrs, const std::vector<Tensor>& inputs,
                      const std::vector<bool>& nan_at) {
  const pb::Node node = make_attrs(attrs);
  for (const bool reference : {false, true}) {
    const Tensor y = (reference ? run_reference(op, node, inputs) : run_kernel(op, node, inputs))[0];
    ASSERT_EQ(y.num_elements(), static_cast<int64_t>(nan_at.size())) << op;
    for (size_t i = 0; i < nan_at.size(); ++i) {
      const float v = y.data<float>()[i];
      EXPECT_EQ(std::isnan(v), nan_at[i])
          << op << " " << attrs << (reference ? " reference" : " kernel") << " element " << i << " is " << v;
      if (!nan_at[i]) {
        EXPECT_TRUE(std::isfinite(v)) << op << " element " << i;
      }
    }
  }
}

// all_finite against std::isfinite on every special value, at every position of a run
// longer than a vector, and on the largest finite values and the smallest denormals.
TEST(NaN, AllFiniteFindsEveryNaNAndInfinity) {
  const float specials[] = {kNaN, -kNaN, INFINITY, -INFINITY, std::bit_cast<float>(0x7fa00001u)};
  const float finite[] = {0.f, -0.f, 1.f, FLT_MAX, -FLT_MAX, FLT_MIN, std::bit_cast<float>(1u), -1e-45f};
  std::vector<float> values(37, 0.f);
  EXPECT_TRUE(all_finite(values.data(), 0));
  EXPECT_TRUE(all_finite(values.data(), static_cast<int64_t>(values.size())));
  for (const float f : finite) {
    values.assign(37, f);
    EXPECT_TRUE(all_finite(values.data(), static_cast<int64_t>(values.size()))) << f;
  }
  for (const float special : specials)
    for (size_t at = 0; at < values.size(); ++at) {
      values.assign(37, 1.f);
      values[at] = special;
      EXPECT_FALSE(all_finite(values.data(), static_cast<int64_t>(values.size()))) << special << " at " << at;
      EXPECT_TRUE(all_finite(values.data(), static_cast<int64_t>(at)));  // before it
    }
}

TEST(NaN, ElementwiseOpsKeepIt) {
  for (const char* op : {"Relu", "Tanh", "Sigmoid", "Exp", "Neg", "Abs", "Sign"})
    expect_nan_where(op, "", {floats({4}, {1, kNaN, -2, 0.5f})}, {false, true, false, false});
  for (const char* op : {"Log", "Sqrt"}) expect_nan_where(op, "", {floats({3}, {1, kNaN, 2})}, {false, true, false});
}

TEST(NaN, MaxAndMinGiveNaNWhereEitherInputIsNaN) {
  const Tensor a = floats({2, 3}, {1, kNaN, -2, -1, -3, 0});
  const Tensor b = floats({2, 3}, {0, 0, kNaN, 0, 0, 0});
  for (const char* op : {"Max", "Min"}) {
    expect_nan_where(op, "", {a, b}, {false, true, true, false, false, false});  // oneDNN's path
    expect_nan_where(op, "", {b, a}, {false, true, true, false, false, false});
    // Broadcasting both ways: the loop's path.
    expect_nan_where(op, "", {floats({2, 1}, {kNaN, 1}), floats({1, 3}, {0, kNaN, 2})},
                     {true, true, true, false, true, false});
  }
}

TEST(NaN, ReduceMaxOfANaNIsNaN) {
  const Tensor x = floats({2, 3}, {1, kNaN, -2, -1, -3, 4});
  expect_nan_where("ReduceMax", "axes: [1] keepdims: false", {x}, {true, false});
  expect_nan_where("ReduceMax", "axes: [0] keepdims: false", {x}, {false, true, false});
  expect_nan_where("ReduceMax", "", {x}, {true});
  expect_nan_where("ReduceMax", "axes: [1]", {floats({2, 3}, {kNaN, 1, 2, 3, 4, kNaN})}, {true, true});
  expect_nan_where("MaskedReduceMax", "", {floats({2, 3, 1}, {kNaN, 1, 2, 3, 4, 5}), ints({2, 3}, {1, 2, 0, 1, 1, 1})},
                   {true, false});
  // A NaN under the mask is not part of the max.
  expect_nan_where("MaskedReduceMax", "", {floats({1, 3, 1}, {1, 2, kNaN}), ints({1, 3}, {1, 1, 0})}, {false});
}

TEST(NaN, MaxPoolOfAWindowHoldingNaNIsNaN) {
  expect_nan_where("MaxPool1D", "kernel_shape: [2]", {floats({1, 6, 1}, {kNaN, 1, 2, 3, 4, kNaN})},
                   {true, false, true});
  expect_nan_where("MaxPool1D", "kernel_shape: [3] strides: [1]", {floats({1, 4, 2}, {0, 1, kNaN, 1, 2, 3, 4, 5})},
                   {true, false, true, false});
}

TEST(NaN, ArgMaxPointsAtTheFirstNaN) {
  // numpy.argmax([1, nan, 5, nan]) == 1: a NaN is never passed over for a number.
  const Tensor x = floats({2, 4}, {1, kNaN, 5, kNaN, 7, 2, 3, 0});
  for (const bool reference : {false, true}) {
    const pb::Node axis1 = make_attrs("axis: 1 keepdims: false");
    const Tensor rows = (reference ? run_reference("ArgMax", axis1, {x}) : run_kernel("ArgMax", axis1, {x}))[0];
    EXPECT_EQ(rows.data<int64_t>()[0], 1) << (reference ? "reference" : "kernel");
    EXPECT_EQ(rows.data<int64_t>()[1], 0) << (reference ? "reference" : "kernel");
    const pb::Node axis0 = make_attrs("axis: 0 keepdims: false");
    const Tensor columns = (reference ? run_reference("ArgMax", axis0, {x}) : run_kernel("ArgMax", axis0, {x}))[0];
    const std::vector<int64_t> expected = {1, 0, 0, 0};  // 7 > 1; NaN; 5 > 3; NaN
    for (size_t i = 0; i < expected.size(); ++i)
      EXPECT_EQ(columns.data<int64_t>()[i], expected[i]) << (reference ? "reference" : "kernel") << " column " << i;
  }
}

TEST(NaN, SoftmaxOfASliceHoldingNaNIsNaN) {
  const Tensor x = floats({2, 3}, {1, kNaN, -2, -1, -3, 0});
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    expect_nan_where(op, "axis: 1", {x}, {true, true, true, false, false, false});
    expect_nan_where(op, "axis: 0", {x}, {false, true, false, false, true, false});
  }
  // Kept steps of a masked slice with a NaN are NaN; masked steps stay 0.
  expect_nan_where("MaskedSoftmax", "", {floats({2, 3, 1}, {kNaN, 1, 2, 3, 4, 5}), ints({2, 3}, {1, 2, 0, 1, 1, 1})},
                   {true, true, false, false, false, false});
}

}  // namespace
}  // namespace graphrun::testing
