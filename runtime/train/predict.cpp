// A trained run as a session (load_trained), and `graphrun predict`: score texts
// with a trained text model, showing each token's attention weight when the model
// computes one.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "graph/shape.h"
#include "graphrun/train.h"
#include "runtime/model_data.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/dataset.h"
#include "runtime/train/run_dir.h"

namespace graphrun {
namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Fills every parameter `model` declares from the same-named checkpoint tensor, so
// a smaller graph (a VAE's decoder alone) runs with a bigger run's parameters;
// checkpoint tensors the model does not name are ignored. Frozen parameters are not
// in checkpoints (they are rebuilt from the model and its data) and keep theirs.
void load_parameters_by_name(const detail::ModelData& model, const pb::Checkpoint& checkpoint,
                             const std::string& ck_path, Session& session) {
  std::map<std::string, const pb::NamedTensor*> stored;
  for (const pb::NamedTensor& named : checkpoint.parameter()) stored.emplace(named.name(), &named);
  for (const ParameterDef& p : model.graph.parameters) {
    const Value& declared = model.graph.value(p.value);
    const auto it = stored.find(declared.name);
    if (it == stored.end()) {
      if (!p.trainable()) continue;
      throw Error(fmt::format("{}: no parameter '{}' ({} in {}); the run trained a model without it", ck_path,
                              declared.name, type_str(declared.type), model.path));
    }
    const Tensor value = from_named_tensor(*it->second, ck_path);
    if (value.dtype() != declared.type.dtype || value.dims() != declared.type.dims)
      throw Error(fmt::format("{}: parameter '{}' is {} in the checkpoint, {} in {}", ck_path, declared.name,
                              value.type_string(), type_str(declared.type), model.path));
    session.set_parameter(declared.name, value);
  }
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

Session load_trained(const std::string& model_path, const std::string& run_dir, SessionOptions options) {
  const Model model = Model::load(model_path);
  const detail::ModelData& data = detail::data_of(model);
  Session session(model, options);
  const RunDirectory run(run_dir);
  const std::string ck_path = run.kept_checkpoint();
  const pb::Checkpoint checkpoint = read_checkpoint(ck_path);
  load_parameters_by_name(data, checkpoint, ck_path, session);
  // Checkpoints hold trainable parameters only: a frozen word-vector table is filled again from the run's
  // vocabulary, while a trainable one was trained, and the checkpoint's copy stands.
  const std::string& word_vectors = data.proto.train().data().word_vectors().parameter();
  const auto& stored = checkpoint.parameter();
  if (!word_vectors.empty() && std::none_of(stored.begin(), stored.end(),
                                            [&](const pb::NamedTensor& named) { return named.name() == word_vectors; }))
    session.set_parameter(word_vectors,
                          word_vector_embedding(data.proto.train().data(), data.directory, run.load_vocabulary()));
  return session;
}

std::vector<Prediction> predict(const std::string& model_path, const std::string& run_dir,
                                const std::vector<std::string>& texts, const PredictOptions& options) {
  const Model model = Model::load(model_path);
  const detail::ModelData& data = detail::data_of(model);
  if (!data.proto.has_train()) throw Error(fmt::format("{}: the model has no `train {{ ... }}` block", model_path));
  const pb::TrainConfig& config = data.proto.train();
  if (!tokenizes_texts(config.data()))
    throw Error(
        fmt::format("{}: predict scores texts, and this model trains on {}; use graphrun run --checkpoint RUN_DIR to "
                    "run it on its inputs, graphrun eval for its metrics",
                    model_path,
                    data_source(config.data()) == DataSource::images ? "images (format PNG_DIR)"
                                                                     : "numbers (data.feed without a text_column)"));
  if (config.predictions().empty())
    throw Error(fmt::format("{}: train.predictions names no value to report", model_path));

  const Vocabulary vocabulary = RunDirectory(run_dir).load_vocabulary();
  const Session session = load_trained(model_path, run_dir);

  const std::string tokens_input = tokens_input_name(config);
  auto tokens_id = data.graph.find_value(tokens_input);
  if (!tokens_id) throw Error(fmt::format("{}: no input '{}'", model_path, tokens_input));
  const Dims& token_dims = data.graph.value(*tokens_id).type.dims;
  if (token_dims.size() != 2 || token_dims[1] <= 0)
    throw Error(fmt::format("{}: input '{}' must be [N, T] with a fixed T to predict", model_path, tokens_input));
  const int64_t max_length = token_dims[1];
  const bool has_attention = data.graph.find_value(options.attention_value).has_value();
  std::map<std::string, Tensor> feeds;
  for (const auto& [name, value] : options.inputs) {
    if (name == tokens_input)
      throw Error(fmt::format("{}: input '{}' takes the texts' token ids; it cannot be fed too", model_path, name));
    const auto id = data.graph.find_value(name);
    if (!id || data.graph.value(*id).kind != ValueKind::input)
      throw Error(fmt::format("{}: '{}' is not a graph input, so predict cannot feed it", model_path, name));
    feeds[name] = value;
  }

  std::vector<std::string> fetches = {config.predictions()};
  if (has_attention) fetches.push_back(options.attention_value);
  if (!options.rank_value.empty()) fetches.push_back(options.rank_value);
  std::vector<Prediction> out;
  for (const std::string& text : texts) {
    Prediction p;
    p.text = text;
    std::vector<std::pair<std::string, int64_t>> kept;
    std::vector<int64_t> positions;
    const Tensor ids = encode_text(config.data(), max_length, vocabulary, text, &kept, &positions);
    for (const auto& [word, id] : kept) p.tokens.push_back(word);
    p.token_ids = ids;
    feeds[tokens_input] = ids;
    const std::vector<Tensor> results = session.run(feeds, fetches);
    const Tensor& probs = results[0];
    if (probs.num_elements() == 1) {
      const double q = probs.data<float>()[0];
      p.probabilities = {1 - q, q};
    } else {
      for (int64_t c = 0; c < probs.num_elements(); ++c) p.probabilities.push_back(probs.data<float>()[c]);
    }
    for (size_t c = 0; c < p.probabilities.size(); ++c) {
      p.classes.push_back(c < static_cast<size_t>(config.data().classes_size())
                              ? config.data().classes(static_cast<int>(c))
                              : std::to_string(c));
      if (p.probabilities[c] > p.probabilities[static_cast<size_t>(p.label)]) p.label = static_cast<int64_t>(c);
    }
    if (has_attention && results[1].num_elements() == max_length)
      for (int64_t pos : positions) p.attention.push_back(results[1].data<float>()[pos]);
    if (!options.rank_value.empty()) p.ranked = top_scores(results.back(), options.rank_value, options.top);
    out.push_back(std::move(p));
  }
  return out;
}

std::string format_prediction(const Prediction& p, const std::vector<std::string>& candidate_names) {
  std::string out = fmt::format("{} ({:.3f})  |", p.classes[static_cast<size_t>(p.label)],
                                p.probabilities[static_cast<size_t>(p.label)]);
  for (size_t c = 0; c < p.classes.size(); ++c) out += fmt::format(" {} {:.3f}", p.classes[c], p.probabilities[c]);
  if (!p.attention.empty()) {
    out += "  | attention:";
    for (size_t t = 0; t < p.tokens.size(); ++t) out += fmt::format(" {}:{:.3f}", p.tokens[t], p.attention[t]);
  }
  if (!p.ranked.empty()) {
    out += fmt::format("\n  top {}:", p.ranked.size());
    for (const auto& [index, score] : p.ranked)
      out +=
          fmt::format(" {} {:.3f}",
                      static_cast<size_t>(index) < candidate_names.size() ? candidate_names[static_cast<size_t>(index)]
                                                                          : "#" + std::to_string(index),
                      score);
  }
  return out;
}

std::string predictions_html(const std::vector<Prediction>& predictions) {
  std::string html =
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>graphrun predict</title>\n"
      "<style>body{font-family:sans-serif} .t{padding:2px 3px;margin:1px;border-radius:3px} "
      ".bar{display:inline-block;height:10px;background:#4a7fd4}</style></head><body>\n";
  for (const Prediction& p : predictions) {
    double max_weight = 0;
    for (double w : p.attention) max_weight = std::max(max_weight, w);
    html += "<div style=\"margin:1em 0\"><p>";
    for (size_t t = 0; t < p.tokens.size(); ++t) {
      const double alpha = p.attention.empty() || max_weight <= 0 ? 0 : p.attention[t] / max_weight;
      html += fmt::format("<span class=\"t\" title=\"{:.3f}\" style=\"background:rgba(255,80,0,{:.2f})\">{}</span>",
                          p.attention.empty() ? 0.0 : p.attention[t], alpha, html_escape(p.tokens[t]));
    }
    html += fmt::format("</p><p><b>{}</b></p><table>\n", html_escape(p.classes[static_cast<size_t>(p.label)]));
    for (size_t c = 0; c < p.classes.size(); ++c)
      html += fmt::format("<tr><td>{}</td><td><span class=\"bar\" style=\"width:{}px\"></span> {:.3f}</td></tr>\n",
                          html_escape(p.classes[c]), static_cast<int>(200 * p.probabilities[c]), p.probabilities[c]);
    html += "</table></div>\n";
  }
  return html + "</body></html>\n";
}

}  // namespace graphrun
