// The op registry: every op's schema, shape rule, kernel and gradient rule.
//
// Each op is one chained declaration (in the style of NNVM's NNVM_REGISTER_OP
// and oneDNN Graph's op_schema_t setters):
//
//   registry.op("Relu").doc("y = max(x, 0)").inputs({"X"}).outputs({"Y"})
//       .shape(same_shape_float).kernel(make_relu_kernel).gradient(relu_gradient);
//   registry.grad_op("ReluGrad")...;  // a backward op: marked non-differentiable
//
// Registration is an explicit list (builtin_ops() calls register_<family>_ops
// for every family in ops/families.inc), not static initialisers, which
// silently drop ops from static builds. One file per op family, named after the
// oneDNN primitive family, holds everything about its ops together.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "graph/op_schema.h"
#include "ops/kernel.h"

namespace graphrun {

class GradientBuilder;  // ops/gradient.h; implemented by the reverse pass in autodiff/
using GradientRule = std::function<void(GradientBuilder&)>;

struct OpDef {
  OpSchema schema;
  KernelFactory kernel;
  GradientRule gradient;  // see ops/gradient.h
  // Why the op has no gradient rule, for the ops that have none: no float
  // inputs (Constant), integer outputs (ArgMax), the *Grad ops themselves (no
  // higher-order derivatives). Empty for ops with a rule; the registry rejects
  // an op with neither.
  std::string non_differentiable;

  bool is_differentiable() const { return non_differentiable.empty(); }
};

// Fills in one OpDef, one property per call. Inputs listed by inputs() are
// required; optional_inputs() appends trailing optional ones.
class OpDefBuilder {
 public:
  explicit OpDefBuilder(OpDef& def) : def_(&def) {}

  OpDefBuilder& doc(std::string text);  // one paragraph: semantics and math
  OpDefBuilder& inputs(std::vector<std::string> names);
  OpDefBuilder& optional_inputs(std::vector<std::string> names);
  // Any number of inputs >= min, all named `name` in the docs (Concat).
  OpDefBuilder& variadic_inputs(std::string name, int min);
  OpDefBuilder& outputs(std::vector<std::string> names);
  OpDefBuilder& attrs(std::vector<std::string> names);  // pb::Node attribute fields the op reads
  OpDefBuilder& shape(ShapeRule rule);
  OpDefBuilder& kernel(KernelFactory factory);
  OpDefBuilder& gradient(GradientRule rule);
  OpDefBuilder& non_differentiable(std::string why);
  // A short note `graphrun check` prints for a node of this op.
  OpDefBuilder& note(std::function<std::string(const Node&, const std::vector<TensorType>&)> note);

 private:
  OpDef* def_;
};

class OpRegistry final : public OpCatalog {
 public:
  // Declares op `name` (throws on a duplicate) and returns its builder.
  OpDefBuilder op(std::string name);
  // The same for a backward (*Grad) op: marked non-differentiable.
  OpDefBuilder grad_op(std::string name);

  void add(OpDef def);  // throws on a duplicate name
  // Throws an Error naming the first op that lacks a doc, shape rule or
  // kernel, or has both a gradient rule and a non-differentiable mark, or
  // neither. builtin_ops() runs it once.
  void check_complete() const;

  const OpDef* find(std::string_view op) const;
  const OpDef& get(std::string_view op) const;  // throws Error for unknown ops

  const OpSchema* find_schema(std::string_view op) const override;
  std::vector<std::string> op_names() const override;

 private:
  std::map<std::string, OpDef, std::less<>> ops_;
};

// All built-in ops. Built once; immutable afterwards.
const OpRegistry& builtin_ops();

// The family registration functions: register_<family>_ops, one per family in
// ops/families.inc.
#define GRAPHRUN_OP_FAMILY(family) void register_##family##_ops(OpRegistry& registry);
#include "ops/families.inc"
#undef GRAPHRUN_OP_FAMILY

}  // namespace graphrun
