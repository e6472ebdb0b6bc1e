#include "ops/registry.h"

#include <fmt/format.h>

#include "graphrun/error.h"

namespace graphrun {

// Why a backward op has no gradient rule.
constexpr const char* kBackwardOpReason = "a backward op (no higher-order derivatives)";

OpDefBuilder& OpDefBuilder::doc(std::string text) {
  def_->schema.doc = std::move(text);
  return *this;
}

OpDefBuilder& OpDefBuilder::inputs(std::vector<std::string> names) {
  def_->schema.min_inputs = static_cast<int>(names.size());
  def_->schema.input_names = std::move(names);
  return *this;
}

OpDefBuilder& OpDefBuilder::optional_inputs(std::vector<std::string> names) {
  for (std::string& name : names) def_->schema.input_names.push_back(std::move(name));
  return *this;
}

OpDefBuilder& OpDefBuilder::variadic_inputs(std::string name, int min) {
  def_->schema.input_names = {std::move(name)};
  def_->schema.min_inputs = min;
  def_->schema.variadic_inputs = true;
  return *this;
}

OpDefBuilder& OpDefBuilder::outputs(std::vector<std::string> names) {
  def_->schema.output_names = std::move(names);
  return *this;
}

OpDefBuilder& OpDefBuilder::attrs(std::vector<std::string> names) {
  def_->schema.attrs = std::move(names);
  return *this;
}

OpDefBuilder& OpDefBuilder::shape(ShapeRule rule) {
  def_->schema.infer = std::move(rule);
  return *this;
}

OpDefBuilder& OpDefBuilder::kernel(KernelFactory factory) {
  def_->kernel = std::move(factory);
  return *this;
}

OpDefBuilder& OpDefBuilder::gradient(GradientRule rule) {
  def_->gradient = std::move(rule);
  return *this;
}

OpDefBuilder& OpDefBuilder::non_differentiable(std::string why) {
  def_->non_differentiable = std::move(why);
  return *this;
}

OpDefBuilder& OpDefBuilder::note(std::function<std::string(const Node&, const std::vector<TensorType>&)> note) {
  def_->schema.note = std::move(note);
  return *this;
}

OpDefBuilder OpRegistry::op(std::string name) {
  OpDef def;
  def.schema.name = name;
  auto [it, inserted] = ops_.emplace(std::move(name), std::move(def));
  if (!inserted) throw Error(fmt::format("op '{}' is registered twice", it->first));
  return OpDefBuilder(it->second);
}

OpDefBuilder OpRegistry::grad_op(std::string name) { return op(std::move(name)).non_differentiable(kBackwardOpReason); }

void OpRegistry::add(OpDef def) {
  std::string name = def.schema.name;
  if (!ops_.emplace(name, std::move(def)).second) throw Error(fmt::format("op '{}' is registered twice", name));
}

void OpRegistry::check_complete() const {
  for (const auto& [name, def] : ops_) {
    const char* missing = nullptr;
    if (def.schema.doc.empty())
      missing = "a doc";
    else if (!def.schema.infer)
      missing = "a shape rule";
    else if (!def.kernel)
      missing = "a kernel";
    else if (!def.gradient && def.is_differentiable())
      missing = "a gradient rule or a non_differentiable reason";
    if (missing) throw Error(fmt::format("op '{}' is declared without {}", name, missing));
    if (def.gradient && !def.is_differentiable())
      throw Error(fmt::format("op '{}' has a gradient rule but is marked non-differentiable", name));
  }
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
#define GRAPHRUN_OP_FAMILY(family) register_##family##_ops(r);
#include "ops/families.inc"
#undef GRAPHRUN_OP_FAMILY
    r.check_complete();
    return r;
  }();
  return registry;
}

}  // namespace graphrun
