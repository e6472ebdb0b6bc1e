// Sessions end to end: a hand-written model run through plans and the TBB
// executor equals the same graph interpreted node by node with the reference
// kernels; one plan run from 4 threads at once equals a serial run.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "graph/graph_algo.h"
#include "graph/loader.h"
#include "graphrun/graphrun.h"
#include "graphrun/npy.h"
#include "graphrun/train.h"
#include "ops/reference/reference.h"
#include "ops/registry.h"
#include "test_util.h"

namespace graphrun {
namespace {

using testing::cli;
using testing::CliResult;

const std::string kSource = GRAPHRUN_SOURCE_DIR;

// Interprets the model with reference kernels, using the session's parameters.
std::map<std::string, Tensor> reference_run(const std::string& model_path, const Session& session,
                                            const std::map<std::string, Tensor>& feeds) {
  Graph g = load_graph(model_path, builtin_ops());
  std::map<ValueId, Tensor> values;
  for (ValueId in : g.inputs) values[in] = feeds.at(g.value(in).name);
  for (const ParameterDef& p : g.parameters) values[p.value] = session.parameter(g.value(p.value).name);
  for (NodeId id : topological_order(g)) {
    const Node& n = g.node(id);
    std::vector<Tensor> inputs;
    std::vector<TensorType> in_types;
    for (ValueId in : n.inputs) {
      inputs.push_back(values.at(in));
      in_types.push_back({values.at(in).dtype(), values.at(in).dims()});
    }
    const auto out_types = infer_node_types(builtin_ops().get(n.op()).schema, n, in_types);
    const auto outputs = (*reference::find(n.op()))(n.def, inputs, out_types, RunContext{});
    for (size_t k = 0; k < outputs.size(); ++k) values[n.outputs[k]] = outputs[k];
  }
  std::map<std::string, Tensor> by_name;
  for (auto& [id, t] : values) by_name[g.value(id).name] = t;
  return by_name;
}

void expect_near(const Tensor& a, const Tensor& b, float tol) {
  ASSERT_EQ(a.dims(), b.dims());
  for (int64_t i = 0; i < a.num_elements(); ++i) EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], tol) << i;
}

Tensor random_batch(int64_t rows, int64_t cols, uint32_t seed) {
  return testing::random_matrix(rows, cols, seed, -2.f, 2.f);
}

TEST(Session, MlpMatchesReferenceForSeveralBatchSizes) {
  const std::string path = kSource + "/examples/mlp/mlp.pbtxt";
  Session session(Model::load(path));
  for (int64_t batch : {1, 3, 64}) {
    const std::map<std::string, Tensor> feeds = {{"x", random_batch(batch, 4, static_cast<uint32_t>(batch))}};
    const Tensor probs = session.run(feeds)[0];
    const auto ref = reference_run(path, session, feeds);
    expect_near(probs, ref.at("probs"), 1e-5f);
    for (int64_t r = 0; r < batch; ++r) {  // rows of a softmax sum to 1
      float sum = 0;
      for (int c = 0; c < 3; ++c) sum += probs.data<float>()[r * 3 + c];
      EXPECT_NEAR(sum, 1.f, 1e-5f);
    }
  }
}

TEST(Session, FetchesIntermediatesInputsAndParameters) {
  Session session(Model::load(kSource + "/examples/mlp/mlp.pbtxt"));
  const Tensor x = random_batch(2, 4, 9);
  const auto out = session.run({{"x", x}}, {"h", "x", "w1", "h"});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].dims(), (Dims{2, 8}));
  EXPECT_EQ(out[1].raw_data(), x.raw_data());
  EXPECT_EQ(out[2].dims(), (Dims{4, 8}));
  for (float v : out[0].values<float>()) EXPECT_GE(v, 0.f);  // relu output
}

TEST(Session, BadFeedsAreOneLineErrors) {
  Session session(Model::load(kSource + "/examples/mlp/mlp.pbtxt"));
  auto message = [&](const std::map<std::string, Tensor>& feeds, std::vector<std::string> fetches = {}) {
    try {
      session.run(feeds, fetches);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({}).find("input 'x' (float32[?,4]) was not fed"), std::string::npos);
  EXPECT_NE(message({{"x", random_batch(2, 5, 1)}}).find("fed float32[2,5], the model declares float32[?,4]"),
            std::string::npos);
  EXPECT_NE(message({{"x", Tensor(DType::i64, {2, 4})}}).find("int64[2,4]"), std::string::npos);
  EXPECT_NE(message({{"z", random_batch(2, 4, 1)}}).find("no input of that name"), std::string::npos);
  EXPECT_NE(message({{"x", random_batch(2, 4, 1)}}, {"nope"}).find("cannot fetch 'nope'"), std::string::npos);
}

// Two independent towers joined at the end: work the executor can overlap.
const char* kTwoTowers = R"(
version: 1
name: "towers"
seed: 3
input { name: "x" shape: [-1, 64] }
parameter { name: "wa" shape: [64, 128] init { glorot_uniform {} } }
parameter { name: "wb" shape: [64, 128] init { glorot_uniform {} } }
parameter { name: "wc" shape: [128, 32] init { glorot_uniform {} } }
node { name: "a1" op: "MatMul" input: ["x", "wa"] }
node { name: "a2" op: "Tanh" input: "a1" }
node { name: "b1" op: "MatMul" input: ["x", "wb"] }
node { name: "b2" op: "Sigmoid" input: "b1" }
node { name: "ab" op: "Mul" input: ["a2", "b2"] }
node { name: "y" op: "MatMul" input: ["ab", "wc"] }
node { name: "s" op: "ReduceSum" input: "y" axes: [1] keepdims: false }
output: "s"
)";

TEST(Session, OnePlanFromFourThreadsEqualsSerial) {
  const Model model = Model::parse(kTwoTowers, "towers.pbtxt");
  Session serial(model, SessionOptions{1, 0});
  Session parallel(model, SessionOptions{2, 0});
  const Tensor x = random_batch(32, 64, 5);
  const Tensor expected = serial.run({{"x", x}})[0];
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const Tensor got = parallel.run({{"x", x}})[0];
        for (int64_t k = 0; k < got.num_elements(); ++k)
          if (got.data<float>()[k] != expected.data<float>()[k]) ++mismatches[static_cast<size_t>(t)];
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[static_cast<size_t>(t)], 0) << "thread " << t;
}

// The CLI: run writes the outputs as .npy; errors are one line with exit code 1.
TEST(Cli, RunWritesOutputsMatchingTheSession) {
  const std::filesystem::path dir = testing::fresh_temp_path("cli_run");
  std::filesystem::create_directories(dir);
  const Tensor x = random_batch(5, 4, 11);
  write_npy((dir / "x.npy").string(), x);
  const std::string model = kSource + "/examples/mlp/mlp.pbtxt";
  const CliResult r = cli("run " + model + " --input x=" + (dir / "x.npy").string() + " --output " + dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Session session(Model::load(model));
  expect_near(read_npy((dir / "probs.npy").string()), session.run({{"x", x}})[0], 1e-6f);
}

TEST(Cli, RunWithACheckpointUsesTheTrainedParameters) {
  const std::filesystem::path dir = testing::fresh_temp_path("cli_ckpt");
  const std::string model = kSource + "/tests/runtime/models/tiny_text.pbtxt";
  TrainOptions options;
  options.run_dir = (dir / "run").string();
  options.quiet = true;
  options.epochs = 2;
  train(model, options);
  std::vector<int64_t> ids(2 * 12, 0);
  for (int64_t t = 8; t < 12; ++t) ids[static_cast<size_t>(t)] = ids[static_cast<size_t>(12 + t)] = t * 3;
  const Tensor tokens = Tensor::from_ints({2, 12}, ids);
  write_npy((dir / "tokens.npy").string(), tokens);
  const CliResult r = cli("run " + model + " --checkpoint " + options.run_dir +
                          " -i tokens=" + (dir / "tokens.npy").string() + " -o " + dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const Tensor trained = load_trained(model, options.run_dir).run({{"tokens", tokens}}, {"probs"})[0];
  expect_near(read_npy((dir / "probs.npy").string()), trained, 1e-6f);
  EXPECT_EQ(
      cli("run " + model + " --checkpoint " + (dir / "nope").string() + " -i tokens=" + (dir / "tokens.npy").string())
          .exit_code,
      1);
}

TEST(Cli, CheckPrintsParameterTotals) {
  const CliResult r = cli("check " + kSource + "/examples/mlp/mlp.pbtxt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Total params: 67"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Trainable params: 67"), std::string::npos) << r.output;
}

TEST(Cli, ErrorsAreOneLineWithNonZeroExit) {
  const std::string bad = testing::fresh_temp_path("bad.pbtxt");
  std::ofstream(bad)
      << "version: 1\ninput { name: \"x\" shape: [-1, 4] }\nnode { name: \"h\" op: \"Relu\" input: \"q\" }\n";
  CliResult r = cli("check " + bad);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: " + bad +
                          ":3:8: node 'h' (Relu): input 'q' is not defined (not an input, parameter or node output)\n");
  r = cli("run " + kSource + "/examples/mlp/mlp.pbtxt --input x=/nonexistent.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("/nonexistent.npy"), std::string::npos);
  EXPECT_EQ(cli("frobnicate").exit_code, 2);
}

TEST(Session, ThreadCountsOutOfRangeAreErrors) {
  const Model model = Model::load(kSource + "/examples/mlp/mlp.pbtxt");
  EXPECT_NO_THROW(Session(model, SessionOptions{kMaxThreads, kMaxThreads}));
  for (const SessionOptions& options : {SessionOptions{-1, 0}, SessionOptions{0, 100000}}) {
    try {
      Session session(model, options);
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("is out of range (0 = automatic, at most 256)"), std::string::npos);
    }
  }
}

TEST(Cli, ThreadAndCountOptionsOutOfRangeAreUsageErrors) {
  const std::string mlp = kSource + "/examples/mlp/mlp.pbtxt";
  const std::string hint = "Run with --help for more information.\n";
  for (const char* option : {"--threads", "--intra-threads"}) {
    CliResult r = cli("run " + mlp + " " + option + " 100000");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.output, std::string(option) + ": Value 100000 not in range 0 to 256\n" + hint);
    r = cli("train " + mlp + " " + option + " -1");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_EQ(r.output, std::string(option) + ": Value -1 not in range 0 to 256\n" + hint);
  }
  for (const char* option : {"--batch-size 0", "--batch-size -3", "--epochs 0", "--epochs -1"}) {
    const CliResult r = cli("train " + mlp + " " + option);
    const std::string name = std::string(option).substr(0, std::string(option).find(' '));
    const std::string value = std::string(option).substr(name.size() + 1);
    EXPECT_EQ(r.exit_code, 2) << option;
    EXPECT_EQ(r.output, name + ": Value " + value + " is not a positive integer\n" + hint);
  }
}

TEST(Cli, HostileSizesAreOneLineErrors) {
  // A parameter whose element count wraps int64 to 12.
  const std::string model = testing::fresh_temp_path("huge_param.pbtxt");
  std::ofstream(model) << "version: 1\ninput { name: \"x\" shape: [-1, 4] }\n"
                          "parameter { name: \"w\" shape: [4611686018427387907, 4] }\n"
                          "node { name: \"y\" op: \"ReduceSum\" input: \"w\" }\noutput: \"y\"\n";
  for (const char* command : {"check ", "run "}) {
    const CliResult r = cli(command + model);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.output, "graphrun: error: " + model +
                            ":3:13: parameter 'w': shape [4611686018427387907,4] has more than 2^40 elements\n");
  }
  // A 176-byte .npy whose header declares the same shape.
  const std::string npy = testing::fresh_temp_path("huge.npy");
  testing::write_raw_npy(npy, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387907, 4), }", 48);
  CliResult r = cli("run " + kSource + "/examples/mlp/mlp.pbtxt -i x=" + npy);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: " + npy + ": shape [4611686018427387907,4] has more than 2^40 elements\n");
  // A directory as the model.
  const std::string dir = testing::process_temp_dir().string();
  r = cli("check " + dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "graphrun: error: " + dir + ": is a directory, not a model file\n");
  std::filesystem::remove(model);
  std::filesystem::remove(npy);
}

}  // namespace
}  // namespace graphrun

namespace graphrun {
namespace {

TEST(Docs, OpReferenceIsUpToDate) {
  std::ifstream in(kSource + "/docs/ops.md");
  const std::string committed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(committed, op_reference_markdown()) << "regenerate with: build/graphrun ops > docs/ops.md";
}

}  // namespace
}  // namespace graphrun
