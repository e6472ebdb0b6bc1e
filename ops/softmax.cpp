// Softmax and LogSoftmax along one axis on float32, backed by oneDNN's
// softmax_v2 primitive (softmax_accurate / softmax_log).
//
//   Softmax(x)_i    = exp(x_i - max_j x_j) / sum_j exp(x_j - max_j x_j)
//   LogSoftmax(x)_i = x_i - max_j x_j - log(sum_j exp(x_j - max_j x_j))
// with i, j running along `axis` (ONNX opset 13: a single axis, default -1).
// Shape rule: output has the input's shape.
//
// Gradients: SoftmaxGrad(dY, Y) and LogSoftmaxGrad(dY, Y) on oneDNN's
// softmax_v2_backward, which needs only the forward output Y, not X.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
#include "ops/nan.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

struct SoftmaxSpec {
  const char* name;
  dnnl::algorithm algorithm;
  const char* doc;
  const char* grad_name;
  const char* grad_doc;
};

constexpr SoftmaxSpec kSoftmaxOps[] = {
    {"Softmax", dnnl::algorithm::softmax_accurate,
     "y = exp(x - max(x)) / sum(exp(x - max(x))) on float32, where max and sum run along `axis` (default -1, "
     "negative counts from the end) and every other position is independent (ONNX opset 13 semantics). The "
     "output has the input's shape; each slice along `axis` sums to 1 (a slice holding a NaN is all NaN).",
     "SoftmaxGrad",
     "dX = Y * (dY - sum(dY * Y)) on float32: the gradient of Softmax given its output Y and the output "
     "gradient dY (same shape), where the sum runs along `axis` as in the forward Softmax."},
    {"LogSoftmax", dnnl::algorithm::softmax_log,
     "y = x - max(x) - log(sum(exp(x - max(x)))) = log(Softmax(x)) on float32, computed without forming "
     "Softmax(x); max and sum run along `axis` (default -1, negative counts from the end), as ONNX opset 13.",
     "LogSoftmaxGrad",
     "dX = dY - exp(Y) * sum(dY) on float32: the gradient of LogSoftmax given its output Y and the output "
     "gradient dY (same shape), where the sum runs along `axis` as in the forward LogSoftmax."},
};

int64_t axis_attr(const pb::Node& node) { return node.has_axis() ? node.axis() : -1; }

void infer_softmax(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  const TensorType& x = ctx.inputs[0];
  if (normalize_axis(axis_attr(ctx.attrs()), x.rank()) < 0)
    ctx.fail("axis {} is out of range for input 0 of shape {} (rank {})", axis_attr(ctx.attrs()), dims_str(x.dims),
             x.rank());
  if (x.rank() > DNNL_MAX_NDIMS)
    ctx.fail("input 0 has shape {}: rank {} is more than the {} oneDNN supports", dims_str(x.dims), x.rank(),
             DNNL_MAX_NDIMS);
  ctx.outputs[0] = x;
}

class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(const SoftmaxSpec& spec, const Dims& dims, int axis) : empty_(num_elements(dims) == 0) {
    if (empty_) return;  // oneDNN is never asked about empty shapes
    axis_size_ = dims[static_cast<size_t>(axis)];
    inner_ = num_elements(Dims(dims.begin() + axis + 1, dims.end()));
    elements_ = num_elements(dims);
    md_ = plain_desc(dims);
    const dnnl::softmax_v2_forward::desc desc(dnnl::prop_kind::forward_inference, spec.algorithm, md_, md_, axis);
    const dnnl::softmax_v2_forward::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine());
    scratchpad_md_ = pd.scratchpad_desc();
    primitive_ = dnnl::softmax_v2_forward(pd);
  }
  size_t scratchpad_bytes() const override { return empty_ ? 0 : scratchpad_md_.get_size(); }
  void run(const KernelIO& io) const override {
    if (empty_) return;
    execute(primitive_, {{DNNL_ARG_SRC, wrap(md_, io.inputs[0])}, {DNNL_ARG_DST, wrap(md_, io.outputs[0])}},
            scratchpad_md_, io.scratchpad);
    write_nan_through(io.out<float>(0));
  }

 private:
  // oneDNN's max skips NaN (and inf - inf is NaN), which leaves a NaN amid zeros (or -inf) of its
  // slice: the whole slice is NaN, as its sum is.
  void write_nan_through(float* y) const {
    if (!has_nan(y, elements_)) return;
    for (int64_t outer = 0; outer < elements_ / (axis_size_ * inner_); ++outer)
      for (int64_t inner = 0; inner < inner_; ++inner) {
        const int64_t first = outer * axis_size_ * inner_ + inner;
        bool nan = false;
        for (int64_t j = 0; j < axis_size_; ++j) nan |= std::isnan(y[first + j * inner_]);
        if (nan)
          for (int64_t j = 0; j < axis_size_; ++j) y[first + j * inner_] = std::numeric_limits<float>::quiet_NaN();
      }
  }

  bool empty_;
  int64_t axis_size_ = 0, inner_ = 0, elements_ = 0;
  KernelDesc md_;
  KernelDesc scratchpad_md_;
  dnnl::softmax_v2_forward primitive_;
};

// The gradient ops: dY and Y have the forward output's shape, and so does dX.
void infer_softmax_grad(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.expect_dtype(1, DType::f32);
  InferContext forward{ctx.node, {ctx.inputs[1]}, {TensorType{}}};
  infer_softmax(forward);  // checks the axis and the rank
  const Dims& dy = ctx.in_dims(0);
  const Dims& y = ctx.in_dims(1);
  Dims out = y;
  bool same = dy.size() == y.size();
  for (size_t i = 0; same && i < y.size(); ++i) {
    same = dy[i] < 0 || y[i] < 0 || dy[i] == y[i];
    if (out[i] < 0) out[i] = dy[i];  // take whichever side is known
  }
  if (!same) ctx.fail("input 0 (dY) has shape {} but input 1 (Y) has shape {}", dims_str(dy), dims_str(y));
  ctx.outputs[0] = {DType::f32, out};
}

class SoftmaxGradKernel final : public Kernel {
 public:
  SoftmaxGradKernel(const SoftmaxSpec& spec, const Dims& dims, int axis) : empty_(num_elements(dims) == 0) {
    if (empty_) return;
    md_ = plain_desc(dims);
    // The backward primitive desc takes a forward (training) one as its hint.
    const dnnl::softmax_v2_forward::desc fwd_desc(dnnl::prop_kind::forward_training, spec.algorithm, md_, md_, axis);
    const dnnl::softmax_v2_forward::primitive_desc fwd_pd(fwd_desc, user_scratchpad_attr(), cpu_engine());
    const dnnl::softmax_v2_backward::desc desc(spec.algorithm, md_, md_, md_, axis);
    const dnnl::softmax_v2_backward::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine(), fwd_pd);
    scratchpad_md_ = pd.scratchpad_desc();
    primitive_ = dnnl::softmax_v2_backward(pd);
  }
  size_t scratchpad_bytes() const override { return empty_ ? 0 : scratchpad_md_.get_size(); }
  void run(const KernelIO& io) const override {
    if (empty_) return;
    execute(primitive_,
            {{DNNL_ARG_DIFF_DST, wrap(md_, io.inputs[0])},
             {DNNL_ARG_DST, wrap(md_, io.inputs[1])},
             {DNNL_ARG_DIFF_SRC, wrap(md_, io.outputs[0])}},
            scratchpad_md_, io.scratchpad);
  }

 private:
  bool empty_;
  KernelDesc md_;
  KernelDesc scratchpad_md_;
  dnnl::softmax_v2_backward primitive_;
};

}  // namespace

void register_softmax_ops(OpRegistry& registry) {
  for (const SoftmaxSpec& spec : kSoftmaxOps) {
    registry.op(spec.name)
        .inputs({"X"})
        .outputs({"Y"})
        .attrs({"axis"})
        .shape(infer_softmax)
        .kernel([&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          const Dims& dims = init.in_dims(0);
          const int axis = normalize_axis(axis_attr(init.attrs()), static_cast<int>(dims.size()));
          return std::make_unique<SoftmaxKernel>(spec, dims, axis);
        })
        .gradient([&spec](GradientBuilder& g) {
          const ValueId dy = g.output_grad(0);
          if (dy == kNoValue || !g.needs_grad(0)) return;
          pb::Node attrs;
          if (g.node().def.has_axis()) attrs.set_axis(g.node().def.axis());
          g.set_input_grad(0, g.emit1(spec.grad_name, {dy, g.output(0)}, attrs));
        })
        .doc(spec.doc);

    registry.grad_op(spec.grad_name)
        .inputs({"dY", "Y"})
        .outputs({"dX"})
        .attrs({"axis"})
        .shape(infer_softmax_grad)
        .kernel([&spec](const KernelInit& init) -> std::unique_ptr<Kernel> {
          const Dims& dims = init.out_dims(0);
          const int axis = normalize_axis(axis_attr(init.attrs()), static_cast<int>(dims.size()));
          return std::make_unique<SoftmaxGradKernel>(spec, dims, axis);
        })
        .doc(spec.grad_doc);
  }
}

}  // namespace graphrun
