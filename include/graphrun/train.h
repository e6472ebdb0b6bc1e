// Training, evaluation and gradient tools of the public API.
//
//   graphrun::TrainResult r = graphrun::train("examples/emojify/v1.pbtxt", {});
//
// The model file's `train { ... }` block says what data to read, how to batch
// it, which optimizer and metrics to use, and when to stop. The data is texts
// (token ids and labels), PNG images, or numbers fed to graph inputs from CSV
// columns or .npy files (train.data.feed). Every run writes a run directory: the
// model as trained (model.pbtxt, whose data_dir points at the original model's
// directory, so eval and --resume work given the copy), per-epoch metrics
// (metrics.csv), the vocabulary of text data (vocab.txt), checkpoints (last.ckpt
// and, with keep_best, best.ckpt) and a log (train.log).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graphrun/graphrun.h"

namespace graphrun {

struct TrainOptions {
  std::string run_dir;                    // "" : runs/<model name>-<UTC time>
  bool resume = false;                    // continue the run in run_dir from its last checkpoint
  bool allow_data_change = false;         // resume even when data files changed since the run started
  std::optional<int> epochs;              // overrides train.epochs (e.g. to extend a resumed run)
  std::optional<int> batch_size;          // overrides train.batch_size
  std::optional<int64_t> limit_examples;  // use only the first N examples of each split (smoke tests)
  int threads = 0;                        // as SessionOptions
  int intra_threads = 0;
  bool progress = true;  // a progress bar when stderr is a terminal; else one line per epoch
  bool quiet = false;    // no console output at all (tests)
  // SIGINT/SIGTERM end training after the step under way, with a resumable
  // checkpoint (TrainResult::stopped_by_signal). The command line sets it.
  bool stop_on_signals = false;
};

using Metrics = std::vector<std::pair<std::string, double>>;  // ordered: loss, accuracy, val_loss, ...

struct EpochRecord {
  int epoch = 0;  // 1-based
  Metrics metrics;
  double seconds = 0;
  double samples_per_second = 0;
};

struct TrainResult {
  std::string run_dir;
  std::vector<EpochRecord> epochs;  // every epoch of the run, resumed ones included
  int best_epoch = 0;
  std::optional<double> best_value;
  bool stopped_early = false;
  int stopped_by_signal = 0;  // SIGINT or SIGTERM interrupted training (last.ckpt resumes it); no test metrics then
  Metrics test_metrics;       // the kept (best, else last) parameters on the test split, if any
  std::string notes;          // data notes: skipped rows, words without vectors
};

TrainResult train(const std::string& model_path, const TrainOptions& options = {});

// Checks the model's `train { ... }` block (if it has one) as train() does before
// reading any data: an Error naming the model file and the value at fault.
void check_train_config(const Model& model);

// The training loop in the host's hands: what train() runs, one epoch or one
// batch at a time. Construction reads the model and its data and creates the run
// directory (model copy, vocabulary), or with options.resume continues it from its
// last checkpoint; the directory stays locked while the Trainer lives.
//
//   graphrun::Trainer trainer("examples/emojify/v1.pbtxt", {.run_dir = "runs/v1"});
//   for (int e = 0; e < 2; ++e) trainer.train_epoch();
//   trainer.save_checkpoint();  // runs/v1 now works with load_trained and `graphrun predict`
//
// Not thread-safe: one thread drives a Trainer.
class Trainer {
 public:
  explicit Trainer(const std::string& model_path, const TrainOptions& options = {});
  ~Trainer();
  Trainer(Trainer&&) noexcept;
  Trainer& operator=(Trainer&&) noexcept;

  // One epoch over the model's training data, batched and ordered as train() does
  // (same seeds, same parameters after the same epochs). Returns its metrics;
  // writes no metrics.csv, log or checkpoint (train() adds those).
  EpochRecord train_epoch();
  // One optimizer step on a batch the host feeds: every graph input the loss needs,
  // by name (labels included). Returns the batch's loss.
  double step(const std::map<std::string, Tensor>& feeds);
  // The trainable parameters, optimizer state and step count as RUN_DIR/last.ckpt.
  void save_checkpoint() const;

  int epochs_done() const;
  int64_t steps_done() const;
  const std::string& run_dir() const;
  Tensor parameter(const std::string& name) const;  // a copy of the current value

 private:
  struct Impl;
  friend TrainResult train(const std::string& model_path, const TrainOptions& options);
  std::unique_ptr<Impl> impl_;
};

struct EvalResult {
  std::string split;
  int64_t examples = 0;
  Metrics metrics;                              // loss, accuracy, ...
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]; empty without train.predictions
  std::vector<std::string> classes;
};

// Scores the checkpoint of a run (best.ckpt when present, else last.ckpt) on
// "train", "validation" or "test": the loss, and with train.predictions (labelled
// data) accuracy and the confusion matrix.
EvalResult evaluate(const std::string& model_path, const std::string& run_dir, const std::string& split = "test",
                    const TrainOptions& options = {});

// One split ("train", "validation" or "test") of a model's training data as the graph
// inputs it feeds, every example in the split's order, as `evaluate` reads it (texts
// tokenized with the run's vocabulary; images and numbers need no run): e.g. a VAE's
// validation images, to run the trained model on (`graphrun run --split`).
std::map<std::string, Tensor> split_inputs(const std::string& model_path, const std::string& run_dir,
                                           const std::string& split);
// The same for a model loaded already (a session's).
std::map<std::string, Tensor> split_inputs(const Model& model, const std::string& run_dir, const std::string& split);

// A trained model, ready to run: a session whose parameters come from the run's
// best checkpoint (else its last), by name: each parameter the model declares takes
// the checkpoint's tensor of that name, so a smaller graph than the one trained (a
// VAE's decoder alone) loads what it names and ignores the rest; a trainable one
// missing from the checkpoint, or of another shape, is an Error naming it, the
// checkpoint and both shapes. A frozen word-vector table the training config filled
// (train.data.word_vectors; not in checkpoints) is filled again from the run's saved
// vocabulary; a trainable one comes from the checkpoint, as trained. Errors name the
// missing or corrupt file.
//
//   graphrun::Session s = graphrun::load_trained("examples/emotion/bilstm_attention.pbtxt", "runs/emotion");
//   std::vector<graphrun::Tensor> out = s.run({{"tokens", ids}}, {"probs"});
Session load_trained(const std::string& model_path, const std::string& run_dir, SessionOptions options = {});

// Model bundles: a trained model in one file (`graphrun export RUN_DIR -o model.grb`),
// for a host to load with one call. A bundle holds the model (graph, training
// config, class names), the value of every parameter as load_trained fills it (the
// kept checkpoint's, a frozen word-vector table, the initialised frozen ones) and
// the run's vocabulary, so loading it reads no other file: the run directory, data,
// word vectors and npy files may be gone. The file is a header (magic "GRBN", format
// version, length, CRC-32) and then the bundle; a truncated, corrupt, foreign or
// newer file is an Error naming it and what is wrong.
struct BundleSummary {
  int64_t parameters = 0;  // tensors
  int64_t values = 0;      // their elements
  bool has_vocabulary = false;
  int64_t bytes = 0;  // the file's size
};

// Writes run `run_dir` as the bundle `bundle_path` (atomically: a temporary file,
// then a rename), with the run's model (RUN_DIR/model.pbtxt), or `model_path`'s:
// a graph taking the run's parameters by name, as load_trained takes them.
BundleSummary export_bundle(const std::string& run_dir, const std::string& bundle_path,
                            const std::string& model_path = "");

// The bundle's model as a session with its trained parameters: what load_trained
// gives for the run it was exported from, bit for bit.
//
//   graphrun::Session s = graphrun::load_bundle("emotion.grb");
//   std::vector<graphrun::Tensor> out = s.run({{"tokens", ids}}, {"probs"});
Session load_bundle(const std::string& path, SessionOptions options = {});

// One text scored by a trained text model.
struct Prediction {
  std::string text;
  std::vector<std::string> tokens;    // the words that got an id, in order (after truncation)
  Tensor token_ids;                   // int64 [1, T]: the padded ids the model was fed
  std::vector<std::string> classes;   // class names (or "0", "1", ...)
  std::vector<double> probabilities;  // per class: train.predictions' scores (binary models: [1 - p, p])
  int64_t label = 0;                  // the class with the highest score
  std::vector<double> attention;      // per token, when the model has an `attention` value [N, T]
  // PredictOptions::rank_value's top candidates as (index, score), best first.
  std::vector<std::pair<int64_t, double>> ranked;
  int64_t candidates = 0;  // K: how many candidates rank_value scores (0 without one)
};

struct PredictOptions {
  // Graph inputs fed with every text, as given (numbers beside the text, e.g. candidate answers [K, D]).
  std::vector<std::pair<std::string, Tensor>> inputs;
  std::string attention_value = "attention";  // reported per token when the model has it
  // A value holding one score per candidate, [1, K] for a text: its `top` highest are Prediction::ranked.
  std::string rank_value;
  int64_t top = 5;
};

// A trained text classifier, loaded once: the run's vocabulary (RUN_DIR/vocab.txt)
// and its best (else last) checkpoint. classify() is const and thread-safe.
//
//   graphrun::TextClassifier classifier("examples/emojify/v1.pbtxt", "runs/v1");
//   graphrun::Prediction p = classifier.classify("I love you");
//   std::cout << p.classes[p.label] << "\n";
class TextClassifier {
 public:
  TextClassifier(const std::string& model_path, const std::string& run_dir, SessionOptions options = {},
                 const PredictOptions& predict_options = {});
  // The same from a model bundle (export_bundle): its model, parameters and vocabulary.
  //   graphrun::TextClassifier classifier = graphrun::TextClassifier::from_bundle("v1.grb");
  static TextClassifier from_bundle(const std::string& path, SessionOptions options = {},
                                    const PredictOptions& predict_options = {});
  ~TextClassifier();
  TextClassifier(TextClassifier&&) noexcept;
  TextClassifier& operator=(TextClassifier&&) noexcept;

  Prediction classify(const std::string& text) const;

 private:
  struct Impl;
  explicit TextClassifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Tokenizes with the run's saved vocabulary (RUN_DIR/vocab.txt), loads its best
// (else last) checkpoint and scores each text (a TextClassifier): models whose data
// has a text column (text data, or numeric feeds with text_column), fed each text's
// token ids plus `options.inputs`.
std::vector<Prediction> predict(const std::string& model_path, const std::string& run_dir,
                                const std::vector<std::string>& texts, const PredictOptions& options = {});

// The training graph autodiff builds (forward + loss + gradient nodes) as .pbtxt.
std::string gradient_graph_text(const Model& model);

struct GradCheckResult {
  int64_t checked = 0;  // parameter elements compared
  double max_abs_error = 0;
  // |analytic - numeric| / max(|analytic|, |numeric|, 1e-3), the largest over the elements
  double max_rel_error = 0;
  std::string worst;   // the element of max_rel_error: "parameter[index]: analytic a, numeric n"
  std::string inputs;  // what was fed: "the first 4 training examples" or "random inputs (...)"
  bool passed = true;  // every element within tolerance, absolute or relative
};

// Numeric central-difference check of every trainable parameter's gradient on
// one batch (the first `batch` training examples of the model's data, as training
// feeds them, or random inputs when the model has no training config), at most
// `per_parameter` sampled elements per parameter. A check that could not fail is
// an Error: token ids that are all padding, or every checked gradient 0.
GradCheckResult gradcheck(const std::string& model_path, int64_t batch = 4, int per_parameter = 20,
                          double tolerance = 1e-2);

}  // namespace graphrun
