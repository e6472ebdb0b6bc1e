#include "runtime/train/dataset.h"

#include <fmt/format.h>

#include <cstring>

#include "graph/shape.h"
#include "runtime/train/image_dataset.h"
#include "runtime/train/numeric_dataset.h"

namespace graphrun {
namespace {

std::string or_default(const std::string& name, const char* fallback) { return name.empty() ? fallback : name; }

// Token ids and labels, fed to train.tokens_input and train.labels_input.
Dataset text_source(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path,
                    const std::string& base_dir, const DatasetScope& scope) {
  const ValueId tokens = graph_input(graph, model_path, tokens_input_name(config), "tokens_input");
  const ValueId labels = graph_input(graph, model_path, labels_input_name(config), "labels_input");
  Dataset ds;
  ds.inputs = {graph.value(tokens).name, graph.value(labels).name};
  ds.binary_labels = graph.value(labels).type.dtype == DType::f32;
  TextDataset text = load_text_dataset(config.data(), base_dir, config.seed(), scope);
  ds.num_classes = text.num_classes;
  for (auto [from, to] :
       {std::pair{&text.train, &ds.train}, {&text.validation, &ds.validation}, {&text.test, &ds.test}}) {
    if (from->size() == 0) continue;
    // Labels as the graph takes them: int64 [N], or float32 [N, 1] for binary labels.
    Tensor labels_tensor = from->labels;
    if (ds.binary_labels) {
      labels_tensor = Tensor(DType::f32, {from->size(), 1});
      for (int64_t k = 0; k < from->size(); ++k)
        labels_tensor.data<float>()[k] = static_cast<float>(from->labels.data<int64_t>()[k]);
    }
    to->columns = {from->tokens, labels_tensor};
  }
  ds.labels_column = 1;
  ds.classes = std::move(text.classes);
  ds.notes = std::move(text.notes);
  ds.vocabulary = std::move(text.vocabulary);
  ds.embedding_parameter = std::move(text.embedding_parameter);
  ds.embedding = std::move(text.embedding);
  return ds;
}

// Images [N, H, W, C], fed to train.images_input; no labels.
Dataset image_source(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path,
                     const std::string& base_dir, const DatasetScope& scope) {
  if (!config.predictions().empty())
    throw Error(fmt::format("{}: train.predictions needs labels; format PNG_DIR has none (the metric is the loss)",
                            model_path));
  const Value& input = graph.value(graph_input(graph, model_path, images_input_name(config), "images_input"));
  Dataset ds;
  ds.inputs = {input.name};
  ImageDataset images = load_image_dataset(config.data(), base_dir, config.seed(), scope.only_split);
  for (auto [from, to] :
       {std::pair{&images.train, &ds.train}, {&images.validation, &ds.validation}, {&images.test, &ds.test}}) {
    if (from->empty()) continue;
    // The input must take float32 [N, H, W, C] batches of these H, W and C.
    const Dims& want = input.type.dims;
    bool fits = input.type.dtype == DType::f32 && want.size() == 4;
    for (size_t d = 1; fits && d < 4; ++d) fits = want[d] < 0 || want[d] == from->dims()[d];
    if (!fits)
      throw Error(fmt::format("{}: train.images_input '{}' is {}, but the images are float32 [N, H, W, C] = {}",
                              model_path, input.name, type_str(input.type), dims_str(from->dims())));
    to->columns = {*from};
  }
  return ds;
}

}  // namespace

Split Split::gather(const std::vector<size_t>& order, size_t begin, size_t end) const {
  Split batch;
  for (const Tensor& column : columns) {
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

const Split& Dataset::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "validation") return validation;
  if (name == "test") return test;
  throw Error(fmt::format("unknown split '{}' (use train, validation or test)", name));
}

std::string tokens_input_name(const pb::TrainConfig& config) { return or_default(config.tokens_input(), "tokens"); }
std::string labels_input_name(const pb::TrainConfig& config) { return or_default(config.labels_input(), "labels"); }
std::string images_input_name(const pb::TrainConfig& config) { return or_default(config.images_input(), "images"); }

ValueId graph_input(const Graph& graph, const std::string& model_path, const std::string& name, const char* field) {
  auto id = graph.find_value(name);
  if (!id || graph.value(*id).kind != ValueKind::input)
    throw Error(fmt::format("{}: train.{} '{}' is not a graph input", model_path, field, name));
  return *id;
}

DataSource data_source(const pb::DataConfig& config) {
  if (config.format() == pb::DataConfig::PNG_DIR) return DataSource::images;
  return config.feed_size() > 0 ? DataSource::numeric : DataSource::text;
}

bool tokenizes_texts(const pb::DataConfig& config) {
  const DataSource source = data_source(config);
  return source == DataSource::text || (source == DataSource::numeric && !config.text_column().empty());
}

Dataset load_dataset(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path,
                     const std::string& base_dir, const DatasetScope& scope) {
  Dataset ds;
  switch (data_source(config.data())) {
    case DataSource::images:
      ds = image_source(config, graph, model_path, base_dir, scope);
      break;
    case DataSource::numeric:
      ds = load_numeric_dataset(config, graph, model_path, base_dir, scope);
      break;
    case DataSource::text:
      ds = text_source(config, graph, model_path, base_dir, scope);
      break;
  }
  // The classes the model predicts, even when the loaded split lacks some.
  if (auto predictions = graph.find_value(config.predictions()); predictions && ds.labels_column && !ds.binary_labels) {
    const Dims& p = graph.value(*predictions).type.dims;
    if (p.size() == 2 && p[1] > 1) ds.num_classes = std::max(ds.num_classes, p[1]);
  }
  return ds;
}

// validation_split's range is checked once, with the rest of train {}, by TrainingSetup.
data::Split validation_rows(const pb::DataConfig& config, const std::vector<int64_t>& labels, uint64_t seed) {
  const uint64_t split_seed = config.split_seed() != 0 ? config.split_seed() : seed;
  if (config.split_rule() == pb::DataConfig::SKLEARN) {
    if (split_seed > 0xffffffffULL)
      throw Error(
          fmt::format("split_seed {} must be below 2^32 for split_rule SKLEARN (numpy's RandomState)", split_seed));
    // The float field's shortest decimal as a double (0.1f -> 0.1, as Python's
    // test_size=0.1), so ceil(test_size * n) counts the rows sklearn does.
    const double test_size = std::stod(fmt::format("{}", config.validation_split()));
    return data::sklearn_stratified_split(labels, test_size, static_cast<uint32_t>(split_seed));
  }
  return data::stratified_split(labels, config.validation_split(), split_seed);
}

}  // namespace graphrun
