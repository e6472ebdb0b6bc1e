#include "runtime/train/non_finite.h"

#include <fmt/format.h>

#include <cmath>

#include "graph/graph_algo.h"
#include "ops/nan.h"
#include "ops/registry.h"
#include "runtime/train/setup.h"

namespace graphrun {

bool all_finite(const Tensor& tensor) {
  return tensor.dtype() != DType::f32 || all_finite(tensor.data<float>(), tensor.num_elements());
}

std::string first_non_finite(const TrainingSetup& setup, const std::vector<Tensor>& feeds, const RunContext& run) {
  const Graph& graph = *setup.graph;
  for (size_t i = 0; i < graph.inputs.size(); ++i)
    if (!all_finite(feeds[i])) return fmt::format("input '{}' (the batch's data)", graph.value(graph.inputs[i]).name);
  for (size_t i = 0; i < graph.parameters.size(); ++i)
    if (!all_finite(setup.params[i])) return fmt::format("parameter '{}'", graph.value(graph.parameters[i].value).name);
  // Every float output in plan order, but a recurrent op's workspace: raw oneDNN state, not a value.
  std::vector<NodeId> producers;
  std::vector<ValueId> outputs;
  for (NodeId id : topological_order(graph)) {
    const Node& node = graph.node(id);
    const OpSchema* schema = builtin_ops().find_schema(node.op());
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const bool workspace = schema && k < schema->output_names.size() && schema->output_names[k] == "workspace";
      if (workspace || graph.value(node.outputs[k]).type.dtype != DType::f32) continue;
      producers.push_back(id);
      outputs.push_back(node.outputs[k]);
    }
  }
  const std::vector<Tensor> values = setup.runner->run(feeds, setup.params, outputs, run);
  for (size_t i = 0; i < values.size(); ++i) {
    if (all_finite(values[i])) continue;
    const Node& node = graph.node(producers[i]);
    const std::string at = node.location.line > 0 ? fmt::format(" at {}:{}", node.location.file, node.location.line)
                                                  : " (built by autodiff)";
    return fmt::format("{}{}, output '{}'", describe(node), at, graph.value(outputs[i]).name);
  }
  return "no value of a second run of the step (the step is not deterministic)";
}

}  // namespace graphrun
