// graphrun profile: every node timed once per step with its recurrent path, the
// step accounted for, a trace with one event per node execution, and timing
// that changes no result.
#include "graphrun/profile.h"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <tuple>

#include "graphrun/graphrun.h"
#include "runtime/cli/format.h"
#include "runtime/exec/profile.h"
#include "runtime/train/step_driver.h"
#include "test_util.h"

namespace graphrun {
namespace {

const std::string kModel = std::string(GRAPHRUN_SOURCE_DIR) + "/tests/runtime/models/tiny_recurrent_paths.pbtxt";

ProfileOptions serial_options(int profiled_steps) {
  ProfileOptions options;
  options.warmup_steps = 1;
  options.steps = 2;
  options.profiled_steps = profiled_steps;
  options.threads = 1;  // nodes one after another: their times add up to the step
  return options;
}

const NodeProfile& node_named(const TrainingProfile& p, const std::string& name) {
  for (const NodeProfile& n : p.nodes)
    if (n.name == name) return n;
  throw std::runtime_error("no profile row for node " + name);
}

TEST(Profile, EveryNodeRunsOnceAStepWithItsPathAndTheRowsAddUpToTheStep) {
  const int steps = 3;
  const TrainingProfile p = profile_training(kModel, serial_options(steps));
  EXPECT_EQ(p.batch_size, 8);
  EXPECT_GT(p.step_seconds, 0);
  std::set<std::string> forward;
  for (const NodeSummary& row : Model::load(kModel).summary().nodes) forward.insert(row.name);
  std::set<std::string> profiled_forward;
  bool backward = false;
  for (const NodeProfile& n : p.nodes) {
    EXPECT_EQ(n.runs, steps) << n.name;
    if (n.phase == "forward") profiled_forward.insert(n.name);
    backward = backward || n.phase == "backward";
  }
  EXPECT_EQ(profiled_forward, forward);  // every node of the model, none twice
  EXPECT_TRUE(backward);
  EXPECT_EQ(p.nodes.back().phase, "update");
  EXPECT_EQ(p.nodes.back().op, "Adam");

  EXPECT_NE(node_named(p, "masked").note.find("step-wise: mask_zero"), std::string::npos);
  EXPECT_NE(node_named(p, "fused").note.find("fused oneDNN"), std::string::npos);
  for (const NodeProfile& n : p.nodes) {
    if (n.op != "LSTMGrad") continue;
    EXPECT_FALSE(n.note.empty()) << n.name << ": the backward node names its path too";
  }

  // Serial: the rows cover the step but for the executor's work between nodes.
  double rows = 0;
  for (const NodeProfile& n : p.nodes) rows += n.seconds;
  EXPECT_LE(rows, p.profiled_step_seconds * 1.001);
  EXPECT_GT(rows, p.profiled_step_seconds * 0.3);
  EXPECT_GT(p.primitive_seconds, 0);
  EXPECT_LT(p.primitive_seconds, rows);
}

TEST(Profile, TheTraceHasOneEventPerNodeExecution) {
  const std::string trace = testing::fresh_temp_path("profile_trace.json");
  ProfileOptions options = serial_options(2);
  options.trace_path = trace;
  const TrainingProfile p = profile_training(kModel, options);
  const std::string text = testing::file_text(trace);
  std::filesystem::remove(trace);
  int64_t executions = 0;
  for (const NodeProfile& n : p.nodes) executions += n.runs;
  size_t events = 0;
  for (size_t at = text.find("\"ph\": \"X\""); at != std::string::npos; at = text.find("\"ph\": \"X\"", at + 1))
    ++events;
  EXPECT_EQ(static_cast<int64_t>(events), executions);
  EXPECT_EQ(text.rfind("{\"displayTimeUnit\": \"ms\", \"traceEvents\": [", 0), 0u);
  EXPECT_EQ(text.substr(text.size() - 3), "]}\n");
}

TEST(Profile, TimingChangesNoResult) {
  TrainOptions options;
  options.quiet = true;
  StepDriver plain(kModel, options), profiled(kModel, options);
  ExecutionProfile profile;
  for (int i = 0; i < 3; ++i) {
    plain.step();
    set_execution_profile(&profile);
    profiled.step();
    set_execution_profile(nullptr);
  }
  EXPECT_FALSE(profile.take().empty());
  for (size_t i = 0; i < plain.setup().params.size(); ++i) {
    const Tensor& a = plain.setup().params[i];
    const Tensor& b = profiled.setup().params[i];
    ASSERT_EQ(a.num_bytes(), b.num_bytes());
    EXPECT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.num_bytes()), 0) << "parameter " << i;
  }
}

TEST(Profile, TheCommandLinePrintsEveryNodeAndTheStep) {
  const testing::CliResult r =
      testing::cli("profile " + kModel + " --steps 1 --warmup 0 --profiled-steps 1 --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* expected : {"tiny_recurrent_paths: batch 8, step", "page faults", "masked", "fused oneDNN LSTM",
                               "LSTMGrad", "update", "(between nodes)", "inside oneDNN primitives"})
    EXPECT_NE(r.output.find(expected), std::string::npos) << expected << " in\n" << r.output;
  const testing::CliResult bad = testing::cli("profile " + kModel + " --steps 0");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
}

// A step of a few microseconds is printed in us: in ms every node of it read 0.000.
TEST(Profile, TheTableUsesMicrosecondsForASubMillisecondStep) {
  TrainingProfile p;
  p.model = "m";
  p.batch_size = 1;
  p.steps = p.profiled_steps = 10;
  p.profiled_step_seconds = 6e-6;
  p.primitive_seconds = 2.5e-6;
  p.nodes = {{"logits", "Gemm", "forward", "", 3e-6, 2.5e-6, 10}};
  for (const auto& [step, unit, node_time] :
       {std::tuple{5e-6, "us", "3.000"}, std::tuple{5e-3, "ms", "0.003"}}) {
    p.step_seconds = step;
    const std::string text = format_profile(p);
    EXPECT_NE(text.find(fmt::format("step {:.2f} {}", step * (unit == std::string("us") ? 1e6 : 1e3), unit)),
              std::string::npos)
        << text;
    EXPECT_NE(text.find(fmt::format("oneDNN {}", unit)), std::string::npos) << text;
    EXPECT_NE(text.find(node_time), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace graphrun
