// Identity, Constant, Dropout and RandomNormalLike: shape rules, kernels against
// the reference, Dropout's and RandomNormalLike's statistics and determinism, and
// the gradients of Identity and Dropout.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <tuple>

#include "ops/random.h"
#include "ops/registry.h"
#include "tests/ops/op_test_util.h"

namespace graphrun::testing {
namespace {

// ---- Identity ------------------------------------------------------------------

TEST(Identity, ShapeRuleKeepsType) {
  EXPECT_EQ(infer_op("Identity", {}, {f32({-1, 3})})[0], f32({-1, 3}));
  EXPECT_EQ(infer_op("Identity", {}, {i64({4})})[0], i64({4}));
}

TEST(Identity, CopiesAnyDtype) {
  std::mt19937 rng(21);
  for (const Dims& dims : {Dims{}, Dims{1}, Dims{7}, Dims{1, 5}, Dims{3, 4, 5}}) {
    expect_matches_reference("Identity", {}, {random_floats(dims, rng)}, 0.f);
    expect_matches_reference("Identity", {}, {random_ints(dims, rng, -9, 9)}, 0.f);
  }
  const int64_t values[] = {3, -1, 4};
  const Tensor x = Tensor::from_ints({3}, values);
  expect_tensors_near(run_kernel("Identity", {}, {x}).at(0), x, 0.f);
}

void identity_gradient_matches_numeric() {
  std::mt19937 rng(22);
  for (const Dims& dims : {Dims{}, Dims{1}, Dims{7}, Dims{1, 5}, Dims{3, 4, 5}})
    expect_gradients_match_numeric("Identity", {}, {random_floats(dims, rng)});
}

// ---- Constant ------------------------------------------------------------------

TEST(Constant, ShapeRule) {
  EXPECT_EQ(infer_op("Constant", make_attrs("value { dims: [2, 3] float_data: [1, 2, 3, 4, 5, 6] }"), {})[0],
            f32({2, 3}));
  EXPECT_EQ(infer_op("Constant", make_attrs("value { dims: [2] int64_data: [7, 8] }"), {})[0], i64({2}));
  EXPECT_EQ(infer_op("Constant", make_attrs("value { float_data: [0.5] }"), {})[0], f32({}));
  EXPECT_EQ(infer_op("Constant", make_attrs("value { dims: [0, 4] }"), {})[0], f32({0, 4}));
}

TEST(Constant, ShapeRuleErrors) {
  expect_infer_error("Constant", "value { dims: [2, 3] float_data: [1, 2, 3, 4, 5] }", {},
                     "value has 5 float_data values, but dims [2,3] need 6");
  expect_infer_error("Constant", "value { dims: [2] int64_data: [1, 2, 3] }", {},
                     "3 int64_data values, but dims [2] need 2");
  expect_infer_error("Constant", "value { dims: [1] float_data: [1] int64_data: [1] }", {},
                     "both float_data and int64_data");
  expect_infer_error("Constant", "value { dims: [-1] }", {}, "invalid dim -1");
  expect_infer_error("Constant", "", {}, "0 float_data values, but dims [] need 1");
}

TEST(Constant, OutputsTheLiteral) {
  const pb::Node floats = make_attrs("value { dims: [2, 2] float_data: [1.5, -2, 0, 4] }");
  const float expected[] = {1.5f, -2.f, 0.f, 4.f};
  expect_tensors_near(run_kernel("Constant", floats, {}).at(0), Tensor::from_floats({2, 2}, expected), 0.f, "kernel");
  expect_tensors_near(run_reference("Constant", floats, {}).at(0), Tensor::from_floats({2, 2}, expected), 0.f,
                      "reference");

  const pb::Node ints = make_attrs("value { dims: [3] int64_data: [9000000000, -1, 0] }");
  const int64_t expected_ints[] = {9000000000, -1, 0};
  expect_tensors_near(run_kernel("Constant", ints, {}).at(0), Tensor::from_ints({3}, expected_ints), 0.f, "kernel");
  expect_matches_reference("Constant", ints, {}, 0.f);
  expect_matches_reference("Constant", make_attrs("value { float_data: [3.25] }"), {}, 0.f);
}

// ---- Dropout -------------------------------------------------------------------

RunContext training(uint64_t step_seed) { return RunContext{true, step_seed}; }

TEST(Dropout, ShapeRule) {
  const auto types = infer_op("Dropout", make_attrs("ratio: 0.25"), {f32({-1, 8})});
  ASSERT_EQ(types.size(), 2u);
  EXPECT_EQ(types[0], f32({-1, 8}));
  EXPECT_EQ(types[1], f32({-1, 8}));  // the mask
  EXPECT_NO_THROW(infer_op("Dropout", make_attrs("ratio: 0"), {f32({3})}));
  expect_infer_error("Dropout", "ratio: 1", {f32({3})}, "ratio 1 is outside [0, 1)");
  expect_infer_error("Dropout", "ratio: -0.1", {f32({3})}, "is outside [0, 1)");
  expect_infer_error("Dropout", "", {i64({3})}, "expected float32");
}

TEST(Dropout, InferenceIsIdentity) {
  std::mt19937 rng(31);
  const Tensor x = random_floats({4, 9}, rng);
  for (const RunContext& run : {RunContext{}, RunContext{false, 123}}) {
    const std::vector<Tensor> out = run_kernel("Dropout", make_attrs("ratio: 0.5"), {x}, run);
    expect_tensors_near(out[0], x, 0.f, "output");
    for (float m : out[1].values<float>()) ASSERT_EQ(m, 1.f);
    expect_matches_reference("Dropout", make_attrs("ratio: 0.5"), {x}, 0.f, run);
  }
}

TEST(Dropout, TrainingDropsAboutRatioAndScalesTheRest) {
  std::mt19937 rng(32);
  const Tensor x = random_floats({200, 500}, rng, 0.5f, 2.f);  // no zeros, so dropped = zero output
  const int64_t n = x.num_elements();
  for (const float ratio : {0.1f, 0.3f, 0.5f, 0.9f}) {
    const pb::Node attrs = make_attrs("ratio: " + std::to_string(ratio) + " seed: 5");
    const std::vector<Tensor> out = run_kernel("Dropout", attrs, {x}, training(77));
    const float scale = 1.f / (1.f - ratio);
    int64_t dropped = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float m = out[1].data<float>()[i];
      ASSERT_TRUE(m == 0.f || m == scale) << "mask value " << m << " at " << i;
      ASSERT_EQ(out[0].data<float>()[i], x.data<float>()[i] * m) << "output != data * mask at " << i;
      dropped += m == 0.f;
    }
    // Binomial: the dropped fraction has std sqrt(r(1-r)/n) <= 0.0016 here; allow 6 of them.
    const double fraction = static_cast<double>(dropped) / static_cast<double>(n);
    EXPECT_NEAR(fraction, ratio, 6 * std::sqrt(ratio * (1 - ratio) / static_cast<double>(n))) << "ratio " << ratio;
  }
}

TEST(Dropout, RatioZeroKeepsEverything) {
  std::mt19937 rng(33);
  const Tensor x = random_floats({1000}, rng);
  const std::vector<Tensor> out = run_kernel("Dropout", make_attrs("ratio: 0"), {x}, training(1));
  expect_tensors_near(out[0], x, 0.f, "output");
  for (float m : out[1].values<float>()) ASSERT_EQ(m, 1.f);
}

TEST(Dropout, MaskIsAFunctionOfStepSeedAndNodeSeed) {
  std::mt19937 rng(34);
  const Tensor x = random_floats({64, 33}, rng);
  const pb::Node attrs = make_attrs("ratio: 0.4 seed: 9");
  const Tensor mask_a = run_kernel("Dropout", attrs, {x}, training(1000)).at(1);
  const Tensor mask_again = run_kernel("Dropout", attrs, {x}, training(1000)).at(1);
  const Tensor mask_next_step = run_kernel("Dropout", attrs, {x}, training(1001)).at(1);
  const Tensor mask_other_node = run_kernel("Dropout", make_attrs("ratio: 0.4 seed: 10"), {x}, training(1000)).at(1);
  expect_tensors_near(mask_again, mask_a, 0.f, "same step seed");
  auto differing = [&](const Tensor& other) {
    int64_t count = 0;
    for (int64_t i = 0; i < mask_a.num_elements(); ++i) count += mask_a.data<float>()[i] != other.data<float>()[i];
    return count;
  };
  // Independent masks differ in about 2 * 0.4 * 0.6 = 48% of 2112 elements.
  EXPECT_GT(differing(mask_next_step), 700);
  EXPECT_GT(differing(mask_other_node), 700);
}

TEST(Dropout, KernelMatchesReferenceExactly) {
  std::mt19937 rng(35);
  // {300, 301}: above the size the kernel splits over the OpenMP team.
  for (const Dims& dims : {Dims{1}, Dims{7}, Dims{1, 13}, Dims{3, 5, 17}, Dims{}, Dims{300, 301}}) {
    const Tensor x = random_floats(dims, rng);
    expect_matches_reference("Dropout", make_attrs("ratio: 0.3 seed: 42"), {x}, 0.f, training(7));
    // Without a seed attribute the node name is hashed; the test harness names the node "node".
    expect_matches_reference("Dropout", make_attrs("name: 'node'"), {x}, 0.f, training(8));
  }
}

TEST(Dropout, HandComputedOnConstantInput) {
  // With all-ones data, output = mask exactly, and kept values are 1 / (1 - 0.75) = 4.
  const std::vector<float> ones(512, 1.f);
  const pb::Node attrs = make_attrs("ratio: 0.75 seed: 3");
  const Tensor x = Tensor::from_floats({512}, ones);
  for (const std::vector<Tensor>& out :
       {run_kernel("Dropout", attrs, {x}, training(2)), run_reference("Dropout", attrs, {x}, training(2))}) {
    for (int64_t i = 0; i < 512; ++i) {
      const float m = out[1].data<float>()[i];
      ASSERT_TRUE(m == 0.f || m == 4.f) << m;
      ASSERT_EQ(out[0].data<float>()[i], m);
    }
  }
}

void dropout_gradient_matches_numeric() {
  // The mask is a function of the step seed, not of x, so with a fixed seed the
  // op is linear in x: dx = dy * mask. The mask output gets no loss weight.
  std::mt19937 rng(36);
  const std::vector<size_t> mask_output = {1};
  for (const Dims& dims : {Dims{1}, Dims{7}, Dims{1, 13}, Dims{3, 5, 17}}) {
    const Tensor x = random_floats(dims, rng);
    expect_gradients_match_numeric("Dropout", make_attrs("ratio: 0.3 seed: 42"), {x}, 2e-3f, 1e-3, {}, mask_output,
                                   training(7));
    expect_gradients_match_numeric("Dropout", make_attrs("ratio: 0.5"), {x}, 2e-3f, 1e-3, {}, mask_output, training(8));
    // Outside training the mask is all ones and dx = dy.
    expect_gradients_match_numeric("Dropout", make_attrs("ratio: 0.5"), {x}, 2e-3f, 1e-3, {}, mask_output);
  }
}

// ---- RandomNormalLike ----------------------------------------------------------

// Every element of the op's output for a zero input of shape `dims`.
std::vector<float> normal_samples(const std::string& attrs, const Dims& dims, const RunContext& run) {
  const Tensor out = run_kernel("RandomNormalLike", make_attrs(attrs), {Tensor(DType::f32, dims)}, run).at(0);
  EXPECT_EQ(out.dims(), dims);
  const auto values = out.values<float>();
  return {values.begin(), values.end()};
}

TEST(RandomNormalLike, ShapeRuleCopiesTheInputsType) {
  for (const Dims& dims : {Dims{1}, Dims{7}, Dims{-1, 8}, Dims{1, 13}, Dims{3, 5, 17}, Dims{2, 1, 3, 1}, Dims{}})
    EXPECT_EQ(infer_op("RandomNormalLike", make_attrs("mean: 1 scale: 2 seed: 4"), {f32(dims)})[0], f32(dims));
  EXPECT_NO_THROW(infer_op("RandomNormalLike", make_attrs("scale: 0"), {f32({3})}));  // a constant `mean`
}

TEST(RandomNormalLike, AttributeAndInputErrorsNameTheNode) {
  expect_infer_error("RandomNormalLike", "scale: -1", {f32({3})},
                     "node 'node' (RandomNormalLike): scale -1 is not a finite value >= 0");
  expect_infer_error("RandomNormalLike", "scale: -0.001", {f32({3})}, "scale -0.001 is not a finite value >= 0");
  expect_infer_error("RandomNormalLike", "scale: inf", {f32({3})}, "scale inf is not a finite value >= 0");
  expect_infer_error("RandomNormalLike", "scale: nan", {f32({3})}, "scale nan is not a finite value >= 0");
  expect_infer_error("RandomNormalLike", "mean: -inf", {f32({3})},
                     "node 'node' (RandomNormalLike): mean -inf is not finite");
  expect_infer_error("RandomNormalLike", "mean: nan", {f32({3})}, "mean nan is not finite");
  expect_infer_error("RandomNormalLike", "", {i64({3})}, "expected float32");
}

TEST(RandomNormalLike, OutputShapeEqualsInputShape) {
  for (const Dims& dims : {Dims{1}, Dims{7}, Dims{1, 13}, Dims{3, 5, 17}, Dims{2, 1, 3, 1}, Dims{}, Dims{0, 3}}) {
    const std::vector<float> values = normal_samples("seed: 1", dims, training(1));
    int64_t count = 1;
    for (int64_t d : dims) count *= d;
    EXPECT_EQ(static_cast<int64_t>(values.size()), count);
    for (float v : values) ASSERT_TRUE(std::isfinite(v));
  }
}

TEST(RandomNormalLike, KernelMatchesReferenceExactly) {
  std::mt19937 rng(41);
  for (const Dims& dims : {Dims{1}, Dims{7}, Dims{1, 13}, Dims{3, 5, 17}, Dims{}}) {
    const Tensor x = random_floats(dims, rng);
    expect_matches_reference("RandomNormalLike", make_attrs("mean: 0.5 scale: 2 seed: 42"), {x}, 0.f, training(7));
    expect_matches_reference("RandomNormalLike", make_attrs("seed: 42"), {x}, 0.f);  // inference, step seed 0
    // Without a seed attribute the node name is hashed; the test harness names the node "node".
    expect_matches_reference("RandomNormalLike", make_attrs("name: 'node' mean: -3 scale: 0.1"), {x}, 0.f, training(8));
  }
}

TEST(RandomNormalLike, ValuesAreAFunctionOfStepSeedNodeSeedAndIndex) {
  const Dims dims = {64, 33};
  const std::vector<float> a = normal_samples("seed: 9", dims, training(1000));
  EXPECT_EQ(normal_samples("seed: 9", dims, training(1000)), a) << "same seeds";
  // The input's values and the training flag do not matter.
  std::mt19937 rng(42);
  const Tensor x = random_floats(dims, rng);
  const Tensor from_x = run_kernel("RandomNormalLike", make_attrs("seed: 9"), {x}, training(1000)).at(0);
  EXPECT_TRUE(std::ranges::equal(from_x.values<float>(), a)) << "other input values";
  EXPECT_EQ(normal_samples("seed: 9", dims, RunContext{false, 1000}), a) << "inference samples as training does";
  // Element i depends on i alone, not on the shape around it.
  const std::vector<float> flat = normal_samples("seed: 9", {5000}, training(1000));
  EXPECT_TRUE(std::equal(a.begin(), a.end(), flat.begin())) << "a longer tensor starts with the same values";

  // Another step seed, node seed or node name gives other values: continuous
  // draws essentially never coincide.
  auto same = [&](const std::vector<float>& other) {
    int64_t count = 0;
    for (size_t i = 0; i < a.size(); ++i) count += a[i] == other[i];
    return count;
  };
  EXPECT_LE(same(normal_samples("seed: 9", dims, training(1001))), 2) << "next step";
  EXPECT_LE(same(normal_samples("seed: 10", dims, training(1000))), 2) << "other node seed";

  // Without a seed attribute the seed is the hash of the node's name: the harness
  // names the kernel's node "node"; the reference kernel takes the name as given.
  EXPECT_EQ(normal_samples("", dims, training(1000)),
            normal_samples(fmt::format("seed: {}", stable_hash("node")), dims, training(1000)));
  const Tensor named_a = run_reference("RandomNormalLike", make_attrs("name: 'a'"), {x}, training(1000)).at(0);
  const Tensor named_b = run_reference("RandomNormalLike", make_attrs("name: 'b'"), {x}, training(1000)).at(0);
  int64_t same_named = 0;
  for (int64_t i = 0; i < x.num_elements(); ++i) same_named += named_a.data<float>()[i] == named_b.data<float>()[i];
  EXPECT_LE(same_named, 2) << "other node name";
}

TEST(RandomNormalLike, MatchesTheWrittenOutBoxMullerFormula) {
  // The definition in ops/random.h, spelled out: trained models depend on it.
  const uint64_t step_seed = 11, node_seed = 5;
  const uint64_t key = splitmix64(node_seed ^ stable_hash("RandomNormalLike") ^ splitmix64(step_seed));
  auto bits = [&](uint64_t j) { return splitmix64(key + (j + 1) * kGoldenGamma); };
  const std::vector<float> got = normal_samples("mean: 1.5 scale: 0.5 seed: 5", {20}, training(step_seed));
  for (uint64_t i = 0; i < 20; ++i) {
    const double u1 = static_cast<double>((bits(2 * i) >> 11) + 1) / 9007199254740992.0;  // 2^53
    const double u2 = static_cast<double>(bits(2 * i + 1) >> 11) / 9007199254740992.0;
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
    EXPECT_EQ(got[i], static_cast<float>(1.5 + 0.5 * z)) << "element " << i;
  }
}

TEST(RandomNormalLike, ScaleZeroGivesTheMean) {
  for (float v : normal_samples("mean: -2.25 scale: 0 seed: 1", {1000}, training(3))) ASSERT_EQ(v, -2.25f);
}

// ~100k samples against N(mean, scale^2): every bound is 5 standard errors of
// its estimator (a false failure has odds of about 1 in 1.7 million per check).
TEST(RandomNormalLike, SamplesHaveTheRequestedDistribution) {
  struct Case {
    float mean, scale;
    uint64_t seed;
  };
  for (const Case c : {Case{0.f, 1.f, 1}, Case{3.5f, 0.25f, 2}, Case{-2.f, 4.f, 3}}) {
    const std::string attrs = fmt::format("mean: {} scale: {} seed: {}", c.mean, c.scale, c.seed);
    SCOPED_TRACE(attrs);
    const std::vector<float> y = normal_samples(attrs, {250, 400}, training(17));
    const double n = static_cast<double>(y.size());
    std::vector<double> z(y.size());  // standardised with the requested parameters
    for (size_t i = 0; i < y.size(); ++i) z[i] = (static_cast<double>(y[i]) - c.mean) / c.scale;

    double sum = 0, sum2 = 0, sum3 = 0, sum4 = 0, lag1 = 0, max_abs = 0;
    int64_t beyond1 = 0, beyond2 = 0, beyond3 = 0;
    for (size_t i = 0; i < z.size(); ++i) {
      const double v = z[i], v2 = v * v;
      sum += v;
      sum2 += v2;
      sum3 += v2 * v;
      sum4 += v2 * v2;
      if (i > 0) lag1 += v * z[i - 1];
      beyond1 += std::fabs(v) > 1;
      beyond2 += std::fabs(v) > 2;
      beyond3 += std::fabs(v) > 3;
      max_abs = std::max(max_abs, std::fabs(v));
    }
    const double mean = sum / n, var = sum2 / n - mean * mean, sd = std::sqrt(var);
    EXPECT_NEAR(mean, 0.0, 5 / std::sqrt(n)) << "mean";                    // SE 1/sqrt(n)
    EXPECT_NEAR(sd, 1.0, 5 / std::sqrt(2 * n)) << "standard deviation";    // SE 1/sqrt(2n)
    EXPECT_NEAR(sum3 / n, 0.0, 5 * std::sqrt(15 / n)) << "third moment";   // E z^3 = 0, Var z^3 = 15
    EXPECT_NEAR(sum4 / n, 3.0, 5 * std::sqrt(96 / n)) << "fourth moment";  // E z^4 = 3, Var z^4 = 96
    EXPECT_NEAR(lag1 / n, 0.0, 5 / std::sqrt(n)) << "neighbours correlated";
    // Two-sided tail fractions of N(0, 1): 31.73%, 4.550%, 0.270%.
    for (const auto& [count, p, k] :
         {std::tuple{beyond1, 0.3173105, 1}, std::tuple{beyond2, 0.0455003, 2}, std::tuple{beyond3, 0.0026998, 3}})
      EXPECT_NEAR(static_cast<double>(count) / n, p, 5 * std::sqrt(p * (1 - p) / n)) << "beyond " << k << " sigma";
    EXPECT_LE(max_abs, 8.58) << "Box-Muller with 53-bit uniforms stays within sqrt(106 ln 2)";
  }
}

TEST(RandomNormalLike, StreamsOfDifferentSeedsAreUncorrelated) {
  const Dims dims = {100000};
  const std::vector<float> a = normal_samples("seed: 1", dims, training(5));
  const double n = static_cast<double>(a.size());
  for (const auto& [attrs, step] : {std::pair{"seed: 2", uint64_t{5}}, std::pair{"seed: 1", uint64_t{6}}}) {
    const std::vector<float> b = normal_samples(attrs, dims, training(step));
    double dot = 0;
    for (size_t i = 0; i < a.size(); ++i) dot += static_cast<double>(a[i]) * b[i];
    EXPECT_NEAR(dot / n, 0.0, 5 / std::sqrt(n)) << attrs << " step " << step;
  }
  // A Dropout node with the same seed draws other bits (the stream key is salted).
  const std::vector<float> ones(100000, 1.f);
  const Tensor mask =
      run_kernel("Dropout", make_attrs("ratio: 0.5 seed: 1"), {Tensor::from_floats(dims, ones)}, training(5))[1];
  double dot = 0;
  for (size_t i = 0; i < a.size(); ++i) dot += a[i] * (mask.data<float>()[i] - 1.0);  // mask - 1 is +-1
  EXPECT_NEAR(dot / n, 0.0, 5 / std::sqrt(n)) << "Dropout with the same seed";
}

TEST(RandomNormalLike, IsMarkedNonDifferentiable) {
  // The output does not depend on the input's values: no gradient rule, the explicit mark.
  const OpDef& def = builtin_ops().get("RandomNormalLike");
  EXPECT_FALSE(def.is_differentiable());
  EXPECT_FALSE(static_cast<bool>(def.gradient));
}

}  // namespace

std::vector<GradientCase> misc_gradient_cases() {
  return {
      {"Identity_GradientMatchesNumeric", {"Identity"}, identity_gradient_matches_numeric},
      {"Dropout_GradientMatchesNumeric", {"Dropout"}, dropout_gradient_matches_numeric},
  };
}

}  // namespace graphrun::testing
