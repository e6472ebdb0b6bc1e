// The plan's size estimates, which the executor's thread policy reads: which steps are
// large, and whether two large steps can overlap (only then do TBB tasks pay).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "graph/loader.h"
#include "ops/registry.h"
#include "runtime/exec/executor.h"
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

// A run's outputs reuse the buffers of an earlier run that nobody holds any more,
// and never those of outputs a caller still has.
TEST(Plan, RecyclesFetchedBuffersNobodyHolds) {
  const std::string text = R"(version: 1
input { name: "x" shape: [-1, 4] }
node { name: "y" op: "Relu" input: "x" }
output: "y"
)";
  const Graph graph = build_graph(parse_model_text(text, "m.pbtxt"), builtin_ops());
  const auto plan = Plan::compile(graph, builtin_ops(), {{DType::f32, {2, 4}}}, graph.outputs);
  const std::vector<Tensor> params;
  std::vector<std::vector<Tensor>> feeds;  // made up front: the allocation count below is the run's alone
  for (float value : {0.f, 1.f, 2.f, 3.f, 4.f}) feeds.push_back({Tensor::from_floats({2, 4}, std::vector<float>(8, value))});
  auto run = [&](float value) {
    return execute_plan(*plan, graph, RunBuffers{&feeds[static_cast<size_t>(value)], &params}, RunContext{},
                        ExecutionPolicy{})[0];
  };
  const void* first_buffer = nullptr;
  {
    const Tensor first = run(1.f);
    first_buffer = first.raw_data();
    // `first` is held: the next run must write elsewhere.
    const Tensor second = run(2.f);
    EXPECT_NE(second.raw_data(), first_buffer);
    EXPECT_EQ(first.data<float>()[0], 1.f);
    EXPECT_EQ(second.data<float>()[0], 2.f);
  }
  // Both released: a run takes one of their buffers instead of allocating.
  const AllocationCount before = buffer_allocations();
  const Tensor third = run(3.f);
  EXPECT_EQ(buffer_allocations().buffers, before.buffers);
  EXPECT_EQ(third.data<float>()[0], 3.f);
  // A view shares the storage, so it counts as holding it.
  const Tensor view = third.reshaped({8});
  const Tensor fourth = run(4.f);
  EXPECT_NE(fourth.raw_data(), third.raw_data());
  EXPECT_EQ(view.data<float>()[0], 3.f);
}

}  // namespace
}  // namespace graphrun
