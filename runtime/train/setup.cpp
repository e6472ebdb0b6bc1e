#include "runtime/train/setup.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>

#include "graph/shape.h"
#include "ops/registry.h"
#include "runtime/initializers.h"
#include "runtime/train/batches.h"
#include "runtime/train/callbacks.h"
#include "runtime/train/checkpoint.h"
#include "runtime/train/named_tensor.h"
#include "runtime/train/optimizer.h"

namespace graphrun {

namespace {

// The metrics a run computes, by name: loss, and accuracy with predictions; val_ ones with validation data.
void check_metric_name(const std::string& metric, const char* field, const pb::TrainConfig& config,
                       const std::string& model_path) {
  const bool validation = metric.starts_with("val_");
  const std::string base = validation ? metric.substr(4) : metric;
  const bool known =
      base == "loss" || ((base == "accuracy" || base == "binary_accuracy") && !config.predictions().empty());
  if (!known)
    throw Error(fmt::format("{}: train.{} '{}' is not a metric of this run (loss{}, and val_ of each)", model_path,
                            field, metric, config.predictions().empty() ? "" : ", accuracy or binary_accuracy"));
  if (validation && config.data().validation_size() == 0 && config.data().validation_split() == 0)
    throw Error(fmt::format("{}: train.{} '{}' needs validation data (data.validation or data.validation_split)",
                            model_path, field, metric));
}

// The graph inputs the data feeds, by kind of data (the loaders read the same names).
void check_data_inputs(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path) {
  const pb::DataConfig& data = config.data();
  switch (data_source(data)) {
    case DataSource::images:
      graph_input(graph, model_path, images_input_name(config), "images_input");
      return;
    case DataSource::numeric:
      for (const pb::DataFeed& feed : data.feed()) graph_input(graph, model_path, feed.input(), "data.feed.input");
      if (!data.label_column().empty()) graph_input(graph, model_path, labels_input_name(config), "labels_input");
      if (!data.text_column().empty()) graph_input(graph, model_path, tokens_input_name(config), "tokens_input");
      return;
    case DataSource::text:
      graph_input(graph, model_path, tokens_input_name(config), "tokens_input");
      graph_input(graph, model_path, labels_input_name(config), "labels_input");
      return;
  }
}

// The GatherGrad node that is `gradient` when it is the whole gradient of the
// table `parameter` on axis 0 (so the optimizer can take its rows), else kNoNode.
NodeId table_gradient(const Graph& graph, ValueId parameter, ValueId gradient) {
  const NodeId producer = graph.value(gradient).producer;
  if (producer == kNoNode) return kNoNode;
  const Node& node = graph.node(producer);
  if (node.op() != "GatherGrad" || node.inputs.size() != 3 || node.inputs[2] != parameter) return kNoNode;
  const int rank = graph.value(parameter).type.rank();
  return normalize_axis(node.def.has_axis() ? node.def.axis() : 0, rank) == 0 ? producer : kNoNode;
}

}  // namespace

void check_train_config(const pb::TrainConfig& config, const Graph& graph, const std::string& model_path) {
  if (config.has_batch_size() && config.batch_size() <= 0)
    throw Error(
        fmt::format("{}: train.batch_size {} must be positive (leave it out for 32)", model_path, config.batch_size()));
  if (config.has_epochs() && config.epochs() <= 0)
    throw Error(fmt::format("{}: train.epochs {} must be positive (leave it out for 1)", model_path, config.epochs()));
  const float split = config.data().validation_split();
  if (!(split >= 0 && split < 1))
    throw Error(fmt::format("{}: train.data.validation_split {} must be in [0, 1)", model_path, split));
  if (config.early_stopping().patience() < 0)
    throw Error(fmt::format("{}: train.early_stopping.patience {} must not be negative", model_path,
                            config.early_stopping().patience()));
  try {
    Optimizer(optimizer_config(config.optimizer()), {});  // validates the optimizer's values
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", model_path, e.what()));
  }
  std::optional<ValueId> predictions;
  if (!config.predictions().empty()) {
    predictions = graph.find_value(config.predictions());
    if (!predictions)
      throw Error(
          fmt::format("{}: train.predictions '{}' is not a value of the graph", model_path, config.predictions()));
  }
  if (!config.keep_best().empty()) check_metric_name(config.keep_best(), "keep_best", config, model_path);
  if (!config.early_stopping().monitor().empty())
    check_metric_name(config.early_stopping().monitor(), "early_stopping.monitor", config, model_path);
  if (config.early_stopping().patience() > 0 && config.early_stopping().monitor().empty() && config.keep_best().empty())
    throw Error(fmt::format("{}: train.early_stopping.patience {} needs a metric to follow (early_stopping.monitor)",
                            model_path, config.early_stopping().patience()));
  check_data_inputs(config, graph, model_path);

  const pb::DataConfig& data = config.data();
  const std::string& vectors = data.word_vectors().parameter();
  if (!vectors.empty()) {
    const auto id = graph.find_value(vectors);
    if (!id || graph.value(*id).kind != ValueKind::parameter)
      throw Error(fmt::format("{}: train.data.word_vectors.parameter '{}' is not a parameter of the model", model_path,
                              vectors));
  }
  // Training pads texts to max_length; predict pads to the input's declared length: they must agree.
  if (tokenizes_texts(data) && data.max_length() > 0) {
    const Dims& tokens = graph.value(*graph.find_value(tokens_input_name(config))).type.dims;
    if (tokens.size() == 2 && tokens[1] > 0 && tokens[1] != data.max_length())
      throw Error(fmt::format("{}: train.data.max_length {} does not match the length {} of input '{}' {}", model_path,
                              data.max_length(), tokens[1], tokens_input_name(config), dims_str(tokens)));
  }
  // One score per class (or one probability for two classes).
  if (predictions && data.classes_size() > 0) {
    const Dims& scores = graph.value(*predictions).type.dims;
    const int64_t width = scores.size() == 2 ? scores[1] : -1;
    const auto classes = static_cast<int64_t>(data.classes_size());
    if (width > 0 && width != classes && !(width == 1 && classes == 2))
      throw Error(fmt::format("{}: train.data.classes names {} classes, but train.predictions '{}' {} has {} outputs",
                              model_path, classes, config.predictions(), dims_str(scores), width));
  }
}

void check_train_config(const Model& model) {
  const detail::ModelData& data = detail::data_of(model);
  if (data.proto.has_train()) check_train_config(data.proto.train(), data.graph, data.path);
}

TrainingSetup::TrainingSetup(const std::string& model_path, const TrainOptions& options, const DatasetScope& scope,
                             DataNeed need)
    : TrainingSetup(Model::load(model_path), options, scope, need) {}

TrainingSetup::TrainingSetup(const Model& loaded, const TrainOptions& options, const DatasetScope& scope, DataNeed need)
    : model(loaded), data(detail::data_of(model)) {
  const std::string& model_path = data.path;
  const bool has_data = data.proto.has_train();
  if (!has_data && need == DataNeed::required)
    throw Error(fmt::format("{}: the model has no `train {{ ... }}` block", model_path));
  config = data.proto.train();
  if (has_data) check_train_config(config, data.graph, model_path);
  if (options.batch_size) {
    if (*options.batch_size <= 0) throw Error(fmt::format("batch size {} must be positive", *options.batch_size));
    config.set_batch_size(*options.batch_size);
  }
  if (options.epochs && *options.epochs <= 0) throw Error(fmt::format("epochs {} must be positive", *options.epochs));
  if (!config.predictions().empty()) predictions = *data.graph.find_value(config.predictions());  // checked above
  if (has_data) dataset = load_dataset(config, data.graph, model_path, data.directory, scope);
  if (options.limit_examples)
    for (Split* s : {&dataset.train, &dataset.validation, &dataset.test}) {
      if (s->size() <= *options.limit_examples) continue;
      std::vector<size_t> rows(static_cast<size_t>(*options.limit_examples));
      std::iota(rows.begin(), rows.end(), 0);
      *s = s->gather(rows, 0, rows.size());
    }

  graph = std::make_shared<Graph>(data.graph);
  gradients = add_gradients(*graph, builtin_ops());
  for (size_t i = 0; i < graph->parameters.size(); ++i)
    if (gradients.gradients.count(graph->parameters[i].value)) trainable.push_back(i);
  for (size_t i : trainable) {
    const ValueId parameter = graph->parameters[i].value;
    table_gradients_.push_back(table_gradient(*graph, parameter, gradients.gradients.at(parameter)));
  }
  for (const ParameterDef& p : graph->parameters)
    params.push_back(initialize_parameter(p.def, graph->seed, data.directory));
  if (!dataset.embedding_parameter.empty()) set_parameter(dataset.embedding_parameter, dataset.embedding);
  for (const std::string& input : dataset.inputs) input_ids_.push_back(*graph->find_value(input));
  step_fetches_ = metric_fetches();  // the loss and the predictions are computed in every step, for the epoch's metrics
  first_gradient_ = step_fetches_.size();
  for (ValueId gradient : gradient_fetches()) step_fetches_.push_back(gradient);

  runner = std::make_unique<GraphRunner>(graph, ExecutionPolicy{options.threads, options.intra_threads});
}

void TrainingSetup::set_parameter(const std::string& name, const Tensor& value) {
  for (size_t i = 0; i < graph->parameters.size(); ++i) {
    const Value& v = graph->value(graph->parameters[i].value);
    if (v.name != name) continue;
    if (v.type.dims != value.dims() || v.type.dtype != value.dtype())
      throw Error(fmt::format("parameter '{}' is {}, the data gives {} (match the parameter's shape to the vocabulary)",
                              name, type_str(v.type), value.type_string()));
    std::memcpy(params[i].raw_data(), value.raw_data(), value.num_bytes());
    return;
  }
  throw Error(fmt::format("train.data.word_vectors.parameter '{}' is not a parameter of the model", name));
}

std::vector<ValueId> TrainingSetup::gradient_fetches() const {
  std::vector<ValueId> fetches;
  for (size_t k = 0; k < trainable.size(); ++k) {
    if (table_gradients_[k] != kNoNode) {
      const Node& gather_grad = graph->node(table_gradients_[k]);
      fetches.push_back(gather_grad.inputs[1]);  // indices
      fetches.push_back(gather_grad.inputs[0]);  // output_grad: the gathered rows' gradients
    } else {
      fetches.push_back(gradients.gradients.at(graph->parameters[trainable[k]].value));
    }
  }
  return fetches;
}

std::vector<Gradient> TrainingSetup::gradients_of(const std::vector<Tensor>& out, size_t first) const {
  std::vector<Gradient> grads;
  gradients_into(out, first, grads);
  return grads;
}

void TrainingSetup::gradients_into(const std::vector<Tensor>& out, size_t first, std::vector<Gradient>& grads) const {
  grads.clear();
  for (size_t k = 0; k < trainable.size(); ++k) {
    if (table_gradients_[k] != kNoNode) {
      grads.push_back(Gradient::of_rows(out.at(first), out.at(first + 1)));
      first += 2;
    } else {
      grads.emplace_back(out.at(first++));
    }
  }
}

Optimizer TrainingSetup::new_optimizer() const {
  std::vector<Dims> shapes;
  for (size_t i : trainable) shapes.push_back(params[i].dims());
  return Optimizer(optimizer_config(config.optimizer()), std::move(shapes));
}

RunContext TrainingSetup::step_context(int64_t step) const { return RunContext{true, step_seed(config, step)}; }

TrainingSetup::StepResult TrainingSetup::train_step(Optimizer& optimizer, const std::vector<Tensor>& feeds,
                                                    int64_t step) {
  StepResult result;
  result.out = runner->run(feeds, params, step_fetches_, step_context(step));
  if (const float loss = result.out[0].data<float>()[0]; !std::isfinite(loss)) {
    result.non_finite = fmt::format("the loss is {}", loss);
    return result;
  }
  const auto update_start = std::chrono::steady_clock::now();
  step_params_.clear();
  for (size_t i : trainable) step_params_.push_back(params[i]);  // shares storage: updated in place
  gradients_into(result.out, first_gradient_, step_gradients_);
  const std::optional<size_t> k = optimizer.apply(step_params_, step_gradients_);
  step_params_.clear();  // no reference held between steps
  step_gradients_.clear();
  if (k)
    result.non_finite =
        fmt::format("the gradient of '{}' is not finite", graph->value(graph->parameters[trainable[*k]].value).name);
  result.update_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - update_start).count();
  return result;
}

std::vector<Tensor> TrainingSetup::feeds(const Split& batch) const {
  std::vector<Tensor> feeds(graph->inputs.size());
  for (size_t i = 0; i < graph->inputs.size(); ++i)
    for (size_t c = 0; c < input_ids_.size(); ++c)
      if (graph->inputs[i] == input_ids_[c]) feeds[i] = batch.columns[c];
  return feeds;
}

std::vector<ValueId> TrainingSetup::metric_fetches() const {
  std::vector<ValueId> fetches = {gradients.loss};
  if (has_accuracy()) fetches.push_back(predictions);
  return fetches;
}

void TrainingSetup::track(MetricTracker& tracker, const Split& batch, const std::vector<Tensor>& out) const {
  const bool accuracy = has_accuracy() && dataset.labels_column;
  tracker.add(out[0], batch.size(), accuracy ? out[1] : Tensor(),
              accuracy ? batch.columns[*dataset.labels_column] : Tensor());
}

MetricTracker TrainingSetup::evaluate(const Split& split) const {
  MetricTracker t = tracker();
  std::vector<size_t> order(static_cast<size_t>(split.size()));
  std::iota(order.begin(), order.end(), 0);
  const auto batch = static_cast<size_t>(batch_size());
  const std::vector<ValueId> fetches = metric_fetches();
  for (size_t begin = 0; begin < order.size(); begin += batch) {
    const Split b = split.gather(order, begin, std::min(order.size(), begin + batch));
    track(t, b, runner->run(feeds(b), params, fetches, RunContext{false, 0}));
  }
  return t;
}

CheckpointToWrite TrainingSetup::checkpoint(const Optimizer& optimizer, const TrainingState& state) const {
  CheckpointToWrite ck;
  ck.message.set_version(1);
  ck.message.set_seed(config.seed());
  state.save_to(ck.message);
  // Only trainable parameters: the others are rebuilt from the model and its data
  // (initialisers, word vectors), which keeps checkpoints of frozen embeddings small.
  for (size_t i : trainable) ck.add_parameter(graph->value(graph->parameters[i].value).name, params[i]);
  for (const auto& [name, t] : optimizer.shared_state()) ck.add_optimizer_state(name, t);
  return ck;
}

void TrainingSetup::restore_parameters(const pb::Checkpoint& checkpoint, const std::string& source) {
  for (const pb::NamedTensor& named : checkpoint.parameter())
    set_parameter(named.name(), from_named_tensor(named, source));
}

}  // namespace graphrun
