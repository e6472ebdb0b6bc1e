// `graphrun grad` (the training graph as text) and `graphrun gradcheck`
// (numeric central differences against autodiff on a whole model).
#include <fmt/format.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "autodiff/autodiff.h"
#include "graph/graph_algo.h"
#include "graphrun/train.h"
#include "ops/registry.h"
#include "runtime/model_data.h"
#include "runtime/train/setup.h"

namespace graphrun {
namespace {

pb::Model to_proto(const Graph& g, const pb::Model& original, const GradientResult& grads) {
  pb::Model m;
  m.set_version(1);
  m.set_name(original.name() + "_training");
  m.set_doc("Training graph built by graphrun's autodiff: forward nodes, the total loss, and gradient nodes.");
  m.set_seed(original.seed());
  *m.mutable_input() = original.input();
  *m.mutable_parameter() = original.parameter();
  for (NodeId id : topological_order(g)) {
    pb::Node def = g.node(id).def;
    def.clear_input();
    def.clear_output();
    for (ValueId in : g.node(id).inputs) def.add_input(g.value(in).name);
    for (ValueId out : g.node(id).outputs) def.add_output(g.value(out).name);
    *m.add_node() = def;
  }
  m.add_output(g.value(grads.loss).name);
  for (const auto& [param, grad] : grads.gradients) m.add_output(g.value(grad).name);
  pb::LossTerm* term = m.add_loss();
  term->set_value(g.value(grads.loss).name);
  return m;
}

}  // namespace

std::string gradient_graph_text(const Model& model) {
  const detail::ModelData& data = detail::data_of(model);
  Graph g = data.graph;
  const GradientResult grads = add_gradients(g, builtin_ops());
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.PrintToString(to_proto(g, data.proto, grads), &text);
  return text;
}

GradCheckResult gradcheck(const std::string& model_path, int64_t batch, int per_parameter, double tolerance) {
  // Serial, and only the first `batch` examples of the data (a model without a train block gets none).
  TrainOptions options;
  options.threads = 1;
  options.limit_examples = batch;
  TrainingSetup setup(model_path, options, {}, TrainingSetup::DataNeed::if_configured);
  const std::shared_ptr<Graph>& graph = setup.graph;
  const GradientResult& grads = setup.gradients;
  std::vector<Tensor>& params = setup.params;

  // Feeds: a batch of the training data as training feeds it (limit_examples kept the
  // first `batch` rows), else random values for a model without data.
  std::vector<Tensor> feeds(graph->inputs.size());
  std::mt19937 rng(7);
  std::map<std::string, Tensor> examples;  // graph input -> the training batch it takes
  for (size_t c = 0; c < setup.dataset.inputs.size(); ++c)
    if (setup.dataset.train.size() > 0) examples[setup.dataset.inputs[c]] = setup.dataset.train.columns[c];
  GradCheckResult result;
  result.inputs = examples.empty() ? "random inputs (the model has no training data)"
                                   : fmt::format("the first {} training examples", setup.dataset.train.size());
  for (size_t i = 0; i < graph->inputs.size(); ++i) {
    const Value& v = graph->value(graph->inputs[i]);
    if (auto example = examples.find(v.name); example != examples.end()) {
      feeds[i] = example->second;
      continue;
    }
    Dims dims = v.type.dims;
    for (int64_t& d : dims) d = d < 0 ? batch : d;
    Tensor t(v.type.dtype, dims);
    if (t.dtype() == DType::f32) {
      std::uniform_real_distribution<float> dist(-1.f, 1.f);
      for (float& x : t.values<float>()) x = dist(rng);
    }  // other int64 inputs stay 0: a valid id and class for any table
    feeds[i] = t;
  }
  // Token ids that are all padding mask every step: the gradients through them are 0 whatever the code does.
  if (tokenizes_texts(setup.config.data()))
    if (auto tokens = examples.find(tokens_input_name(setup.config)); tokens != examples.end()) {
      const auto ids = tokens->second.values<int64_t>();
      if (std::all_of(ids.begin(), ids.end(), [](int64_t id) { return id == 0; }))
        throw Error(
            fmt::format("{}: gradcheck: the batch's token ids are all padding, so every step is masked and "
                        "the check would pass whatever the gradients (use a larger --batch)",
                        model_path));
    }

  const GraphRunner& runner = *setup.runner;
  const RunContext run{true, 99};  // dropout on, with a fixed mask
  std::vector<ValueId> fetches;
  std::vector<size_t> checked_params;
  for (size_t i = 0; i < graph->parameters.size(); ++i) {
    auto it = grads.gradients.find(graph->parameters[i].value);
    if (it == grads.gradients.end()) continue;
    fetches.push_back(it->second);
    checked_params.push_back(i);
  }
  const std::vector<Tensor> analytic = runner.run(feeds, params, fetches, run);

  const double step = 1e-2;
  bool all_zero = true;
  for (size_t k = 0; k < checked_params.size(); ++k) {
    Tensor& p = params[checked_params[k]];
    const int64_t n = p.num_elements();
    std::uniform_int_distribution<int64_t> pick(0, n - 1);
    for (int s = 0; s < std::min<int64_t>(per_parameter, n); ++s) {
      const int64_t e = n <= per_parameter ? s : pick(rng);
      float* x = p.data<float>() + e;
      const float saved = *x;
      *x = static_cast<float>(saved + step);
      const double plus = runner.run(feeds, params, {grads.loss}, run)[0].data<float>()[0];
      *x = static_cast<float>(saved - step);
      const double minus = runner.run(feeds, params, {grads.loss}, run)[0].data<float>()[0];
      *x = saved;
      const double numeric = (plus - minus) / (2 * step);
      const double got = analytic[k].data<float>()[e];
      const double abs_err = std::fabs(got - numeric);
      // Relative to the larger of the two, floored so that two near-zero values do not count as far apart.
      const double rel_err = abs_err / std::max(1e-3, std::max(std::fabs(got), std::fabs(numeric)));
      ++result.checked;
      all_zero = all_zero && got == 0 && std::fabs(numeric) < 1e-6;
      result.max_abs_error = std::max(result.max_abs_error, abs_err);
      if (result.worst.empty() || rel_err > result.max_rel_error) {
        result.max_rel_error = rel_err;
        result.worst = fmt::format("{}[{}]: analytic {:.6g}, numeric {:.6g}",
                                   graph->value(graph->parameters[checked_params[k]].value).name, e, got, numeric);
      }
      // An element passes when it is close in absolute terms or in relative terms.
      if (abs_err > tolerance && rel_err > tolerance) result.passed = false;
    }
  }
  if (result.checked == 0)
    throw Error(fmt::format("{}: gradcheck: no parameter has a gradient, so there is nothing to check", model_path));
  if (all_zero)
    throw Error(
        fmt::format("{}: gradcheck: every checked gradient element is 0 (analytic and numeric) on {}, so the "
                    "check would pass whatever the gradients",
                    model_path, result.inputs));
  return result;
}

}  // namespace graphrun
