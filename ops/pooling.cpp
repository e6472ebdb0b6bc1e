// Max pooling over the time axis of a sequence, backed by oneDNN's pooling
// primitive (pooling_max).
//
//   MaxPool1D(X [N, T, C]) = Y [N, T', C],  y[n, t, c] = max_{j < k} x[n, t*s + j, c]
// with kernel k = kernel_shape[0] and stride s = strides[0] (default k), "valid"
// padding: T' = floor((T - k) / s) + 1. This is Keras' MaxPool1D (channels-last,
// pool_size, strides defaulting to pool_size); ONNX MaxPool is channels-first, so
// the op keeps the Keras name. [N, T, C] is oneDNN's `nwc` layout: no transposes.
// Global max over time is ReduceMax over axis 1 (or MaskedReduceMax with a mask).
//
// Gradient: MaxPool1DGrad(dY, X) sends each dY to the position that won its window
// (oneDNN's pooling backward). That needs the forward pass's workspace (the argmax
// per output); the grad kernel recomputes it with a forward_training pass into its
// scratchpad, so MaxPool1D needs no extra output and inference pays nothing.
#include <fmt/format.h>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
#include "ops/nan.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

struct PoolWindow {
  int64_t kernel = 0, stride = 0;
};

PoolWindow window_of(const pb::Node& attrs) {
  PoolWindow w;
  w.kernel = attrs.kernel_shape_size() == 1 ? attrs.kernel_shape(0) : 0;
  w.stride = attrs.strides_size() == 1 ? attrs.strides(0) : w.kernel;
  return w;
}

int64_t pooled_length(int64_t t, const PoolWindow& w) { return t < 0 ? -1 : (t - w.kernel) / w.stride + 1; }

void infer_max_pool(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.expect_rank(0, 3);
  const pb::Node& attrs = ctx.attrs();
  if (attrs.kernel_shape_size() != 1 || attrs.kernel_shape(0) < 1)
    ctx.fail("kernel_shape must be one window length >= 1 (got [{}])", fmt::join(attrs.kernel_shape(), ","));
  if (attrs.strides_size() > 1 || (attrs.strides_size() == 1 && attrs.strides(0) < 1))
    ctx.fail("strides must be one stride >= 1 (got [{}])", fmt::join(attrs.strides(), ","));
  const PoolWindow w = window_of(attrs);
  const Dims& x = ctx.in_dims(0);
  if (x[1] >= 0 && x[1] < w.kernel)
    ctx.fail("input 0 has {} time steps, fewer than the window of {} (valid padding)", x[1], w.kernel);
  ctx.outputs[0] = {DType::f32, {x[0], pooled_length(x[1], w), x[2]}};
}

void infer_max_pool_grad(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.expect_dtype(1, DType::f32);
  ctx.outputs[0] = ctx.inputs[1];
}

// [N, T, C] as oneDNN's {N, C, T} in nwc order.
dnnl::memory::desc sequence_desc(const Dims& ntc) {
  return dnnl::memory::desc({ntc[0], ntc[2], ntc[1]}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nwc);
}

dnnl::pooling_forward::desc pool_desc(dnnl::prop_kind kind, const Dims& x, const Dims& y, const PoolWindow& w) {
  return dnnl::pooling_forward::desc(kind, dnnl::algorithm::pooling_max, sequence_desc(x), sequence_desc(y), {w.stride},
                                     {w.kernel}, {0}, {0});
}

class MaxPoolKernel final : public Kernel {
 public:
  MaxPoolKernel(const Dims& x, const Dims& y, const PoolWindow& w)
      : empty_(num_elements(y) == 0), x_(x), y_(y), window_(w) {
    if (empty_) return;
    const dnnl::pooling_forward::primitive_desc pd(pool_desc(dnnl::prop_kind::forward_inference, x, y, w),
                                                   user_scratchpad_attr(), cpu_engine());
    src_md_ = pd.src_desc();
    dst_md_ = pd.dst_desc();
    scratchpad_md_ = pd.scratchpad_desc();
    primitive_ = dnnl::pooling_forward(pd);
  }
  size_t scratchpad_bytes() const override { return empty_ ? 0 : scratchpad_md_.get_size(); }
  void run(const KernelIO& io) const override {
    if (empty_) return;
    execute(primitive_, {{DNNL_ARG_SRC, wrap(src_md_, io.inputs[0])}, {DNNL_ARG_DST, wrap(dst_md_, io.outputs[0])}},
            scratchpad_md_, io.scratchpad);
    write_nan_through(io.in<float>(0), io.out<float>(0));
  }

 private:
  // oneDNN's max pooling skips NaN: a window holding one gives NaN.
  void write_nan_through(const float* x, float* y) const {
    if (!has_nan(x, num_elements(x_))) return;
    const int64_t T = x_[1], C = x_[2], W = y_[1];
    for (int64_t n = 0; n < x_[0]; ++n)
      for (int64_t w = 0; w < W; ++w)
        for (int64_t j = 0; j < window_.kernel; ++j)
          for (int64_t c = 0; c < C; ++c) {
            const float v = x[(n * T + w * window_.stride + j) * C + c];
            if (std::isnan(v)) y[(n * W + w) * C + c] = v;
          }
  }

  bool empty_;
  Dims x_, y_;
  PoolWindow window_;
  KernelDesc src_md_, dst_md_, scratchpad_md_;
  dnnl::pooling_forward primitive_;
};

// Forward (training, for the workspace) then backward, both into the scratchpad.
class MaxPoolGradKernel final : public Kernel {
 public:
  MaxPoolGradKernel(const Dims& x, const Dims& y, const PoolWindow& w)
      : empty_(num_elements(x) == 0), zero_windows_(num_elements(y) == 0), x_bytes_(num_elements(x) * sizeof(float)) {
    if (empty_ || zero_windows_) return;
    const dnnl::pooling_forward::primitive_desc fwd_pd(pool_desc(dnnl::prop_kind::forward_training, x, y, w),
                                                       user_scratchpad_attr(), cpu_engine());
    const dnnl::pooling_backward::desc bwd_desc(dnnl::algorithm::pooling_max, sequence_desc(x), sequence_desc(y),
                                                {w.stride}, {w.kernel}, {0}, {0});
    const dnnl::pooling_backward::primitive_desc bwd_pd(bwd_desc, user_scratchpad_attr(), cpu_engine(), fwd_pd);
    src_md_ = fwd_pd.src_desc();
    dst_md_ = fwd_pd.dst_desc();
    workspace_md_ = fwd_pd.workspace_desc();
    fwd_scratch_md_ = fwd_pd.scratchpad_desc();
    bwd_scratch_md_ = bwd_pd.scratchpad_desc();
    fwd_scratch_ = plan_.add(fwd_scratch_md_.get_size());
    bwd_scratch_ = plan_.add(bwd_scratch_md_.get_size());
    pooled_ = plan_.add(dst_md_.get_size());
    workspace_ = plan_.add(workspace_md_.get_size());
    forward_ = dnnl::pooling_forward(fwd_pd);
    backward_ = dnnl::pooling_backward(bwd_pd);
  }
  size_t scratchpad_bytes() const override { return plan_.total(); }
  void run(const KernelIO& io) const override {
    if (empty_) return;
    if (zero_windows_) {
      std::memset(io.outputs[0], 0, x_bytes_);
      return;
    }
    std::byte* pad = static_cast<std::byte*>(io.scratchpad);
    const dnnl::memory workspace = wrap(workspace_md_, pad + workspace_);
    execute(forward_,
            {{DNNL_ARG_SRC, wrap(src_md_, io.inputs[1])},
             {DNNL_ARG_DST, wrap(dst_md_, pad + pooled_)},
             {DNNL_ARG_WORKSPACE, workspace}},
            fwd_scratch_md_, pad + fwd_scratch_);
    execute(backward_,
            {{DNNL_ARG_DIFF_DST, wrap(dst_md_, io.inputs[0])},
             {DNNL_ARG_DIFF_SRC, wrap(src_md_, io.outputs[0])},
             {DNNL_ARG_WORKSPACE, workspace}},
            bwd_scratch_md_, pad + bwd_scratch_);
  }

 private:
  bool empty_, zero_windows_;
  size_t x_bytes_;
  KernelDesc src_md_, dst_md_, workspace_md_, fwd_scratch_md_, bwd_scratch_md_;
  ScratchPlan plan_;
  size_t fwd_scratch_ = 0, bwd_scratch_ = 0, pooled_ = 0, workspace_ = 0;
  dnnl::pooling_forward forward_;
  dnnl::pooling_backward backward_;
};

void max_pool_gradient(GradientBuilder& g) {
  const ValueId dy = g.output_grad(0);
  if (dy == kNoValue || !g.needs_grad(0)) return;
  pb::Node attrs;
  *attrs.mutable_kernel_shape() = g.node().def.kernel_shape();
  *attrs.mutable_strides() = g.node().def.strides();
  g.set_input_grad(0, g.emit1("MaxPool1DGrad", {dy, g.input(0)}, attrs));
}

}  // namespace

void register_pooling_ops(OpRegistry& registry) {
  registry.op("MaxPool1D")
      .inputs({"X"})
      .outputs({"Y"})
      .attrs({"kernel_shape", "strides"})
      .shape(infer_max_pool)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<MaxPoolKernel>(init.in_dims(0), init.out_dims(0), window_of(init.attrs()));
      })
      .gradient(max_pool_gradient)
      .doc(
          "Keras MaxPool1D on float32 X [N, T, C] (channels last): Y [N, T', C] with y[n, t, c] = max over j < k of "
          "x[n, t*s + j, c], window k = kernel_shape[0] (required), stride s = strides[0] (default k), valid "
          "padding: T' = floor((T - k) / s) + 1. oneDNN pooling_max in nwc layout. Global max over time is ReduceMax "
          "over axis 1. A window holding a NaN gives NaN. Gradient: MaxPool1DGrad.");

  registry.grad_op("MaxPool1DGrad")
      .inputs({"dY", "X"})
      .outputs({"dX"})
      .attrs({"kernel_shape", "strides"})
      .shape(infer_max_pool_grad)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<MaxPoolGradKernel>(init.in_dims(1), init.in_dims(0), window_of(init.attrs()));
      })
      .doc(
          "Gradient of MaxPool1D: dX (X's shape) gets each window's dY at the position of that window's max (the "
          "first one on ties, oneDNN's choice), summed where windows overlap. Recomputes the forward argmax "
          "(oneDNN's workspace) in its scratchpad.");
}

}  // namespace graphrun
