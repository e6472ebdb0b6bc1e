#include "autodiff/autodiff.h"

#include <fmt/format.h>

#include "graph/graph_algo.h"
#include "graph/op_schema.h"
#include "ops/gradient.h"

namespace graphrun {
namespace {

// Emits nodes into the graph with their types inferred at once, so later rules
// see the shapes of earlier gradient values.
class NodeEmitter {
 public:
  NodeEmitter(Graph& graph, const OpRegistry& ops) : graph_(graph), ops_(ops) {}

  std::vector<ValueId> emit(const std::string& scope, const std::string& op, const std::vector<ValueId>& inputs,
                            const pb::Node& attrs) {
    const OpDef& def = ops_.get(op);
    pb::Node node_def = attrs;
    std::string name;
    do name = fmt::format("{}/{}_{}", scope, op, counter_++);
    while (graph_.find_node(name) || graph_.find_value(name));
    node_def.set_name(name);
    node_def.set_op(op);
    node_def.clear_input();
    node_def.clear_output();
    for (ValueId in : inputs) node_def.add_input(graph_.value(in).name);
    std::vector<ValueId> outputs;
    for (size_t k = 0; k < def.schema.output_names.size(); ++k) {
      const std::string out_name = k == 0 ? name : fmt::format("{}:{}", name, k);
      node_def.add_output(out_name);
      outputs.push_back(graph_.add_value(out_name, ValueKind::node_output, TensorType{}));
    }
    const NodeId id = graph_.add_node(std::move(node_def), inputs, outputs);
    std::vector<TensorType> in_types;
    for (ValueId in : inputs) in_types.push_back(graph_.value(in).type);
    const std::vector<TensorType> out_types = infer_node_types(def.schema, graph_.node(id), in_types);
    for (size_t k = 0; k < outputs.size(); ++k) graph_.value(outputs[k]).type = out_types[k];
    return outputs;
  }

  // The sum of `terms` (at least one), as a chain of Add nodes.
  ValueId sum(const std::string& scope, const std::vector<ValueId>& terms) {
    ValueId total = terms.at(0);
    for (size_t i = 1; i < terms.size(); ++i) total = emit(scope, "Add", {total, terms[i]}, {})[0];
    return total;
  }

  ValueId constant(const std::string& scope, const Dims& dims, float value) {
    pb::Node attrs;
    for (int64_t d : dims) attrs.mutable_value()->add_dims(d);
    for (int64_t i = 0; i < num_elements(dims); ++i) attrs.mutable_value()->add_float_data(value);
    return emit(scope, "Constant", {}, attrs)[0];
  }

 private:
  Graph& graph_;
  const OpRegistry& ops_;
  int counter_ = 0;
};

class ReverseBuilder final : public GradientBuilder {
 public:
  ReverseBuilder(Graph& graph, NodeEmitter& emitter, const Node& node, std::vector<ValueId> output_grads,
                 const std::vector<bool>& downstream, std::map<ValueId, std::vector<ValueId>>& contributions)
      : graph_(graph),
        emitter_(emitter),
        node_(node),
        output_grads_(std::move(output_grads)),
        downstream_(downstream),
        contributions_(contributions) {}

  const Node& node() const override { return node_; }
  const TensorType& type(ValueId value) const override { return graph_.value(value).type; }
  ValueId output_grad(size_t k) const override { return output_grads_.at(k); }
  bool needs_grad(size_t i) const override {
    const ValueId in = input(i);
    return downstream_[static_cast<size_t>(in)] && graph_.value(in).type.dtype == DType::f32;
  }
  void set_input_grad(size_t i, ValueId grad) override {
    if (!needs_grad(i)) return;
    const TensorType& want = type(input(i));
    const TensorType& have = type(grad);
    if (have.dtype != want.dtype || have.rank() != want.rank())
      throw node_error("autodiff failed", node_,
                       fmt::format("gradient rule gave input {} a gradient of type {}, expected {}", i, type_str(have),
                                   type_str(want)));
    contributions_[input(i)].push_back(grad);
  }
  std::vector<ValueId> emit(const std::string& op, const std::vector<ValueId>& inputs, const pb::Node& attrs) override {
    return emitter_.emit("grad/" + node_.name(), op, inputs, attrs);
  }

 private:
  Graph& graph_;
  NodeEmitter& emitter_;
  const Node& node_;
  std::vector<ValueId> output_grads_;
  const std::vector<bool>& downstream_;
  std::map<ValueId, std::vector<ValueId>>& contributions_;
};

}  // namespace

GradientResult add_gradients(Graph& graph, const OpRegistry& ops, std::vector<ValueId> wrt) {
  if (graph.loss_terms.empty())
    throw Error(fmt::format("model '{}' declares no loss term; add `loss {{ value: ... }}`", graph.name));
  if (wrt.empty())
    for (const ParameterDef& p : graph.parameters)
      if (p.trainable() && graph.value(p.value).type.dtype == DType::f32) wrt.push_back(p.value);

  NodeEmitter emitter(graph, ops);
  GradientResult result;

  // The total loss, and the seed gradient of each term: dLoss/dterm = weight.
  std::map<ValueId, std::vector<ValueId>> contributions;
  std::vector<ValueId> weighted_terms, term_values;
  for (const LossTermDef& term : graph.loss_terms) {
    const Dims& dims = graph.value(term.value).type.dims;
    term_values.push_back(term.value);
    contributions[term.value].push_back(emitter.constant("grad/loss", dims, term.weight));
    weighted_terms.push_back(
        term.weight == 1.0f
            ? term.value
            : emitter.emit("loss", "Mul", {term.value, emitter.constant("loss", dims, term.weight)}, {})[0]);
  }
  result.loss = weighted_terms.size() == 1 ? weighted_terms[0] : emitter.sum("loss", weighted_terms);

  const std::vector<bool> downstream = values_reachable_from(graph, wrt);
  const std::vector<bool> upstream = nodes_needed_for(graph, term_values);
  std::vector<NodeId> order = topological_order(graph);
  const size_t forward_nodes = graph.num_node_slots();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const NodeId id = *it;
    if (static_cast<size_t>(id) >= forward_nodes || !upstream[static_cast<size_t>(id)]) continue;
    // A copy: emitting nodes below may reallocate the graph's node storage.
    const Node node = graph.node(id);
    bool on_path = false;
    for (ValueId in : node.inputs) on_path = on_path || downstream[static_cast<size_t>(in)];
    if (!on_path) continue;

    std::vector<ValueId> output_grads;
    bool any = false;
    for (ValueId out : node.outputs) {
      auto c = contributions.find(out);
      output_grads.push_back(c == contributions.end() ? kNoValue : emitter.sum("grad/" + node.name(), c->second));
      any = any || output_grads.back() != kNoValue;
    }
    if (!any) continue;
    const OpDef& def = ops.get(node.op());
    if (!def.gradient) {
      if (!def.is_differentiable()) continue;
      throw node_error("autodiff failed", node, "the op has no gradient rule");
    }
    ReverseBuilder builder(graph, emitter, node, std::move(output_grads), downstream, contributions);
    def.gradient(builder);
  }

  for (ValueId p : wrt) {
    auto c = contributions.find(p);
    if (c != contributions.end()) result.gradients[p] = emitter.sum("grad/" + graph.value(p).name, c->second);
  }
  return result;
}

}  // namespace graphrun
