// Measures the executor's threading policy (inter-op TBB threads x intra-op
// OpenMP threads) on graphs with two independent matmul towers, from tiny to
// large, and on a chain. The default policy in runtime/executor.cpp comes from
// these numbers; run: build/bench/threading_bench
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "graphrun/graphrun.h"

namespace {

// `branches` independent towers of {MatMul, Tanh} x depth, summed at the end
// (one branch: a plain chain, nothing to overlap).
std::string towers(int width, int depth, int branches) {
  std::string m =
      fmt::format("version: 1\nname: \"towers\"\nseed: 1\ninput {{ name: \"x\" shape: [-1, {0}] }}\n", width);
  const std::vector<std::string> names = {"a", "b"};
  for (int branch = 0; branch < branches; ++branch) {
    const std::string& t = names[static_cast<size_t>(branch)];
    std::string prev = "x";
    for (int d = 0; d < depth; ++d) {
      m += fmt::format("parameter {{ name: \"{0}w{1}\" shape: [{2}, {2}] init {{ glorot_uniform {{}} }} }}\n", t, d,
                       width);
      m += fmt::format("node {{ name: \"{0}m{1}\" op: \"MatMul\" input: [\"{2}\", \"{0}w{1}\"] }}\n", t, d, prev);
      m += fmt::format("node {{ name: \"{0}t{1}\" op: \"Tanh\" input: \"{0}m{1}\" }}\n", t, d);
      prev = fmt::format("{}t{}", t, d);
    }
  }
  if (branches == 2)
    m += fmt::format("node {{ name: \"y\" op: \"Add\" input: [\"at{0}\", \"bt{0}\"] }}\n", depth - 1);
  else
    m += fmt::format("node {{ name: \"y\" op: \"Identity\" input: \"at{0}\" }}\n", depth - 1);
  return m + "output: \"y\"\n";
}

double time_run(const graphrun::Session& session, const graphrun::Tensor& x, int repeats) {
  session.run({{"x", x}});  // compile the plan, warm caches
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) session.run({{"x", x}});
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / repeats;
}

}  // namespace

// Each policy runs in its own process (bench/threading.sh): TBB workers and
// OpenMP teams left over from one policy would skew the next one's numbers.
int main(int argc, char** argv) {
  if (argc != 4) {
    fmt::print(stderr, "usage: threading_bench BRANCHES(1|2) INTER_OP INTRA_OP\n");
    return 2;
  }
  const int branches = std::atoi(argv[1]);
  const graphrun::SessionOptions policy{std::atoi(argv[2]), std::atoi(argv[3])};
  for (int width : {8, 64, 256, 512, 1024, 2048}) {
    const graphrun::Model model = graphrun::Model::parse(towers(width, 4, branches), "towers");
    graphrun::Tensor x(graphrun::DType::f32, {width, width});
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1, 1);
    for (float& v : x.values<float>()) v = dist(rng);
    const int repeats = width <= 64 ? 2000 : (width <= 512 ? 100 : 5);
    fmt::print("{:>10.1f}", time_run(graphrun::Session(model, policy), x, repeats));
  }
  fmt::print("\n");
  return 0;
}
