// The training loop behind `graphrun train`, and `graphrun eval`.
//
// One training step: gather a batch of rows (BatchPrefetcher), run the training
// graph (forward, loss, gradients) with dropout on, then apply the optimizer to
// the trainable parameters in place. At each epoch's end the callbacks log,
// write metrics.csv, follow the monitored metric, checkpoint and maybe stop.
// SIGINT/SIGTERM (with TrainOptions::stop_on_signals) end the loop after the
// step under way, with a checkpoint that records how far the epoch got.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>

#include "graphrun/train.h"
#include "runtime/train/batches.h"
#include "runtime/train/callbacks.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/named_tensor.h"
#include "runtime/train/non_finite.h"
#include "runtime/train/optimizer.h"
#include "runtime/train/run_dir.h"
#include "runtime/train/setup.h"
#include "runtime/train/stop_signals.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The epoch's metrics: the training ones from `tracker`, then the validation split's.
EpochRecord epoch_record(const TrainingSetup& setup, int epoch, const MetricTracker& tracker, double seconds) {
  const auto n = static_cast<double>(setup.dataset.train.size());
  EpochRecord record{epoch, {{"loss", tracker.loss()}}, seconds, seconds > 0 ? n / seconds : 0};
  if (setup.has_accuracy()) record.metrics.emplace_back(setup.accuracy_name(), tracker.accuracy());
  if (setup.dataset.validation.size() > 0) {
    const MetricTracker val = setup.evaluate(setup.dataset.validation);
    record.metrics.emplace_back("val_loss", val.loss());
    if (setup.has_accuracy()) record.metrics.emplace_back("val_" + setup.accuracy_name(), val.accuracy());
  }
  return record;
}

// The padded length a run trained with: the config's max_length, else the fixed
// T of the tokens input (0 when neither says: the training texts decide).
int64_t trained_length(const detail::ModelData& data) {
  const pb::TrainConfig& config = data.proto.train();
  if (config.data().max_length() > 0) return config.data().max_length();
  auto tokens = data.graph.find_value(tokens_input_name(config));
  if (!tokens) return 0;
  const Dims& dims = data.graph.value(*tokens).type.dims;
  return dims.size() == 2 && dims[1] > 0 ? dims[1] : 0;
}

// What scoring one split of a run reads: only the split's own files, images and
// numbers as they are; texts tokenized with the run's saved vocabulary (kept in
// `vocabulary`), unless the padded length is known only from the training texts.
DatasetScope split_scope(const detail::ModelData& data, const RunDirectory& run, const std::string& split,
                         std::optional<Vocabulary>& vocabulary) {
  if (split != "train" && split != "validation" && split != "test")
    throw Error(fmt::format("unknown split '{}' (use train, validation or test)", split));
  if (!data.proto.has_train()) throw Error(fmt::format("{}: the model has no `train {{ ... }}` block", data.path));
  DatasetScope scope{nullptr, 0, split};
  if (tokenizes_texts(data.proto.train().data())) {
    if (run.path().empty())
      throw Error(
          fmt::format("{}: the model's data are texts, tokenized with a training run's vocabulary: name the "
                      "run directory (--checkpoint RUN_DIR)",
                      data.path));
    vocabulary = run.load_vocabulary();
    scope = {&*vocabulary, trained_length(data), split};
    if (scope.max_length == 0) scope = {};
  }
  return scope;
}

// What a run stopped by an error can do next: resume from its last checkpoint, if one was written.
std::string resume_hint(const RunDirectory& run) {
  if (!fs::exists(run.last_checkpoint()))
    return fmt::format("no checkpoint was written yet ({} can start a new run)", run.path());
  return fmt::format("the last checkpoint is {} (--resume --run-dir {} continues from it)", run.last_checkpoint(),
                     run.path());
}

}  // namespace

// What a Trainer holds: the model, data and parameters (setup), the run directory
// it writes (locked while it lives), the optimizer and the loop's state.
struct Trainer::Impl {
  Impl(const std::string& model_path, const TrainOptions& options)
      : setup(model_path, options),
        run(options.run_dir.empty() ? RunDirectory::default_path(setup.data.graph.name) : options.run_dir),
        // Held while training: a second process on this directory is refused before it writes anything.
        lock(run.lock(options.resume ? RunDirectory::Missing::refuse : RunDirectory::Missing::create)),
        optimizer(setup.new_optimizer()) {
    if (!options.resume) {
      run.create(lock, setup.data, setup.dataset.vocabulary ? &*setup.dataset.vocabulary : nullptr);
    } else {
      run.check_resumable(setup.data);
      data_note = run.check_data(setup.data, options.allow_data_change);
      const pb::Checkpoint ck = read_checkpoint(run.last_checkpoint());
      setup.restore_parameters(ck, run.last_checkpoint());
      std::vector<std::pair<std::string, Tensor>> optimizer_state;
      for (const pb::NamedTensor& named : ck.optimizer_state())
        optimizer_state.emplace_back(named.name(), from_named_tensor(named, run.last_checkpoint()));
      optimizer.load_state(optimizer_state);
      state = TrainingState::from(ck);
      if (ck.has_partial_epoch()) interrupted_epoch = ck.partial_epoch();
    }
  }

  // One optimizer step (TrainingSetup::train_step) on `feeds`. Returns the fetched
  // values. A loss or gradient that is not finite stops training before the update.
  std::vector<Tensor> step(const std::vector<Tensor>& feeds) {
    TrainingSetup::StepResult result = setup.train_step(optimizer, feeds, state.step);
    if (!result.non_finite.empty()) stop_non_finite(result.non_finite, feeds, setup.step_context(state.step));
    ++state.step;
    return std::move(result.out);
  }

  // Throws the Error that ends training at a step whose `result` is not finite:
  // where the first NaN or infinity came from, and the checkpoint to resume from.
  [[noreturn]] void stop_non_finite(const std::string& result, const std::vector<Tensor>& feeds,
                                    const RunContext& context) const {
    throw Error(fmt::format("epoch {} step {}: {}; the first NaN or infinity: {}; {}", state.epoch + 1, state.step,
                            result, first_non_finite(setup, feeds, context), resume_hint(run)));
  }

  // The next epoch over the training split (the rest of it, when the run was
  // interrupted in it), the callbacks called in order. `stop_after_batch` is asked
  // after every step; when it says stop, the epoch ends unfinished (nullopt).
  std::optional<EpochRecord> epoch(const std::vector<Callback*>& callbacks,
                                   const std::function<bool(int, const MetricTracker&)>& stop_after_batch) {
    const int epoch = state.epoch + 1;
    const auto n = static_cast<size_t>(setup.dataset.train.size());
    for (Callback* c : callbacks) c->on_epoch_begin(epoch, static_cast<int64_t>(n));
    MetricTracker tracker = setup.tracker();
    std::vector<size_t> order = epoch_order(n, setup.config, epoch);
    if (interrupted_epoch) {  // the epoch's first examples were trained before the interruption
      tracker.restore(*interrupted_epoch, run.last_checkpoint());
      order.erase(order.begin(), order.begin() + std::min(static_cast<int64_t>(n), tracker.examples()));
      interrupted_epoch.reset();
    }
    const auto start = Clock::now();
    BatchPrefetcher batches(setup.dataset.train, std::move(order), static_cast<size_t>(setup.batch_size()));
    Split next;
    int64_t done = tracker.examples();
    while (batches.next(&next)) {
      setup.track(tracker, next, step(setup.feeds(next)));
      done += next.size();
      for (Callback* c : callbacks) c->on_batch_end(done, tracker);
      if (stop_after_batch && stop_after_batch(epoch, tracker)) return std::nullopt;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    EpochRecord record = epoch_record(setup, epoch, tracker, seconds);
    state.epoch = epoch;
    state.improved = false;
    for (Callback* c : callbacks) c->on_epoch_end(record, state);
    return record;
  }

  TrainingSetup setup;
  const RunDirectory run;
  const RunDirectoryLock lock;
  Optimizer optimizer;
  TrainingState state;
  std::string data_note;                              // what --resume found of the data, for the log
  std::optional<pb::PartialEpoch> interrupted_epoch;  // resuming mid-epoch: how far it got
};

Trainer::Trainer(const std::string& model_path, const TrainOptions& options)
    : impl_(std::make_unique<Impl>(model_path, options)) {}
Trainer::~Trainer() = default;
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;

EpochRecord Trainer::train_epoch() { return *impl_->epoch({}, nullptr); }

double Trainer::step(const std::map<std::string, Tensor>& feeds) {
  const std::vector<Tensor> out =
      impl_->step(impl_->setup.runner->feeds_in_graph_order(feeds, impl_->setup.step_fetches()));
  return out[0].data<float>()[0];
}

void Trainer::save_checkpoint() const {
  write_checkpoint(impl_->run.last_checkpoint(), impl_->setup.checkpoint(impl_->optimizer, impl_->state));
}

int Trainer::epochs_done() const { return impl_->state.epoch; }
int64_t Trainer::steps_done() const { return impl_->state.step; }
const std::string& Trainer::run_dir() const { return impl_->run.path(); }

Tensor Trainer::parameter(const std::string& name) const {
  const Graph& g = *impl_->setup.graph;
  for (size_t i = 0; i < g.parameters.size(); ++i)
    if (g.value(g.parameters[i].value).name == name) return impl_->setup.params[i].clone();
  throw Error(fmt::format("model '{}' has no parameter '{}'", g.name, name));
}

TrainResult train(const std::string& model_path, const TrainOptions& options) {
  Trainer trainer(model_path, options);
  Trainer::Impl& t = *trainer.impl_;
  TrainingSetup& setup = t.setup;
  const RunDirectory& run = t.run;
  const pb::TrainConfig& config = setup.config;
  TrainResult result;
  result.notes = setup.dataset.notes;
  result.run_dir = run.path();

  const int epochs = options.epochs ? *options.epochs : (config.epochs() > 0 ? config.epochs() : 1);
  const std::string monitor = !config.keep_best().empty() ? config.keep_best() : config.early_stopping().monitor();
  TrainLog log(run.log(), options.quiet, epochs);
  if (!result.notes.empty()) log.say("data: " + result.notes);
  if (!t.data_note.empty()) log.say(t.data_note);
  log.say(fmt::format("training {} on {} examples ({} validation, {} test), batch {}, {} epochs, run dir {}",
                      model_path, setup.dataset.train.size(), setup.dataset.validation.size(),
                      setup.dataset.test.size(), setup.batch_size(), epochs, run.path()));

  // In this order: the bar is cleared before the epoch's line, metrics.csv is
  // written before the checkpoint that stores its rows, and the monitor updates
  // before keep-best and early stopping read it.
  std::optional<ProgressBar> progress;
  if (options.progress && !options.quiet && ::isatty(2)) progress.emplace(setup.has_accuracy(), epochs);
  CSVLogger csv(run.metrics_csv());
  std::optional<MetricMonitor> monitor_tracker;
  if (!monitor.empty()) monitor_tracker.emplace(monitor, config.early_stopping().min_delta());
  ModelCheckpoint checkpoints(run.last_checkpoint(), run.best_checkpoint(), !config.keep_best().empty(),
                              [&](const TrainingState& s) { return setup.checkpoint(t.optimizer, s); });
  std::optional<EarlyStopping> early_stopping;
  if (config.early_stopping().patience() > 0) early_stopping.emplace(monitor, config.early_stopping().patience(), log);
  std::vector<Callback*> in_order;
  if (progress) in_order.push_back(&*progress);
  in_order.push_back(&log);
  in_order.push_back(&csv);
  if (monitor_tracker) in_order.push_back(&*monitor_tracker);
  in_order.push_back(&checkpoints);
  if (early_stopping) in_order.push_back(&*early_stopping);

  // Installed only around the loop: a signal while the data loads or the test split
  // is scored ends the process as usual, with nothing to save.
  std::optional<StopSignals> stop_signals;
  if (options.stop_on_signals) stop_signals.emplace();
  // After a signal: the state so far goes to last.ckpt (with the epoch's progress
  // when it stopped mid-epoch), and training returns.
  const auto n = setup.dataset.train.size();
  const auto stopped_by_signal = [&](int epoch, const MetricTracker* unfinished) {
    const int signal = stop_signals ? stop_signals->received() : 0;
    if (!signal) return false;
    CheckpointToWrite checkpoint = setup.checkpoint(t.optimizer, t.state);
    if (unfinished) unfinished->save_to(*checkpoint.message.mutable_partial_epoch());
    write_checkpoint(run.last_checkpoint(), checkpoint);
    const std::string where = unfinished
                                  ? fmt::format("in epoch {} after {} of {} examples", epoch, unfinished->examples(), n)
                                  : fmt::format("after epoch {}", epoch);
    log.say(fmt::format("interrupted by {} {}: saved {} (continue with --resume --run-dir {})", signal_name(signal),
                        where, run.last_checkpoint(), run.path()));
    result.stopped_by_signal = signal;
    return true;
  };
  const auto stop_mid_epoch = [&](int epoch, const MetricTracker& tracker) {
    return stopped_by_signal(epoch, &tracker);
  };

  while (t.state.epoch < epochs) {
    std::optional<EpochRecord> record = t.epoch(in_order, stop_mid_epoch);
    if (!record) return result;
    result.epochs.push_back(std::move(*record));
    if (t.state.stop) {
      result.stopped_early = true;
      break;
    }
    if (t.state.epoch < epochs && stopped_by_signal(t.state.epoch, nullptr)) return result;
  }
  stop_signals.reset();
  result.best_value = t.state.best_value;
  result.best_epoch = t.state.best_epoch;

  if (setup.dataset.test.size() > 0) {
    const bool best = fs::exists(run.best_checkpoint());
    if (best) setup.restore_parameters(read_checkpoint(run.best_checkpoint()), run.best_checkpoint());
    const MetricTracker test = setup.evaluate(setup.dataset.test);
    result.test_metrics = {{"test_loss", test.loss()}};
    if (setup.has_accuracy()) result.test_metrics.emplace_back("test_" + setup.accuracy_name(), test.accuracy());
    log.say(fmt::format("test ({} examples, {} parameters){}", test.examples(), best ? "best" : "last",
                        metrics_line(result.test_metrics)));
  }
  return result;
}

EvalResult evaluate(const std::string& model_path, const std::string& run_dir, const std::string& split,
                    const TrainOptions& options) {
  const RunDirectory run(run_dir);
  const Model model = Model::load(model_path);
  std::optional<Vocabulary> vocabulary;
  TrainingSetup setup(model, options, split_scope(detail::data_of(model), run, split, vocabulary));
  setup.restore_parameters(read_checkpoint(run.kept_checkpoint()), run.kept_checkpoint());
  const Split& scored = setup.dataset.split(split);
  if (scored.size() == 0) throw Error(fmt::format("{}: the model's data has no {} split", model_path, split));
  const MetricTracker t = setup.evaluate(scored);
  EvalResult r;
  r.split = split;
  r.examples = t.examples();
  r.metrics = {{"loss", t.loss()}};
  if (setup.has_accuracy()) {
    r.metrics.emplace_back(setup.accuracy_name(), t.accuracy());
    r.confusion = t.confusion();
    r.classes = setup.dataset.classes;
  }
  return r;
}

std::map<std::string, Tensor> split_inputs(const std::string& model_path, const std::string& run_dir,
                                           const std::string& split) {
  return split_inputs(Model::load(model_path), run_dir, split);
}

std::map<std::string, Tensor> split_inputs(const Model& model, const std::string& run_dir, const std::string& split) {
  const detail::ModelData& data = detail::data_of(model);
  std::optional<Vocabulary> vocabulary;
  const Dataset dataset = load_dataset(data.proto.train(), data.graph, data.path, data.directory,
                                       split_scope(data, RunDirectory(run_dir), split, vocabulary));
  const Split& examples = dataset.split(split);
  if (examples.size() == 0) throw Error(fmt::format("{}: the model's data has no {} split", data.path, split));
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < dataset.inputs.size(); ++i) feeds.emplace(dataset.inputs[i], examples.columns[i]);
  return feeds;
}

}  // namespace graphrun
