// The reverse pass: which values get gradients, the emitted graph (golden
// text), fan-out sums, and whole-model numeric checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "autodiff/autodiff.h"
#include "graph/loader.h"
#include "graphrun/train.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

const std::string kDir = std::string(GRAPHRUN_SOURCE_DIR) + "/tests/autodiff";

TEST(Autodiff, EveryOpHasAGradientRuleOrIsMarkedNonDifferentiable) {
  const OpRegistry& ops = builtin_ops();
  for (const std::string& name : ops.op_names()) {
    const OpDef& def = ops.get(name);
    EXPECT_TRUE(static_cast<bool>(def.gradient) || !def.is_differentiable()) << name << " has neither";
  }
}

TEST(Autodiff, GradientsOnlyWhereTheLossDependsOnTrainableFloats) {
  Graph g = load_graph(kDir + "/models/shared_tower.pbtxt", builtin_ops());
  const GradientResult r = add_gradients(g, builtin_ops());
  auto has_grad = [&](const char* name) { return r.gradients.count(*g.find_value(name)) > 0; };
  EXPECT_TRUE(has_grad("w"));
  EXPECT_TRUE(has_grad("table"));
  EXPECT_FALSE(has_grad("frozen_bias"));  // not trainable
  EXPECT_FALSE(has_grad("unused"));       // the loss does not reach it
  EXPECT_FALSE(has_grad("x"));            // inputs are not parameters
  // w feeds two nodes: its gradient is the sum of both contributions (an Add node).
  const Value& dw = g.value(r.gradients.at(*g.find_value("w")));
  EXPECT_EQ(g.node(dw.producer).op(), "Add");
  EXPECT_EQ(dw.type, g.value(*g.find_value("w")).type);
}

TEST(Autodiff, ModelWithoutLossIsAnError) {
  Graph g = load_graph(std::string(GRAPHRUN_SOURCE_DIR) + "/examples/mlp/mlp.pbtxt", builtin_ops());
  EXPECT_THROW(add_gradients(g, builtin_ops()), Error);
}

// The emitted training graph, as `graphrun grad` prints it. Regenerate with
// GRAPHRUN_UPDATE_GOLDEN=1 after an intended change and review the diff.
TEST(Autodiff, GoldenGradientGraph) {
  const std::string text = gradient_graph_text(Model::load(kDir + "/models/shared_tower.pbtxt"));
  const std::string golden_path = kDir + "/golden/shared_tower_grad.pbtxt";
  if (std::getenv("GRAPHRUN_UPDATE_GOLDEN")) std::ofstream(golden_path) << text;
  std::ifstream in(golden_path);
  const std::string golden((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, golden) << "the training graph changed; if intended, regenerate with GRAPHRUN_UPDATE_GOLDEN=1";
  // The printed graph is itself a valid model.
  EXPECT_NO_THROW(Model::parse(text, "golden"));
}

// RandomNormalLike is marked non-differentiable: in z = mu + exp(log_var / 2) * eps
// autodiff passes over the noise node (instead of failing for want of a rule),
// and both weights get gradients; the next test checks their values numerically.
TEST(Autodiff, ReparameterisationTrickPassesOverTheNoiseNode) {
  Graph g = load_graph(std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/reparameterize.pbtxt", builtin_ops());
  const GradientResult r = add_gradients(g, builtin_ops());
  EXPECT_EQ(r.gradients.count(*g.find_value("w_mu")), 1u);
  EXPECT_EQ(r.gradients.count(*g.find_value("w_log_var")), 1u);
}

TEST(Autodiff, WholeModelGradientsMatchNumeric) {
  for (const std::string& model :
       {kDir + "/models/shared_tower.pbtxt", std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/tiny_text.pbtxt",
        std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/masked_attention.pbtxt",
        std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/reparameterize.pbtxt",
        std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/siamese_cosine_hinge.pbtxt",
        std::string(GRAPHRUN_SOURCE_DIR) + "/examples/emojify/v1.pbtxt"}) {
    const GradCheckResult r = gradcheck(model, 4, 20);
    EXPECT_TRUE(r.passed) << model << ": " << r.worst << " rel " << r.max_rel_error;
    EXPECT_GE(r.checked, 16) << model;
    // max_rel_error is the relative error of the element `worst` names.
    double analytic = 0, numeric = 0;
    ASSERT_EQ(
        std::sscanf(r.worst.c_str() + r.worst.find(": analytic"), ": analytic %lf, numeric %lf", &analytic, &numeric),
        2)
        << r.worst;
    const double rel = std::fabs(analytic - numeric) / std::max({1e-3, std::fabs(analytic), std::fabs(numeric)});
    EXPECT_NEAR(r.max_rel_error, rel, 1e-4 * std::max(1.0, rel)) << model << ": " << r.worst;
  }
}

}  // namespace
}  // namespace graphrun
