// The training loop behind `graphrun train`, and `graphrun eval`.
//
// One training step: gather a batch of rows (BatchPrefetcher), run the training
// graph (forward, loss, gradients) with dropout on, then apply the optimizer to
// the trainable parameters in place. At each epoch's end the callbacks log,
// write metrics.csv, follow the monitored metric, checkpoint and maybe stop.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include "graphrun/train.h"
#include "runtime/train/batches.h"
#include "runtime/train/callbacks.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/optimizer.h"
#include "runtime/train/run_dir.h"
#include "runtime/train/setup.h"

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

}  // namespace

// What a Trainer holds: the model, data and parameters (setup), the run directory
// it writes (locked while it lives), the optimizer and the loop's state.
struct Trainer::Impl {
  Impl(const std::string& model_path, const TrainOptions& options)
      : setup(model_path, options),
        run(options.run_dir.empty() ? RunDirectory::default_path(setup.data.graph.name) : options.run_dir),
        // Held while training: a second process on this directory is refused before it writes anything.
        lock(run.lock(options.resume ? RunDirectory::Missing::refuse : RunDirectory::Missing::create)),
        optimizer(optimizer_config(setup.config.optimizer()), trainable_shapes(setup)) {
    if (options.resume)
      run.check_resumable(setup.data);
    else
      run.create(lock, setup.data, setup.dataset.vocabulary ? &*setup.dataset.vocabulary : nullptr);
    if (options.resume) {
      const pb::Checkpoint ck = read_checkpoint(run.last_checkpoint());
      setup.restore_parameters(ck, run.last_checkpoint());
      std::vector<std::pair<std::string, Tensor>> optimizer_state;
      for (const pb::NamedTensor& named : ck.optimizer_state())
        optimizer_state.emplace_back(named.name(), from_named_tensor(named, run.last_checkpoint()));
      optimizer.load_state(optimizer_state);
      state = TrainingState::from(ck);
    }
    fetches = setup.metric_fetches();
    first_gradient = fetches.size();
    for (size_t i : setup.trainable) fetches.push_back(setup.gradients.gradients.at(setup.graph->parameters[i].value));
  }

  static std::vector<Dims> trainable_shapes(const TrainingSetup& setup) {
    std::vector<Dims> shapes;
    for (size_t i : setup.trainable) shapes.push_back(setup.params[i].dims());
    return shapes;
  }

  // One optimizer step: the training graph (dropout on) on `feeds`, then the
  // update of the trainable parameters in place. Returns the fetched values.
  std::vector<Tensor> step(const std::vector<Tensor>& feeds) {
    const int epoch = state.epoch + 1;
    std::vector<Tensor> out =
        setup.runner->run(feeds, setup.params, fetches, RunContext{true, step_seed(setup.config, state.step)});
    if (!std::isfinite(out[0].data<float>()[0]))
      throw Error(fmt::format("epoch {} step {}: the loss is {}; last good checkpoint: {}", epoch, state.step,
                              out[0].data<float>()[0], run.last_checkpoint()));
    std::vector<Tensor> params, grads;
    for (size_t k = 0; k < setup.trainable.size(); ++k) {
      params.push_back(setup.params[setup.trainable[k]]);  // shares storage: updated in place
      grads.push_back(out[first_gradient + k]);
    }
    optimizer.apply(params, grads);
    ++state.step;
    return out;
  }

  // The next epoch over the training split, the callbacks called in order.
  EpochRecord epoch(const std::vector<Callback*>& callbacks) {
    const int epoch = state.epoch + 1;
    const auto n = static_cast<size_t>(setup.dataset.train.size());
    for (Callback* c : callbacks) c->on_epoch_begin(epoch, static_cast<int64_t>(n));
    MetricTracker tracker = setup.tracker();
    const auto start = Clock::now();
    BatchPrefetcher batches(setup.dataset.train, epoch_order(n, setup.config, epoch),
                            static_cast<size_t>(setup.batch_size()));
    Split next;
    int64_t done = 0;
    while (batches.next(&next)) {
      setup.track(tracker, next, step(setup.feeds(next)));
      done += next.size();
      for (Callback* c : callbacks) c->on_batch_end(done, tracker);
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
  std::vector<ValueId> fetches;  // the metrics, then one gradient per trainable parameter
  size_t first_gradient = 0;
};

Trainer::Trainer(const std::string& model_path, const TrainOptions& options)
    : impl_(std::make_unique<Impl>(model_path, options)) {}
Trainer::~Trainer() = default;
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;

EpochRecord Trainer::train_epoch() { return impl_->epoch({}); }

double Trainer::step(const std::map<std::string, Tensor>& feeds) {
  const std::vector<Tensor> out = impl_->step(impl_->setup.runner->feeds_in_graph_order(feeds, impl_->fetches));
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

  while (t.state.epoch < epochs) {
    result.epochs.push_back(t.epoch(in_order));
    if (t.state.stop) {
      result.stopped_early = true;
      break;
    }
  }
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
  if (split != "train" && split != "validation" && split != "test")
    throw Error(fmt::format("unknown split '{}' (use train, validation or test)", split));
  const RunDirectory run(run_dir);
  const Model model = Model::load(model_path);
  const detail::ModelData& data = detail::data_of(model);
  if (!data.proto.has_train()) throw Error(fmt::format("{}: the model has no `train {{ ... }}` block", model_path));
  // Only the split's own files are read: images and numbers as they are; texts tokenized with the
  // run's saved vocabulary, unless the padded length is known only from the training texts.
  std::optional<Vocabulary> vocabulary;
  DatasetScope scope{nullptr, 0, split};
  if (tokenizes_texts(data.proto.train().data())) {
    vocabulary = run.load_vocabulary();
    scope = {&*vocabulary, trained_length(data), split};
    if (scope.max_length == 0) scope = {};
  }
  TrainingSetup setup(model_path, options, scope);
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

}  // namespace graphrun
