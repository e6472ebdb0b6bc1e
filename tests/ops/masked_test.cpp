// Mask-aware time reductions (MaskedSoftmax, MaskedReduceMean, MaskedReduceMax):
// shape rules, kernels against the reference, padding invariance (a padded
// batch gives what the unpadded sequences give), and gradients.
#include <gtest/gtest.h>

#include <utility>

#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

const char* kMaskedOps[] = {"MaskedSoftmax", "MaskedReduceMean", "MaskedReduceMax"};

// Token ids [N, T]: row n has lengths[n] tokens (ids 1..9), padded with 0 before
// (pre) or after (post) them.
Tensor token_ids(int64_t T, const std::vector<int64_t>& lengths, bool pre) {
  std::vector<int64_t> ids;
  for (int64_t length : lengths)
    for (int64_t t = 0; t < T; ++t) {
      const bool token = pre ? t >= T - length : t < length;
      ids.push_back(token ? 1 + (t * 7 + length) % 9 : 0);
    }
  return Tensor::from_ints({static_cast<int64_t>(lengths.size()), T}, ids);
}

// The same mask as float32 1/0.
Tensor as_float_mask(const Tensor& ids) {
  std::vector<float> m;
  for (int64_t i = 0; i < ids.num_elements(); ++i) m.push_back(ids.data<int64_t>()[i] != 0 ? 1.f : 0.f);
  return Tensor::from_floats(ids.dims(), m);
}

TEST(Masked, ShapeRules) {
  EXPECT_EQ(infer_op("MaskedSoftmax", {}, {f32({-1, 40}), i64({-1, 40})})[0], f32({-1, 40}));
  EXPECT_EQ(infer_op("MaskedSoftmax", {}, {f32({2, 7, 3}), f32({2, 7})})[0], f32({2, 7, 3}));
  EXPECT_EQ(infer_op("MaskedReduceMean", {}, {f32({-1, 40, 200}), i64({-1, 40})})[0], f32({-1, 200}));
  EXPECT_EQ(infer_op("MaskedReduceMax", {}, {f32({2, 7}), i64({2, 7})})[0], f32({2}));
  EXPECT_EQ(infer_op("MaskedReduceMax", {}, {f32({2, 7, 3, 4}), i64({2, 7})})[0], f32({2, 3, 4}));
  EXPECT_EQ(infer_op("MaskedReduceMeanGrad", {}, {f32({-1, 200}), i64({-1, 40})})[0], f32({-1, 40, 200}));
  EXPECT_EQ(infer_op("MaskedReduceMaxGrad", {}, {f32({2, 3}), f32({2, 7, 3}), f32({2, 3}), i64({2, 7})})[0],
            f32({2, 7, 3}));
}

TEST(Masked, ShapeRulesNameTheBadInput) {
  for (const char* op : kMaskedOps) {
    SCOPED_TRACE(op);
    EXPECT_NE(infer_error(op, {f32({2, 7, 3}), i64({2, 6})})
                  .find("mask shape [2,6] does not match the first two dims of input 0 [2,7,3]"),
              std::string::npos);
    EXPECT_NE(infer_error(op, {f32({7}), i64({1, 7})}).find("it needs a batch and a time axis"), std::string::npos);
    EXPECT_NE(infer_error(op, {f32({2, 7}), i64({2, 7, 1})}).find("(mask) has shape [2,7,1]: it must be [N, T]"),
              std::string::npos);
    EXPECT_THROW(infer_op(op, {}, {i64({2, 7}), i64({2, 7})}), Error);
  }
}

// Shapes x padding side x mask dtype, with rows that are full, partly padded and
// entirely padded.
TEST(Masked, MatchesReference) {
  const std::pair<Dims, std::vector<int64_t>> cases[] = {
      {{3, 6}, {6, 2, 0}},
      {{4, 5, 3}, {1, 5, 3, 0}},
      {{1, 9, 2, 2}, {4}},  // batch of 1, two trailing dims
      {{2, 1, 5}, {1, 0}},  // one time step
      {{5, 17, 8}, {17, 9, 1, 16, 4}},
  };
  std::mt19937 rng(41);
  for (const auto& [dims, lengths] : cases)
    for (bool pre : {true, false})
      for (bool float_mask : {false, true})
        for (const char* op : kMaskedOps) {
          SCOPED_TRACE(std::string(op) + " on " + dims_str(dims) + (pre ? " pre" : " post") +
                       (float_mask ? " float" : " ids"));
          const Tensor ids = token_ids(dims[1], lengths, pre);
          expect_matches_reference(op, {}, {random_floats(dims, rng, -4.f, 4.f), float_mask ? as_float_mask(ids) : ids},
                                   1e-5f);
        }
}

// Each padded row gives what the plain op gives on its tokens alone: softmax puts
// zero weight on padding, the mean and max never see it.
TEST(Masked, PaddedEqualsUnpadded) {
  const int64_t T = 8, C = 3;
  const std::vector<int64_t> lengths = {8, 5, 1};
  std::mt19937 rng(42);
  for (bool pre : {true, false}) {
    const Tensor ids = token_ids(T, lengths, pre);
    const Tensor x = random_floats({3, T, C}, rng, -3.f, 3.f);
    const Tensor softmax = run_kernel("MaskedSoftmax", {}, {x, ids})[0];
    const Tensor mean = run_kernel("MaskedReduceMean", {}, {x, ids})[0];
    const Tensor max = run_kernel("MaskedReduceMax", {}, {x, ids})[0];
    for (size_t n = 0; n < lengths.size(); ++n) {
      const int64_t L = lengths[n], first = pre ? T - L : 0;
      SCOPED_TRACE("row " + std::to_string(n) + (pre ? " pre" : " post"));
      std::vector<float> tokens;
      for (int64_t t = first; t < first + L; ++t)
        for (int64_t c = 0; c < C; ++c) tokens.push_back(x.data<float>()[(static_cast<int64_t>(n) * T + t) * C + c]);
      const Tensor unpadded = Tensor::from_floats({1, L, C}, tokens);
      const Tensor plain_softmax = run_kernel("Softmax", make_attrs("axis: 1"), {unpadded})[0];
      const Tensor plain_mean = run_kernel("ReduceMean", make_attrs("axes: [1] keepdims: false"), {unpadded})[0];
      const Tensor plain_max = run_kernel("ReduceMax", make_attrs("axes: [1] keepdims: false"), {unpadded})[0];
      for (int64_t t = 0; t < T; ++t)
        for (int64_t c = 0; c < C; ++c) {
          const float got = softmax.data<float>()[(static_cast<int64_t>(n) * T + t) * C + c];
          const bool token = t >= first && t < first + L;
          EXPECT_NEAR(got, token ? plain_softmax.data<float>()[(t - first) * C + c] : 0.f, 1e-6f) << "t " << t;
        }
      for (int64_t c = 0; c < C; ++c) {
        EXPECT_NEAR(mean.data<float>()[static_cast<int64_t>(n) * C + c], plain_mean.data<float>()[c], 1e-6f);
        EXPECT_EQ(max.data<float>()[static_cast<int64_t>(n) * C + c], plain_max.data<float>()[c]);
      }
    }
  }
}

TEST(Masked, EveryStepMaskedGivesZeros) {
  std::mt19937 rng(43);
  const Tensor ids = token_ids(4, {0, 0}, true);
  for (const char* op : kMaskedOps) {
    const Tensor y = run_kernel(op, {}, {random_floats({2, 4, 3}, rng), ids})[0];
    for (int64_t i = 0; i < y.num_elements(); ++i) EXPECT_EQ(y.data<float>()[i], 0.f) << op << " element " << i;
  }
}

TEST(MaskedGrad, MatchesReference) {
  std::mt19937 rng(44);
  for (bool pre : {true, false}) {
    const Tensor ids = token_ids(7, {7, 3, 0, 1}, pre);
    const Tensor x = distinct_floats({4, 7, 5}, rng);
    const Tensor max = run_kernel("MaskedReduceMax", {}, {x, ids})[0];
    expect_matches_reference("MaskedReduceMeanGrad", {}, {random_floats({4, 5}, rng), ids}, 1e-6f);
    expect_matches_reference("MaskedReduceMaxGrad", {}, {random_floats({4, 5}, rng), x, max, ids}, 1e-6f);
    expect_matches_reference("MaskedReduceMaxGrad", {}, {random_floats({4, 5}, rng), x, max, as_float_mask(ids)},
                             1e-6f);
  }
}

void masked_gradients_match_numeric() {
  std::mt19937 rng(45);
  for (bool pre : {true, false}) {
    const Tensor ids = token_ids(6, {6, 2, 0}, pre);
    for (const char* op : kMaskedOps) {
      SCOPED_TRACE(std::string(op) + (pre ? " pre" : " post"));
      expect_gradients_match_numeric(op, {}, {distinct_floats({3, 6, 4}, rng), ids});
      // A float mask is data, not a parameter: no gradient is checked for it.
      expect_gradients_match_numeric(op, {}, {distinct_floats({3, 6}, rng), as_float_mask(ids)}, 2e-3f, 1e-3, {1});
    }
  }
}

}  // namespace

std::vector<GradientCase> masked_gradient_cases() {
  return {
      {"Masked_GradientsMatchNumeric",
       {"MaskedSoftmax", "MaskedReduceMean", "MaskedReduceMax"},
       masked_gradients_match_numeric},
  };
}

}  // namespace graphrun::testing
