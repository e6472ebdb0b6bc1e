// The op registry: every op's schema, shape rule, kernel and gradient rule.
//
// Registration is an explicit list (make_registry() calls one register_*_ops
// function per family file), not static initialisers, which silently drop ops
// from static builds. One file per op family, named after the oneDNN primitive
// family, holds everything about its ops together.
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
  GradientRule gradient;            // see ops/gradient.h
  // Explicit mark for ops without a gradient rule: ops with no float inputs
  // (Constant), and the *Grad ops themselves (no higher-order derivatives).
  // A test fails when an op has neither a rule nor this mark.
  bool non_differentiable = false;
};

// The usual definition: every listed input required (set schema.min_inputs
// lower for optional trailing ones), no attributes (set schema.attrs), and the
// gradient rule set by the caller.
OpDef make_op_def(const char* name, std::vector<std::string> inputs, std::vector<std::string> outputs, ShapeRule infer,
                  KernelFactory kernel, std::string doc);
// The same for a backward (*Grad) op: marked non-differentiable (no
// higher-order derivatives).
OpDef make_grad_op_def(const char* name, std::vector<std::string> inputs, std::vector<std::string> outputs,
                       ShapeRule infer, KernelFactory kernel, std::string doc);

class OpRegistry final : public OpCatalog {
 public:
  void add(OpDef def);  // throws on a duplicate name
  const OpDef* find(std::string_view op) const;
  const OpDef& get(std::string_view op) const;  // throws Error for unknown ops

  const OpSchema* find_schema(std::string_view op) const override;
  std::vector<std::string> op_names() const override;

 private:
  std::map<std::string, OpDef, std::less<>> ops_;
};

// All built-in ops. Built once; immutable afterwards.
const OpRegistry& builtin_ops();

// The family registration functions, one per file in ops/.
void register_eltwise_ops(OpRegistry& registry);
void register_binary_ops(OpRegistry& registry);
void register_matmul_ops(OpRegistry& registry);
void register_softmax_ops(OpRegistry& registry);
void register_reduction_ops(OpRegistry& registry);
void register_shape_ops(OpRegistry& registry);
void register_gather_ops(OpRegistry& registry);
void register_misc_ops(OpRegistry& registry);
void register_loss_ops(OpRegistry& registry);
void register_rnn_ops(OpRegistry& registry);
void register_pooling_ops(OpRegistry& registry);
void register_masked_ops(OpRegistry& registry);
void register_conv_ops(OpRegistry& registry);

}  // namespace graphrun
