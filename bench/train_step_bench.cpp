// One training step (forward, loss, gradients, Adam) of the movie-review LSTM
// shape (frozen embedding [10000, 100] -> LSTM(100) over T=40 -> Dense(1) ->
// sigmoid cross-entropy) and batch-1 inference, timed. bench/compare_torch.sh
// runs this and the same model in PyTorch in one go.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "autodiff/autodiff.h"
#include "graph/loader.h"
#include "ops/registry.h"
#include "runtime/exec/graph_runner.h"
#include "runtime/initializers.h"
#include "runtime/train/optimizer.h"

namespace {

const char* kModel = R"(
version: 1
name: "movie_lstm_bench"
seed: 1
input { name: "tokens" dtype: INT64 shape: [-1, 40] }
input { name: "labels" shape: [-1, 1] }
parameter { name: "emb" shape: [10000, 100] init { uniform { low: -0.5 high: 0.5 } } trainable: false }
parameter { name: "W" shape: [100, 400] init { glorot_uniform {} } }
parameter { name: "R" shape: [100, 400] init { orthogonal {} } }
parameter { name: "B" shape: [400] init { unit_forget_bias {} } }
parameter { name: "wd" shape: [100, 1] init { glorot_uniform {} } }
parameter { name: "bd" shape: [1] }
node { name: "x" op: "Gather" input: ["emb", "tokens"] }
node { name: "lstm" op: "LSTM" input: ["x", "W", "R", "B"] output: ["y", "h", "c", "ws"] recurrent { hidden_size: 100 } }
node { name: "logits" op: "Gemm" input: ["y", "wd", "bd"] }
node { name: "loss" op: "SigmoidCrossEntropyWithLogits" input: ["logits", "labels"] }
node { name: "probs" op: "Sigmoid" input: "logits" }
output: "probs"
loss { value: "loss" }
)";

using Clock = std::chrono::steady_clock;

}  // namespace

int main(int argc, char** argv) {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 1024;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 20;
  using namespace graphrun;
  ModelLocations locations;
  Graph g = build_graph(parse_model_text(kModel, "bench", &locations), builtin_ops(), &locations);
  const GradientResult grads = add_gradients(g, builtin_ops());
  std::vector<Tensor> params;
  for (const ParameterDef& p : g.parameters) params.push_back(initialize_parameter(p.def, 1, ""));
  std::vector<size_t> trainable;
  std::vector<Dims> shapes;
  std::vector<ValueId> fetches = {grads.loss};
  for (size_t i = 0; i < g.parameters.size(); ++i)
    if (grads.gradients.count(g.parameters[i].value)) {
      trainable.push_back(i);
      shapes.push_back(params[i].dims());
      fetches.push_back(grads.gradients.at(g.parameters[i].value));
    }
  Optimizer adam(OptimizerConfig{}, shapes);
  const GraphRunner runner(std::make_shared<const Graph>(g), ExecutionPolicy{});

  std::mt19937 rng(1);
  auto batch_of = [&](int64_t n) {
    Tensor tokens(DType::i64, {n, 40}), labels(DType::f32, {n, 1});
    std::uniform_int_distribution<int64_t> word(1, 9999);
    for (int64_t& t : tokens.values<int64_t>()) t = word(rng);
    for (float& l : labels.values<float>()) l = static_cast<float>(rng() % 2);
    return std::vector<Tensor>{tokens, labels};
  };
  const std::vector<Tensor> feeds = batch_of(batch);
  auto step = [&] {
    const std::vector<Tensor> out = runner.run(feeds, params, fetches, RunContext{true, 0});
    std::vector<Tensor> p;
    std::vector<Gradient> gr;
    for (size_t k = 0; k < trainable.size(); ++k) {
      p.push_back(params[trainable[k]]);
      gr.push_back(out[k + 1]);
    }
    adam.apply(p, gr);
  };
  step();  // compile the plan
  auto start = Clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double train_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count() / steps;

  const std::vector<Tensor> one = batch_of(1);
  const ValueId probs = *g.find_value("probs");
  runner.run(one, params, {probs});
  start = Clock::now();
  const int infer_runs = 500;
  for (int i = 0; i < infer_runs; ++i) runner.run(one, params, {probs});
  const double infer_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count() / infer_runs;
  fmt::print("graphrun train_step_ms {:.2f} samples_per_s {:.0f} infer_batch1_ms {:.3f}\n", train_ms,
             double(batch) * 1000.0 / train_ms, infer_ms);
  return 0;
}
