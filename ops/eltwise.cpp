// Elementwise unary ops: on float32 backed by oneDNN's eltwise primitive, plus
// plain loops for Sign and the dtype casts.
//
//   Relu(x) = max(x, 0)     Tanh(x) = tanh(x)     Sigmoid(x) = 1 / (1 + e^-x)
//   Exp(x) = e^x            Log(x) = ln x         Sqrt(x) = sqrt(x)
//   Neg(x) = -x             Abs(x) = |x|
// Shape rule: output has the input's shape and dtype (float32 only).
//
// Gradients: Relu, Tanh, Sigmoid, Sqrt and Abs use oneDNN's eltwise backward
// primitive through a *Grad op (dX = dY * f'(.)), fed the forward input X or,
// where f' is cheaper from the output (tanh: 1 - y^2, sigmoid: y(1 - y),
// sqrt: 1 / 2y), the forward output Y. Exp, Log and Neg compose forward ops:
//   Exp: dX = dY * Y     Log: dX = dY / X     Neg: dX = -dY
//
//   Sign(x) on float32: -1, 0 or 1. Gradient: zero (a rule that emits nothing).
//   CastToFloat(x): int64 -> float32 (float32 is copied). Gradient: identity for float32.
//   CastToInt64(x): float32 -> int64, truncating. Non-differentiable (an integer output).
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
#include "ops/nan.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

struct EltwiseSpec {
  const char* name;
  dnnl::algorithm algorithm;
  float alpha;
  float beta;
  const char* doc;
};

// A backward op: dX = dY * f'(.), where f' reads the forward input or output.
struct EltwiseGradSpec {
  const char* name;           // "ReluGrad"
  const char* forward;        // "Relu"
  dnnl::algorithm algorithm;  // oneDNN's algorithm for the backward pass
  bool uses_output;           // second input is the forward output Y (else the input X)
  const char* doc;
};

constexpr EltwiseGradSpec kEltwiseGradOps[] = {
    {"ReluGrad", "Relu", dnnl::algorithm::eltwise_relu, false, "dX = dY * (X > 0)"},
    {"TanhGrad", "Tanh", dnnl::algorithm::eltwise_tanh_use_dst_for_bwd, true, "dX = dY * (1 - Y^2)"},
    {"SigmoidGrad", "Sigmoid", dnnl::algorithm::eltwise_logistic_use_dst_for_bwd, true, "dX = dY * Y * (1 - Y)"},
    {"SqrtGrad", "Sqrt", dnnl::algorithm::eltwise_sqrt_use_dst_for_bwd, true, "dX = dY / (2 Y)"},
    {"AbsGrad", "Abs", dnnl::algorithm::eltwise_abs, false, "dX = dY * sign(X)"},
};

constexpr EltwiseSpec kEltwiseOps[] = {
    {"Relu", dnnl::algorithm::eltwise_relu, 0.f, 0.f, "y = max(x, 0) (NaN stays NaN)"},
    {"Tanh", dnnl::algorithm::eltwise_tanh, 0.f, 0.f, "y = tanh(x)"},
    {"Sigmoid", dnnl::algorithm::eltwise_logistic, 0.f, 0.f, "y = 1 / (1 + exp(-x))"},
    {"Exp", dnnl::algorithm::eltwise_exp, 0.f, 0.f, "y = exp(x)"},
    {"Log", dnnl::algorithm::eltwise_log, 0.f, 0.f, "y = ln(x)"},
    {"Sqrt", dnnl::algorithm::eltwise_sqrt, 0.f, 0.f, "y = sqrt(x)"},
    {"Neg", dnnl::algorithm::eltwise_linear, -1.f, 0.f, "y = -x"},
    {"Abs", dnnl::algorithm::eltwise_abs, 0.f, 0.f, "y = |x|"},
};

void same_shape_float(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.outputs[0] = ctx.inputs[0];
}

class EltwiseKernel final : public Kernel {
 public:
  EltwiseKernel(const EltwiseSpec& spec, const Dims& dims) : md_(plain_desc(dims)), elements_(num_elements(dims)) {
    const dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, spec.algorithm, md_, spec.alpha,
                                           spec.beta);
    const dnnl::eltwise_forward::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine());
    scratchpad_md_ = pd.scratchpad_desc();
    primitive_ = dnnl::eltwise_forward(pd);
  }
  size_t scratchpad_bytes() const override { return scratchpad_md_.get_size(); }
  void run(const KernelIO& io) const override {
    execute(primitive_, {{DNNL_ARG_SRC, wrap(md_, io.inputs[0])}, {DNNL_ARG_DST, wrap(md_, io.outputs[0])}},
            scratchpad_md_, io.scratchpad);
    // oneDNN's relu gives 0 and its exp infinity for NaN.
    const float* x = io.in<float>(0);
    if (!has_nan(x, elements_)) return;
    float* y = io.out<float>(0);
    for (int64_t i = 0; i < elements_; ++i)
      if (std::isnan(x[i])) y[i] = x[i];
  }

 private:
  KernelDesc md_;
  int64_t elements_;
  KernelDesc scratchpad_md_;
  dnnl::eltwise_forward primitive_;
};

class EltwiseGradKernel final : public Kernel {
 public:
  EltwiseGradKernel(const EltwiseGradSpec& spec, const Dims& dims) : md_(plain_desc(dims)) {
    // The backward primitive desc takes the forward one as a hint.
    const dnnl::eltwise_forward::desc fwd_desc(dnnl::prop_kind::forward_training, spec.algorithm, md_, 0.f, 0.f);
    const dnnl::eltwise_forward::primitive_desc fwd_pd(fwd_desc, cpu_engine());
    const dnnl::eltwise_backward::desc desc(spec.algorithm, md_, md_, 0.f, 0.f);
    const dnnl::eltwise_backward::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine(), fwd_pd);
    scratchpad_md_ = pd.scratchpad_desc();
    primitive_ = dnnl::eltwise_backward(pd);
    forward_arg_ = spec.uses_output ? DNNL_ARG_DST : DNNL_ARG_SRC;
  }
  size_t scratchpad_bytes() const override { return scratchpad_md_.get_size(); }
  void run(const KernelIO& io) const override {
    execute(primitive_,
            {{DNNL_ARG_DIFF_DST, wrap(md_, io.inputs[0])},
             {forward_arg_, wrap(md_, io.inputs[1])},
             {DNNL_ARG_DIFF_SRC, wrap(md_, io.outputs[0])}},
            scratchpad_md_, io.scratchpad);
  }

 private:
  KernelDesc md_;
  KernelDesc scratchpad_md_;
  dnnl::eltwise_backward primitive_;
  int forward_arg_ = DNNL_ARG_SRC;
};

void same_shape_grad(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.expect_dtype(1, DType::f32);
  if (ctx.in_dims(0).size() != ctx.in_dims(1).size())
    ctx.fail("dY has shape {} and the forward value has shape {}", dims_str(ctx.in_dims(0)), dims_str(ctx.in_dims(1)));
  ctx.outputs[0] = ctx.inputs[1];
}

GradientRule gradient_rule(const std::string& op) {
  for (const EltwiseGradSpec& grad : kEltwiseGradOps) {
    if (op != grad.forward) continue;
    return [&grad](GradientBuilder& g) {
      g.set_input_grad(0, g.emit1(grad.name, {g.output_grad(0), grad.uses_output ? g.output(0) : g.input(0)}));
    };
  }
  if (op == "Exp")
    return [](GradientBuilder& g) { g.set_input_grad(0, g.emit1("Mul", {g.output_grad(0), g.output(0)})); };
  if (op == "Log")
    return [](GradientBuilder& g) { g.set_input_grad(0, g.emit1("Div", {g.output_grad(0), g.input(0)})); };
  if (op == "Neg") return [](GradientBuilder& g) { g.set_input_grad(0, g.emit1("Neg", {g.output_grad(0)})); };
  return {};
}

// ---- CastToFloat, CastToInt64, Sign --------------------------------------------------

void infer_cast_to_float(InferContext& ctx) { ctx.outputs[0] = {DType::f32, ctx.in_dims(0)}; }
void infer_cast_to_int64(InferContext& ctx) { ctx.outputs[0] = {DType::i64, ctx.in_dims(0)}; }

// float -> int64 truncates toward zero. A C++ cast of NaN or of a value outside
// int64's range is undefined behaviour, so those saturate instead (as Java/Rust).
int64_t float_to_int64(float x) {
  if (std::isnan(x)) return 0;
  constexpr float kTwo63 = 9223372036854775808.f;  // 2^63, exact in float
  if (x >= kTwo63) return std::numeric_limits<int64_t>::max();
  if (x < -kTwo63) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(x);
}

template <typename From, typename To, typename Convert>
std::unique_ptr<Kernel> make_convert_kernel(const KernelInit& init, Convert convert) {
  const int64_t count = init.inputs[0].num_elements();
  return make_lambda_kernel([count, convert](const KernelIO& io) {
    for (int64_t i = 0; i < count; ++i) io.out<To>(0)[i] = convert(io.in<From>(0)[i]);
  });
}

std::unique_ptr<Kernel> make_copy_kernel(const KernelInit& init) {
  const size_t bytes = init.outputs[0].num_bytes();
  return make_lambda_kernel([bytes](const KernelIO& io) {
    if (bytes > 0) std::memcpy(io.outputs[0], io.inputs[0], bytes);
  });
}

std::unique_ptr<Kernel> make_cast_to_float_kernel(const KernelInit& init) {
  if (init.inputs[0].dtype == DType::f32) return make_copy_kernel(init);
  return make_convert_kernel<int64_t, float>(init, [](int64_t v) { return static_cast<float>(v); });
}

std::unique_ptr<Kernel> make_cast_to_int64_kernel(const KernelInit& init) {
  if (init.inputs[0].dtype == DType::i64) return make_copy_kernel(init);
  return make_convert_kernel<float, int64_t>(init, float_to_int64);
}

float sign_of(float x) { return x > 0 ? 1.f : (x < 0 ? -1.f : (x == 0 ? 0.f : x)); }  // NaN stays NaN

}  // namespace

void register_eltwise_ops(OpRegistry& registry) {
  for (const EltwiseSpec& spec : kEltwiseOps) {
    registry.op(spec.name)
        .inputs({"X"})
        .outputs({"Y"})
        .shape(same_shape_float)
        .kernel([&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          return std::make_unique<EltwiseKernel>(spec, init.in_dims(0));
        })
        .gradient(gradient_rule(spec.name))
        .doc(spec.doc);
  }
  for (const EltwiseGradSpec& spec : kEltwiseGradOps)
    registry.grad_op(spec.name)
        .inputs({"dY", spec.uses_output ? "Y" : "X"})
        .outputs({"dX"})
        .shape(same_shape_grad)
        .kernel([&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          return std::make_unique<EltwiseGradKernel>(spec, init.in_dims(1));
        })
        .doc(fmt::format("Gradient of {}: {}.", spec.forward, spec.doc));

  registry.op("CastToFloat")
      .inputs({"input"})
      .outputs({"output"})
      .shape(infer_cast_to_float)
      .kernel(make_cast_to_float_kernel)
      .gradient([](GradientBuilder& g) {
        const ValueId dy = g.output_grad(0);
        if (dy != kNoValue && g.needs_grad(0)) g.set_input_grad(0, dy);  // needs_grad is false for int64
      })
      .doc(
          "ONNX Cast with to = FLOAT: converts int64 to float32 (exact for |x| <= 2^24, rounded to nearest beyond); "
          "float32 input is copied. Gradient: identity for float32 input, none for int64.");

  registry.op("CastToInt64")
      .inputs({"input"})
      .outputs({"output"})
      .shape(infer_cast_to_int64)
      .kernel(make_cast_to_int64_kernel)
      .non_differentiable("an integer output")
      .doc(
          "ONNX Cast with to = INT64: converts float32 to int64 truncating toward zero (2.7 -> 2, -2.7 -> -2); NaN "
          "gives 0 and values beyond int64's range saturate to its min/max (ONNX leaves these undefined). int64 "
          "input is copied.");

  registry.op("Sign")
      .inputs({"input"})
      .outputs({"output"})
      .shape(same_shape_float)
      .kernel([](const KernelInit& init) { return make_convert_kernel<float, float>(init, sign_of); })
      .gradient([](GradientBuilder&) {})  // d sign(x) / dx = 0 wherever it exists
      .doc(
          "y = sign(x) on float32 (ONNX Sign): -1 for x < 0, 0 for x = 0, 1 for x > 0, NaN for NaN. Differentiable "
          "with gradient 0 (its derivative almost everywhere): the rule emits nothing, so no gradient flows through.");
}

}  // namespace graphrun
