#include "runtime/train/callbacks.h"

#include <fmt/format.h>

#include <iostream>

#include "runtime/train/checkpoint.h"
#include "runtime/train/run_dir.h"

namespace graphrun {

void TrainingState::save_to(pb::Checkpoint& checkpoint) const {
  checkpoint.set_epoch(epoch);
  checkpoint.set_step(step);
  if (best_value) checkpoint.set_best_value(*best_value);
  checkpoint.set_best_epoch(best_epoch);
  checkpoint.set_epochs_without_improvement(epochs_without_improvement);
  for (const std::string& row : metrics_csv) checkpoint.add_metrics_csv(row);
}

TrainingState TrainingState::from(const pb::Checkpoint& checkpoint) {
  TrainingState s;
  s.epoch = checkpoint.epoch();
  s.step = checkpoint.step();
  if (checkpoint.has_best_value()) s.best_value = checkpoint.best_value();
  s.best_epoch = checkpoint.best_epoch();
  s.epochs_without_improvement = checkpoint.epochs_without_improvement();
  s.metrics_csv.assign(checkpoint.metrics_csv().begin(), checkpoint.metrics_csv().end());
  return s;
}

void ProgressBar::on_epoch_begin(int epoch, int64_t examples) {
  epoch_ = epoch;
  total_ = examples;
  start_ = Clock::now();
  last_ = {};
}

void ProgressBar::on_batch_end(int64_t examples_done, const MetricTracker& tracker) {
  loss_ = tracker.loss();
  acc_ = tracker.accuracy();
  draw(examples_done, loss_, acc_, false);
}

void ProgressBar::on_epoch_end(const EpochRecord&, TrainingState&) { draw(total_, loss_, acc_, true); }

void ProgressBar::draw(int64_t done, double loss, double accuracy, bool final) {
  const auto now = Clock::now();
  if (!final && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? double(done) / secs : 0;
  const double eta = rate > 0 ? double(total_ - done) / rate : 0;
  const int width = 24, filled = total_ ? static_cast<int>(width * done / total_) : width;
  std::cerr << fmt::format("\repoch {}/{} [{}{}] {}/{}  ETA {:.1f}s  {:.0f} samples/s  loss {:.4f}  ", epoch_, epochs_,
                           std::string(static_cast<size_t>(filled), '='),
                           std::string(static_cast<size_t>(width - filled), ' '), done, total_, eta, rate, loss)
            << (accuracy_ ? fmt::format("acc {:.4f}  ", accuracy) : "") << std::flush;
  if (final) std::cerr << "\r" << std::string(110, ' ') << "\r";
}

TrainLog::TrainLog(const std::string& path, bool quiet, int epochs)
    : file_(path, std::ios::app), quiet_(quiet), epochs_(epochs) {}

void TrainLog::say(const std::string& line) {
  file_ << line << "\n" << std::flush;
  if (!quiet_) std::cerr << line << "\n";
}

void TrainLog::on_epoch_end(const EpochRecord& record, TrainingState&) {
  say(fmt::format("epoch {}/{}{}  {:.2f}s  {:.0f} samples/s", record.epoch, epochs_, metrics_line(record.metrics),
                  record.seconds, record.samples_per_second));
}

void CSVLogger::on_epoch_end(const EpochRecord& record, TrainingState& state) {
  std::string header = "epoch";
  std::string row = std::to_string(record.epoch);
  for (const auto& [name, value] : record.metrics) {
    header += "," + name;
    row += fmt::format(",{:.6f}", value);
  }
  state.metrics_csv.push_back(row);
  std::string csv = header + "\n";
  for (const std::string& r : state.metrics_csv) csv += r + "\n";
  write_text(path_, csv);
}

void MetricMonitor::on_epoch_end(const EpochRecord& record, TrainingState& state) {
  const std::optional<double> value = metric_value(record.metrics, monitor_);
  if (!value)
    throw Error(
        fmt::format("train: monitored metric '{}' is not computed (have:{})", monitor_, metrics_line(record.metrics)));
  state.improved = !state.best_value || (lower_is_better(monitor_) ? *value < *state.best_value - min_delta_
                                                                   : *value > *state.best_value + min_delta_);
  if (state.improved) {
    state.best_value = value;
    state.best_epoch = record.epoch;
    state.epochs_without_improvement = 0;
  } else {
    ++state.epochs_without_improvement;
  }
}

void ModelCheckpoint::on_epoch_end(const EpochRecord&, TrainingState& state) {
  const CheckpointToWrite checkpoint = assemble_(state);
  if (keep_best_ && state.improved) write_checkpoint(best_path_, checkpoint);
  write_checkpoint(last_path_, checkpoint);
}

void EarlyStopping::on_epoch_end(const EpochRecord&, TrainingState& state) {
  if (state.epochs_without_improvement < patience_) return;
  log_.say(fmt::format("early stopping: {} did not improve for {} epochs (best {:.4f} at epoch {})", monitor_,
                       state.epochs_without_improvement, state.best_value.value_or(0), state.best_epoch));
  state.stop = true;
}

}  // namespace graphrun
