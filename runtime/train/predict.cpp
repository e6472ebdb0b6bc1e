// A trained run as a session (load_trained), and predict(): score texts with a
// trained text model, with each token's attention weight when the model computes one.
#include <fmt/format.h>

#include <optional>

#include "graphrun/train.h"
#include "runtime/model_data.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/dataset.h"
#include "runtime/train/run_dir.h"

namespace graphrun {
Session load_trained(const std::string& model_path, const std::string& run_dir, SessionOptions options) {
  const Model model = Model::load(model_path);
  const detail::ModelData& data = detail::data_of(model);
  Session session(model, options);
  const RunDirectory run(run_dir);
  const std::string ck_path = run.kept_checkpoint();
  const pb::Checkpoint checkpoint = read_checkpoint(ck_path);
  for (const pb::NamedTensor& named : checkpoint.parameter())
    session.set_parameter(named.name(), from_named_tensor(named, ck_path));
  if (data.proto.has_train() && !data.proto.train().data().word_vectors().parameter().empty()) {
    const pb::DataConfig& config = data.proto.train().data();
    session.set_parameter(config.word_vectors().parameter(),
                          word_vector_embedding(config, data.directory, run.load_vocabulary()));
  }
  return session;
}

struct TextClassifier::Impl {
  Impl(const std::string& model_path, const std::string& run_dir, SessionOptions options,
       const std::string& attention_value)
      : model(Model::load(model_path)), data(detail::data_of(model)) {
    if (!data.proto.has_train()) throw Error(fmt::format("{}: the model has no `train {{ ... }}` block", model_path));
    const pb::TrainConfig& config = data.proto.train();
    if (data_source(config.data()) != DataSource::text)
      throw Error(fmt::format(
          "{}: predict scores texts, and this model trains on {}; use graphrun run --checkpoint RUN_DIR to "
          "run it on its inputs, graphrun eval for its metrics",
          model_path,
          data_source(config.data()) == DataSource::images ? "images (format PNG_DIR)" : "numbers (data.feed)"));
    if (config.predictions().empty())
      throw Error(fmt::format("{}: train.predictions names no value to report", model_path));
    vocabulary = RunDirectory(run_dir).load_vocabulary();
    session.emplace(load_trained(model_path, run_dir, options));

    tokens_input = tokens_input_name(config);
    auto tokens_id = data.graph.find_value(tokens_input);
    if (!tokens_id) throw Error(fmt::format("{}: no input '{}'", model_path, tokens_input));
    const Dims& token_dims = data.graph.value(*tokens_id).type.dims;
    if (token_dims.size() != 2 || token_dims[1] <= 0)
      throw Error(fmt::format("{}: input '{}' must be [N, T] with a fixed T to predict", model_path, tokens_input));
    max_length = token_dims[1];
    has_attention = data.graph.find_value(attention_value).has_value();
    fetches = {config.predictions()};
    if (has_attention) fetches.push_back(attention_value);
  }

  const Model model;
  const detail::ModelData& data;
  Vocabulary vocabulary;
  std::optional<Session> session;
  std::string tokens_input;
  int64_t max_length = 0;
  bool has_attention = false;
  std::vector<std::string> fetches;  // the predictions, then the attention weights when there are any
};

TextClassifier::TextClassifier(const std::string& model_path, const std::string& run_dir, SessionOptions options,
                               const std::string& attention_value)
    : impl_(std::make_unique<Impl>(model_path, run_dir, options, attention_value)) {}
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
  const std::vector<Tensor> results = c.session->run({{c.tokens_input, ids}}, c.fetches);
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
  return p;
}

std::vector<Prediction> predict(const std::string& model_path, const std::string& run_dir,
                                const std::vector<std::string>& texts, const std::string& attention_value) {
  const TextClassifier classifier(model_path, run_dir, {}, attention_value);
  std::vector<Prediction> out;
  for (const std::string& text : texts) out.push_back(classifier.classify(text));
  return out;
}

}  // namespace graphrun
