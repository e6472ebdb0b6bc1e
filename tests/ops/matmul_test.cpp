// MatMul and Gemm: shape rules (NumPy matmul broadcasting, rank-1 promotion,
// Gemm transposes and C broadcasting) and the oneDNN kernels against the reference.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <tuple>
#include <utility>

#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

TEST(MatMul, ShapeRule) {
  EXPECT_EQ(infer_op("MatMul", {}, {f32({3, 4}), f32({4, 5})})[0], f32({3, 5}));
  EXPECT_EQ(infer_op("MatMul", {}, {f32({-1, 10}), f32({10, 5})})[0], f32({-1, 5}));
  EXPECT_EQ(infer_op("MatMul", {}, {f32({2, 3, 4}), f32({4, 5})})[0], f32({2, 3, 5}));
  EXPECT_EQ(infer_op("MatMul", {}, {f32({2, 1, 3, 4}), f32({5, 4, 6})})[0], f32({2, 5, 3, 6}));
  EXPECT_EQ(infer_op("MatMul", {}, {f32({-1, 3, 4}), f32({-1, 4, 2})})[0], f32({-1, 3, 2}));
  EXPECT_EQ(infer_op("MatMul", {}, {f32({3, -1}), f32({7, 2})})[0], f32({3, 2}));
}

TEST(MatMul, ShapeRulePromotesRankOne) {
  EXPECT_EQ(infer_op("MatMul", {}, {f32({4}), f32({4, 5})})[0], f32({5}));
  EXPECT_EQ(infer_op("MatMul", {}, {f32({3, 4}), f32({4})})[0], f32({3}));
  EXPECT_EQ(infer_op("MatMul", {}, {f32({4}), f32({4})})[0], f32({}));
  EXPECT_EQ(infer_op("MatMul", {}, {f32({-1, 3, 4}), f32({4})})[0], f32({-1, 3}));
  EXPECT_EQ(infer_op("MatMul", {}, {f32({4}), f32({2, 4, 5})})[0], f32({2, 5}));
}

TEST(MatMul, ShapeRuleErrors) {
  std::string message = infer_error("MatMul", {}, {f32({-1, 10}), f32({12, 5})});
  EXPECT_NE(message.find("input 0 has shape [?,10] and input 1 has shape [12,5]: inner dimensions 10 and 12 differ"),
            std::string::npos)
      << message;
  message = infer_error("MatMul", {}, {f32({3, 4}), f32({5})});
  EXPECT_NE(message.find("inner dimensions 4 and 5 differ"), std::string::npos) << message;
  message = infer_error("MatMul", {}, {f32({2, 3, 4}), f32({3, 4, 5})});
  EXPECT_NE(message.find("batch dimensions [2] and [3] do not broadcast"), std::string::npos) << message;
  message = infer_error("MatMul", {}, {f32({}), f32({3})});
  EXPECT_NE(message.find("input 0 is a scalar"), std::string::npos) << message;
  EXPECT_THROW(infer_op("MatMul", {}, {{DType::i64, {2, 2}}, f32({2, 2})}), Error);
  message = infer_error("MatMul", {}, {f32(Dims(13, 2)), f32({2})});
  EXPECT_NE(message.find("11 batch dims are more than the 10 oneDNN supports"), std::string::npos) << message;
}

TEST(Gemm, ShapeRule) {
  EXPECT_EQ(infer_op("Gemm", {}, {f32({3, 4}), f32({4, 5})})[0], f32({3, 5}));
  EXPECT_EQ(infer_op("Gemm", make_attrs("trans_a: true"), {f32({4, 3}), f32({4, 5})})[0], f32({3, 5}));
  EXPECT_EQ(infer_op("Gemm", make_attrs("trans_b: true"), {f32({3, 4}), f32({5, 4})})[0], f32({3, 5}));
  EXPECT_EQ(infer_op("Gemm", make_attrs("trans_a: true trans_b: true"), {f32({4, -1}), f32({5, 4})})[0], f32({-1, 5}));
  for (const Dims& c : {Dims{}, Dims{1}, Dims{5}, Dims{1, 5}, Dims{3, 1}, Dims{3, 5}, Dims{1, 1}, Dims{-1, 5}})
    EXPECT_EQ(infer_op("Gemm", {}, {f32({3, 4}), f32({4, 5}), f32(c)})[0], f32({3, 5})) << dims_str(c);
  EXPECT_EQ(infer_op("Gemm", {}, {f32({-1, 4}), f32({4, 5}), f32({5})})[0], f32({-1, 5}));
}

TEST(Gemm, ShapeRuleErrors) {
  std::string message = infer_error("Gemm", make_attrs("trans_b: true"), {f32({3, 4}), f32({4, 5})});
  EXPECT_NE(message.find("input 0 has shape [3,4] (trans_a=false) and input 1 has shape [4,5] (trans_b=true): "
                         "inner dimensions 4 and 5 differ"),
            std::string::npos)
      << message;
  message = infer_error("Gemm", {}, {f32({3, 4}), f32({4, 5}), f32({4})});
  EXPECT_NE(message.find("input 2 (C) has shape [4], which does not broadcast to the output shape [3,5]"),
            std::string::npos)
      << message;
  // Broadcasting is one way: C may not be bigger than the output.
  EXPECT_THROW(infer_op("Gemm", {}, {f32({1, 4}), f32({4, 5}), f32({3, 5})}), Error);
  message = infer_error("Gemm", {}, {f32({3, 4}), f32({4, 5}), f32({1, 3, 5})});
  EXPECT_NE(message.find("rank 3 is more than 2"), std::string::npos) << message;
  message = infer_error("Gemm", {}, {f32({2, 3, 4}), f32({4, 5})});
  EXPECT_NE(message.find("expected rank 2"), std::string::npos) << message;
}

TEST(MatMul, MatchesReference) {
  const std::pair<Dims, Dims> cases[] = {
      {{3, 4}, {4, 5}},
      {{7, 13}, {13, 17}},
      {{1, 17}, {17, 7}},  // batch of 1 (M = 1)
      {{1, 1}, {1, 1}},
      {{2, 3, 4}, {4, 5}},           // B broadcast over A's batch
      {{3, 4}, {2, 4, 5}},           // A broadcast over B's batch
      {{1, 7, 13}, {3, 13, 5}},      // batch dim of 1 on A
      {{2, 1, 3, 4}, {1, 5, 4, 6}},  // both sides broadcast
      {{2, 1, 3, 4}, {5, 4, 6}},     // leading-rank mismatch
      {{13}, {13, 7}},               // rank-1 A
      {{7, 13}, {13}},               // rank-1 B: [N,K] x [K] -> [N]
      {{13}, {13}},                  // dot product -> scalar
      {{2, 3, 13}, {13}},
      {{5}, {2, 5, 3}},
      {{64, 128}, {128, 32}},
  };
  std::mt19937 rng(4);
  for (const auto& [a, b] : cases)
    expect_matches_reference("MatMul", {}, {random_floats(a, rng), random_floats(b, rng)}, 1e-5f);
}

TEST(MatMul, EmptyDims) {
  std::mt19937 rng(5);
  // M = 0 gives an empty output; K = 0 gives zeros (an empty sum).
  expect_matches_reference("MatMul", {}, {random_floats({0, 4}, rng), random_floats({4, 5}, rng)});
  expect_matches_reference("MatMul", {}, {random_floats({2, 3, 0}, rng), random_floats({0, 5}, rng)});
  auto out = run_kernel("MatMul", {}, {random_floats({3, 0}, rng), random_floats({0, 5}, rng)});
  for (float v : out[0].values<float>()) EXPECT_EQ(v, 0.f);
}

TEST(Gemm, MatchesReference) {
  const char* kAttrs[] = {"", "alpha: 0.5 beta: -2", "alpha: 2 beta: 0", "beta: 3"};
  std::mt19937 rng(6);
  for (const auto& [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{7, 13, 17}, {1, 13, 7}, {17, 1, 1}, {3, 4, 5}}) {
    const Dims no_c{-1};  // marker: no C input
    for (const Dims& c : {no_c, Dims{}, Dims{1}, Dims{n}, Dims{1, n}, Dims{m, 1}, Dims{m, n}, Dims{1, 1}})
      for (bool trans_a : {false, true})
        for (bool trans_b : {false, true})
          for (const char* attrs : kAttrs) {
            const std::string text = fmt::format("trans_a: {} trans_b: {} {}", trans_a ? "true" : "false",
                                                 trans_b ? "true" : "false", attrs);
            std::vector<Tensor> inputs{random_floats(trans_a ? Dims{k, m} : Dims{m, k}, rng),
                                       random_floats(trans_b ? Dims{n, k} : Dims{k, n}, rng)};
            if (c != no_c) inputs.push_back(random_floats(c, rng));
            SCOPED_TRACE(text + " C " + (c == no_c ? "none" : dims_str(c)));
            expect_matches_reference("Gemm", make_attrs(text), inputs, 1e-5f);
          }
  }
}

TEST(Gemm, EmptyInnerDimensionGivesBetaC) {
  std::mt19937 rng(7);
  const float c[] = {1.f, 2.f, 3.f};
  auto out = run_kernel("Gemm", make_attrs("beta: 2"),
                        {random_floats({2, 0}, rng), random_floats({0, 3}, rng), Tensor::from_floats({3}, c)});
  const float expected[] = {2.f, 4.f, 6.f, 2.f, 4.f, 6.f};
  expect_tensors_near(out[0], Tensor::from_floats({2, 3}, expected), 0.f);
  expect_matches_reference("Gemm", {},
                           {random_floats({0, 4}, rng), random_floats({4, 3}, rng), Tensor::from_floats({3}, c)});
}

TEST(MatMul, HandComputedValues) {
  const float a[] = {1.f, 2.f, 3.f, 4.f};
  const float b[] = {5.f, 6.f, 7.f, 8.f};
  const float ab[] = {19.f, 22.f, 43.f, 50.f};
  const std::vector<Tensor> inputs{Tensor::from_floats({2, 2}, a), Tensor::from_floats({2, 2}, b)};
  expect_tensors_near(run_kernel("MatMul", {}, inputs)[0], Tensor::from_floats({2, 2}, ab), 0.f, "kernel");
  expect_tensors_near(run_reference("MatMul", {}, inputs)[0], Tensor::from_floats({2, 2}, ab), 0.f, "reference");

  // [2,3] x [3] -> [2]
  const float m[] = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  const float v[] = {1.f, 0.f, -1.f};
  const float mv[] = {-2.f, -2.f};
  const std::vector<Tensor> mv_inputs{Tensor::from_floats({2, 3}, m), Tensor::from_floats({3}, v)};
  expect_tensors_near(run_kernel("MatMul", {}, mv_inputs)[0], Tensor::from_floats({2}, mv), 0.f, "kernel [2,3]x[3]");
  expect_tensors_near(run_reference("MatMul", {}, mv_inputs)[0], Tensor::from_floats({2}, mv), 0.f,
                      "reference [2,3]x[3]");
}

TEST(Gemm, HandComputedValues) {
  // A^T = [[1,2],[3,4]], B = [[5,6],[7,8]], C = [10,20]:
  // 2 * [[19,22],[43,50]] + 0.5 * [10,20] = [[43,54],[91,110]].
  const float a_t[] = {1.f, 3.f, 2.f, 4.f};
  const float b[] = {5.f, 6.f, 7.f, 8.f};
  const float c[] = {10.f, 20.f};
  const float expected[] = {43.f, 54.f, 91.f, 110.f};
  const pb::Node attrs = make_attrs("trans_a: true alpha: 2 beta: 0.5");
  const std::vector<Tensor> inputs{Tensor::from_floats({2, 2}, a_t), Tensor::from_floats({2, 2}, b),
                                   Tensor::from_floats({2}, c)};
  expect_tensors_near(run_kernel("Gemm", attrs, inputs)[0], Tensor::from_floats({2, 2}, expected), 0.f, "kernel");
  expect_tensors_near(run_reference("Gemm", attrs, inputs)[0], Tensor::from_floats({2, 2}, expected), 0.f, "reference");
}

void matmul_gradients_match_numeric() {
  const std::pair<Dims, Dims> cases[] = {
      {{3, 4}, {4, 5}},           // plain matrices (Gemm rule)
      {{7, 5}, {5, 3}},           // odd sizes
      {{1, 4}, {4, 1}},           // batch of 1
      {{2, 3, 4}, {2, 4, 5}},     // batched
      {{2, 3, 4}, {4, 5}},        // B broadcast over A's batch
      {{3, 4}, {2, 4, 5}},        // A broadcast over B's batch
      {{1, 3, 4}, {3, 4, 2}},     // batch dim of 1 on A
      {{2, 1, 3, 4}, {3, 4, 2}},  // leading-rank mismatch and broadcast
      {{4}, {4, 5}},              // rank-1 A
      {{3, 4}, {4}},              // rank-1 B
      {{4}, {4}},                 // dot product
      {{4}, {2, 4, 3}},           // rank-1 A against a batch
      {{2, 3, 4}, {4}},           // rank-1 B against a batch
  };
  std::mt19937 rng(13);
  for (const auto& [a, b] : cases) {
    SCOPED_TRACE(dims_str(a) + " @ " + dims_str(b));
    expect_gradients_match_numeric("MatMul", {}, {random_floats(a, rng), random_floats(b, rng)});
  }
}

void gemm_gradients_match_numeric() {
  const char* kAttrs[] = {"", "alpha: 0.5 beta: -2", "alpha: 2 beta: 0"};
  std::mt19937 rng(14);
  for (const auto& [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{3, 4, 5}, {1, 3, 2}, {5, 1, 3}}) {
    const Dims no_c{-1};  // marker: no C input
    for (const Dims& c : {no_c, Dims{}, Dims{n}, Dims{m, 1}, Dims{m, n}})
      for (bool trans_a : {false, true})
        for (bool trans_b : {false, true})
          for (const char* attrs : kAttrs) {
            const std::string text = fmt::format("trans_a: {} trans_b: {} {}", trans_a ? "true" : "false",
                                                 trans_b ? "true" : "false", attrs);
            std::vector<Tensor> inputs{random_floats(trans_a ? Dims{k, m} : Dims{m, k}, rng),
                                       random_floats(trans_b ? Dims{n, k} : Dims{k, n}, rng)};
            if (c != no_c) inputs.push_back(random_floats(c, rng));
            SCOPED_TRACE(text + " C " + (c == no_c ? "none" : dims_str(c)));
            expect_gradients_match_numeric("Gemm", make_attrs(text), inputs);
          }
  }
}

}  // namespace

std::vector<GradientCase> matmul_gradient_cases() {
  return {
      {"MatMul_GradientsMatchNumeric", {"MatMul"}, matmul_gradients_match_numeric},
      {"Gemm_GradientsMatchNumeric", {"Gemm"}, gemm_gradients_match_numeric},
  };
}

}  // namespace graphrun::testing
