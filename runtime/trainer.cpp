// The training loop behind `graphrun train` and `graphrun eval`.
//
// The data is a set of splits (train, validation, test), each a few tensors
// whose first dim indexes the examples, fed as they are to graph inputs: token
// ids and labels for text, images [N, H, W, C] for PNG_DIR (no labels, so loss
// only).
//
// One training step: gather a batch of rows, run the training graph (forward,
// loss, gradients) with dropout on, then apply the optimizer to the trainable
// parameters in place. Random streams are derived, not stored: the epoch's
// shuffle from (seed, epoch) and each step's dropout masks from (seed, step), so
// a resumed run replays exactly what an uninterrupted one would have done.
#include <fmt/format.h>
#include <google/protobuf/text_format.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>

#include "autodiff/autodiff.h"
#include "graph/graph_algo.h"
#include "graphrun/data/shuffle.h"
#include "graphrun/train.h"
#include "ops/registry.h"
#include "runtime/checkpoint.h"
#include "runtime/exec/graph_runner.h"
#include "runtime/image_dataset.h"
#include "runtime/initializers.h"
#include "runtime/model_data.h"
#include "runtime/optimizer.h"
#include "runtime/text_dataset.h"

namespace graphrun {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

uint64_t mix(uint64_t a, uint64_t b) {  // SplitMix64 of a combined key
  uint64_t z = a + 0x9e3779b97f4a7c15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

OptimizerConfig optimizer_config(const pb::OptimizerConfig& c) {
  OptimizerConfig o;
  if (c.has_sgd()) {
    o.kind = OptimizerConfig::Kind::sgd;
    o.learning_rate = c.sgd().learning_rate() > 0 ? c.sgd().learning_rate() : 0.01f;
    o.momentum = c.sgd().momentum();
    o.nesterov = c.sgd().nesterov();
  } else {
    o.kind = OptimizerConfig::Kind::adam;
    const pb::OptimizerConfig::Adam& a = c.adam();
    if (a.has_learning_rate()) o.learning_rate = a.learning_rate();
    if (a.has_beta1()) o.beta1 = a.beta1();
    if (a.has_beta2()) o.beta2 = a.beta2();
    if (a.has_epsilon()) o.epsilon = a.epsilon();
    o.pytorch_epsilon = a.epsilon_placement() == pb::OptimizerConfig::Adam::PYTORCH;
  }
  if (c.clip_global_norm() > 0 && c.clip_norm_per_tensor() > 0)
    throw Error("training config: set clip_global_norm or clip_norm_per_tensor, not both");
  if (c.clip_global_norm() > 0) {
    o.clip = OptimizerConfig::Clip::global_norm;
    o.clip_norm = c.clip_global_norm();
  } else if (c.clip_norm_per_tensor() > 0) {
    o.clip = OptimizerConfig::Clip::per_tensor_norm;
    o.clip_norm = c.clip_norm_per_tensor();
  }
  o.weight_decay = c.weight_decay();
  return o;
}

// One split: a tensor per fed graph input (TrainingSetup::inputs_), examples
// along the first dim. A batch is a Split too.
struct Split {
  std::vector<Tensor> columns;
  int64_t size() const { return columns.empty() || columns[0].empty() ? 0 : columns[0].dims()[0]; }
};

// The examples order[begin, end) of a split as one batch.
Split gather_batch(const Split& split, const std::vector<size_t>& order, size_t begin, size_t end) {
  Split batch;
  for (const Tensor& column : split.columns) {
    Dims dims = column.dims();
    const size_t row_bytes = column.num_bytes() / static_cast<size_t>(dims[0]);
    dims[0] = static_cast<int64_t>(end - begin);
    Tensor rows = Tensor::uninitialized(column.dtype(), dims);
    for (size_t r = 0; r < end - begin; ++r)
      std::memcpy(static_cast<char*>(rows.raw_data()) + r * row_bytes,
                  static_cast<const char*>(column.raw_data()) + order[begin + r] * row_bytes, row_bytes);
    batch.columns.push_back(std::move(rows));
  }
  return batch;
}

// Prepares an epoch's batches on a background thread, two ahead of the
// training loop, so gathering rows never stalls the compute.
class BatchPrefetcher {
 public:
  BatchPrefetcher(const Split& split, std::vector<size_t> order, size_t batch)
      : split_(split), order_(std::move(order)), batch_(batch), worker_([this] { produce(); }) {}
  ~BatchPrefetcher() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }
  // The next batch, in order; false after the last one.
  bool next(Split* batch) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty() || produced_all_; });
    if (ready_.empty()) return false;
    *batch = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return true;
  }

 private:
  void produce() {
    for (size_t begin = 0; begin < order_.size(); begin += batch_) {
      auto batch = gather_batch(split_, order_, begin, std::min(order_.size(), begin + batch_));
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return ready_.size() < 2 || stop_; });
      if (stop_) return;
      ready_.push_back(std::move(batch));
      changed_.notify_all();
    }
    std::lock_guard lock(mutex_);
    produced_all_ = true;
    changed_.notify_all();
  }

  const Split& split_;
  const std::vector<size_t> order_;
  const size_t batch_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Split> ready_;
  bool produced_all_ = false;
  bool stop_ = false;
  std::thread worker_;  // last: starts after the members it uses exist
};

// Accumulates loss and accuracy over batches, and a confusion matrix.
class MetricTracker {
 public:
  MetricTracker(int64_t num_classes, bool binary) : classes_(std::max<int64_t>(num_classes, 2)), binary_(binary) {
    confusion_.assign(static_cast<size_t>(classes_), std::vector<int64_t>(static_cast<size_t>(classes_), 0));
  }
  // `n` examples; accuracy only with predictions, against labels int64 [N] or float32 [N, 1] (0 or 1).
  void add(const Tensor& loss, int64_t n, const Tensor& predictions, const Tensor& labels) {
    loss_sum_ += double(loss.data<float>()[0]) * double(n);
    examples_ += n;
    if (predictions.empty()) return;
    const int64_t width = predictions.num_elements() / n;
    const float* p = predictions.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      int64_t predicted = 0;
      if (binary_ || width == 1) {
        predicted = p[i * width] > 0.5f ? 1 : 0;
      } else {
        for (int64_t c = 1; c < width; ++c)
          if (p[i * width + c] > p[i * width + predicted]) predicted = c;
      }
      const int64_t truth = labels.dtype() == DType::i64 ? labels.data<int64_t>()[i] : static_cast<int64_t>(labels.data<float>()[i]);
      correct_ += predicted == truth;
      if (truth >= 0 && truth < classes_ && predicted < classes_)
        ++confusion_[static_cast<size_t>(truth)][static_cast<size_t>(predicted)];
    }
  }
  double loss() const { return examples_ ? loss_sum_ / double(examples_) : 0; }
  double accuracy() const { return examples_ ? double(correct_) / double(examples_) : 0; }
  int64_t examples() const { return examples_; }
  const std::vector<std::vector<int64_t>>& confusion() const { return confusion_; }

 private:
  int64_t classes_;
  bool binary_;
  double loss_sum_ = 0;
  int64_t examples_ = 0;
  int64_t correct_ = 0;
  std::vector<std::vector<int64_t>> confusion_;
};

// Everything training and evaluation derive from the model file.
class TrainingSetup {
 public:
  // `scope` limits what data is read (evaluation reads one split with the run's vocabulary).
  TrainingSetup(const std::string& model_path, const TrainOptions& options, const DatasetScope& scope = {})
      : model_(Model::load(model_path)), data_(detail::data_of(model_)) {
    if (!data_.proto.has_train())
      throw Error(fmt::format("{}: the model has no `train {{ ... }}` block", model_path));
    config_ = data_.proto.train();
    if (options.batch_size) {
      if (*options.batch_size <= 0) throw Error(fmt::format("batch size {} must be positive", *options.batch_size));
      config_.set_batch_size(*options.batch_size);
    }
    const Graph& forward = data_.graph;
    auto input_named = [&](const std::string& name, const char* field) {
      auto id = forward.find_value(name);
      if (!id || forward.value(*id).kind != ValueKind::input)
        throw Error(fmt::format("{}: train.{} '{}' is not a graph input", model_path, field, name));
      return *id;
    };
    if (!config_.predictions().empty()) {
      auto id = forward.find_value(config_.predictions());
      if (!id) throw Error(fmt::format("{}: train.predictions '{}' is not a value of the graph", model_path, config_.predictions()));
      predictions_ = *id;
    }

    if (config_.data().format() == pb::DataConfig::PNG_DIR) {
      if (predictions_ != kNoValue)
        throw Error(fmt::format("{}: train.predictions needs labels; format PNG_DIR has none (the metric is the loss)", model_path));
      const ValueId images = input_named(config_.images_input().empty() ? "images" : config_.images_input(), "images_input");
      inputs_ = {images};
      ImageDataset data = load_image_dataset(config_.data(), data_.directory, config_.seed(), scope.only_split);
      for (auto [from, to] : {std::pair{&data.train, &train_}, {&data.validation, &validation_}, {&data.test, &test_}}) {
        if (from->empty()) continue;
        check_image_input(model_path, forward.value(images), *from);
        to->columns = {*from};
      }
    } else {
      tokens_input_ = input_named(config_.tokens_input().empty() ? "tokens" : config_.tokens_input(), "tokens_input");
      const ValueId labels_input = input_named(config_.labels_input().empty() ? "labels" : config_.labels_input(), "labels_input");
      binary_labels_ = forward.value(labels_input).type.dtype == DType::f32;
      inputs_ = {tokens_input_, labels_input};
      labels_column_ = 1;

      dataset_ = load_text_dataset(config_.data(), data_.directory, config_.seed(), scope);
      // The classes the model predicts, even when the loaded split lacks some.
      if (predictions_ != kNoValue && !binary_labels_) {
        const Dims& p = forward.value(predictions_).type.dims;
        if (p.size() == 2 && p[1] > 1) dataset_.num_classes = std::max(dataset_.num_classes, p[1]);
      }
      for (auto [from, to] : {std::pair{&dataset_.train, &train_}, {&dataset_.validation, &validation_}, {&dataset_.test, &test_}}) {
        if (from->size() == 0) continue;
        // Labels as the graph takes them: int64 [N], or float32 [N, 1] for binary labels.
        Tensor labels = from->labels;
        if (binary_labels_) {
          labels = Tensor(DType::f32, {from->size(), 1});
          for (int64_t k = 0; k < from->size(); ++k) labels.data<float>()[k] = static_cast<float>(from->labels.data<int64_t>()[k]);
        }
        to->columns = {from->tokens, labels};
        *from = {};  // the trainer reads train_, validation_ and test_ only
      }
    }
    if (options.limit_examples)
      for (Split* s : {&train_, &validation_, &test_}) limit(*s, *options.limit_examples);

    graph_ = std::make_shared<Graph>(forward);
    gradients_ = add_gradients(*graph_, builtin_ops());
    for (size_t i = 0; i < graph_->parameters.size(); ++i)
      if (gradients_.gradients.count(graph_->parameters[i].value)) trainable_.push_back(i);

    for (const ParameterDef& p : graph_->parameters) params_.push_back(initialize_parameter(p.def, graph_->seed, data_.directory));
    if (!dataset_.embedding_parameter.empty()) set_parameter(dataset_.embedding_parameter, dataset_.embedding);

    runner_ = std::make_unique<GraphRunner>(graph_, ExecutionPolicy{options.threads, options.intra_threads});
  }

  void set_parameter(const std::string& name, const Tensor& value) {
    for (size_t i = 0; i < graph_->parameters.size(); ++i) {
      const Value& v = graph_->value(graph_->parameters[i].value);
      if (v.name != name) continue;
      if (v.type.dims != value.dims() || v.type.dtype != value.dtype())
        throw Error(fmt::format("parameter '{}' is {}, the data gives {} (match the parameter's shape to the vocabulary)",
                                name, type_str(v.type), value.type_string()));
      std::memcpy(params_[i].raw_data(), value.raw_data(), value.num_bytes());
      return;
    }
    throw Error(fmt::format("train.data.word_vectors.parameter '{}' is not a parameter of the model", name));
  }

  // Feeds for one batch: each column to its graph input.
  std::vector<Tensor> feeds(const Split& batch) const {
    std::vector<Tensor> feeds(graph_->inputs.size());
    for (size_t i = 0; i < graph_->inputs.size(); ++i)
      for (size_t c = 0; c < inputs_.size(); ++c)
        if (graph_->inputs[i] == inputs_[c]) feeds[i] = batch.columns[c];
    return feeds;
  }

  // Adds a batch's loss (and accuracy, when there are predictions) to `tracker`.
  void track(MetricTracker& tracker, const Split& batch, const std::vector<Tensor>& out) const {
    const bool accuracy = predictions_ != kNoValue;
    tracker.add(out[0], batch.size(), accuracy ? out[1] : Tensor(), accuracy ? batch.columns[labels_column_] : Tensor());
  }

  // Loss (and accuracy) of the current parameters on a split, dropout off.
  MetricTracker evaluate(const Split& split) const {
    MetricTracker tracker(dataset_.num_classes, binary_labels_);
    std::vector<size_t> order(static_cast<size_t>(split.size()));
    std::iota(order.begin(), order.end(), 0);
    const size_t batch = static_cast<size_t>(batch_size());
    std::vector<ValueId> fetches = {gradients_.loss};
    if (predictions_ != kNoValue) fetches.push_back(predictions_);
    for (size_t begin = 0; begin < order.size(); begin += batch) {
      const Split b = gather_batch(split, order, begin, std::min(order.size(), begin + batch));
      track(tracker, b, runner_->run(feeds(b), params_, fetches, RunContext{false, 0}));
    }
    return tracker;
  }

  int64_t batch_size() const { return config_.batch_size() > 0 ? config_.batch_size() : 32; }

  const Model model_;
  const detail::ModelData& data_;
  pb::TrainConfig config_;
  ValueId tokens_input_ = kNoValue, predictions_ = kNoValue;
  bool binary_labels_ = false;
  TextDataset dataset_;            // text data: vocabulary, classes, word vectors (its splits move to the Splits below)
  Split train_, validation_, test_;
  std::vector<ValueId> inputs_;    // the graph input each split column feeds
  size_t labels_column_ = 0;       // the column of labels (text data; used only with predictions)
  std::shared_ptr<Graph> graph_;
  GradientResult gradients_;
  std::vector<size_t> trainable_;  // indices into graph parameters that get a gradient
  std::vector<Tensor> params_;
  std::unique_ptr<GraphRunner> runner_;

 private:
  static void limit(Split& s, int64_t n) {
    if (s.size() <= n) return;
    std::vector<size_t> rows(static_cast<size_t>(n));
    std::iota(rows.begin(), rows.end(), 0);
    s = gather_batch(s, rows, 0, rows.size());
  }

  // The images input must take float32 [N, H, W, C] batches of `images`' H, W and C.
  static void check_image_input(const std::string& model_path, const Value& input, const Tensor& images) {
    const Dims& want = input.type.dims;
    bool fits = input.type.dtype == DType::f32 && want.size() == 4;
    for (size_t d = 1; fits && d < 4; ++d) fits = want[d] < 0 || want[d] == images.dims()[d];
    if (!fits)
      throw Error(fmt::format("{}: train.images_input '{}' is {}, but the images are float32 [N, H, W, C] = {}", model_path,
                              input.name, type_str(input.type), dims_str(images.dims())));
  }
};

std::string utc_stamp() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

std::string metrics_line(const Metrics& m) {
  std::string s;
  for (const auto& [name, value] : m) s += fmt::format("  {} {:.4f}", name, value);
  return s;
}

std::optional<double> metric_value(const Metrics& m, const std::string& name) {
  for (const auto& [k, v] : m)
    if (k == name) return v;
  return std::nullopt;
}

bool lower_is_better(const std::string& monitor) { return monitor.find("loss") != std::string::npos; }

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out || !(out << text)) throw Error(fmt::format("{}: cannot write", path.string()));
}

// A one-line progress bar on a terminal.
class Progress {
 public:
  Progress(bool enabled, bool accuracy, int epoch, int epochs, int64_t total)
      : enabled_(enabled), accuracy_(accuracy), epoch_(epoch), epochs_(epochs), total_(total), start_(Clock::now()) {}
  void update(int64_t done, double loss, double accuracy, bool final = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!final && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? double(done) / secs : 0;
    const double eta = rate > 0 ? double(total_ - done) / rate : 0;
    const int width = 24, filled = total_ ? static_cast<int>(width * done / total_) : width;
    std::cerr << fmt::format("\repoch {}/{} [{}{}] {}/{}  ETA {:.1f}s  {:.0f} samples/s  loss {:.4f}  ", epoch_, epochs_,
                             std::string(static_cast<size_t>(filled), '='), std::string(static_cast<size_t>(width - filled), ' '),
                             done, total_, eta, rate, loss)
              << (accuracy_ ? fmt::format("acc {:.4f}  ", accuracy) : "") << std::flush;
    if (final) std::cerr << "\r" << std::string(110, ' ') << "\r";
  }

 private:
  bool enabled_, accuracy_;
  int epoch_, epochs_;
  int64_t total_;
  Clock::time_point start_, last_{};
};

pb::Checkpoint make_checkpoint(const TrainingSetup& setup, const Optimizer& optimizer, int epoch, int64_t step) {
  pb::Checkpoint ck;
  ck.set_version(1);
  ck.set_epoch(epoch);
  ck.set_step(step);
  ck.set_seed(setup.config_.seed());
  // Only trainable parameters: the others are rebuilt from the model and its data
  // (initialisers, word vectors), which keeps checkpoints of frozen embeddings small.
  for (size_t i : setup.trainable_)
    *ck.add_parameter() = to_named_tensor(setup.graph_->value(setup.graph_->parameters[i].value).name, setup.params_[i]);
  for (const auto& [name, t] : optimizer.state()) *ck.add_optimizer_state() = to_named_tensor(name, t);
  return ck;
}

void restore_parameters(TrainingSetup& setup, const pb::Checkpoint& ck, const std::string& source) {
  for (const pb::NamedTensor& named : ck.parameter()) setup.set_parameter(named.name(), from_named_tensor(named, source));
}

}  // namespace

TrainResult train(const std::string& model_path, const TrainOptions& options) {
  TrainingSetup setup(model_path, options);
  const pb::TrainConfig& config = setup.config_;
  TrainResult result;
  result.notes = setup.dataset_.notes;

  result.run_dir = options.run_dir.empty()
                       ? (fs::path("runs") / fmt::format("{}-{}", setup.data_.graph.name.empty() ? "model" : setup.data_.graph.name, utc_stamp())).string()
                       : options.run_dir;
  const fs::path dir(result.run_dir);
  const fs::path last_path = dir / "last.ckpt", best_path = dir / "best.ckpt";
  if (options.resume) {
    if (!fs::exists(last_path)) throw Error(fmt::format("{}: no checkpoint to resume from", last_path.string()));
    std::ifstream saved(dir / "model.pbtxt");
    const std::string saved_text((std::istreambuf_iterator<char>(saved)), std::istreambuf_iterator<char>());
    if (saved_text != setup.data_.text)
      throw Error(fmt::format("{}: the model file changed since this run started (compare with {})", model_path,
                              (dir / "model.pbtxt").string()));
  } else {
    if (fs::exists(last_path))
      throw Error(fmt::format("{}: a run already exists here (use --resume to continue it)", dir.string()));
    fs::create_directories(dir);
    write_text(dir / "model.pbtxt", setup.data_.text);
    if (setup.tokens_input_ != kNoValue) setup.dataset_.vocabulary.save((dir / "vocab.txt").string());
  }

  std::vector<Dims> shapes;
  for (size_t i : setup.trainable_) shapes.push_back(setup.params_[i].dims());
  Optimizer optimizer(optimizer_config(config.optimizer()), shapes);

  const int epochs = options.epochs ? *options.epochs : (config.epochs() > 0 ? config.epochs() : 1);
  const std::string monitor = !config.keep_best().empty() ? config.keep_best() : config.early_stopping().monitor();
  int start_epoch = 0;
  int64_t step = 0;
  int without_improvement = 0;
  std::vector<std::string> csv_rows;
  if (options.resume) {
    const pb::Checkpoint ck = read_checkpoint(last_path.string());
    restore_parameters(setup, ck, last_path.string());
    std::vector<std::pair<std::string, Tensor>> state;
    for (const pb::NamedTensor& named : ck.optimizer_state()) state.emplace_back(named.name(), from_named_tensor(named, last_path.string()));
    optimizer.load_state(state);
    start_epoch = ck.epoch();
    step = ck.step();
    if (ck.has_best_value()) result.best_value = ck.best_value();
    result.best_epoch = ck.best_epoch();
    without_improvement = ck.epochs_without_improvement();
    csv_rows.assign(ck.metrics_csv().begin(), ck.metrics_csv().end());
  }

  std::ofstream log(dir / "train.log", std::ios::app);
  auto say = [&](const std::string& line) {
    log << line << "\n" << std::flush;
    if (!options.quiet) std::cerr << line << "\n";
  };
  if (!result.notes.empty()) say("data: " + result.notes);
  say(fmt::format("training {} on {} examples ({} validation, {} test), batch {}, {} epochs, run dir {}", model_path,
                  setup.train_.size(), setup.validation_.size(), setup.test_.size(), setup.batch_size(),
                  epochs, dir.string()));

  const bool bar = options.progress && !options.quiet && ::isatty(2);
  const auto n = static_cast<size_t>(setup.train_.size());
  const auto batch = static_cast<size_t>(setup.batch_size());
  std::vector<ValueId> fetches = {setup.gradients_.loss};
  if (setup.predictions_ != kNoValue) fetches.push_back(setup.predictions_);
  const size_t first_grad = fetches.size();
  for (size_t i : setup.trainable_) fetches.push_back(setup.gradients_.gradients.at(setup.graph_->parameters[i].value));

  for (int epoch = start_epoch + 1; epoch <= epochs; ++epoch) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    if (!config.has_shuffle() || config.shuffle()) order = data::permutation(n, mix(config.seed(), static_cast<uint64_t>(epoch)));

    MetricTracker tracker(setup.dataset_.num_classes, setup.binary_labels_);
    Progress progress(bar, setup.predictions_ != kNoValue, epoch, epochs, static_cast<int64_t>(n));
    const auto start = Clock::now();
    BatchPrefetcher batches(setup.train_, order, batch);
    Split next;
    int64_t done = 0;
    while (batches.next(&next)) {
      const RunContext run{true, mix(config.seed() ^ 0x5eedull, static_cast<uint64_t>(step))};
      const std::vector<Tensor> out = setup.runner_->run(setup.feeds(next), setup.params_, fetches, run);
      if (!std::isfinite(out[0].data<float>()[0]))
        throw Error(fmt::format("epoch {} step {}: the loss is {}; last good checkpoint: {}", epoch, step,
                                out[0].data<float>()[0], last_path.string()));
      setup.track(tracker, next, out);
      std::vector<Tensor> params, grads;
      for (size_t k = 0; k < setup.trainable_.size(); ++k) {
        params.push_back(setup.params_[setup.trainable_[k]]);  // shares storage: updated in place
        grads.push_back(out[first_grad + k]);
      }
      optimizer.apply(params, grads);
      ++step;
      done += next.size();
      progress.update(done, tracker.loss(), tracker.accuracy());
    }
    progress.update(static_cast<int64_t>(n), tracker.loss(), tracker.accuracy(), true);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

    EpochRecord record{epoch, {{"loss", tracker.loss()}}, seconds, seconds > 0 ? double(n) / seconds : 0};
    const bool has_accuracy = setup.predictions_ != kNoValue;
    const std::string acc_name = setup.binary_labels_ ? "binary_accuracy" : "accuracy";
    if (has_accuracy) record.metrics.emplace_back(acc_name, tracker.accuracy());
    if (setup.validation_.size() > 0) {
      const MetricTracker val = setup.evaluate(setup.validation_);
      record.metrics.emplace_back("val_loss", val.loss());
      if (has_accuracy) record.metrics.emplace_back("val_" + acc_name, val.accuracy());
    }
    say(fmt::format("epoch {}/{}{}  {:.2f}s  {:.0f} samples/s", epoch, epochs, metrics_line(record.metrics), seconds,
                    record.samples_per_second));

    // metrics.csv: rewritten whole each epoch (it is small), so a resume restores it exactly.
    std::string header = "epoch";
    std::string row = std::to_string(epoch);
    for (const auto& [name, value] : record.metrics) {
      header += "," + name;
      row += fmt::format(",{:.6f}", value);
    }
    csv_rows.push_back(row);
    // Timings stay out of metrics.csv (they are in train.log): equal runs give equal files.
    std::string csv = header + "\n";
    for (const std::string& r : csv_rows) csv += r + "\n";
    write_text(dir / "metrics.csv", csv);

    bool improved = false;
    if (!monitor.empty()) {
      const std::optional<double> value = metric_value(record.metrics, monitor);
      if (!value) throw Error(fmt::format("train: monitored metric '{}' is not computed (have:{})", monitor, metrics_line(record.metrics)));
      const double delta = config.early_stopping().min_delta();
      improved = !result.best_value ||
                 (lower_is_better(monitor) ? *value < *result.best_value - delta : *value > *result.best_value + delta);
      if (improved) {
        result.best_value = value;
        result.best_epoch = epoch;
        without_improvement = 0;
      } else {
        ++without_improvement;
      }
    }
    pb::Checkpoint ck = make_checkpoint(setup, optimizer, epoch, step);
    if (result.best_value) ck.set_best_value(*result.best_value);
    ck.set_best_epoch(result.best_epoch);
    ck.set_epochs_without_improvement(without_improvement);
    for (const std::string& r : csv_rows) ck.add_metrics_csv(r);
    if (improved && !config.keep_best().empty()) write_checkpoint(best_path.string(), ck);
    write_checkpoint(last_path.string(), ck);
    result.epochs.push_back(std::move(record));

    if (config.early_stopping().patience() > 0 && without_improvement >= config.early_stopping().patience()) {
      say(fmt::format("early stopping: {} did not improve for {} epochs (best {:.4f} at epoch {})", monitor,
                      without_improvement, result.best_value.value_or(0), result.best_epoch));
      result.stopped_early = true;
      break;
    }
  }

  if (setup.test_.size() > 0) {
    if (fs::exists(best_path)) restore_parameters(setup, read_checkpoint(best_path.string()), best_path.string());
    const MetricTracker test = setup.evaluate(setup.test_);
    result.test_metrics = {{"test_loss", test.loss()}};
    if (setup.predictions_ != kNoValue)
      result.test_metrics.emplace_back(setup.binary_labels_ ? "test_binary_accuracy" : "test_accuracy", test.accuracy());
    say(fmt::format("test ({} examples, {} parameters){}", test.examples(), fs::exists(best_path) ? "best" : "last",
                    metrics_line(result.test_metrics)));
  }
  return result;
}

// The padded length a run trained with: the config's max_length, else the fixed
// T of the tokens input (0 when neither says: the training texts decide).
int64_t trained_length(const detail::ModelData& data) {
  const pb::TrainConfig& config = data.proto.train();
  if (config.data().max_length() > 0) return config.data().max_length();
  auto tokens = data.graph.find_value(config.tokens_input().empty() ? "tokens" : config.tokens_input());
  if (!tokens) return 0;
  const Dims& dims = data.graph.value(*tokens).type.dims;
  return dims.size() == 2 && dims[1] > 0 ? dims[1] : 0;
}

EvalResult evaluate(const std::string& model_path, const std::string& run_dir, const std::string& split,
                    const TrainOptions& options) {
  if (split != "train" && split != "validation" && split != "test")
    throw Error(fmt::format("unknown split '{}' (use train, validation or test)", split));
  const Model model = Model::load(model_path);
  const detail::ModelData& data = detail::data_of(model);
  if (!data.proto.has_train()) throw Error(fmt::format("{}: the model has no `train {{ ... }}` block", model_path));
  // Only the split's own files are read: images as they are; texts tokenized with the
  // run's saved vocabulary, unless the padded length is known only from the training texts.
  std::optional<Vocabulary> vocabulary;
  DatasetScope scope{nullptr, 0, split};
  if (data.proto.train().data().format() != pb::DataConfig::PNG_DIR) {
    vocabulary = Vocabulary::load((fs::path(run_dir) / "vocab.txt").string());
    scope = {&*vocabulary, trained_length(data), split};
    if (scope.max_length == 0) scope = {};
  }
  TrainingSetup setup(model_path, options, scope);
  const fs::path best = fs::path(run_dir) / "best.ckpt", last = fs::path(run_dir) / "last.ckpt";
  const fs::path ck_path = fs::exists(best) ? best : last;
  restore_parameters(setup, read_checkpoint(ck_path.string()), ck_path.string());
  const Split& scored = split == "train" ? setup.train_ : split == "validation" ? setup.validation_ : setup.test_;
  if (scored.size() == 0) throw Error(fmt::format("{}: the model's data has no {} split", model_path, split));
  const MetricTracker t = setup.evaluate(scored);
  EvalResult r;
  r.split = split;
  r.examples = t.examples();
  r.metrics = {{"loss", t.loss()}};
  if (setup.predictions_ != kNoValue) {
    r.metrics.emplace_back(setup.binary_labels_ ? "binary_accuracy" : "accuracy", t.accuracy());
    r.confusion = t.confusion();
    r.classes = setup.dataset_.classes;
  }
  return r;
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
