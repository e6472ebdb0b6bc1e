// ReduceSum, ReduceMean, ReduceMax: axes/keepdims shape rule and the oneDNN
// kernel against the reference; ArgMax against its reference and on ties.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>
#include <string_view>
#include <utility>

#include "ops/dnnl_util.h"
#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

const char* kReductionOps[] = {"ReduceSum", "ReduceMean", "ReduceMax"};

// Attributes `axes: [...]` (omitted when empty) and `keepdims`.
pb::Node reduce_attrs(const std::vector<int64_t>& axes, bool keepdims = true) {
  pb::Node node;
  for (int64_t axis : axes) node.add_axes(axis);
  if (!keepdims) node.set_keepdims(false);
  return node;
}

TEST(Reduction, ShapeRule) {
  for (const char* op : kReductionOps) {
    EXPECT_EQ(infer_op(op, reduce_attrs({1}), {f32({2, 3, 4})})[0], f32({2, 1, 4}));
    EXPECT_EQ(infer_op(op, reduce_attrs({1}, false), {f32({2, 3, 4})})[0], f32({2, 4}));
    EXPECT_EQ(infer_op(op, reduce_attrs({}), {f32({2, 3, 4})})[0], f32({1, 1, 1}));
    EXPECT_EQ(infer_op(op, reduce_attrs({}, false), {f32({2, 3, 4})})[0], f32({}));
    EXPECT_EQ(infer_op(op, reduce_attrs({-1, 0}), {f32({2, 3, 4})})[0], f32({1, 3, 1}));
    EXPECT_EQ(infer_op(op, make_attrs("axes: [2, 0] keepdims: false"), {f32({2, 3, 4})})[0], f32({3}));
    EXPECT_EQ(infer_op(op, reduce_attrs({}), {f32({})})[0], f32({}));
  }
}

TEST(Reduction, ShapeRuleKeepsUnknownDims) {
  EXPECT_EQ(infer_op("ReduceSum", reduce_attrs({1}, false), {f32({-1, 10})})[0], f32({-1}));
  EXPECT_EQ(infer_op("ReduceMean", reduce_attrs({-1}), {f32({-1, 10})})[0], f32({-1, 1}));
  // A reduced unknown dim becomes a known 1 (or disappears).
  EXPECT_EQ(infer_op("ReduceMax", reduce_attrs({0}), {f32({-1, 10})})[0], f32({1, 10}));
  EXPECT_EQ(infer_op("ReduceMax", reduce_attrs({0}, false), {f32({-1, 10})})[0], f32({10}));
}

TEST(Reduction, ShapeRuleRejectsBadAxes) {
  std::string message = infer_error("ReduceSum", reduce_attrs({3}), {f32({2, 3, 4})});
  EXPECT_NE(message.find("axis 3 in axes [3] is out of range for input 0 of shape [2,3,4] (rank 3)"), std::string::npos)
      << message;
  message = infer_error("ReduceMean", reduce_attrs({0, -4}), {f32({-1, 3, 4})});
  EXPECT_NE(message.find("axis -4 in axes [0,-4] is out of range for input 0 of shape [?,3,4]"), std::string::npos)
      << message;
  message = infer_error("ReduceMax", reduce_attrs({1, -2}), {f32({2, 3, 4})});
  EXPECT_NE(message.find("axes [1,-2] name axis 1 of input 0 (shape [2,3,4]) twice"), std::string::npos) << message;
  EXPECT_THROW(infer_op("ReduceSum", reduce_attrs({0}), {f32({})}), Error);
  EXPECT_THROW(infer_op("ReduceSum", {}, {{DType::i64, {3}}}), Error);
  message = infer_error("ReduceMax", {}, {f32(Dims(13, 2))});
  EXPECT_NE(message.find("rank 13 is more than the 12 oneDNN supports"), std::string::npos) << message;
}

TEST(Reduction, MatchesReference) {
  const std::pair<Dims, std::vector<std::vector<int64_t>>> cases[] = {
      {{7}, {{}, {0}}},
      {{3, 5}, {{0}, {1}, {}, {0, 1}, {-1}}},
      {{2, 3, 17}, {{0}, {1}, {2}, {0, 2}, {-1, -2}, {}}},
      {{1, 13}, {{0}, {1}}},  // batch of 1; reducing only the 1 is a copy
      {{13, 1}, {{1}, {0}}},
      {{}, {{}}},  // a scalar reduces to itself
      {{2, 1, 3, 1, 5}, {{1, 3}, {0, 4}, {1, 2}}},
      {{5, 7, 13}, {{1}, {0, 2}}},
  };
  std::mt19937 rng(10);
  for (const auto& [dims, axes_list] : cases)
    for (const std::vector<int64_t>& axes : axes_list)
      for (bool keepdims : {true, false})
        for (const char* op : kReductionOps) {
          SCOPED_TRACE(std::string(op) + " on " + dims_str(dims) + " axes " + dims_str(axes) +
                       (keepdims ? " keepdims" : ""));
          expect_matches_reference(op, reduce_attrs(axes, keepdims), {random_floats(dims, rng)}, 1e-5f);
        }
}

// Where oneDNN has no JIT kernel for a sum or mean, the kernel runs its own loop in
// place of oneDNN's reference one: the results must be the very same bits.
TEST(Reduction, PlainLoopIsBitEqualToOneDnnsReferenceLoop) {
  const std::pair<Dims, std::vector<int64_t>> cases[] = {
      {{1, 20, 100}, {1}},  // Emojifier V1's word-vector sum
      {{64, 40, 100}, {1}}, {{3, 5, 7, 11}, {1, 3}}, {{2, 1000, 3}, {1}},
      {{300, 7}, {0}},      {{4, 6, 8}, {0, 2}},     {{9, 31}, {1}},
  };
  std::mt19937 rng(11);
  int reference_shapes = 0;
  for (const auto& [dims, axes] : cases) {
    Dims dst_dims = dims;
    for (int64_t axis : axes) dst_dims[static_cast<size_t>(axis)] = 1;
    // Values of mixed magnitudes, so a different summation order would show.
    Tensor x = random_floats(dims, rng, -1.f, 1.f);
    float* values = x.data<float>();
    for (int64_t i = 0; i < x.num_elements(); i += 3) values[i] *= 1000.f;
    for (const auto& [op, algorithm] : {std::pair{"ReduceSum", dnnl::algorithm::reduction_sum},
                                        std::pair{"ReduceMean", dnnl::algorithm::reduction_mean}}) {
      SCOPED_TRACE(fmt::format("{} on {} axes {}", op, dims_str(dims), dims_str(axes)));
      const dnnl::reduction::primitive_desc pd(
          dnnl::reduction::desc(algorithm, plain_desc(dims), plain_desc(dst_dims), 0.f, 0.f), cpu_engine());
      reference_shapes += std::string_view(pd.impl_info_str()).starts_with("ref");
      Tensor expected = Tensor::uninitialized(DType::f32, dst_dims);
      dnnl::stream stream(cpu_engine());
      dnnl::reduction(pd).execute(stream, {{DNNL_ARG_SRC, wrap(plain_desc(dims), x.raw_data())},
                                           {DNNL_ARG_DST, wrap(plain_desc(dst_dims), expected.raw_data())}});
      stream.wait();
      const Tensor got = run_kernel(op, reduce_attrs(axes), {x})[0];
      ASSERT_EQ(got.num_elements(), expected.num_elements());
      for (int64_t i = 0; i < got.num_elements(); ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(got.data<float>()[i]), std::bit_cast<uint32_t>(expected.data<float>()[i]))
            << "element " << i;
    }
  }
  EXPECT_GT(reference_shapes, 0) << "no case reaches oneDNN's reference loop: the test checks nothing";
}

TEST(Reduction, EmptyInput) {
  std::mt19937 rng(11);
  const Tensor empty_rows = random_floats({0, 3}, rng);
  const float inf = std::numeric_limits<float>::infinity();
  // Checked value by value: expect_tensors_near does not treat -inf as equal to itself.
  for (const auto& run : {run_kernel, run_reference}) {
    auto sum = run("ReduceSum", reduce_attrs({0}), {empty_rows}, {});
    auto mean = run("ReduceMean", reduce_attrs({0}, false), {empty_rows}, {});
    auto max = run("ReduceMax", reduce_attrs({0}), {empty_rows}, {});
    ASSERT_EQ(sum[0].dims(), (Dims{1, 3}));
    ASSERT_EQ(mean[0].dims(), (Dims{3}));
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(sum[0].data<float>()[i], 0.f);
      EXPECT_TRUE(std::isnan(mean[0].data<float>()[i]));
      EXPECT_EQ(max[0].data<float>()[i], -inf);
    }
  }
  for (const char* op : kReductionOps) expect_matches_reference(op, reduce_attrs({1}), {empty_rows});  // empty output
}

TEST(Reduction, HandComputedValues) {
  const float x[] = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};  // [[1,2,3],[4,5,6]]
  const Tensor input = Tensor::from_floats({2, 3}, x);
  const struct {
    const char* op;
    pb::Node attrs;
    Dims dims;
    std::vector<float> expected;
  } cases[] = {
      {"ReduceSum", reduce_attrs({0}), {1, 3}, {5.f, 7.f, 9.f}},
      {"ReduceSum", reduce_attrs({}, false), {}, {21.f}},
      {"ReduceMean", reduce_attrs({1}, false), {2}, {2.f, 5.f}},
      {"ReduceMean", reduce_attrs({-2}), {1, 3}, {2.5f, 3.5f, 4.5f}},
      {"ReduceMax", reduce_attrs({}, false), {}, {6.f}},
      {"ReduceMax", reduce_attrs({1}), {2, 1}, {3.f, 6.f}},
  };
  for (const auto& c : cases) {
    const Tensor expected = Tensor::from_floats(c.dims, c.expected);
    expect_tensors_near(run_kernel(c.op, c.attrs, {input})[0], expected, 0.f, std::string(c.op) + " kernel");
    expect_tensors_near(run_reference(c.op, c.attrs, {input})[0], expected, 0.f, std::string(c.op) + " reference");
  }
}

// Distinct values (0.1 apart, shuffled) so ReduceMax has no ties.
// (X, like) pairs where X's shape is like's broadcast with something.
const std::pair<Dims, Dims> kBroadcastPairs[] = {
    {{3, 4}, {3, 1}},
    {{3, 4}, {1, 4}},
    {{3, 4}, {4}},  // a leading dim summed away
    {{3, 4}, {}},   // everything summed into a scalar
    {{2, 3, 5}, {3, 1}},
    {{2, 3, 5}, {1, 1, 5}},
    {{5, 7}, {5, 7}},  // nothing to reduce: a copy
    {{1, 13}, {13}},   // batch of 1
    {{2, 1, 3, 1, 5}, {1, 3, 1, 1}},
};

TEST(ReduceSumToShapeOf, ShapeRule) {
  EXPECT_EQ(infer_op("ReduceSumToShapeOf", {}, {f32({2, 3, 4}), f32({3, 1})})[0], f32({3, 1}));
  EXPECT_EQ(infer_op("ReduceSumToShapeOf", {}, {f32({-1, 4}), f32({4})})[0], f32({4}));
  EXPECT_EQ(infer_op("ReduceSumToShapeOf", {}, {f32({-1, 4}), f32({-1, 4})})[0], f32({-1, 4}));
  EXPECT_EQ(infer_op("ExpandToShapeOf", {}, {f32({3, 1}), f32({2, 3, 4})})[0], f32({2, 3, 4}));
  EXPECT_EQ(infer_op("ExpandToShapeOf", {}, {f32({}), f32({-1, 4})})[0], f32({-1, 4}));
  std::string message = infer_error("ReduceSumToShapeOf", {}, {f32({3, 4}), f32({2, 4})});
  EXPECT_NE(message.find("input 1 has shape [2,4], which does not broadcast to the shape [3,4] of input 0"),
            std::string::npos)
      << message;
  EXPECT_THROW(infer_op("ReduceSumToShapeOf", {}, {f32({4}), f32({3, 4})}), Error);
  EXPECT_THROW(infer_op("ExpandToShapeOf", {}, {f32({3, 4}), f32({4})}), Error);
  EXPECT_THROW(infer_op("ExpandToShapeOf", {}, {f32({2}), f32({3})}), Error);
}

TEST(ReduceSumToShapeOf, MatchesReference) {
  std::mt19937 rng(17);
  for (const auto& [x, like] : kBroadcastPairs) {
    SCOPED_TRACE(dims_str(x) + " to " + dims_str(like));
    expect_matches_reference("ReduceSumToShapeOf", {}, {random_floats(x, rng), random_floats(like, rng)}, 1e-5f);
    expect_matches_reference("ExpandToShapeOf", {}, {random_floats(like, rng), random_floats(x, rng)}, 0.f);
  }
  // Empty X sums to zeros; an empty like gets nothing.
  const auto zeros = run_kernel("ReduceSumToShapeOf", {}, {random_floats({0, 3}, rng), random_floats({3}, rng)});
  for (float v : zeros[0].values<float>()) EXPECT_EQ(v, 0.f);
  expect_matches_reference("ReduceSumToShapeOf", {}, {random_floats({0, 3}, rng), random_floats({3}, rng)});
  expect_matches_reference("ExpandToShapeOf", {}, {random_floats({3}, rng), random_floats({0, 3}, rng)});
}

TEST(ReduceSumToShapeOf, HandComputedValues) {
  const float x[] = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};  // [[1,2,3],[4,5,6]]
  const Tensor input = Tensor::from_floats({2, 3}, x);
  const Tensor row = Tensor::from_floats({3}, std::vector<float>{5.f, 7.f, 9.f});
  const Tensor column = Tensor::from_floats({2, 1}, std::vector<float>{6.f, 15.f});
  const Tensor expanded = Tensor::from_floats({2, 3}, std::vector<float>{5.f, 7.f, 9.f, 5.f, 7.f, 9.f});
  for (const auto& run : {run_kernel, run_reference}) {
    expect_tensors_near(run("ReduceSumToShapeOf", {}, {input, row}, {})[0], row, 0.f, "to [3]");
    expect_tensors_near(run("ReduceSumToShapeOf", {}, {input, column}, {})[0], column, 0.f, "to [2,1]");
    expect_tensors_near(run("ExpandToShapeOf", {}, {row, input}, {})[0], expanded, 0.f, "expand [3]");
  }
}

TEST(ReductionGrad, ShapeRule) {
  EXPECT_EQ(infer_op("ReduceMeanGrad", reduce_attrs({1}, false), {f32({-1}), f32({-1, 10})})[0], f32({-1, 10}));
  EXPECT_EQ(infer_op("ReduceMaxGrad", reduce_attrs({1}), {f32({2, 1}), f32({2, 3}), f32({2, 1})})[0], f32({2, 3}));
  std::string message = infer_error("ReduceMeanGrad", reduce_attrs({1}), {f32({2}), f32({2, 3})});
  EXPECT_NE(message.find("input 0 (dY) has shape [2] but the forward reduction's output has shape [2,1]"),
            std::string::npos)
      << message;
  EXPECT_THROW(infer_op("ReduceMaxGrad", reduce_attrs({1}), {f32({2, 1}), f32({2, 3}), f32({3, 1})}), Error);
  EXPECT_THROW(infer_op("ReduceMeanGrad", reduce_attrs({2}), {f32({2, 1}), f32({2, 3})}), Error);
}

TEST(ReductionGrad, MatchesReference) {
  const std::pair<Dims, std::vector<std::vector<int64_t>>> cases[] = {
      {{7}, {{}, {0}}},
      {{3, 5}, {{0}, {1}, {}}},
      {{2, 3, 17}, {{0}, {2}, {0, 2}, {-1, -2}}},
      {{1, 13}, {{0}, {1}}},  // reducing only the 1 is a copy
      {{}, {{}}},
      {{2, 1, 3, 1, 5}, {{1, 3}, {0, 4}}},
  };
  std::mt19937 rng(18);
  for (const auto& [dims, axes_list] : cases)
    for (const std::vector<int64_t>& axes : axes_list)
      for (bool keepdims : {true, false}) {
        SCOPED_TRACE(dims_str(dims) + " axes " + dims_str(axes) + (keepdims ? " keepdims" : ""));
        const pb::Node attrs = reduce_attrs(axes, keepdims);
        // Small integers make ties common, exercising ReduceMaxGrad's split.
        Tensor x = random_ints(dims, rng, 0, 3);
        std::vector<float> values;
        for (int64_t v : x.values<int64_t>()) values.push_back(static_cast<float>(v));
        x = Tensor::from_floats(dims, values);
        const Tensor y = run_kernel("ReduceMax", attrs, {x})[0];
        const Tensor dy = random_floats(y.dims(), rng);
        expect_matches_reference("ReduceMeanGrad", attrs, {dy, x}, 1e-6f);
        expect_matches_reference("ReduceMaxGrad", attrs, {dy, x, y}, 1e-6f);
      }
}

TEST(ReductionGrad, HandComputedValues) {
  // X = [[1,3,3],[2,0,1]] over axis 1: mean gradient spreads dY/3; the max
  // gradient goes to the maxima, split evenly between the two 3s.
  const Tensor x = Tensor::from_floats({2, 3}, std::vector<float>{1.f, 3.f, 3.f, 2.f, 0.f, 1.f});
  const Tensor y = Tensor::from_floats({2}, std::vector<float>{3.f, 2.f});
  const Tensor dy = Tensor::from_floats({2}, std::vector<float>{1.f, 4.f});
  const float third = 1.f / 3.f;
  const Tensor mean_dx =
      Tensor::from_floats({2, 3}, std::vector<float>{third, third, third, 4 * third, 4 * third, 4 * third});
  const Tensor max_dx = Tensor::from_floats({2, 3}, std::vector<float>{0.f, 0.5f, 0.5f, 4.f, 0.f, 0.f});
  const pb::Node attrs = reduce_attrs({1}, false);
  for (const auto& run : {run_kernel, run_reference}) {
    expect_tensors_near(run("ReduceMeanGrad", attrs, {dy, x}, {})[0], mean_dx, 1e-6f, "ReduceMeanGrad");
    expect_tensors_near(run("ReduceMaxGrad", attrs, {dy, x, y}, {})[0], max_dx, 0.f, "ReduceMaxGrad");
  }
}

void reduction_gradients_match_numeric() {
  const std::pair<Dims, std::vector<std::vector<int64_t>>> cases[] = {
      {{7}, {{}, {0}}}, {{3, 5}, {{0}, {1}, {}}}, {{2, 3, 5}, {{1}, {0, 2}, {-1}}}, {{1, 9}, {{0}, {1}}},  // batch of 1
      {{}, {{}}},
  };
  std::mt19937 rng(19);
  for (const auto& [dims, axes_list] : cases)
    for (const std::vector<int64_t>& axes : axes_list)
      for (bool keepdims : {true, false})
        for (const char* op : kReductionOps) {
          SCOPED_TRACE(std::string(op) + " on " + dims_str(dims) + " axes " + dims_str(axes) +
                       (keepdims ? " keepdims" : ""));
          expect_gradients_match_numeric(op, reduce_attrs(axes, keepdims), {distinct_floats(dims, rng)});
        }
}

void reduce_sum_to_shape_of_gradients_match_numeric() {
  std::mt19937 rng(20);
  for (const auto& [x, like] : kBroadcastPairs) {
    SCOPED_TRACE(dims_str(x) + " and " + dims_str(like));
    // `like` supplies only a shape: no gradient flows to it.
    expect_gradients_match_numeric("ReduceSumToShapeOf", {}, {random_floats(x, rng), random_floats(like, rng)}, 2e-3f,
                                   1e-3, {1});
    expect_gradients_match_numeric("ExpandToShapeOf", {}, {random_floats(like, rng), random_floats(x, rng)}, 2e-3f,
                                   1e-3, {1});
  }
}

// ---- ArgMax ----------------------------------------------------------------------

TEST(ArgMax, ShapeRule) {
  EXPECT_EQ(infer_op("ArgMax", {}, {{DType::f32, {-1, 10}}})[0],
            (TensorType{DType::i64, {1, 10}}));  // ONNX default axis 0
  EXPECT_EQ(infer_op("ArgMax", make_attrs("axis: -1"), {{DType::f32, {-1, 10}}})[0], (TensorType{DType::i64, {-1, 1}}));
  EXPECT_EQ(infer_op("ArgMax", make_attrs("axis: 0 keepdims: false"), {{DType::f32, {4, 10}}})[0],
            (TensorType{DType::i64, {10}}));
  EXPECT_EQ(infer_op("ArgMax", make_attrs("keepdims: false"), {{DType::i64, {7}}})[0], (TensorType{DType::i64, {}}));
  EXPECT_THROW(infer_op("ArgMax", make_attrs("axis: 2"), {{DType::f32, {4, 10}}}), Error);
  EXPECT_THROW(infer_op("ArgMax", {}, {f32({})}), Error);
  EXPECT_THROW(infer_op("ArgMax", make_attrs("axis: -1"), {{DType::f32, {3, 0}}}), Error);
}

TEST(ArgMax, MatchesReference) {
  std::mt19937 rng(3);
  for (const Dims& dims : {Dims{1}, Dims{9}, Dims{4, 7}, Dims{2, 3, 5}, Dims{0, 3}}) {
    for (int64_t axis = -static_cast<int64_t>(dims.size()); axis < static_cast<int64_t>(dims.size()); ++axis) {
      if (dims[static_cast<size_t>(axis < 0 ? axis + static_cast<int64_t>(dims.size()) : axis)] == 0) continue;
      for (const char* keep : {"keepdims: true", "keepdims: false"}) {
        const pb::Node attrs = make_attrs(fmt::format("axis: {} {}", axis, keep));
        expect_matches_reference("ArgMax", attrs, {random_floats(dims, rng)});
        expect_matches_reference("ArgMax", attrs, {random_ints(dims, rng, -3, 3)});  // many ties
      }
    }
  }
}

TEST(ArgMax, FirstIndexWinsTies) {
  const auto y = run_kernel("ArgMax", make_attrs("axis: -1"), {floats({2, 3}, {1, 3, 3, 5, 5, 5})});
  EXPECT_EQ(y[0].dims(), (Dims{2, 1}));
  EXPECT_EQ(y[0].data<int64_t>()[0], 1);
  EXPECT_EQ(y[0].data<int64_t>()[1], 0);
  const auto columns =
      run_kernel("ArgMax", make_attrs("axis: 0 keepdims: false"), {floats({2, 3}, {1, 3, 3, 5, 5, -1})});
  EXPECT_EQ(columns[0].dims(), (Dims{3}));
  EXPECT_EQ(columns[0].data<int64_t>()[0], 1);
  EXPECT_EQ(columns[0].data<int64_t>()[1], 1);
  EXPECT_EQ(columns[0].data<int64_t>()[2], 0);
}

}  // namespace

std::vector<GradientCase> reduction_gradient_cases() {
  return {
      {"Reduction_GradientsMatchNumeric", {"ReduceSum", "ReduceMean", "ReduceMax"}, reduction_gradients_match_numeric},
      {"ReduceSumToShapeOf_GradientsMatchNumeric",
       {"ReduceSumToShapeOf", "ExpandToShapeOf"},
       reduce_sum_to_shape_of_gradients_match_numeric},
  };
}

}  // namespace graphrun::testing
