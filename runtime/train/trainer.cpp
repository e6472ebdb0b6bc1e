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
#include <cmath>
#include <filesystem>

#include "graphrun/train.h"
#include "runtime/train/batches.h"
#include "runtime/train/callbacks.h"
#include "runtime/train/checkpoint.h"
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

// "the loss is nan" or "the gradient of 'w' is not finite" when a step's result is
// not finite (the optimizer must not apply it), else "".
std::string non_finite_result(const TrainingSetup& setup, const std::vector<Tensor>& out, size_t first_grad) {
  const float loss = out[0].data<float>()[0];
  if (!std::isfinite(loss)) return fmt::format("the loss is {}", loss);
  for (size_t k = 0; k < setup.trainable.size(); ++k)
    if (!all_finite(out[first_grad + k]))
      return fmt::format("the gradient of '{}' is not finite",
                         setup.graph->value(setup.graph->parameters[setup.trainable[k]].value).name);
  return "";
}

// What a run stopped by an error can do next: resume from its last checkpoint, if one was written.
std::string resume_hint(const RunDirectory& run) {
  if (!fs::exists(run.last_checkpoint()))
    return fmt::format("no checkpoint was written yet ({} can start a new run)", run.path());
  return fmt::format("the last checkpoint is {} (--resume --run-dir {} continues from it)", run.last_checkpoint(),
                     run.path());
}

}  // namespace

TrainResult train(const std::string& model_path, const TrainOptions& options) {
  TrainingSetup setup(model_path, options);
  const pb::TrainConfig& config = setup.config;
  TrainResult result;
  result.notes = setup.dataset.notes;
  result.run_dir = options.run_dir.empty() ? RunDirectory::default_path(setup.data.graph.name) : options.run_dir;
  const RunDirectory run(result.run_dir);
  // Held until training returns: a second process on this directory is refused before it writes anything.
  const RunDirectoryLock lock =
      run.lock(options.resume ? RunDirectory::Missing::refuse : RunDirectory::Missing::create);
  std::string data_note;  // logged once the log is open
  if (options.resume) {
    run.check_resumable(setup.data);
    data_note = run.check_data(setup.data, options.allow_data_change);
  } else {
    run.create(lock, setup.data, setup.dataset.vocabulary ? &*setup.dataset.vocabulary : nullptr);
  }

  std::vector<Dims> shapes;
  for (size_t i : setup.trainable) shapes.push_back(setup.params[i].dims());
  Optimizer optimizer(optimizer_config(config.optimizer()), shapes);
  TrainingState state;
  std::optional<pb::PartialEpoch> interrupted_epoch;  // resuming mid-epoch: how far it got
  if (options.resume) {
    const pb::Checkpoint ck = read_checkpoint(run.last_checkpoint());
    setup.restore_parameters(ck, run.last_checkpoint());
    std::vector<std::pair<std::string, Tensor>> optimizer_state;
    for (const pb::NamedTensor& named : ck.optimizer_state())
      optimizer_state.emplace_back(named.name(), from_named_tensor(named, run.last_checkpoint()));
    optimizer.load_state(optimizer_state);
    state = TrainingState::from(ck);
    if (ck.has_partial_epoch()) interrupted_epoch = ck.partial_epoch();
  }

  const int epochs = options.epochs ? *options.epochs : (config.epochs() > 0 ? config.epochs() : 1);
  const std::string monitor = !config.keep_best().empty() ? config.keep_best() : config.early_stopping().monitor();
  TrainLog log(run.log(), options.quiet, epochs);
  if (!result.notes.empty()) log.say("data: " + result.notes);
  if (!data_note.empty()) log.say(data_note);
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
                              [&](const TrainingState& s) { return setup.checkpoint(optimizer, s); });
  std::optional<EarlyStopping> early_stopping;
  if (config.early_stopping().patience() > 0) early_stopping.emplace(monitor, config.early_stopping().patience(), log);
  std::vector<Callback*> in_order;
  if (progress) in_order.push_back(&*progress);
  in_order.push_back(&log);
  in_order.push_back(&csv);
  if (monitor_tracker) in_order.push_back(&*monitor_tracker);
  in_order.push_back(&checkpoints);
  if (early_stopping) in_order.push_back(&*early_stopping);

  const auto n = static_cast<size_t>(setup.dataset.train.size());
  std::vector<ValueId> fetches = setup.metric_fetches();
  const size_t first_grad = fetches.size();
  for (size_t i : setup.trainable) fetches.push_back(setup.gradients.gradients.at(setup.graph->parameters[i].value));

  // Installed only around the loop: a signal while the data loads or the test split
  // is scored ends the process as usual, with nothing to save.
  std::optional<StopSignals> stop_signals;
  if (options.stop_on_signals) stop_signals.emplace();
  // After a signal: the state so far goes to last.ckpt (with the epoch's progress
  // when it stopped mid-epoch), and training returns.
  const auto stopped_by_signal = [&](int epoch, const MetricTracker* unfinished) {
    const int signal = stop_signals ? stop_signals->received() : 0;
    if (!signal) return false;
    pb::Checkpoint checkpoint = setup.checkpoint(optimizer, state);
    if (unfinished) unfinished->save_to(*checkpoint.mutable_partial_epoch());
    write_checkpoint(run.last_checkpoint(), checkpoint);
    const std::string where = unfinished
                                  ? fmt::format("in epoch {} after {} of {} examples", epoch, unfinished->examples(), n)
                                  : fmt::format("after epoch {}", epoch);
    log.say(fmt::format("interrupted by {} {}: saved {} (continue with --resume --run-dir {})", signal_name(signal),
                        where, run.last_checkpoint(), run.path()));
    result.stopped_by_signal = signal;
    return true;
  };

  for (int epoch = state.epoch + 1; epoch <= epochs; ++epoch) {
    for (Callback* c : in_order) c->on_epoch_begin(epoch, static_cast<int64_t>(n));
    MetricTracker tracker = setup.tracker();
    std::vector<size_t> order = epoch_order(n, config, epoch);
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
      const std::vector<Tensor> feeds = setup.feeds(next);
      const RunContext context{true, step_seed(config, state.step)};
      const std::vector<Tensor> out = setup.runner->run(feeds, setup.params, fetches, context);
      if (const std::string bad = non_finite_result(setup, out, first_grad); !bad.empty())
        throw Error(fmt::format("epoch {} step {}: {}; the first NaN or infinity: {}; {}", epoch, state.step, bad,
                                first_non_finite(setup, feeds, context), resume_hint(run)));
      setup.track(tracker, next, out);
      std::vector<Tensor> params, grads;
      for (size_t k = 0; k < setup.trainable.size(); ++k) {
        params.push_back(setup.params[setup.trainable[k]]);  // shares storage: updated in place
        grads.push_back(out[first_grad + k]);
      }
      optimizer.apply(params, grads);
      ++state.step;
      done += next.size();
      for (Callback* c : in_order) c->on_batch_end(done, tracker);
      if (stopped_by_signal(epoch, &tracker)) return result;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    EpochRecord record = epoch_record(setup, epoch, tracker, seconds);
    state.epoch = epoch;
    state.improved = false;
    for (Callback* c : in_order) c->on_epoch_end(record, state);
    result.epochs.push_back(std::move(record));
    if (state.stop) {
      result.stopped_early = true;
      break;
    }
    if (epoch < epochs && stopped_by_signal(epoch, nullptr)) return result;
  }
  stop_signals.reset();
  result.best_value = state.best_value;
  result.best_epoch = state.best_epoch;

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
  const detail::ModelData& data = detail::data_of(model);
  std::optional<Vocabulary> vocabulary;
  TrainingSetup setup(model_path, options, split_scope(data, run, split, vocabulary));
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
  const Model model = Model::load(model_path);
  const detail::ModelData& data = detail::data_of(model);
  std::optional<Vocabulary> vocabulary;
  const Dataset dataset = load_dataset(data.proto.train(), data.graph, model_path, data.directory,
                                       split_scope(data, RunDirectory(run_dir), split, vocabulary));
  const Split& examples = dataset.split(split);
  if (examples.size() == 0) throw Error(fmt::format("{}: the model's data has no {} split", model_path, split));
  std::map<std::string, Tensor> feeds;
  for (size_t i = 0; i < dataset.inputs.size(); ++i) feeds.emplace(dataset.inputs[i], examples.columns[i]);
  return feeds;
}

std::string format_eval(const EvalResult& r) {
  std::string out = fmt::format("{}: {} examples{}\n", r.split, r.examples, metrics_line(r.metrics));
  if (!r.confusion.empty()) out += "confusion matrix (rows: true class, columns: predicted):\n";
  for (size_t i = 0; i < r.confusion.size(); ++i) {
    out += fmt::format("{:>12}", i < r.classes.size() ? r.classes[i] : std::to_string(i));
    for (int64_t v : r.confusion[i]) out += fmt::format(" {:>6}", v);
    out += "\n";
  }
  return out;
}

}  // namespace graphrun
