// A trained run or a bundle as a session (load_trained, load_bundle), and TextClassifier / predict(): score
// texts with a trained text model (with any other graph inputs fed beside the text),
// with each token's attention weight when the model computes one and the top
// candidates of a score value when asked.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "graph/shape.h"
#include "graphrun/train.h"
#include "runtime/model_data.h"
#include "runtime/train/bundle.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/named_tensor.h"
#include "runtime/train/dataset.h"
#include "runtime/train/run_dir.h"

namespace graphrun {
namespace {

// The checkpoint's value of every parameter `model` declares, by name, so a smaller
// graph (a VAE's decoder alone) runs with a bigger run's parameters; checkpoint
// tensors the model does not name are ignored. Frozen parameters are not in
// checkpoints (they are rebuilt from the model and its data) and are left out.
std::map<std::string, Tensor> checkpoint_parameters(const detail::ModelData& model, const pb::Checkpoint& checkpoint,
                                                    const std::string& ck_path) {
  std::map<std::string, const pb::NamedTensor*> stored;
  for (const pb::NamedTensor& named : checkpoint.parameter()) stored.emplace(named.name(), &named);
  std::map<std::string, Tensor> values;
  for (const ParameterDef& p : model.graph.parameters) {
    const Value& declared = model.graph.value(p.value);
    const auto it = stored.find(declared.name);
    if (it == stored.end()) {
      if (!p.trainable()) continue;
      throw Error(fmt::format("{}: no parameter '{}' ({} in {}); the run trained a model without it", ck_path,
                              declared.name, type_str(declared.type), model.path));
    }
    Tensor value = from_named_tensor(*it->second, ck_path);
    if (value.dtype() != declared.type.dtype || value.dims() != declared.type.dims)
      throw Error(fmt::format("{}: parameter '{}' is {} in the checkpoint, {} in {}", ck_path, declared.name,
                              value.type_string(), type_str(declared.type), model.path));
    values.emplace(declared.name, std::move(value));
  }
  return values;
}

// TextClassifier takes models that score texts: an Error naming `source` otherwise.
void check_text_classifier(const detail::ModelData& data, const std::string& source) {
  if (!data.proto.has_train()) throw Error(fmt::format("{}: the model has no `train {{ ... }}` block", source));
  const pb::TrainConfig& config = data.proto.train();
  if (!tokenizes_texts(config.data()))
    throw Error(
        fmt::format("{}: predict scores texts, and this model trains on {}; use graphrun run --checkpoint RUN_DIR to "
                    "run it on its inputs, graphrun eval for its metrics",
                    source,
                    data_source(config.data()) == DataSource::images ? "images (format PNG_DIR)"
                                                                     : "numbers (data.feed without a text_column)"));
  if (config.predictions().empty()) throw Error(fmt::format("{}: train.predictions names no value to report", source));
}

// The `top` highest of a text's candidate scores `value` (float32 [1, K] or [K]) as (index, score), best first;
// ties keep the lower index first.
std::vector<std::pair<int64_t, double>> top_scores(const Tensor& value, const std::string& name, int64_t top) {
  const bool one_row = value.rank() == 1 || (value.rank() == 2 && value.dims()[0] == 1);
  if (value.dtype() != DType::f32 || !one_row)
    throw Error(fmt::format("rank value '{}' is {} for one text; it must be float32 [1, K], one score per candidate",
                            name, value.type_string()));
  std::vector<std::pair<int64_t, double>> scores;
  for (int64_t k = 0; k < value.num_elements(); ++k) scores.emplace_back(k, value.data<float>()[k]);
  const auto keep = static_cast<ptrdiff_t>(std::min<int64_t>(std::max<int64_t>(top, 0), value.num_elements()));
  std::partial_sort(scores.begin(), scores.begin() + keep, scores.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  });
  scores.resize(static_cast<size_t>(keep));
  return scores;
}

}  // namespace

TrainedModel read_trained_run(Model model, const std::string& model_path, const std::string& run_dir,
                              bool with_vocabulary) {
  const detail::ModelData& data = detail::data_of(model);
  const RunDirectory run(run_dir);
  const std::string ck_path = run.kept_checkpoint();
  const pb::Checkpoint checkpoint = read_checkpoint(ck_path);
  TrainedModel trained{model, model_path, checkpoint_parameters(data, checkpoint, ck_path), std::nullopt};
  // A frozen word-vector table is not in checkpoints: it is filled again from the run's vocabulary, while a
  // trainable one was trained, and the checkpoint's copy stands.
  const std::string& word_vectors = data.proto.train().data().word_vectors().parameter();
  const auto& stored = checkpoint.parameter();
  const bool in_checkpoint = std::any_of(stored.begin(), stored.end(),
                                         [&](const pb::NamedTensor& named) { return named.name() == word_vectors; });
  const bool refill_word_vectors = !word_vectors.empty() && !in_checkpoint;
  if (with_vocabulary || refill_word_vectors) trained.vocabulary = run.load_vocabulary();
  if (refill_word_vectors)
    trained.parameters[word_vectors] =
        word_vector_embedding(data.proto.train().data(), data.directory, *trained.vocabulary);
  return trained;
}

Session trained_session(const TrainedModel& trained, SessionOptions options) {
  return Session::with_parameters(trained.model, trained.parameters, options);
}

Session load_trained(const std::string& model_path, const std::string& run_dir, SessionOptions options) {
  return trained_session(read_trained_run(Model::load(model_path), model_path, run_dir, false), options);
}

Session load_bundle(const std::string& path, SessionOptions options) {
  return trained_session(read_bundle(path), options);
}

struct TextClassifier::Impl {
  Impl(TrainedModel trained, SessionOptions session_options, const PredictOptions& options)
      : model(trained.model), data(detail::data_of(model)), rank_value(options.rank_value), top(options.top) {
    const std::string& source = trained.source;
    check_text_classifier(data, source);
    if (!trained.vocabulary) throw Error(fmt::format("{}: the text model comes without its vocabulary", source));
    vocabulary = std::move(*trained.vocabulary);
    session.emplace(trained_session(trained, session_options));

    const pb::TrainConfig& config = data.proto.train();
    tokens_input = tokens_input_name(config);
    auto tokens_id = data.graph.find_value(tokens_input);
    if (!tokens_id) throw Error(fmt::format("{}: no input '{}'", source, tokens_input));
    const Dims& token_dims = data.graph.value(*tokens_id).type.dims;
    if (token_dims.size() != 2 || token_dims[1] <= 0)
      throw Error(fmt::format("{}: input '{}' must be [N, T] with a fixed T to predict", source, tokens_input));
    max_length = token_dims[1];
    for (const auto& [name, value] : options.inputs) {
      if (name == tokens_input)
        throw Error(fmt::format("{}: input '{}' takes the texts' token ids; it cannot be fed too", source, name));
      const auto id = data.graph.find_value(name);
      if (!id || data.graph.value(*id).kind != ValueKind::input)
        throw Error(fmt::format("{}: '{}' is not a graph input, so predict cannot feed it", source, name));
      inputs[name] = value;
    }
    has_attention = data.graph.find_value(options.attention_value).has_value();
    fetches = {config.predictions()};
    if (has_attention) fetches.push_back(options.attention_value);
    if (!rank_value.empty()) fetches.push_back(rank_value);
  }

  const Model model;
  const detail::ModelData& data;
  Vocabulary vocabulary;
  std::optional<Session> session;
  std::string tokens_input;
  int64_t max_length = 0;
  std::map<std::string, Tensor> inputs;  // fed beside every text's token ids
  bool has_attention = false;
  std::string rank_value;
  int64_t top = 5;
  std::vector<std::string> fetches;  // the predictions, the attention weights if any, the rank value if asked
};

TextClassifier::TextClassifier(const std::string& model_path, const std::string& run_dir, SessionOptions options,
                               const PredictOptions& predict_options) {
  Model model = Model::load(model_path);
  // A model that scores no texts is refused before the run is read.
  check_text_classifier(detail::data_of(model), model_path);
  impl_ =
      std::make_unique<Impl>(read_trained_run(std::move(model), model_path, run_dir, true), options, predict_options);
}

TextClassifier TextClassifier::from_bundle(const std::string& path, SessionOptions options,
                                           const PredictOptions& predict_options) {
  return TextClassifier(std::make_unique<Impl>(read_bundle(path), options, predict_options));
}

TextClassifier::TextClassifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TextClassifier::~TextClassifier() = default;
TextClassifier::TextClassifier(TextClassifier&&) noexcept = default;
TextClassifier& TextClassifier::operator=(TextClassifier&&) noexcept = default;

Prediction TextClassifier::classify(const std::string& text) const {
  const Impl& c = *impl_;
  const pb::TrainConfig& config = c.data.proto.train();
  Prediction p;
  p.text = text;
  std::vector<std::pair<std::string, int64_t>> kept;
  std::vector<int64_t> positions;
  const Tensor ids = encode_text(config.data(), c.max_length, c.vocabulary, text, &kept, &positions);
  for (const auto& [word, id] : kept) p.tokens.push_back(word);
  p.token_ids = ids;
  std::map<std::string, Tensor> feeds = c.inputs;
  feeds[c.tokens_input] = ids;
  const std::vector<Tensor> results = c.session->run(feeds, c.fetches);
  const Tensor& probs = results[0];
  if (probs.num_elements() == 1) {
    const double q = probs.data<float>()[0];
    p.probabilities = {1 - q, q};
  } else {
    for (int64_t k = 0; k < probs.num_elements(); ++k) p.probabilities.push_back(probs.data<float>()[k]);
  }
  for (size_t k = 0; k < p.probabilities.size(); ++k) {
    p.classes.push_back(k < static_cast<size_t>(config.data().classes_size())
                            ? config.data().classes(static_cast<int>(k))
                            : std::to_string(k));
    if (p.probabilities[k] > p.probabilities[static_cast<size_t>(p.label)]) p.label = static_cast<int64_t>(k);
  }
  if (c.has_attention && results[1].num_elements() == c.max_length)
    for (int64_t pos : positions) p.attention.push_back(results[1].data<float>()[pos]);
  if (!c.rank_value.empty()) {
    p.ranked = top_scores(results.back(), c.rank_value, c.top);
    p.candidates = results.back().num_elements();
  }
  return p;
}

std::vector<Prediction> predict(const std::string& model_path, const std::string& run_dir,
                                const std::vector<std::string>& texts, const PredictOptions& options) {
  const TextClassifier classifier(model_path, run_dir, {}, options);
  std::vector<Prediction> out;
  for (const std::string& text : texts) out.push_back(classifier.classify(text));
  return out;
}

}  // namespace graphrun
