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

// A fused layer's step whose recurrent matmul does 256K multiply-adds or more is worth a team
// although its gate elements are fewer than 64K: Emojifier V2's LSTM(128) at batch 32 (16K
// elements, 2M multiply-adds); the step-wise kernels' own loops still count elements. Two
// directions side by side have no barrier between them: their whole sequences count.
TEST(Plan, RecurrentStepsWorthATeam) {
  auto model = [](const std::string& recurrent, int64_t directions) {
    const std::string lead = directions == 2 ? "2, " : "";
    return R"(version: 1
input { name: "x" shape: [-1, 10, 32] }
parameter { name: "W" shape: [)" + lead + R"(32, 512] init { zeros {} } }
parameter { name: "R" shape: [)" + lead + R"(128, 512] init { zeros {} } }
parameter { name: "B" shape: [)" + lead + R"(512] init { zeros {} } }
node { name: "lstm" op: "LSTM" input: ["x", "W", "R", "B"] output: ["y", "h", "c", "ws"] recurrent { hidden_size: 128 )" +
           recurrent + R"( } }
output: "y"
)";
  };
  auto work = [](const std::string& text, int64_t batch) {
    const auto plan = compile(text, {{DType::f32, {batch, 10, 32}}});
    return plan->steps().at(0).work_elements;
  };
  EXPECT_EQ(work(model("", 1), 32), kLargeStepElements);  // 32 x 128 x 512 = 2M multiply-adds
  EXPECT_EQ(work(model("", 1), 4), kLargeStepElements);  // 4 x 128 x 512 = 256K
  EXPECT_EQ(work(model("", 1), 3), 3 * 512);               // 192K: one thread
  EXPECT_EQ(work(model("", 1), 1), 512);
  EXPECT_EQ(work(model("recurrent_dropout: 0.1", 1), 32), 32 * 512);  // step-wise: elements
  EXPECT_EQ(work(model("direction: BIDIRECTIONAL", 2), 32), 32 * 10 * 2 * 512);  // side by side
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
  for (float value : {0.f, 1.f, 2.f, 3.f, 4.f})
    feeds.push_back({Tensor::from_floats({2, 4}, std::vector<float>(8, value))});
  auto run = [&](float value) {
    return execute_plan(*plan, RunBuffers{&feeds[static_cast<size_t>(value)], &params}, RunContext{},
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

// Fetched feeds and parameters take no fetch buffer: a run hands out the feed itself
// and a copy of the parameter, each run's copy its own. A value fetched twice is one
// buffer.
TEST(Plan, OnlyFetchedNodeOutputsTakeFetchBuffers) {
  const std::string text = R"(version: 1
input { name: "x" shape: [-1, 4] }
parameter { name: "w" shape: [4] }
node { name: "y" op: "Add" input: ["x", "w"] }
output: "y"
)";
  const Graph graph = build_graph(parse_model_text(text, "m.pbtxt"), builtin_ops());
  const ValueId x = graph.inputs[0], w = graph.parameters[0].value, y = graph.outputs[0];
  const auto plan = Plan::compile(graph, builtin_ops(), {{DType::f32, {1, 4}}}, {y, w, x, y});
  const std::vector<Tensor> feeds = {Tensor::from_floats({1, 4}, std::vector<float>(4, 10.f))};
  std::vector<Tensor> params = {Tensor::from_floats({4}, std::vector<float>{1.f, 2.f, 3.f, 4.f})};
  auto run = [&] { return execute_plan(*plan, RunBuffers{&feeds, &params}, RunContext{}, ExecutionPolicy{}); };
  auto values = [](const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.num_elements()); };
  {
    const std::vector<Tensor> first = run();  // allocates the arena too
    // `first` is held: the next run allocates y's buffer and w's copy, and nothing for x.
    const AllocationCount before = buffer_allocations();
    const std::vector<Tensor> second = run();
    EXPECT_EQ(buffer_allocations().buffers - before.buffers, 2u);
    EXPECT_EQ(values(second[0]), (std::vector<float>{11.f, 12.f, 13.f, 14.f}));
    EXPECT_EQ(second[3].raw_data(), second[0].raw_data());
    EXPECT_NE(second[0].raw_data(), first[0].raw_data());
    EXPECT_EQ(second[2].raw_data(), feeds[0].raw_data());
    EXPECT_EQ(values(second[1]), values(params[0]));
    EXPECT_NE(second[1].raw_data(), params[0].raw_data());
    EXPECT_NE(second[1].raw_data(), first[1].raw_data());
  }
  // Released: a run takes the recycled buffer for y and allocates w's copy alone.
  const AllocationCount before = buffer_allocations();
  std::vector<Tensor> third = run();
  EXPECT_EQ(buffer_allocations().buffers - before.buffers, 1u);
  third[1].data<float>()[0] = -1.f;  // the caller's copy: the parameter stays
  EXPECT_EQ(params[0].data<float>()[0], 1.f);
  params[0].data<float>()[0] = 5.f;
  EXPECT_EQ(values(run()[0]), (std::vector<float>{15.f, 12.f, 13.f, 14.f}));
}

// A kernel learns which of its outputs the plan reads: a later node or a fetch reads
// them; an output whose only reader is pruned from the plan is not read.
TEST(Plan, KernelsLearnWhichOutputsThePlanReads) {
  static std::vector<std::vector<bool>> seen;  // outputs_read of each "Pair" kernel created
  OpRegistry ops;
  register_eltwise_ops(ops);
  ops.op("Pair")
      .inputs({"X"})
      .outputs({"A", "B"})
      .shape([](InferContext& ctx) {
        ctx.outputs = {ctx.inputs[0], ctx.inputs[0]};
      })
      .kernel([](const KernelInit& init) {
        seen.push_back(init.outputs_read);
        return make_lambda_kernel([](const KernelIO&) {});
      })
      .non_differentiable("a test op")
      .doc("Two outputs, for this test.");
  const std::string text = R"(version: 1
input { name: "x" shape: [2] }
node { name: "p" op: "Pair" input: "x" output: ["a", "b"] }
node { name: "ra" op: "Relu" input: "a" }
node { name: "rb" op: "Relu" input: "b" }
output: ["ra", "rb"]
)";
  const Graph graph = build_graph(parse_model_text(text, "m.pbtxt"), ops);
  const ValueId a = *graph.find_value("a"), b = *graph.find_value("b");
  const ValueId ra = *graph.find_value("ra"), rb = *graph.find_value("rb");
  const std::vector<TensorType> feeds = {{DType::f32, {2}}};
  auto read_by = [&](const std::vector<ValueId>& fetches) {
    seen.clear();
    Plan::compile(graph, ops, feeds, fetches);
    EXPECT_EQ(seen.size(), 1u);
    return seen.empty() ? std::vector<bool>{} : seen[0];
  };
  EXPECT_EQ(read_by({ra, rb}), (std::vector<bool>{true, true}));
  EXPECT_EQ(read_by({ra}), (std::vector<bool>{true, false}));  // rb is pruned
  EXPECT_EQ(read_by({rb}), (std::vector<bool>{false, true}));
  EXPECT_EQ(read_by({a}), (std::vector<bool>{true, false}));  // fetched, no reader node
  EXPECT_EQ(read_by({ra, b}), (std::vector<bool>{true, true}));
}

}  // namespace
}  // namespace graphrun
