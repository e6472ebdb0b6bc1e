// 2-D convolution and transposed convolution, channels-last as Keras (Conv2D,
// Conv2DTranspose), backed by oneDNN's convolution and deconvolution primitives.
//
//   Conv2D(X [N, H, W, Ci], K [kh, kw, Ci, Co], B [Co]) = Y [N, H', W', Co],
//     y[n, p, q, o] = B[o] + sum_{i, j, c} x[n, p*sh + i - top, q*sw + j - left, c] * K[i, j, c, o]
//   with x = 0 outside the image. Per spatial axis of L positions, kernel k, stride s (auto_pad):
//     VALID (default; Keras 'valid'): L' = floor((L - k) / s) + 1, no padding (a tail shorter
//       than a stride is not read);
//     SAME_UPPER (Keras/TF 'same'):   L' = ceil(L / s), total padding P = max((L' - 1)*s + k - L, 0),
//       floor(P / 2) on top/left and the rest on bottom/right.
//
//   Conv2DTranspose(X [N, H, W, Ci], K [kh, kw, Co, Ci], B [Co]) = Y [N, H*, W*, Co] is the
//   adjoint of Conv2D with the same kernel array (Keras stores the transpose kernel as
//   (kh, kw, filters, in_channels), TF's conv2d_transpose is conv2d's input gradient):
//     y[n, p*sh + i - top, q*sw + j - left, o] += x[n, p, q, c] * K[i, j, o, c]   (+ B[o]),
//   so <Conv2D(a, K), b> = <a, Conv2DTranspose(b, K)> without biases. Output size (Keras'
//   deconv_output_length with output_padding=None): VALID L* = L*s + max(k - s, 0) (that is
//   (L - 1)*s + k when k >= s; the extra positions get only the bias), SAME_UPPER L* = L*s. The
//   padding is Conv2D's on an L*-position image, whose output has L positions.
//
// Layouts: activations [N, H, W, C] are oneDNN's nhwc on its logical {N, C, H, W}: no
// transposes. oneDNN weights are {O, I, kh, kw} (the primitive's output and input channels):
// Conv2D's [kh, kw, Ci, Co] is `hwio`; Conv2DTranspose's [kh, kw, Co, Ci] is the deconvolution's
// {O = Co, I = Ci} stored h, w, o, i (no named tag in oneDNN 2.6: explicit strides). The
// primitives pick their own weights layout (format_tag::any); kernels reorder the user's kernel
// into it, and weight gradients out of it, through the scratchpad on every run (weights change
// every training step, so there is nothing to cache).
//
// Gradients (Y = Conv(X, K) + B):
//   dX = Conv2DBackwardData(dY, K, X)      oneDNN convolution_backward_data (X: only its shape is read)
//   dK = Conv2DBackwardWeights(dY, X, K)   oneDNN convolution_backward_weights (K: only its shape)
//   dB = ReduceSum(dY, axes [0, 1, 2])
// and Conv2DTransposeBackwardData/-Weights on deconvolution_backward_data/-_weights. The
// backward primitive descs take the forward-training one as hint (oneDNN's cnn_training_f32).
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

using dnnl::memory;

constexpr const char* kValid = "VALID";
constexpr const char* kSameUpper = "SAME_UPPER";

// The attributes, once the shape rule has checked them.
struct ConvAttrs {
  int64_t stride[2] = {1, 1};
  bool same = false;
};

ConvAttrs attrs_of(const pb::Node& node) {
  ConvAttrs a;
  if (node.strides_size() == 2) {
    a.stride[0] = node.strides(0);
    a.stride[1] = node.strides(1);
  }
  a.same = node.auto_pad() == kSameUpper;
  return a;
}

// Positions along one axis; -1 (unknown) stays unknown.
int64_t conv_length(int64_t image, int64_t k, int64_t s, bool same) {
  if (image < 0) return -1;
  return same ? (image + s - 1) / s : (image - k) / s + 1;
}
int64_t transpose_length(int64_t map, int64_t k, int64_t s, bool same) {
  if (map < 0) return -1;
  return same ? map * s : map * s + std::max<int64_t>(k - s, 0);
}

// Checks X (input x) and the kernel (input w) of a forward op and returns Y's dims.
Dims infer_output_dims(const InferContext& ctx, int x, int w, bool transposed) {
  ctx.expect_dtype(x, DType::f32);
  ctx.expect_rank(x, 4);
  ctx.expect_dtype(w, DType::f32);
  ctx.expect_rank(w, 4);
  const pb::Node& attrs = ctx.attrs();
  if (attrs.strides_size() != 0 && (attrs.strides_size() != 2 || attrs.strides(0) < 1 || attrs.strides(1) < 1))
    ctx.fail("strides must be two strides [sh, sw] >= 1 (got [{}])", fmt::join(attrs.strides(), ","));
  if (attrs.has_auto_pad() && attrs.auto_pad() != kValid && attrs.auto_pad() != kSameUpper)
    ctx.fail("auto_pad must be \"VALID\" or \"SAME_UPPER\" (got \"{}\")", attrs.auto_pad());
  const Dims& xd = ctx.in_dims(x);
  const Dims& wd = ctx.in_dims(w);
  const char* layout = transposed ? "[kh, kw, out, in]" : "[kh, kw, in, out]";
  if (std::any_of(wd.begin(), wd.end(), [](int64_t d) { return d < 1; }))
    ctx.fail("input {} (the kernel, {}) has shape {}; its dims must be known and >= 1", w, layout, dims_str(wd));
  if (xd[1] == 0 || xd[2] == 0) ctx.fail("input {} has shape {}: an empty image", x, dims_str(xd));
  const int64_t in_channels = transposed ? wd[3] : wd[2];
  if (xd[3] >= 0 && xd[3] != in_channels)
    ctx.fail("input {} has shape {} with {} channels, but the kernel {} ({}) takes {}", x, dims_str(xd), xd[3],
             dims_str(wd), layout, in_channels);
  const ConvAttrs a = attrs_of(attrs);
  Dims y = {xd[0], -1, -1, transposed ? wd[2] : wd[3]};
  for (int axis : {1, 2}) {
    const int64_t k = wd[static_cast<size_t>(axis - 1)], s = a.stride[axis - 1];
    if (!transposed && !a.same && xd[axis] >= 0 && xd[axis] < k)
      ctx.fail("input {} has shape {}: {} positions on axis {} are fewer than the kernel's {} (VALID padding)", x,
               dims_str(xd), xd[axis], axis, k);
    y[axis] = transposed ? transpose_length(xd[axis], k, s, a.same) : conv_length(xd[axis], k, s, a.same);
  }
  return y;
}

void infer_forward(InferContext& ctx, bool transposed) {
  const Dims y = infer_output_dims(ctx, 0, 1, transposed);
  if (ctx.num_inputs() == 3) {
    ctx.expect_dtype(2, DType::f32);
    ctx.expect_rank(2, 1);
    if (ctx.in_dims(2)[0] != y[3])
      ctx.fail("input 2 (the bias) has shape {}, expected [{}] (one per output channel)", dims_str(ctx.in_dims(2)),
               y[3]);
  }
  ctx.outputs[0] = {DType::f32, y};
}

// The backward ops: dY (input 0) must have the shape the forward op gives for X and K.
void expect_output_grad(const InferContext& ctx, const Dims& y, const char* forward_op) {
  ctx.expect_dtype(0, DType::f32);
  ctx.expect_rank(0, 4);
  const Dims& dy = ctx.in_dims(0);
  for (size_t i = 0; i < 4; ++i)
    if (dy[i] >= 0 && y[i] >= 0 && dy[i] != y[i])
      ctx.fail("input 0 (dY) has shape {}, but {} gives {} for these X and W", dims_str(dy), forward_op, dims_str(y));
}

// (dY, W, X) -> X's type.
void infer_backward_data(InferContext& ctx, bool transposed) {
  expect_output_grad(ctx, infer_output_dims(ctx, 2, 1, transposed), transposed ? "Conv2DTranspose" : "Conv2D");
  ctx.outputs[0] = ctx.inputs[2];
}

// (dY, X, W) -> W's type.
void infer_backward_weights(InferContext& ctx, bool transposed) {
  expect_output_grad(ctx, infer_output_dims(ctx, 1, 2, transposed), transposed ? "Conv2DTranspose" : "Conv2D");
  ctx.outputs[0] = ctx.inputs[2];
}

// One concrete problem, in the forward op's terms: X its input, W the kernel, Y its output.
struct ConvSpec {
  bool transposed;
  Dims x, w, y;
  ConvAttrs attrs;
};

// [N, H, W, C] as oneDNN's {N, C, H, W} in nhwc order.
memory::desc activation_desc(const Dims& nhwc) {
  return memory::desc({nhwc[0], nhwc[3], nhwc[1], nhwc[2]}, memory::data_type::f32, memory::format_tag::nhwc);
}

// oneDNN's {O, I, kh, kw}: the primitive's output and input channels.
memory::dims weights_dims(const ConvSpec& s) {
  const Dims& w = s.w;
  return s.transposed ? memory::dims{w[2], w[3], w[0], w[1]} : memory::dims{w[3], w[2], w[0], w[1]};
}

// The user's Keras kernel: [kh, kw, I, O] = hwio, or [kh, kw, O, I] for the transpose.
memory::desc user_weights_desc(const ConvSpec& s) {
  const memory::dims dims = weights_dims(s);
  if (!s.transposed) return memory::desc(dims, memory::data_type::f32, memory::format_tag::hwio);
  const int64_t o = dims[0], i = dims[1], kw = dims[3];
  return memory::desc(dims, memory::data_type::f32, memory::dims{i, 1, kw * o * i, o * i});
}

memory::desc any_weights_desc(const ConvSpec& s) {
  return memory::desc(weights_dims(s), memory::data_type::f32, memory::format_tag::any);
}

memory::desc bias_desc(const ConvSpec& s) {
  return memory::desc({s.y[3]}, memory::data_type::f32, memory::format_tag::x);
}

// Strides and paddings: Conv2D's on its image (the transpose's output), as in the file comment.
struct Geometry {
  memory::dims strides{0, 0}, pad_l{0, 0}, pad_r{0, 0};
};

Geometry geometry_of(const ConvSpec& s) {
  const Dims& image = s.transposed ? s.y : s.x;
  const Dims& map = s.transposed ? s.x : s.y;
  Geometry g;
  for (size_t a = 0; a < 2; ++a) {
    const int64_t k = s.w[a], stride = s.attrs.stride[a];
    const int64_t total = s.attrs.same ? std::max<int64_t>((map[a + 1] - 1) * stride + k - image[a + 1], 0) : 0;
    g.strides[a] = stride;
    g.pad_l[a] = total / 2;
    g.pad_r[a] = total - total / 2;
  }
  return g;
}

dnnl::convolution_forward::desc conv_forward_desc(const ConvSpec& s, dnnl::prop_kind kind, const memory::desc& bias) {
  const Geometry g = geometry_of(s);
  return dnnl::convolution_forward::desc(kind, dnnl::algorithm::convolution_direct, activation_desc(s.x),
                                         any_weights_desc(s), bias, activation_desc(s.y), g.strides, g.pad_l, g.pad_r);
}

dnnl::deconvolution_forward::desc deconv_forward_desc(const ConvSpec& s, dnnl::prop_kind kind,
                                                      const memory::desc& bias) {
  const Geometry g = geometry_of(s);
  return dnnl::deconvolution_forward::desc(kind, dnnl::algorithm::deconvolution_direct, activation_desc(s.x),
                                           any_weights_desc(s), bias, activation_desc(s.y), g.strides, g.pad_l,
                                           g.pad_r);
}

enum class Pass { forward, backward_data, backward_weights };

dnnl::primitive_desc make_pd(const ConvSpec& s, Pass pass, bool bias) {
  const dnnl::primitive_attr attr = user_scratchpad_attr();
  const dnnl::engine& engine = cpu_engine();
  const Geometry g = geometry_of(s);
  const memory::desc x = activation_desc(s.x), y = activation_desc(s.y), w = any_weights_desc(s);
  if (pass == Pass::forward) {
    const memory::desc b = bias ? bias_desc(s) : memory::desc();
    if (s.transposed)
      return dnnl::deconvolution_forward::primitive_desc(deconv_forward_desc(s, dnnl::prop_kind::forward_inference, b),
                                                         attr, engine);
    return dnnl::convolution_forward::primitive_desc(conv_forward_desc(s, dnnl::prop_kind::forward_inference, b), attr,
                                                     engine);
  }
  if (s.transposed) {
    const dnnl::deconvolution_forward::primitive_desc hint(
        deconv_forward_desc(s, dnnl::prop_kind::forward_training, memory::desc()), attr, engine);
    if (pass == Pass::backward_data)
      return dnnl::deconvolution_backward_data::primitive_desc(
          dnnl::deconvolution_backward_data::desc(dnnl::algorithm::deconvolution_direct, x, w, y, g.strides, g.pad_l,
                                                  g.pad_r),
          attr, engine, hint);
    return dnnl::deconvolution_backward_weights::primitive_desc(
        dnnl::deconvolution_backward_weights::desc(dnnl::algorithm::deconvolution_direct, x, w, y, g.strides, g.pad_l,
                                                   g.pad_r),
        attr, engine, hint);
  }
  const dnnl::convolution_forward::primitive_desc hint(
      conv_forward_desc(s, dnnl::prop_kind::forward_training, memory::desc()), attr, engine);
  if (pass == Pass::backward_data)
    return dnnl::convolution_backward_data::primitive_desc(
        dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, x, w, y, g.strides, g.pad_l,
                                              g.pad_r),
        attr, engine, hint);
  return dnnl::convolution_backward_weights::primitive_desc(
      dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, x, w, y, g.strides, g.pad_l,
                                               g.pad_r),
      attr, engine, hint);
}

// One pass of one op. Inputs are read in order (the like-inputs last, never read):
//   forward           (X, W, [B]) -> Y    SRC, WEIGHTS (reordered in), BIAS -> DST
//   backward_data     (dY, W, X)  -> dX   DIFF_DST, WEIGHTS (reordered in) -> DIFF_SRC
//   backward_weights  (dY, X, W)  -> dW   DIFF_DST, SRC -> DIFF_WEIGHTS (reordered out)
// Scratchpad: region 0 is the primitive's scratchpad, shared with the reorder (they run one
// after the other), then the kernel in the primitive's layout when a reorder is needed.
class ConvKernel final : public Kernel {
 public:
  ConvKernel(const ConvSpec& s, Pass pass, bool bias)
      : pass_(pass), empty_(s.x[0] == 0), w_bytes_(static_cast<size_t>(num_elements(s.w)) * sizeof(float)) {
    if (empty_) return;
    const dnnl::primitive_desc pd = make_pd(s, pass, bias);
    const memory::desc user_w = user_weights_desc(s);
    switch (pass) {
      case Pass::forward:
        reads_ = {{DNNL_ARG_SRC, pd.src_desc()}, {DNNL_ARG_WEIGHTS, pd.weights_desc()}};
        if (bias) reads_.push_back({DNNL_ARG_BIAS, pd.weights_desc(1)});
        write_ = {DNNL_ARG_DST, pd.dst_desc()};
        reorder_ = Reorder(user_w, pd.weights_desc());
        break;
      case Pass::backward_data:
        reads_ = {{DNNL_ARG_DIFF_DST, pd.diff_dst_desc()}, {DNNL_ARG_WEIGHTS, pd.weights_desc()}};
        write_ = {DNNL_ARG_DIFF_SRC, pd.diff_src_desc()};
        reorder_ = Reorder(user_w, pd.weights_desc());
        break;
      case Pass::backward_weights:
        reads_ = {{DNNL_ARG_DIFF_DST, pd.diff_dst_desc()}, {DNNL_ARG_SRC, pd.src_desc()}};
        write_ = {DNNL_ARG_DIFF_WEIGHTS, pd.diff_weights_desc()};
        reorder_ = Reorder(pd.diff_weights_desc(), user_w);
        break;
    }
    scratchpad_md_ = pd.scratchpad_desc();
    plan_.add(std::max(scratchpad_md_.get_size(), reorder_.scratchpad_md.get_size()));
    if (reorder_.needed())
      weights_ = plan_.add(pass == Pass::backward_weights ? reorder_.from.get_size() : reorder_.to.get_size());
    primitive_ = dnnl::primitive(pd);
  }

  size_t scratchpad_bytes() const override { return plan_.total(); }

  void run(const KernelIO& io) const override {
    if (empty_) {
      // No samples: Y and dX are empty, dW is a sum of nothing.
      if (pass_ == Pass::backward_weights) std::memset(io.outputs[0], 0, w_bytes_);
      return;
    }
    std::byte* pad = static_cast<std::byte*>(io.scratchpad);
    std::byte* weights = pad + weights_;
    PrimitiveArgs args;
    for (size_t i = 0; i < reads_.size(); ++i) {
      const void* data = io.inputs[i];
      if (reads_[i].arg == DNNL_ARG_WEIGHTS && reorder_.needed()) {
        reorder_.run(data, weights, pad);
        data = weights;
      }
      args.push_back({reads_[i].arg, wrap(reads_[i].md, data)});
    }
    const bool out_via_pad = pass_ == Pass::backward_weights && reorder_.needed();
    args.push_back({write_.arg, wrap(write_.md, out_via_pad ? weights : io.outputs[0])});
    execute(primitive_, args, scratchpad_md_, pad);
    if (out_via_pad) reorder_.run(weights, io.outputs[0], pad);
  }

 private:
  struct Arg {
    int arg = 0;
    KernelDesc md;
  };
  Pass pass_;
  bool empty_;
  size_t w_bytes_;
  std::vector<Arg> reads_;
  Arg write_;
  Reorder reorder_;
  KernelDesc scratchpad_md_;
  ScratchPlan plan_;
  size_t weights_ = 0;
  dnnl::primitive primitive_;
};

// The backward ops take the forward op's attributes.
pb::Node conv_attrs(const pb::Node& def) {
  pb::Node attrs;
  *attrs.mutable_strides() = def.strides();
  if (def.has_auto_pad()) attrs.set_auto_pad(def.auto_pad());
  return attrs;
}

GradientRule conv_gradient(std::string data_op, std::string weights_op) {
  return [data_op, weights_op](GradientBuilder& g) {
    const ValueId dy = g.output_grad(0);
    if (dy == kNoValue) return;
    const pb::Node attrs = conv_attrs(g.node().def);
    if (g.needs_grad(0)) g.set_input_grad(0, g.emit1(data_op, {dy, g.input(1), g.input(0)}, attrs));
    if (g.needs_grad(1)) g.set_input_grad(1, g.emit1(weights_op, {dy, g.input(0), g.input(1)}, attrs));
    if (g.node().inputs.size() == 3 && g.needs_grad(2)) {
      pb::Node sum;  // over N, H, W
      for (int64_t axis : {0, 1, 2}) sum.add_axes(axis);
      sum.set_keepdims(false);
      g.set_input_grad(2, g.emit1("ReduceSum", {dy}, sum));
    }
  };
}

// The spec in the forward op's terms from each op's inputs: (X, W, [B]), (dY, W, X), (dY, X, W).
KernelFactory conv_kernel(bool transposed, Pass pass) {
  return [transposed, pass](const KernelInit& init) -> std::unique_ptr<Kernel> {
    ConvSpec s{transposed, init.in_dims(0), init.in_dims(1), init.out_dims(0), attrs_of(init.attrs())};
    if (pass == Pass::backward_data) {
      s.x = init.in_dims(2);
      s.y = init.in_dims(0);
    } else if (pass == Pass::backward_weights) {
      s.x = init.in_dims(1);
      s.w = init.in_dims(2);
      s.y = init.in_dims(0);
    }
    return std::make_unique<ConvKernel>(s, pass, pass == Pass::forward && init.inputs.size() == 3);
  };
}

const char* const kAttrsDoc =
    " Attributes: strides [sh, sw] (default [1, 1]); auto_pad \"VALID\" (default, Keras padding='valid') or "
    "\"SAME_UPPER\" (Keras/TF padding='same').";

struct PairDocs {
  std::string forward, data, weights;
};

void register_conv_pair(OpRegistry& registry, bool transposed, const char* name, const char* data_name,
                        const char* weights_name, const PairDocs& docs) {
  registry.op(name)
      .doc(docs.forward + kAttrsDoc)
      .inputs({"X", "W"})
      .optional_inputs({"B"})
      .outputs({"Y"})
      .attrs({"strides", "auto_pad"})
      .shape([transposed](InferContext& ctx) { infer_forward(ctx, transposed); })
      .kernel(conv_kernel(transposed, Pass::forward))
      .gradient(conv_gradient(data_name, weights_name));
  registry.grad_op(data_name)
      .doc(docs.data)
      .inputs({"dY", "W", "X"})
      .outputs({"dX"})
      .attrs({"strides", "auto_pad"})
      .shape([transposed](InferContext& ctx) { infer_backward_data(ctx, transposed); })
      .kernel(conv_kernel(transposed, Pass::backward_data));
  registry.grad_op(weights_name)
      .doc(docs.weights)
      .inputs({"dY", "X", "W"})
      .outputs({"dW"})
      .attrs({"strides", "auto_pad"})
      .shape([transposed](InferContext& ctx) { infer_backward_weights(ctx, transposed); })
      .kernel(conv_kernel(transposed, Pass::backward_weights));
}

}  // namespace

void register_conv_ops(OpRegistry& registry) {
  register_conv_pair(
      registry, false, "Conv2D", "Conv2DBackwardData", "Conv2DBackwardWeights",
      {"Keras Conv2D on float32, channels last: X [N, H, W, Ci], kernel W [kh, kw, Ci, Co] (Keras' layout), "
       "optional bias B [Co]; Y [N, H', W', Co] with y[n, p, q, o] = B[o] + sum over i, j, c of "
       "x[n, p*sh + i - top, q*sw + j - left, c] * W[i, j, c, o] (zero outside the image). VALID: no padding, "
       "H' = floor((H - kh) / sh) + 1 (needs H >= kh); SAME_UPPER: H' = ceil(H / sh), total padding "
       "max((H' - 1)*sh + kh - H, 0) with the smaller half on top (likewise for the width). oneDNN convolution in "
       "nhwc. ONNX Conv is channels-first, so the op keeps the Keras name. Gradients: Conv2DBackwardData, "
       "Conv2DBackwardWeights, and ReduceSum of dY over N, H, W for B.",
       "Gradient of Conv2D with respect to X (only X's shape is read; dY has Conv2D's output shape): "
       "dx[n, h, w, c] = sum of dY[n, p, q, o] * W[i, j, c, o] over the p, q, i, j with p*sh + i - top = h and "
       "q*sw + j - left = w, and over o. Equals Conv2DTranspose(dY, W) when Conv2D drops no tail. oneDNN "
       "convolution_backward_data. Same attributes as Conv2D.",
       "Gradient of Conv2D with respect to its kernel (only W's shape is read): dW[i, j, c, o] = sum over n, p, q "
       "of x[n, p*sh + i - top, q*sw + j - left, c] * dY[n, p, q, o] (positions inside the image). oneDNN "
       "convolution_backward_weights. Same attributes as Conv2D."});
  register_conv_pair(
      registry, true, "Conv2DTranspose", "Conv2DTransposeBackwardData", "Conv2DTransposeBackwardWeights",
      {"Keras Conv2DTranspose on float32, channels last: X [N, H, W, Ci], kernel W [kh, kw, Co, Ci] (Keras' "
       "layout: filters before input channels), optional bias B [Co]; the adjoint of Conv2D with the same kernel "
       "array: y[n, p*sh + i - top, q*sw + j - left, o] += x[n, p, q, c] * W[i, j, o, c], plus B[o], so "
       "<Conv2D(a, W), b> = <a, Conv2DTranspose(b, W)>. Y [N, H*, W*, Co] with (Keras, output_padding=None) "
       "VALID: H* = H*sh + max(kh - sh, 0), SAME_UPPER: H* = H*sh; top/left are Conv2D's paddings on an "
       "H*-row image. oneDNN deconvolution in nhwc. Gradients: Conv2DTransposeBackwardData, "
       "Conv2DTransposeBackwardWeights, and ReduceSum of dY over N, H, W for B.",
       "Gradient of Conv2DTranspose with respect to X (only X's shape is read; dY has Conv2DTranspose's output "
       "shape): dx[n, p, q, c] = sum over i, j, o of dY[n, p*sh + i - top, q*sw + j - left, o] * W[i, j, o, c] "
       "(positions inside dY), i.e. Conv2D(dY, W) without bias. oneDNN deconvolution_backward_data. Same "
       "attributes as Conv2DTranspose.",
       "Gradient of Conv2DTranspose with respect to its kernel (only W's shape is read): dW[i, j, o, c] = sum "
       "over n, p, q of dY[n, p*sh + i - top, q*sw + j - left, o] * x[n, p, q, c] (positions inside dY). oneDNN "
       "deconvolution_backward_weights. Same attributes as Conv2DTranspose."});
}

}  // namespace graphrun
