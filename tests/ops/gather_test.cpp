// Gather and GatherGrad: shape rules, kernels against the reference, the
// embedding-lookup case and its gradient, the run-time error for an index out of
// range, and Gather's gradient checked numerically.
#include <gtest/gtest.h>
#include <omp.h>

#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

TensorType infer_gather(const std::string& attrs, const TensorType& data, const TensorType& indices) {
  return infer_op("Gather", make_attrs(attrs), {data, indices}).at(0);
}

// Expects `fn` to throw Error with a message containing `substring`.
template <typename Fn>
void expect_error(Fn fn, const std::string& substring) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << "message: " << e.what();
    return;
  }
  ADD_FAILURE() << "no error; expected one containing '" << substring << "'";
}

TEST(Gather, ShapeRule) {
  // Embedding lookup: [vocab, dim] table, [batch, seq] token ids.
  EXPECT_EQ(infer_gather("", f32({10000, 64}), i64({-1, 32})), f32({-1, 32, 64}));
  EXPECT_EQ(infer_gather("axis: 1", f32({3, 4, 5}), i64({2})), f32({3, 2, 5}));
  EXPECT_EQ(infer_gather("axis: -1", i64({3, 4, 5}), i64({2, 6})), i64({3, 4, 2, 6}));
  EXPECT_EQ(infer_gather("axis: 1", f32({3, 4, 5}), i64({})), f32({3, 5}));  // scalar index drops the axis
  EXPECT_EQ(infer_gather("", f32({-1, 8}), i64({5})), f32({5, 8}));
}

TEST(Gather, ShapeRuleErrors) {
  expect_error([] { infer_gather("", f32({10, 4}), f32({3})); }, "has type float32[3], expected int64");
  expect_error(
      [] {
        infer_gather("axis: 2", f32({10, 4}), i64({3}));
      },
      "axis 2 is out of range for data float32[10,4]");
  expect_error([] { infer_gather("", f32({}), i64({3})); }, "data float32[] is a scalar");
}

TEST(Gather, MatchesReference) {
  std::mt19937 rng(11);
  struct Case {
    Dims data;
    Dims indices;
    int64_t axis;
  };
  const Case cases[] = {
      {{10, 4}, {3}, 0},      {{10, 4}, {1, 1}, 0}, {{10, 4}, {2, 7}, 0}, {{1, 5}, {4}, 0}, {{7, 3}, {5}, 1},
      {{3, 4, 5}, {2, 3}, 1}, {{3, 4, 5}, {6}, -1}, {{3, 4, 5}, {}, 2},   {{9}, {4}, 0},    {{6, 5}, {0}, 0},
  };
  for (const Case& c : cases) {
    const pb::Node attrs = make_attrs("axis: " + std::to_string(c.axis));
    const int64_t axis_size =
        c.data[static_cast<size_t>(c.axis < 0 ? c.axis + static_cast<int64_t>(c.data.size()) : c.axis)];
    // Indices cover negative ones too.
    const Tensor indices = random_ints(c.indices, rng, -axis_size, axis_size);
    expect_matches_reference("Gather", attrs, {random_floats(c.data, rng), indices});
    expect_matches_reference("Gather", attrs, {random_ints(c.data, rng, -50, 50), indices});
  }
}

// A lookup large enough to split over the team (kParallelElements): the same bytes as the
// reference with one thread and with two.
TEST(Gather, LargeLookupSplitOverTheTeamMatchesReference) {
  std::mt19937 rng(12);
  const Tensor table = random_floats({500, 64}, rng);
  const Tensor indices = random_ints({32, 40}, rng, -500, 500);  // 1,280 rows of 64: 81,920 elements
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    expect_matches_reference("Gather", {}, {table, indices});
  }
  omp_set_num_threads(saved);
}

TEST(Gather, EmbeddingLookupHandComputed) {
  const float table[] = {0, 1, 10, 11, 20, 21};  // 3 rows of 2
  const int64_t ids[] = {2, 0, -1, 1};
  const float expected[] = {20, 21, 0, 1, 20, 21, 10, 11};
  const std::vector<Tensor> inputs = {Tensor::from_floats({3, 2}, table), Tensor::from_ints({2, 2}, ids)};
  const Tensor want = Tensor::from_floats({2, 2, 2}, expected);
  expect_tensors_near(run_kernel("Gather", {}, inputs).at(0), want, 0.f, "kernel");
  expect_tensors_near(run_reference("Gather", {}, inputs).at(0), want, 0.f, "reference");
}

TEST(Gather, InnerAxisHandComputed) {
  // Columns 2 and 0 of [[1,2,3],[4,5,6]].
  const int64_t data[] = {1, 2, 3, 4, 5, 6};
  const int64_t columns[] = {2, 0};
  const int64_t expected[] = {3, 1, 6, 4};
  const std::vector<Tensor> inputs = {Tensor::from_ints({2, 3}, data), Tensor::from_ints({2}, columns)};
  const Tensor want = Tensor::from_ints({2, 2}, expected);
  expect_tensors_near(run_kernel("Gather", make_attrs("axis: 1"), inputs).at(0), want, 0.f, "kernel");
  expect_tensors_near(run_reference("Gather", make_attrs("axis: 1"), inputs).at(0), want, 0.f, "reference");
}

TEST(Gather, OutOfRangeIndexIsAnErrorNamingNodeAndIndex) {
  std::mt19937 rng(12);
  const Tensor table = random_floats({10000, 4}, rng);
  const int64_t too_big[] = {5, 10234, 7};
  expect_error(
      [&] {
        run_kernel("Gather", {}, {table, Tensor::from_ints({3}, too_big)});
      },
      "node 'node' (Gather): index 10234 is out of range for axis 0 of size 10000");
  const int64_t too_negative[] = {-10001};
  expect_error(
      [&] {
        run_kernel("Gather", {}, {table, Tensor::from_ints({1}, too_negative)});
      },
      "index -10001 is out of range for axis 0 of size 10000");
  const int64_t edge[] = {-10000, 9999};  // both in range
  EXPECT_NO_THROW(run_kernel("Gather", {}, {table, Tensor::from_ints({2}, edge)}));
}

// ---- GatherGrad ----------------------------------------------------------------

TensorType infer_gather_grad(const std::string& attrs, const TensorType& grad, const TensorType& indices,
                             const TensorType& data) {
  return infer_op("GatherGrad", make_attrs(attrs), {grad, indices, data}).at(0);
}

TEST(GatherGrad, ShapeRule) {
  EXPECT_EQ(infer_gather_grad("", f32({-1, 32, 64}), i64({-1, 32}), f32({10000, 64})), f32({10000, 64}));
  EXPECT_EQ(infer_gather_grad("axis: 1", f32({3, 2, 5}), i64({2}), f32({3, 4, 5})), f32({3, 4, 5}));
  EXPECT_EQ(infer_gather_grad("axis: 1", f32({3, 5}), i64({}), f32({3, 4, 5})), f32({3, 4, 5}));
}

TEST(GatherGrad, ShapeRuleErrors) {
  expect_error(
      [] {
        infer_gather_grad("", f32({3, 5}), i64({3}), f32({10, 4}));
      },
      "output_grad float32[3,5] does not have the shape [3,4] that Gather gives for data float32[10,4] and "
      "indices int64[3]");
  expect_error([] { infer_gather_grad("", f32({3, 4, 1}), i64({3}), f32({10, 4})); }, "does not have the shape");
  expect_error([] { infer_gather_grad("", f32({3, 4}), f32({3}), f32({10, 4})); }, "expected int64");
  expect_error([] { infer_gather_grad("", i64({3, 4}), i64({3}), f32({10, 4})); }, "expected float32");
  expect_error([] { infer_gather_grad("axis: 2", f32({3, 4}), i64({3}), f32({10, 4})); }, "axis 2 is out of range");
}

struct GatherCase {
  Dims data;
  Dims indices;
  int64_t axis;
};

// Indices drawn from [-size, size) over few rows, so many repeat.
const GatherCase kGradCases[] = {
    {{10, 4}, {3}, 0},    {{5, 4}, {4, 6}, 0}, {{1, 5}, {4}, 0}, {{7, 3}, {5}, 1}, {{3, 4, 5}, {2, 3}, 1},
    {{3, 4, 5}, {6}, -1}, {{3, 4, 5}, {}, 2},  {{9}, {4}, 0},    {{6, 5}, {0}, 0},
};

Tensor random_indices(const GatherCase& c, std::mt19937& rng) {
  const auto rank = static_cast<int64_t>(c.data.size());
  const int64_t axis_size = c.data[static_cast<size_t>(c.axis < 0 ? c.axis + rank : c.axis)];
  return random_ints(c.indices, rng, -axis_size, axis_size);
}

TEST(GatherGrad, MatchesReference) {
  std::mt19937 rng(13);
  for (const GatherCase& c : kGradCases) {
    const pb::Node attrs = make_attrs("axis: " + std::to_string(c.axis));
    const Tensor indices = random_indices(c, rng);
    const TensorType gathered = infer_op("Gather", attrs, {f32(c.data), i64(c.indices)}).at(0);
    const Tensor grad = random_floats(gathered.dims, rng);
    expect_matches_reference("GatherGrad", attrs, {grad, indices, random_floats(c.data, rng)});
  }
}

TEST(GatherGrad, EmbeddingGradientAccumulatesRepeatedRows) {
  // Rows 2, 0, 2 (as -1) and 1 of a 3-row table; row 2 collects two gradients.
  const int64_t ids[] = {2, 0, -1, 1};
  const float grad[] = {1, 2, 10, 20, 100, 200, 1000, 2000};
  const float expected[] = {10, 20, 1000, 2000, 101, 202};
  const std::vector<Tensor> inputs = {Tensor::from_floats({2, 2, 2}, grad), Tensor::from_ints({2, 2}, ids),
                                      Tensor::from_floats({3, 2}, std::vector<float>(6, 7.f))};
  const Tensor want = Tensor::from_floats({3, 2}, expected);
  expect_tensors_near(run_kernel("GatherGrad", {}, inputs).at(0), want, 0.f, "kernel");
  expect_tensors_near(run_reference("GatherGrad", {}, inputs).at(0), want, 0.f, "reference");
}

TEST(GatherGrad, InnerAxisHandComputed) {
  // Columns 2, 0, 2 of a [2,3] table.
  const int64_t columns[] = {2, 0, 2};
  const float grad[] = {1, 2, 3, 4, 5, 6};
  const float expected[] = {2, 0, 4, 5, 0, 10};
  const std::vector<Tensor> inputs = {Tensor::from_floats({2, 3}, grad), Tensor::from_ints({3}, columns),
                                      Tensor::from_floats({2, 3}, std::vector<float>(6, 0.f))};
  const Tensor want = Tensor::from_floats({2, 3}, expected);
  expect_tensors_near(run_kernel("GatherGrad", make_attrs("axis: 1"), inputs).at(0), want, 0.f, "kernel");
  expect_tensors_near(run_reference("GatherGrad", make_attrs("axis: 1"), inputs).at(0), want, 0.f, "reference");
}

TEST(GatherGrad, OutOfRangeIndexIsAnError) {
  std::mt19937 rng(14);
  const int64_t too_big[] = {1, 10};
  const std::vector<Tensor> inputs = {random_floats({2, 4}, rng), Tensor::from_ints({2}, too_big),
                                      random_floats({10, 4}, rng)};
  expect_error([&] { run_kernel("GatherGrad", {}, inputs); },
               "node 'node' (GatherGrad): index 10 is out of range for axis 0 of size 10");
}

void gather_gradient_matches_numeric() {
  // The int64 indices are skipped by the check; the table's gradient covers
  // repeated and negative indices.
  std::mt19937 rng(15);
  for (const GatherCase& c : kGradCases) {
    const pb::Node attrs = make_attrs("axis: " + std::to_string(c.axis));
    expect_gradients_match_numeric("Gather", attrs, {random_floats(c.data, rng), random_indices(c, rng)});
  }
  const int64_t repeated[] = {1, 1, 0, 1, -1};
  expect_gradients_match_numeric("Gather", {}, {random_floats({3, 2}, rng), Tensor::from_ints({5}, repeated)});
}

}  // namespace

std::vector<GradientCase> gather_gradient_cases() {
  return {
      {"Gather_GradientMatchesNumeric", {"Gather"}, gather_gradient_matches_numeric},
  };
}

}  // namespace graphrun::testing
