// Optimizers against the Keras update rules written out in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "runtime/train/optimizer.h"

namespace graphrun {
namespace {

using Kind = OptimizerConfig::Kind;
using Clip = OptimizerConfig::Clip;
using Values = std::vector<std::vector<double>>;  // one vector per tensor

// Two tensors; the second spans several 64K-element chunks and a ragged tail.
const std::vector<Dims> kShapes = {{3, 5}, {2, 70001}};

Values initial_values(const std::vector<Dims>& shapes) {
  Values v;
  for (size_t t = 0; t < shapes.size(); ++t) {
    int64_t n = 1;
    for (int64_t d : shapes[t]) n *= d;
    v.emplace_back(n);
    for (int64_t i = 0; i < n; ++i) v[t][i] = static_cast<float>(0.5 * std::cos(0.37 * double(i) + double(t)));
  }
  return v;
}

// A different gradient at every step, float-representable so the reference sees the same input.
Values gradients(const std::vector<Dims>& shapes, int step) {
  Values g = initial_values(shapes);
  for (size_t t = 0; t < g.size(); ++t)
    for (size_t i = 0; i < g[t].size(); ++i)
      g[t][i] = static_cast<float>(std::sin(0.71 * double(i) + 1.3 * step + double(t)) * (t + 1));
  return g;
}

std::vector<Tensor> to_tensors(const std::vector<Dims>& shapes, const Values& v) {
  std::vector<Tensor> out;
  for (size_t t = 0; t < shapes.size(); ++t) {
    std::vector<float> f(v[t].begin(), v[t].end());
    out.push_back(Tensor::from_floats(shapes[t], f));
  }
  return out;
}

std::vector<Gradient> as_gradients(const std::vector<Tensor>& dense) { return {dense.begin(), dense.end()}; }

// Effective gradients after the L2 term and clipping, as optimizer.h documents.
Values effective(const OptimizerConfig& c, const Values& p, const Values& g, double* global_norm) {
  Values e = g;
  std::vector<double> sums(g.size(), 0.0);
  double total = 0;
  for (size_t t = 0; t < g.size(); ++t) {
    for (size_t i = 0; i < g[t].size(); ++i) {
      e[t][i] = g[t][i] + c.weight_decay * p[t][i];
      sums[t] += e[t][i] * e[t][i];
    }
    total += sums[t];
  }
  *global_norm = std::sqrt(total);
  for (size_t t = 0; t < g.size(); ++t) {
    double norm = c.clip == Clip::global_norm ? std::sqrt(total) : std::sqrt(sums[t]);
    const double scale = c.clip == Clip::none ? 1.0 : c.clip_norm / std::max(norm, double(c.clip_norm));
    for (double& x : e[t]) x *= scale;
  }
  return e;
}

// Runs `steps` steps of both the optimizer and the double-precision reference.
void expect_matches_reference(const OptimizerConfig& c, int steps, double tolerance) {
  Values p = initial_values(kShapes), slot1(p.size()), slot2(p.size());
  for (size_t t = 0; t < p.size(); ++t) slot1[t].assign(p[t].size(), 0.0), slot2[t].assign(p[t].size(), 0.0);
  std::vector<Tensor> params = to_tensors(kShapes, p);
  Optimizer opt(c, kShapes);

  for (int step = 1; step <= steps; ++step) {
    const Values g = gradients(kShapes, step);
    opt.apply(params, as_gradients(to_tensors(kShapes, g)));

    double norm = 0;
    const Values e = effective(c, p, g, &norm);
    const double lr = c.learning_rate, mom = c.momentum;
    const double alpha = lr * std::sqrt(1 - std::pow(double(c.beta2), step)) / (1 - std::pow(double(c.beta1), step));
    for (size_t t = 0; t < p.size(); ++t)
      for (size_t i = 0; i < p[t].size(); ++i) {
        double &x = p[t][i], &a = slot1[t][i], &v = slot2[t][i];
        const double gi = e[t][i];
        if (c.kind == Kind::adam) {
          a = c.beta1 * a + (1 - c.beta1) * gi;
          v = c.beta2 * v + (1 - c.beta2) * gi * gi;
          if (c.pytorch_epsilon) {  // torch.optim.Adam, written as PyTorch does
            const double m_hat = a / (1 - std::pow(double(c.beta1), step));
            const double v_hat = v / (1 - std::pow(double(c.beta2), step));
            x -= lr * m_hat / (std::sqrt(v_hat) + c.epsilon);
          } else {
            x -= alpha * a / (std::sqrt(v) + c.epsilon);
          }
        } else {
          a = mom * a - lr * gi;
          x += c.nesterov ? mom * a - lr * gi : a;
        }
      }
    if (c.clip == Clip::none)
      EXPECT_EQ(opt.last_global_norm(), 0.0) << "step " << step << ": no pass computes it without clipping";
    else
      EXPECT_NEAR(opt.last_global_norm(), norm, 1e-6 * norm) << "step " << step;
  }
  EXPECT_EQ(opt.iterations(), steps);
  for (size_t t = 0; t < p.size(); ++t) {
    const float* got = params[t].data<float>();
    for (size_t i = 0; i < p[t].size(); ++i)
      ASSERT_NEAR(got[i], p[t][i], tolerance) << "tensor " << t << " element " << i;
  }
}

OptimizerConfig sgd(float lr, float momentum = 0, bool nesterov = false) {
  OptimizerConfig c;
  c.kind = Kind::sgd;
  c.learning_rate = lr;
  c.momentum = momentum;
  c.nesterov = nesterov;
  return c;
}

TEST(Optimizer, SgdPlain) { expect_matches_reference(sgd(0.1f), 4, 2e-6); }
TEST(Optimizer, SgdMomentum) { expect_matches_reference(sgd(0.1f, 0.9f), 4, 5e-6); }
TEST(Optimizer, SgdNesterov) { expect_matches_reference(sgd(0.1f, 0.9f, true), 4, 5e-6); }

TEST(Optimizer, AdamFiveSteps) {
  OptimizerConfig c;
  c.learning_rate = 0.01f;
  expect_matches_reference(c, 5, 1e-6);
}

TEST(Optimizer, AdamEpsilonPlacements) {
  // A large epsilon makes the placements differ far beyond the tolerance: Keras'
  // sqrt(v) + eps against PyTorch's sqrt(v_hat) + eps.
  OptimizerConfig keras;
  keras.learning_rate = 0.01f;
  keras.epsilon = 0.1f;
  OptimizerConfig pytorch = keras;
  pytorch.pytorch_epsilon = true;
  expect_matches_reference(keras, 5, 1e-6);
  expect_matches_reference(pytorch, 5, 1e-6);

  std::vector<Tensor> a = {Tensor::from_floats({1}, std::vector<float>{0.f})};
  std::vector<Tensor> b = {Tensor::from_floats({1}, std::vector<float>{0.f})};
  Optimizer(keras, {{1}}).apply(a, {Tensor::from_floats({1}, std::vector<float>{0.5f})});
  Optimizer(pytorch, {{1}}).apply(b, {Tensor::from_floats({1}, std::vector<float>{0.5f})});
  // Step 1: Keras -lr * 0.5 / (0.5 + eps / sqrt(1 - b2)), PyTorch -lr * 0.5 / (0.5 + eps).
  EXPECT_NEAR(a[0].data<float>()[0], -0.01 * 0.5 / (0.5 + 0.1 / std::sqrt(0.001)), 1e-8);
  EXPECT_NEAR(b[0].data<float>()[0], -0.01 * 0.5 / (0.5 + 0.1), 1e-8);
}

TEST(Optimizer, AdamFirstStepIsLearningRateTimesSignUpToEpsilon) {
  // Step 1: m = (1-b1) g, v = (1-b2) g^2, alpha = lr sqrt(1-b2) / (1-b1), so
  // the update is lr * g / (|g| + eps / sqrt(1-b2)): -lr * sign(g) shrunk by
  // eps / (sqrt(1-b2) |g|) = 1e-7 / (0.0316 * 0.5) = 6.3e-6 relative.
  Optimizer opt(OptimizerConfig{}, {{2}});
  std::vector<Tensor> params = {Tensor::from_floats({2}, std::vector<float>{0.f, 0.f})};
  opt.apply(params, {Tensor::from_floats({2}, std::vector<float>{0.5f, -0.5f})});
  const double expected = 0.001 * 0.5 / (0.5 + 1e-7 / std::sqrt(1 - 0.999));
  EXPECT_NEAR(expected, 0.001 * (1 - 6.3246e-6), 1e-12);
  EXPECT_NEAR(params[0].data<float>()[0], -expected, 1e-6 * expected);
  EXPECT_NEAR(params[0].data<float>()[1], expected, 1e-6 * expected);
  EXPECT_GT(params[0].data<float>()[0], -0.001f);  // strictly smaller than lr
}

TEST(Optimizer, WeightDecayIsCoupledL2) {
  // p - lr * (g + wd * p) = 1 - 0.5 * (0.25 + 0.1 * 1) = 0.825
  OptimizerConfig c = sgd(0.5f);
  c.weight_decay = 0.1f;
  Optimizer opt(c, {{1}});
  std::vector<Tensor> params = {Tensor::from_floats({1}, std::vector<float>{1.f})};
  opt.apply(params, {Tensor::from_floats({1}, std::vector<float>{0.25f})});
  EXPECT_FLOAT_EQ(params[0].data<float>()[0], 0.825f);
  // The clipping norm includes the L2 term (a limit it stays under: the same update).
  c.clip = Clip::global_norm;
  c.clip_norm = 100.f;
  Optimizer clipped(c, {{1}});
  params = {Tensor::from_floats({1}, std::vector<float>{1.f})};
  clipped.apply(params, {Tensor::from_floats({1}, std::vector<float>{0.25f})});
  EXPECT_FLOAT_EQ(params[0].data<float>()[0], 0.825f);
  EXPECT_DOUBLE_EQ(clipped.last_global_norm(), double(0.25f + 0.1f));

  OptimizerConfig adam;
  adam.learning_rate = 0.01f;
  adam.weight_decay = 0.01f;
  expect_matches_reference(adam, 3, 1e-6);
  OptimizerConfig momentum = sgd(0.05f, 0.5f);
  momentum.weight_decay = 0.2f;
  expect_matches_reference(momentum, 3, 5e-6);
}

// g0 = [3, 4] (norm 5), g1 = [6, 8] (norm 10), global norm sqrt(125); SGD with
// lr 1 from 0, so the parameters become -scale * g.
std::vector<Tensor> clipped_step(Clip clip, float clip_norm, double* global_norm) {
  OptimizerConfig c = sgd(1.f);
  c.clip = clip;
  c.clip_norm = clip_norm;
  Optimizer opt(c, {{2}, {2}});
  std::vector<Tensor> params = {Tensor(DType::f32, {2}), Tensor(DType::f32, {2})};
  opt.apply(params,
            {Tensor::from_floats({2}, std::vector<float>{3, 4}), Tensor::from_floats({2}, std::vector<float>{6, 8})});
  *global_norm = opt.last_global_norm();
  return params;
}

TEST(Optimizer, GlobalNormClipping) {
  double norm = 0;
  const std::vector<Tensor> p = clipped_step(Clip::global_norm, 5.f, &norm);
  EXPECT_DOUBLE_EQ(norm, std::sqrt(125.0));
  const float scale = static_cast<float>(5.0 / std::sqrt(125.0));  // both tensors alike
  EXPECT_FLOAT_EQ(p[0].data<float>()[0], -3 * scale);
  EXPECT_FLOAT_EQ(p[0].data<float>()[1], -4 * scale);
  EXPECT_FLOAT_EQ(p[1].data<float>()[0], -6 * scale);
  EXPECT_FLOAT_EQ(p[1].data<float>()[1], -8 * scale);
}

TEST(Optimizer, PerTensorNormClipping) {
  double norm = 0;
  const std::vector<Tensor> p = clipped_step(Clip::per_tensor_norm, 5.f, &norm);
  EXPECT_DOUBLE_EQ(norm, std::sqrt(125.0));  // still the global norm before clipping
  EXPECT_EQ(p[0].data<float>()[0], -3.f);    // norm 5 is within the threshold: scale exactly 1
  EXPECT_EQ(p[0].data<float>()[1], -4.f);
  EXPECT_EQ(p[1].data<float>()[0], -3.f);  // norm 10: scale 0.5
  EXPECT_EQ(p[1].data<float>()[1], -4.f);
}

TEST(Optimizer, ClippingAboveTheNormChangesNothing) {
  double norm = 0;
  for (Clip clip : {Clip::global_norm, Clip::per_tensor_norm}) {
    const std::vector<Tensor> p = clipped_step(clip, 100.f, &norm);
    EXPECT_EQ(p[0].data<float>()[0], -3.f);
    EXPECT_EQ(p[1].data<float>()[1], -8.f);
  }
}

TEST(Optimizer, ClippedAdamMatchesReference) {
  OptimizerConfig c;
  c.learning_rate = 0.01f;
  c.weight_decay = 0.01f;
  c.clip = Clip::global_norm;
  c.clip_norm = 1.f;
  expect_matches_reference(c, 3, 1e-6);
  c.clip = Clip::per_tensor_norm;
  expect_matches_reference(c, 3, 1e-6);
}

void expect_resume_is_bit_exact(const OptimizerConfig& c) {
  std::vector<Tensor> straight = to_tensors(kShapes, initial_values(kShapes));
  Optimizer a(c, kShapes);
  for (int step = 1; step <= 5; ++step) a.apply(straight, as_gradients(to_tensors(kShapes, gradients(kShapes, step))));

  std::vector<Tensor> resumed = to_tensors(kShapes, initial_values(kShapes));
  Optimizer first(c, kShapes);
  for (int step = 1; step <= 3; ++step)
    first.apply(resumed, as_gradients(to_tensors(kShapes, gradients(kShapes, step))));
  const std::vector<std::pair<std::string, Tensor>> saved = first.state();
  std::vector<Tensor> checkpoint;
  for (const Tensor& t : resumed) checkpoint.push_back(t.clone());
  first.apply(resumed, as_gradients(to_tensors(kShapes, gradients(kShapes, 99))));  // must not reach `saved`

  Optimizer second(c, kShapes);
  second.load_state(saved);
  EXPECT_EQ(second.iterations(), 3);
  for (int step = 4; step <= 5; ++step)
    second.apply(checkpoint, as_gradients(to_tensors(kShapes, gradients(kShapes, step))));
  EXPECT_EQ(second.iterations(), 5);
  for (size_t t = 0; t < kShapes.size(); ++t)
    EXPECT_EQ(std::memcmp(straight[t].raw_data(), checkpoint[t].raw_data(), straight[t].num_bytes()), 0) << t;
}

TEST(Optimizer, StateRoundTripIsBitExact) {
  OptimizerConfig adam;
  adam.learning_rate = 0.01f;
  adam.weight_decay = 0.01f;
  adam.clip = Clip::global_norm;
  adam.clip_norm = 1.f;
  expect_resume_is_bit_exact(adam);
  expect_resume_is_bit_exact(sgd(0.1f, 0.9f, true));
  expect_resume_is_bit_exact(sgd(0.1f));
}

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& state) {
  std::vector<std::string> names;
  for (const auto& entry : state) names.push_back(entry.first);
  return names;
}

TEST(Optimizer, StateNames) {
  using Names = std::vector<std::string>;
  EXPECT_EQ(names_of(Optimizer(OptimizerConfig{}, kShapes).state()),
            (Names{"iterations", "adam.m.0", "adam.m.1", "adam.v.0", "adam.v.1"}));
  EXPECT_EQ(names_of(Optimizer(sgd(0.1f, 0.5f), kShapes).state()),
            (Names{"iterations", "sgd.momentum.0", "sgd.momentum.1"}));
  EXPECT_EQ(names_of(Optimizer(sgd(0.1f), kShapes).state()), (Names{"iterations"}));
  const auto state = Optimizer(OptimizerConfig{}, kShapes).state();
  EXPECT_EQ(state[0].second.type_string(), "int64[]");
  EXPECT_EQ(state[4].second.type_string(), "float32[2,70001]");
}

// Runs `f`, expecting an Error whose message contains `needle`.
template <typename F>
void expect_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(needle), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(Optimizer, LoadStateErrorsNameTheSlot) {
  Optimizer opt(OptimizerConfig{}, kShapes);
  const auto good = opt.state();
  auto missing = good;
  missing.pop_back();
  expect_error([&] { opt.load_state(missing); }, "missing slot 'adam.v.1'");
  auto misshaped = good;
  misshaped[2].second = Tensor(DType::f32, {3});
  expect_error([&] { opt.load_state(misshaped); }, "slot 'adam.m.1' is float32[3], expected float32[2,70001]");
  auto extra = good;
  extra.emplace_back("sgd.momentum.0", Tensor(DType::f32, {3, 5}));
  expect_error([&] { opt.load_state(extra); }, "unknown slot 'sgd.momentum.0'");
  auto bad_count = good;
  bad_count[0].second = Tensor::scalar(3.f);
  expect_error([&] { opt.load_state(bad_count); }, "slot 'iterations'");
  expect_error([&] { Optimizer(sgd(0.1f, 0.5f), kShapes).load_state(good); }, "missing slot 'sgd.momentum.0'");
  EXPECT_EQ(opt.iterations(), 0);  // failed loads change nothing
}

TEST(Optimizer, BadConfigsNameTheValue) {
  const auto make = [](auto edit) {
    return [edit] {
      OptimizerConfig c;
      edit(c);
      Optimizer(c, {{2}});
    };
  };
  expect_error(make([](OptimizerConfig& c) { c.learning_rate = -0.5f; }), "learning_rate must be >= 0, got -0.5");
  expect_error(make([](OptimizerConfig& c) { c.learning_rate = NAN; }), "learning_rate");
  expect_error(make([](OptimizerConfig& c) { c.beta1 = 1.f; }), "beta1 must be in [0, 1), got 1");
  expect_error(make([](OptimizerConfig& c) { c.beta2 = -0.1f; }), "beta2 must be in [0, 1), got -0.1");
  expect_error(make([](OptimizerConfig& c) { c.epsilon = 0.f; }), "epsilon must be > 0, got 0");
  expect_error(make([](OptimizerConfig& c) { c.weight_decay = -1.f; }), "weight_decay must be >= 0, got -1");
  expect_error(make([](OptimizerConfig& c) { c.kind = Kind::sgd, c.momentum = 1.5f; }),
               "momentum must be in [0, 1], got 1.5");
  expect_error(make([](OptimizerConfig& c) { c.clip = Clip::global_norm; }),
               "clip_norm must be > 0 when clipping is on, got 0");
  expect_error(make([](OptimizerConfig& c) { c.clip = Clip::per_tensor_norm, c.clip_norm = -2.f; }), "clip_norm");
  expect_error([] { Optimizer(OptimizerConfig{}, {{kUnknownDim, 3}}); }, "parameter 0 has unknown dims [?,3]");
}

TEST(Optimizer, MismatchedParametersAndGradients) {
  Optimizer opt(OptimizerConfig{}, {{2, 3}, {3}});
  std::vector<Tensor> params = {Tensor(DType::f32, {2, 3}), Tensor(DType::f32, {3})};
  const auto apply = [&](std::vector<Gradient> grads) { return [&, grads] { opt.apply(params, grads); }; };
  expect_error(apply({Tensor(DType::f32, {2, 3})}), "expected 2 parameters and gradients, got 2 and 1");
  expect_error(apply({Tensor(DType::f32, {2, 3}), Tensor(DType::f32, {4})}),
               "gradient 1 is float32[4], expected float32[3]");
  expect_error(apply({Tensor(DType::i64, {2, 3}), Tensor(DType::f32, {3})}),
               "gradient 0 is int64[2,3], expected float32[2,3]");
  params[0] = Tensor(DType::f32, {3, 2});
  expect_error(apply({Tensor(DType::f32, {2, 3}), Tensor(DType::f32, {3})}),
               "parameter 0 is float32[3,2], expected float32[2,3]");
  EXPECT_EQ(opt.iterations(), 0);
}

TEST(Optimizer, MillionElementAdam) {
  // Sanity only (no timing): the threaded path over many chunks plus a small tensor.
  const std::vector<Dims> shapes = {{1000, 1000}, {7}};
  std::vector<Tensor> params = {Tensor(DType::f32, shapes[0]), Tensor(DType::f32, shapes[1])};
  std::vector<Tensor> grads = {Tensor(DType::f32, shapes[0]), Tensor(DType::f32, shapes[1])};
  float* g = grads[0].data<float>();
  for (int64_t i = 0; i < 1000000; ++i) g[i] = (i % 3 == 0) ? 0.f : ((i % 2) ? 1.f : -2.f);
  Optimizer opt(OptimizerConfig{}, shapes);
  opt.apply(params, as_gradients(grads));
  opt.apply(params, as_gradients(grads));
  // Constant g: every step moves lr * g / (|g| + eps / sqrt(1 - b2^t)) against the sign.
  const double eps1 = 1e-7 / std::sqrt(1 - 0.999), eps2 = 1e-7 / std::sqrt(1 - 0.999 * 0.999);
  const float* p = params[0].data<float>();
  for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{2}, int64_t{999999}}) {
    const double gi = g[i], expected = gi == 0 ? 0 : -0.001 * (gi / (std::abs(gi) + eps1) + gi / (std::abs(gi) + eps2));
    EXPECT_NEAR(p[i], expected, 1e-9) << i;
  }
  int64_t moved_wrongly = 0;  // every element moves exactly when its gradient is nonzero, and stays finite
  for (int64_t i = 0; i < 1000000; ++i) moved_wrongly += (p[i] == 0) != (g[i] == 0) || !std::isfinite(p[i]);
  EXPECT_EQ(moved_wrongly, 0);
  EXPECT_EQ(opt.iterations(), 2);
  EXPECT_EQ(params[1].data<float>()[0], 0.f);  // zero gradient, zero update
}

// A table's gradient given as rows against the same gradient made dense the way
// GatherGrad makes it (zeros, then each slice added in index order).
struct RowStep {
  std::vector<int64_t> indices;
  Tensor rows;
};

Tensor dense_table_gradient(const Dims& table, const RowStep& step) {
  Tensor dense(DType::f32, table);  // zero-filled
  const int64_t row_elements = dense.num_elements() / table[0];
  const float* slice = step.rows.data<float>();
  for (int64_t index : step.indices) {
    float* row = dense.data<float>() + (index < 0 ? index + table[0] : index) * row_elements;
    for (int64_t k = 0; k < row_elements; ++k) row[k] += *slice++;
  }
  return dense;
}

// Steps over a [10007, 7] table: two chunks, rows across block and chunk
// boundaries (row 9362 holds elements 65534..65540), an odd tail; repeated and
// negative indices; rows left untouched for several steps (row 5: steps 1 and 6
// only) and rows never touched.
std::vector<RowStep> row_steps(int64_t row_elements) {
  const std::vector<std::vector<int64_t>> indices = {{5, 3, 3, 9362, -1, 3}, {292, 9362, 9362, 0},
                                                     {10006, 17, 292},       {7000, 7001, 7000, -10007},
                                                     {9361, 9363, 1, 1, 1},  {5, 10005, 2, 9362}};
  std::vector<RowStep> steps;
  for (size_t s = 0; s < indices.size(); ++s) {
    const auto n = static_cast<int64_t>(indices[s].size());
    Tensor rows(DType::f32, {n, row_elements});
    float* r = rows.data<float>();
    for (int64_t i = 0; i < n * row_elements; ++i)
      r[i] = static_cast<float>(std::sin(0.37 * double(i) + 1.1 * double(s)) * (i % 5 == 0 ? 1e-3 : 1.0));
    // Indices [n / 2, 2] when n is even, to have rows of rank 3 as well.
    steps.push_back({indices[s], n % 2 ? rows : rows.reshaped({n / 2, 2, row_elements})});
  }
  return steps;
}

void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.num_bytes(), b.num_bytes()) << what;
  EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.num_bytes()), 0) << what;
}

void expect_rows_match_dense(const OptimizerConfig& c, const std::string& name) {
  SCOPED_TRACE(name);
  const std::vector<Dims> shapes = {{3, 5}, {10007, 7}};
  const Values start = initial_values(shapes);
  std::vector<Tensor> dense_params = to_tensors(shapes, start), row_params = to_tensors(shapes, start);
  Optimizer dense(c, shapes), rows(c, shapes);
  const std::vector<RowStep> steps = row_steps(7);
  for (size_t s = 0; s < steps.size(); ++s) {
    const Tensor small = to_tensors(shapes, gradients(shapes, static_cast<int>(s)))[0];
    const RowStep& step = steps[s];
    const Tensor indices = Tensor::from_ints(
        step.rows.rank() == 3 ? Dims{step.rows.dims()[0], 2} : Dims{step.rows.dims()[0]}, step.indices);
    EXPECT_FALSE(dense.apply(dense_params, {small, dense_table_gradient(shapes[1], step)}).has_value());
    EXPECT_FALSE(rows.apply(row_params, {small, Gradient::of_rows(indices, step.rows)}).has_value());
    EXPECT_EQ(dense.last_global_norm(), rows.last_global_norm()) << "step " << s;
  }
  for (size_t t = 0; t < shapes.size(); ++t) expect_same_bits(dense_params[t], row_params[t], "parameter");
  const auto dense_state = dense.state(), row_state = rows.state();
  ASSERT_EQ(dense_state.size(), row_state.size());
  for (size_t k = 0; k < dense_state.size(); ++k)
    expect_same_bits(dense_state[k].second, row_state[k].second, dense_state[k].first);
}

TEST(Optimizer, TableRowsGiveTheDenseGradientsBits) {
  OptimizerConfig adam;
  adam.learning_rate = 0.01f;
  expect_rows_match_dense(adam, "adam");
  OptimizerConfig clipped = adam;
  clipped.clip = Clip::global_norm;
  clipped.clip_norm = 0.5f;
  expect_rows_match_dense(clipped, "adam, clip_global_norm");
  clipped.clip = Clip::per_tensor_norm;
  clipped.weight_decay = 0.01f;
  expect_rows_match_dense(clipped, "adam, clip_norm_per_tensor, weight_decay");
  expect_rows_match_dense(sgd(0.1f), "sgd");
  expect_rows_match_dense(sgd(0.1f, 0.9f), "sgd momentum");
  OptimizerConfig nesterov = sgd(0.1f, 0.9f, true);
  nesterov.weight_decay = 0.05f;
  expect_rows_match_dense(nesterov, "sgd nesterov, weight_decay");
}

TEST(Optimizer, RowsThatAddUpToInfinityWriteNothing) {
  // Two finite slices of row 1 overflow when added: the gradient is not finite.
  Optimizer opt(OptimizerConfig{}, {{2}, {3, 2}});
  std::vector<Tensor> params = {Tensor(DType::f32, {2}), Tensor::from_floats({3, 2}, std::vector<float>(6, 0.5f))};
  const Tensor rows = Tensor::from_floats({3, 2}, std::vector<float>{1, 1, 3e38f, 1, 3e38f, 1});
  const Tensor indices = Tensor::from_ints({3}, std::vector<int64_t>{0, 1, -2});
  EXPECT_EQ(opt.apply(params, {Tensor(DType::f32, {2}), Gradient::of_rows(indices, rows)}).value_or(99), 1u);
  EXPECT_EQ(opt.iterations(), 0);
  for (float p : params[1].values<float>()) EXPECT_EQ(p, 0.5f);
  for (const auto& [name, slot] : opt.state()) {
    if (name == "iterations") continue;
    for (float x : slot.values<float>()) EXPECT_EQ(x, 0.f) << name;
  }
  // A dense one alike, found by the clipping norm's pass.
  OptimizerConfig clipped;
  clipped.clip = Clip::global_norm;
  clipped.clip_norm = 1.f;
  Optimizer clipping(clipped, {{2}, {3, 2}});
  EXPECT_EQ(clipping.apply(params, {Tensor::from_floats({2}, std::vector<float>{1, NAN}), Tensor(DType::f32, {3, 2})})
                .value_or(99),
            0u);
  EXPECT_EQ(clipping.iterations(), 0);
}

TEST(Optimizer, RowsOutsideTheTableAreAnError) {
  Optimizer opt(OptimizerConfig{}, {{3, 2}});
  std::vector<Tensor> params = {Tensor(DType::f32, {3, 2})};
  const auto apply = [&](std::vector<int64_t> indices, Dims rows) {
    return [&, indices, rows] {
      opt.apply(params, {Gradient::of_rows(Tensor::from_ints({static_cast<int64_t>(indices.size())}, indices),
                                           Tensor(DType::f32, rows))});
    };
  };
  expect_error(apply({0, 3}, {2, 2}), "optimizer: gradient 0 has index 3, outside a table of 3 rows");
  expect_error(apply({-4}, {1, 2}), "index -4");
  expect_error(apply({0}, {1, 3}), "gradient rows 0 is float32[1,3], expected float32[1,2]");
  EXPECT_EQ(opt.iterations(), 0);
}

}  // namespace
}  // namespace graphrun
