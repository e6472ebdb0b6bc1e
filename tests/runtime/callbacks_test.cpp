// The training callbacks one by one: the monitor and early stopping stop at the
// right epoch, keep-best writes best.ckpt on improvement only, the CSV logger's
// rows, and the training state a checkpoint carries.
#include <gtest/gtest.h>

#include <filesystem>

#include "runtime/train/callbacks.h"
#include "runtime/train/checkpoint.h"
#include "test_util.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  const fs::path dir = testing::fresh_temp_path("callbacks_" + name);
  fs::create_directories(dir);
  return dir.string();
}

EpochRecord record(int epoch, double loss, double val_loss) {
  return {epoch, {{"loss", loss}, {"val_loss", val_loss}}, 1.0, 10.0};
}

// Runs epochs 1.. with these val_loss values through `callbacks` until one stops; returns the epochs run.
int run_epochs(const std::vector<double>& val_losses, const std::vector<Callback*>& callbacks, TrainingState& state) {
  for (size_t i = 0; i < val_losses.size(); ++i) {
    state.epoch = static_cast<int>(i) + 1;
    state.improved = false;
    for (Callback* c : callbacks) c->on_epoch_end(record(state.epoch, 1.0, val_losses[i]), state);
    if (state.stop) return state.epoch;
  }
  return static_cast<int>(val_losses.size());
}

TEST(Callbacks, EarlyStoppingStopsAfterPatienceEpochsWithoutImprovement) {
  const std::string dir = fresh_dir("early");
  TrainLog log(dir + "/train.log", true, 10);
  MetricMonitor monitor("val_loss", 0.05);
  EarlyStopping stopping("val_loss", 2, log);
  TrainingState state;
  // Epoch 3 improves by less than min_delta: it does not count as an improvement.
  EXPECT_EQ(run_epochs({1.0, 0.8, 0.78, 0.9, 0.5}, {&monitor, &stopping}, state), 4);
  EXPECT_TRUE(state.stop);
  EXPECT_EQ(state.best_epoch, 2);
  EXPECT_DOUBLE_EQ(*state.best_value, 0.8);
  EXPECT_EQ(state.epochs_without_improvement, 2);
  EXPECT_NE(testing::file_text(dir + "/train.log")
                .find("early stopping: val_loss did not improve for 2 epochs (best 0.8000 at epoch 2)"),
            std::string::npos);
}

TEST(Callbacks, MonitorOfAnAccuracyWantsItHigherAndNamesAMissingMetric) {
  MetricMonitor accuracy("val_accuracy", 0);
  TrainingState state;
  EXPECT_THROW(accuracy.on_epoch_end(record(1, 1, 1), state), Error);  // no val_accuracy
  MetricMonitor loss("loss", 0);
  state.best_value = 0.5;
  loss.on_epoch_end(record(1, 0.7, 1), state);
  EXPECT_FALSE(state.improved);
  loss.on_epoch_end(record(2, 0.4, 1), state);
  EXPECT_TRUE(state.improved);
}

// A checkpoint of the loop's state alone.
CheckpointToWrite state_only(const TrainingState& state) {
  CheckpointToWrite checkpoint;
  checkpoint.message.set_version(1);
  state.save_to(checkpoint.message);
  return checkpoint;
}

TEST(Callbacks, KeepBestWritesBestCheckpointOnImprovementOnly) {
  const std::string dir = fresh_dir("keep_best");
  MetricMonitor monitor("val_loss", 0);
  int assembled = 0;
  ModelCheckpoint checkpoints(dir + "/last.ckpt", dir + "/best.ckpt", true, [&](const TrainingState& s) {
    ++assembled;
    return state_only(s);
  });
  TrainingState state;
  run_epochs({0.9, 0.7, 0.8, 0.75}, {&monitor, &checkpoints}, state);
  EXPECT_EQ(assembled, 4);
  EXPECT_EQ(read_checkpoint(dir + "/last.ckpt").epoch(), 4);
  EXPECT_EQ(read_checkpoint(dir + "/best.ckpt").epoch(), 2);
  EXPECT_EQ(read_checkpoint(dir + "/last.ckpt").best_epoch(), 2);

  // Without keep_best: last.ckpt only.
  const std::string plain = fresh_dir("no_keep_best");
  ModelCheckpoint last_only(plain + "/last.ckpt", plain + "/best.ckpt", false, state_only);
  TrainingState fresh;
  run_epochs({0.9, 0.7}, {&monitor, &last_only}, fresh);
  EXPECT_TRUE(fs::exists(plain + "/last.ckpt"));
  EXPECT_FALSE(fs::exists(plain + "/best.ckpt"));
}

TEST(Callbacks, CsvLoggerWritesHeaderAndOneRowPerEpochAndKeepsTheRowsInTheState) {
  const std::string dir = fresh_dir("csv");
  CSVLogger csv(dir + "/metrics.csv");
  TrainingState state;
  state.metrics_csv = {"1,2.000000,3.000000"};  // as restored from a checkpoint
  csv.on_epoch_end(record(2, 0.25, 0.5), state);
  EXPECT_EQ(testing::file_text(dir + "/metrics.csv"),
            "epoch,loss,val_loss\n1,2.000000,3.000000\n2,0.250000,0.500000\n");
  EXPECT_EQ(state.metrics_csv.size(), 2u);
}

TEST(Callbacks, TrainingStateRoundTripsThroughACheckpoint) {
  TrainingState state;
  state.epoch = 3;
  state.step = 42;
  state.best_value = 0.25;
  state.best_epoch = 2;
  state.epochs_without_improvement = 1;
  state.metrics_csv = {"a", "b"};
  pb::Checkpoint ck;
  state.save_to(ck);
  const TrainingState back = TrainingState::from(ck);
  EXPECT_EQ(back.epoch, 3);
  EXPECT_EQ(back.step, 42);
  EXPECT_EQ(back.best_value, 0.25);
  EXPECT_EQ(back.best_epoch, 2);
  EXPECT_EQ(back.epochs_without_improvement, 1);
  EXPECT_EQ(back.metrics_csv, state.metrics_csv);
  EXPECT_FALSE(TrainingState::from(pb::Checkpoint()).best_value.has_value());
}

}  // namespace
}  // namespace graphrun
