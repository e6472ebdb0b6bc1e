// RandomNormalLike inside a model run through sessions: the VAE reparameterisation
// in tests/runtime/models/reparameterize.pbtxt samples at inference, draws the
// documented stream with step seed 0, and gives the same values at any thread count.
#include <gtest/gtest.h>

#include <random>

#include "graphrun/graphrun.h"
#include "ops/random.h"

namespace graphrun {
namespace {

const std::string kModel = std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/reparameterize.pbtxt";

Tensor random_x(int64_t rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  Tensor t(DType::f32, {rows, 3});
  for (float& v : t.values<float>()) v = dist(rng);
  return t;
}

void expect_identical(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.dims(), b.dims()) << what;
  for (int64_t i = 0; i < a.num_elements(); ++i)
    ASSERT_EQ(a.data<float>()[i], b.data<float>()[i]) << what << " at " << i;
}

TEST(RandomNormalLikeModel, InferenceDrawsTheNodesStreamWithStepSeedZero) {
  const Model model = Model::load(kModel);
  const Session session(model);
  const std::vector<Tensor> out = session.run({{"x", random_x(64, 1)}}, {"eps", "z"});
  ASSERT_EQ(out[0].dims(), (Dims{64, 4}));
  const NormalStream normal(0, 3, 0.f, 1.f);  // step seed 0 outside training; the node's seed: 3
  for (int64_t i = 0; i < out[0].num_elements(); ++i)
    ASSERT_EQ(out[0].data<float>()[i], normal.value(static_cast<uint64_t>(i))) << i;
  // Only the shape of mu is read: other data, the same noise.
  expect_identical(session.run({{"x", random_x(64, 2)}}, {"eps"})[0], out[0], "eps for other x");
}

TEST(RandomNormalLikeModel, SameValuesAtAnyThreadCount) {
  const Model model = Model::load(kModel);
  const Tensor x = random_x(300, 3);
  const Session serial(model, SessionOptions{1, 1});
  const std::vector<Tensor> expected = serial.run({{"x", x}}, {"eps", "z"});
  for (const SessionOptions options : {SessionOptions{4, 0}, SessionOptions{2, 2}, SessionOptions{0, 0}}) {
    const Session session(model, options);
    const std::vector<Tensor> got = session.run({{"x", x}}, {"eps", "z"});
    expect_identical(got[0], expected[0], "eps");
    expect_identical(got[1], expected[1], "z");
  }
}

}  // namespace
}  // namespace graphrun
