// `graphrun grad` (the training graph as text) and `graphrun gradcheck`
// (numeric central differences against autodiff on a whole model).
#include <fmt/format.h>
#include <google/protobuf/text_format.h>

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

  // Feeds: the first training examples when the model has data, else random values.
  std::vector<Tensor> feeds(graph->inputs.size());
  std::mt19937 rng(7);
  std::map<std::string, Tensor> examples;  // graph input -> the training data it takes
  for (size_t c = 0; c < setup.dataset.inputs.size(); ++c)
    if (!setup.dataset.train.columns.empty()) examples[setup.dataset.inputs[c]] = setup.dataset.train.columns[c];
  for (size_t i = 0; i < graph->inputs.size(); ++i) {
    const Value& v = graph->value(graph->inputs[i]);
    Dims dims = v.type.dims;
    for (int64_t& d : dims) d = d < 0 ? batch : d;
    Tensor t(v.type.dtype, dims);
    auto example = examples.find(v.name);
    if (example != examples.end() && !example->second.empty()) {
      const Tensor& src = example->second;  // token ids, labels, images or numeric columns
      const int64_t row = src.num_elements() / src.dims()[0];
      for (int64_t k = 0; k < t.num_elements(); ++k) {
        const int64_t at = k % (row * std::min<int64_t>(batch, src.dims()[0]));
        const double value =
            src.dtype() == DType::i64 ? static_cast<double>(src.data<int64_t>()[at]) : src.data<float>()[at];
        if (t.dtype() == DType::i64)
          t.data<int64_t>()[k] = static_cast<int64_t>(value);
        else
          t.data<float>()[k] = static_cast<float>(value);
      }
    } else if (t.dtype() == DType::f32) {
      std::uniform_real_distribution<float> dist(-1.f, 1.f);
      for (float& x : t.values<float>()) x = dist(rng);
    }  // other int64 inputs stay 0: a valid id and class for any table
    feeds[i] = t;
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

  GradCheckResult result;
  const double step = 1e-2;
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
      const double rel_err = abs_err / std::max(1e-3, std::max(std::fabs(got), std::fabs(numeric)));
      ++result.checked;
      if (abs_err > result.max_abs_error) {
        result.max_abs_error = abs_err;
        result.worst = fmt::format("{}[{}]: analytic {:.6g}, numeric {:.6g}",
                                   graph->value(graph->parameters[checked_params[k]].value).name, e, got, numeric);
      }
      // An element passes when it is close in absolute terms or in relative terms.
      if (abs_err > tolerance) result.max_rel_error = std::max(result.max_rel_error, rel_err);
    }
  }
  result.passed = result.max_rel_error <= tolerance;
  return result;
}

}  // namespace graphrun
