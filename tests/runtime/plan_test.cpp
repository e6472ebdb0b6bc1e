// The plan's size estimates, which the executor's thread policy reads: which steps are
// large, and whether two large steps can overlap (only then do TBB tasks pay).
#include <gtest/gtest.h>

#include <string>

#include "graph/loader.h"
#include "ops/registry.h"
#include "runtime/exec/plan.h"

namespace graphrun {
namespace {

std::unique_ptr<const Plan> compile(const std::string& text, const std::vector<TensorType>& feeds) {
  const Graph graph = build_graph(parse_model_text(text, "m.pbtxt"), builtin_ops());
  std::vector<ValueId> fetches;
  for (ValueId v : graph.outputs) fetches.push_back(v);
  return Plan::compile(graph, builtin_ops(), feeds, fetches);
}

// Two towers of two Relus from one input of [batch, 512], joined by an Add.
std::unique_ptr<const Plan> towers(int64_t batch) {
  const std::string text = R"(version: 1
input { name: "x" shape: [-1, 512] }
node { name: "a1" op: "Relu" input: "x" }
node { name: "a2" op: "Relu" input: "a1" }
node { name: "b1" op: "Relu" input: "x" }
node { name: "b2" op: "Relu" input: "b1" }
node { name: "y" op: "Add" input: ["a2", "b2"] }
output: "y"
)";
  return compile(text, {{DType::f32, {batch, 512}}});
}

TEST(Plan, LargeTowersMayOverlap) {
  // 256 x 512 in + out = 256K elements per Relu.
  EXPECT_TRUE(towers(256)->has_independent_large_steps());
}

TEST(Plan, SmallTowersRunSerially) {
  // 8 x 512 x 2 = 8K elements per Relu: a TBB hand-off costs more than the overlap saves.
  EXPECT_FALSE(towers(8)->has_independent_large_steps());
}

TEST(Plan, ALargeChainRunsSerially) {
  const std::string text = R"(version: 1
input { name: "x" shape: [-1, 512] }
node { name: "a" op: "Relu" input: "x" }
node { name: "b" op: "Tanh" input: "a" }
node { name: "y" op: "Relu" input: "b" }
output: "y"
)";
  const auto plan = compile(text, {{DType::f32, {256, 512}}});
  for (const PlanStep& step : plan->steps()) EXPECT_GE(step.work_elements, kLargeStepElements);
  EXPECT_FALSE(plan->has_independent_large_steps());
}

// A recurrent kernel's team splits one time step at a time: its estimate is one step's
// gate pre-activations, N * D * gates * H, however long the sequence.
TEST(Plan, ARecurrentStepCountsOneTimeStep) {
  for (const char* recurrent : {"hidden_size: 64", "hidden_size: 64 recurrent_dropout: 0.1"}) {
    const std::string text = std::string(R"(version: 1
input { name: "x" shape: [-1, 200, 32] }
parameter { name: "W" shape: [32, 256] init { zeros {} } }
parameter { name: "R" shape: [64, 256] init { zeros {} } }
parameter { name: "B" shape: [256] init { zeros {} } }
node { name: "lstm" op: "LSTM" input: ["x", "W", "R", "B"] output: ["y", "h", "c", "ws"] recurrent { )") +
                             recurrent + R"( } }
output: "y"
)";
    for (int64_t batch : {1, 512}) {
      const auto plan = compile(text, {{DType::f32, {batch, 200, 32}}});
      ASSERT_EQ(plan->steps().size(), 1u);
      EXPECT_EQ(plan->steps()[0].work_elements, batch * 4 * 64) << recurrent << ", batch " << batch;
    }
  }
}

}  // namespace
}  // namespace graphrun
