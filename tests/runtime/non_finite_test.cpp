// A NaN or infinity in training stops it with one line: the step, what was not
// finite, the first value (in plan order) that was, and the last checkpoint that
// exists, which --resume continues from.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "graphrun/profile.h"
#include "graphrun/train.h"
#include "test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;

// Linear regression y ~ x * w, fed the whole data set as one batch per epoch.
// `prediction` is the node computing "pred" from "linear"; `learning_rate` is SGD's.
std::string regression_model(const std::string& prediction, const std::string& learning_rate) {
  return R"(version: 1
name: "regression"
input { name: "x" shape: [-1, 1] }
input { name: "y" shape: [-1, 1] }
parameter { name: "w" shape: [1, 1] init { constant { value: 1 } } }
node { name: "linear" op: "MatMul" input: ["x", "w"] }
)" + prediction +
         R"(
node { name: "diff" op: "Sub" input: ["pred", "y"] }
node { name: "sq" op: "Mul" input: ["diff", "diff"] }
node { name: "mse" op: "ReduceMean" input: "sq" }
loss { value: "mse" }
train {
  data { train: "data.csv" feed { input: "x" column: "x" } feed { input: "y" column: "y" } }
  batch_size: 3
  shuffle: false
  optimizer { sgd { learning_rate: )" +
         learning_rate + R"( } }
}
)";
}

// Log of x - 2: NaN for x = 1.
const std::string kNaNLossModel = regression_model(
    "node { name: \"shift\" op: \"Sub\" input: [\"linear\", \"two\"] }\n"
    "node { name: \"two\" op: \"Constant\" value { float_data: 2 } }\n"
    "node { name: \"pred\" op: \"Log\" input: \"shift\" }",
    "0.01");
// sqrt(x - 1) is 0 at x = 1, where its derivative is infinite: a finite loss, an infinite gradient.
const std::string kInfiniteGradientModel = regression_model(
    "node { name: \"shift\" op: \"Sub\" input: [\"linear\", \"one\"] }\n"
    "node { name: \"one\" op: \"Constant\" value { float_data: 1 } }\n"
    "node { name: \"pred\" op: \"Sqrt\" input: \"shift\" }",
    "0.01");

class NonFinite : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_temp_path(std::string("non_finite_") +
                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    std::ofstream(dir_ / "data.csv") << "x,y\n1,2\n2,1\n3,5\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write_model(const std::string& text) const {
    std::ofstream(dir_ / "model.pbtxt") << text;
    return (dir_ / "model.pbtxt").string();
  }
  std::string run_dir() const { return (dir_ / "run").string(); }
  testing::CliResult train_cli(const std::string& model, int epochs, const std::string& more = "") const {
    return testing::cli("train " + model + " --run-dir " + run_dir() + " --no-progress --epochs " +
                        std::to_string(epochs) + more);
  }
  fs::path dir_;
};

// The last line of `output`.
std::string last_line(const std::string& output) {
  const size_t end = output.size() - (output.ends_with('\n') ? 1 : 0);
  const size_t start = output.rfind('\n', end - 1);
  return output.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1));
}

TEST_F(NonFinite, ANaNInTheFirstStepNamesItsNodeAndThatNoCheckpointExists) {
  const std::string model = write_model(kNaNLossModel);
  const testing::CliResult r = train_cli(model, 2);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(last_line(r.output),
            "graphrun: error: epoch 1 step 0: the loss is nan; the first NaN or infinity: node "
            "'pred' (Log) at " +
                model + ":9, output 'pred'; no checkpoint was written yet (" + run_dir() + " can start a new run)");
  EXPECT_FALSE(fs::exists(run_dir() + "/last.ckpt"));
}

TEST_F(NonFinite, ADivergingRunNamesTheOverflowingNodeAndTheLastCheckpoint) {
  // Epoch 1's step sends w to about 3e30; epoch 2's squares overflow.
  const std::string model =
      write_model(regression_model("node { name: \"pred\" op: \"Identity\" input: \"linear\" }", "1e30"));
  const testing::CliResult r = train_cli(model, 3);
  EXPECT_EQ(r.exit_code, 1);
  const std::string checkpoint = run_dir() + "/last.ckpt";
  EXPECT_EQ(last_line(r.output),
            "graphrun: error: epoch 2 step 1: the loss is inf; the first NaN or infinity: node "
            "'sq' (Mul) at " +
                model + ":9, output 'sq'; the last checkpoint is " + checkpoint + " (--resume --run-dir " + run_dir() +
                " continues from it)");
  ASSERT_TRUE(fs::exists(checkpoint));
  // The run is as epoch 1 left it: resuming reaches the same step and stops the same way.
  const testing::CliResult resumed = train_cli(model, 3, " --resume");
  EXPECT_EQ(resumed.exit_code, 1);
  EXPECT_EQ(last_line(resumed.output), last_line(r.output));
}

TEST_F(NonFinite, AnInfiniteGradientUnderAFiniteLossNamesTheParameterAndTheGradientNode) {
  const std::string model = write_model(kInfiniteGradientModel);
  const testing::CliResult r = train_cli(model, 1);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(last_line(r.output),
            "graphrun: error: epoch 1 step 0: the gradient of 'w' is not finite; the first NaN or infinity: node "
            "'grad/pred/SqrtGrad_8' (SqrtGrad) (built by autodiff), output 'grad/pred/SqrtGrad_8'; no checkpoint was "
            "written yet (" +
                run_dir() + " can start a new run)");
}

TEST_F(NonFinite, ANaNInTheDataNamesTheInput) {
  std::ofstream(dir_ / "data.csv") << "x,y\n1,2\nnan,1\n3,5\n";
  const std::string model =
      write_model(regression_model("node { name: \"pred\" op: \"Identity\" input: \"linear\" }", "0.01"));
  const testing::CliResult r = train_cli(model, 1);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("the first NaN or infinity: input 'x' (the batch's data)"), std::string::npos) << r.output;
}

// The timed steps of profile and bench are training steps: they stop where training
// would, before the update, the loss checked first.
TEST_F(NonFinite, AProfiledStepStopsAtANonFiniteLossOrGradientAsTrainingDoes) {
  const auto profile_error = [](const std::string& model) -> std::string {
    try {
      profile_training(model, ProfileOptions{});
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(profile_error(write_model(kNaNLossModel)), "step 0: the loss is nan");
  EXPECT_EQ(profile_error(write_model(kInfiniteGradientModel)), "step 0: the gradient of 'w' is not finite");
}

}  // namespace
}  // namespace graphrun
