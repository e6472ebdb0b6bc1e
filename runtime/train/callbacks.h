// What the training loop calls at the end of each batch and epoch, in Keras'
// vocabulary: a progress bar, the run's log, a CSV logger, the monitored metric,
// model checkpoints (last, and best with keep_best) and early stopping. The loop
// calls them in the order it holds them; the order is part of the behaviour
// (metrics.csv is written before the checkpoint that stores its rows).
#pragma once

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graphrun.pb.h"
#include "graphrun/train.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/metrics.h"

namespace graphrun {

// What the loop and its callbacks share. Checkpoints store it, so a resumed run
// continues where the interrupted one stopped.
struct TrainingState {
  int epoch = 0;     // epochs completed
  int64_t step = 0;  // optimizer steps completed
  // The monitored metric (train.keep_best, else train.early_stopping.monitor).
  std::optional<double> best_value;
  int best_epoch = 0;
  int epochs_without_improvement = 0;
  bool improved = false;                 // the epoch just ended set best_value
  std::vector<std::string> metrics_csv;  // metrics.csv rows so far
  bool stop = false;                     // a callback ends training after this epoch

  void save_to(pb::Checkpoint& checkpoint) const;
  static TrainingState from(const pb::Checkpoint& checkpoint);
};

class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_epoch_begin(int /*epoch*/, int64_t /*examples*/) {}
  virtual void on_batch_end(int64_t /*examples_done*/, const MetricTracker& /*tracker*/) {}
  virtual void on_epoch_end(const EpochRecord& /*record*/, TrainingState& /*state*/) {}
};

// A one-line progress bar on a terminal, redrawn at most every 100 ms; cleared at the epoch's end.
class ProgressBar : public Callback {
 public:
  ProgressBar(bool accuracy, int epochs) : accuracy_(accuracy), epochs_(epochs) {}
  void on_epoch_begin(int epoch, int64_t examples) override;
  void on_batch_end(int64_t examples_done, const MetricTracker& tracker) override;
  void on_epoch_end(const EpochRecord& record, TrainingState& state) override;

 private:
  using Clock = std::chrono::steady_clock;
  void draw(int64_t done, double loss, double accuracy, bool final);
  bool accuracy_;
  int epoch_ = 0, epochs_;
  int64_t total_ = 0;
  double loss_ = 0, acc_ = 0;
  Clock::time_point start_, last_{};
};

// The run's log: train.log, and the console unless quiet; one line per epoch.
class TrainLog : public Callback {
 public:
  TrainLog(const std::string& path, bool quiet, int epochs);
  void say(const std::string& line);
  void on_epoch_end(const EpochRecord& record, TrainingState& state) override;

 private:
  std::ofstream file_;
  bool quiet_;
  int epochs_;
};

// metrics.csv: a header and one row per epoch (timings stay in train.log, so
// equal runs give equal files). Rewritten whole each epoch from the rows in the
// state, so a resumed run restores it exactly.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string path) : path_(std::move(path)) {}
  void on_epoch_end(const EpochRecord& record, TrainingState& state) override;

 private:
  std::string path_;
};

// Tracks the monitored metric: its best value and epoch, and the epochs since it
// last improved by more than min_delta (lower is better for losses). Shared by
// ModelCheckpoint's keep-best and EarlyStopping.
class MetricMonitor : public Callback {
 public:
  MetricMonitor(std::string monitor, double min_delta) : monitor_(std::move(monitor)), min_delta_(min_delta) {}
  void on_epoch_end(const EpochRecord& record, TrainingState& state) override;

 private:
  std::string monitor_;
  double min_delta_;
};

// Writes the epoch's checkpoint to last.ckpt, and to best.ckpt when keep_best is
// set and the monitored metric improved.
class ModelCheckpoint : public Callback {
 public:
  using Assemble = std::function<CheckpointToWrite(const TrainingState&)>;
  ModelCheckpoint(std::string last_path, std::string best_path, bool keep_best, Assemble assemble)
      : last_path_(std::move(last_path)),
        best_path_(std::move(best_path)),
        keep_best_(keep_best),
        assemble_(std::move(assemble)) {}
  void on_epoch_end(const EpochRecord& record, TrainingState& state) override;

 private:
  std::string last_path_, best_path_;
  bool keep_best_;
  Assemble assemble_;
};

// Stops training when the monitored metric has not improved for `patience` epochs.
class EarlyStopping : public Callback {
 public:
  EarlyStopping(std::string monitor, int patience, TrainLog& log)
      : monitor_(std::move(monitor)), patience_(patience), log_(log) {}
  void on_epoch_end(const EpochRecord& record, TrainingState& state) override;

 private:
  std::string monitor_;
  int patience_;
  TrainLog& log_;
};

}  // namespace graphrun
