#include "ops/registry.h"

#include <fmt/format.h>

#include "graphrun/error.h"

namespace graphrun {

OpDef make_op_def(const char* name, std::vector<std::string> inputs, std::vector<std::string> outputs, ShapeRule infer,
                  KernelFactory kernel, std::string doc) {
  OpDef def;
  def.schema.name = name;
  def.schema.doc = std::move(doc);
  def.schema.min_inputs = static_cast<int>(inputs.size());
  def.schema.input_names = std::move(inputs);
  def.schema.output_names = std::move(outputs);
  def.schema.infer = std::move(infer);
  def.kernel = std::move(kernel);
  return def;
}

OpDef make_grad_op_def(const char* name, std::vector<std::string> inputs, std::vector<std::string> outputs,
                       ShapeRule infer, KernelFactory kernel, std::string doc) {
  OpDef def = make_op_def(name, std::move(inputs), std::move(outputs), std::move(infer), std::move(kernel), std::move(doc));
  def.non_differentiable = true;
  return def;
}

void OpRegistry::add(OpDef def) {
  std::string name = def.schema.name;
  if (!ops_.emplace(name, std::move(def)).second) throw Error(fmt::format("op '{}' is registered twice", name));
}

const OpDef* OpRegistry::find(std::string_view op) const {
  auto it = ops_.find(op);
  return it == ops_.end() ? nullptr : &it->second;
}

const OpDef& OpRegistry::get(std::string_view op) const {
  const OpDef* def = find(op);
  if (!def) throw Error(fmt::format("unknown op '{}'", op));
  return *def;
}

const OpSchema* OpRegistry::find_schema(std::string_view op) const {
  const OpDef* def = find(op);
  return def ? &def->schema : nullptr;
}

std::vector<std::string> OpRegistry::op_names() const {
  std::vector<std::string> names;
  for (const auto& [name, def] : ops_) names.push_back(name);
  return names;
}

const OpRegistry& builtin_ops() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_eltwise_ops(r);
    register_binary_ops(r);
    register_matmul_ops(r);
    register_softmax_ops(r);
    register_reduction_ops(r);
    register_shape_ops(r);
    register_gather_ops(r);
    register_misc_ops(r);
    register_loss_ops(r);
    register_rnn_ops(r);
    register_pooling_ops(r);
    register_masked_ops(r);
    register_conv_ops(r);
    return r;
  }();
  return registry;
}

}  // namespace graphrun
