// Losses, metrics and the small utility ops training needs. Plain loops except
// Max/Min, which run on oneDNN's binary primitive when one input already has the
// output shape. Losses accumulate in double: they sum N*C terms into one scalar.
//
//   SoftmaxCrossEntropyLoss(S [N,C], labels [N])  = -(1/N) sum_n log_softmax(S)[n, labels[n]]
//                                                   (+ log_prob = log_softmax(S) as output 1)
//   SoftmaxCrossEntropyWithProbs(S [N,C], T [N,C]) = -(1/N) sum_n sum_c T[n,c] log_softmax(S)[n,c]
//   SigmoidCrossEntropyWithLogits(X, T)          = mean(max(x,0) - x t + log(1 + exp(-|x|)))
//   MeanSquaredError(P, T)                       = mean((p - t)^2)
//   ArgMax(X), Equal(A, B), CastToFloat(X), CastToInt64(X), Sign(X), Max(A, B), Min(A, B)
//
// Gradients (dL = the scalar loss's output gradient; M = number of elements):
//   SoftmaxCrossEntropyLoss: dS = (softmax(S) - onehot(labels)) / N * dL, via
//     SoftmaxCrossEntropyLossGrad; a gradient reaching log_prob adds LogSoftmaxGrad.
//   SoftmaxCrossEntropyWithProbs: dS = (rowsum(T) softmax(S) - T) / N * dL (the
//     familiar softmax - T when rows of T sum to 1), dT = -log_softmax(S) / N * dL.
//   SigmoidCrossEntropyWithLogits: dX = (sigmoid(x) - t) / M * dL, dT = -x / M * dL.
//   MeanSquaredError: dP = 2 (p - t) / M * dL, dT = -dP.
//   Max/Min: dC goes to the input that was selected (A on ties), then unbroadcast.
//   CastToFloat of float32: identity. Sign: zero (a rule that emits nothing).
//   ArgMax, Equal, CastToInt64: non-differentiable (integer or 0/1 outputs).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "ops/dnnl_util.h"
#include "ops/gradient.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

// ---- Shared helpers ---------------------------------------------------------------

// "model.pbtxt:7:3: node 'loss' (SoftmaxCrossEntropyLoss)": how run-time errors name a node.
std::string node_label(const Node& node) { return node.location.str() + describe(node); }

// Whether two dims agree, an unknown (-1) agreeing with anything.
bool dim_compatible(int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; }

// Checks that inputs i and j have the same shape up to unknown dims and returns
// it, taking each dim from whichever side knows it.
Dims same_dims(const InferContext& ctx, int i, int j) {
  const Dims& a = ctx.in_dims(i);
  const Dims& b = ctx.in_dims(j);
  bool same = a.size() == b.size();
  for (size_t d = 0; same && d < a.size(); ++d) same = dim_compatible(a[d], b[d]);
  if (!same) ctx.fail("input {} has shape {} but input {} has shape {}; they must match", i, dims_str(a), j, dims_str(b));
  Dims out = a;
  for (size_t d = 0; d < out.size(); ++d)
    if (out[d] < 0) out[d] = b[d];
  return out;
}

void expect_scalar_grad(const InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  if (ctx.inputs[0].rank() != 0) ctx.fail("input 0 (dLoss) has shape {}, expected a scalar []", dims_str(ctx.in_dims(0)));
}

// Row max and log(sum(exp(x - max))) of one row: log_softmax(x)_c = x_c - lse.
float log_sum_exp(const float* x, int64_t count) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t c = 0; c < count; ++c) max = std::max(max, x[c]);
  double sum = 0;
  for (int64_t c = 0; c < count; ++c) sum += std::exp(static_cast<double>(x[c] - max));
  return max + static_cast<float>(std::log(sum));
}

// Mean of the empty set is 0/0 = NaN, as ReduceMean.
float mean_of(double sum, int64_t count) { return static_cast<float>(sum / static_cast<double>(count)); }

// Element strides of `dims` padded with leading 1s to `rank`, with 0 along
// dims of 1 so they broadcast.
Dims broadcast_strides(const Dims& dims, size_t rank) {
  Dims padded(rank - dims.size(), 1);
  padded.insert(padded.end(), dims.begin(), dims.end());
  Dims strides = strides_of(padded);
  for (size_t d = 0; d < rank; ++d)
    if (padded[d] == 1) strides[d] = 0;
  return strides;
}

// Walks the output of a broadcasting binary op in row-major order, calling
// fn(out_index, a_index, b_index) with each input's broadcast source element.
struct BroadcastWalk {
  Dims out_dims, a_strides, b_strides;
  int64_t count = 0;

  BroadcastWalk(const Dims& a, const Dims& b, const Dims& out)
      : out_dims(out), a_strides(broadcast_strides(a, out.size())), b_strides(broadcast_strides(b, out.size())),
        count(num_elements(out)) {}

  template <typename Fn>
  void run(Fn fn) const {
    Dims coords(out_dims.size(), 0);
    int64_t ia = 0, ib = 0;
    for (int64_t i = 0; i < count; ++i) {
      fn(i, ia, ib);
      // Odometer step: bump the last coordinate, carrying into earlier ones.
      for (size_t d = out_dims.size(); d-- > 0;) {
        ++coords[d];
        ia += a_strides[d];
        ib += b_strides[d];
        if (coords[d] < out_dims[d]) break;
        ia -= a_strides[d] * out_dims[d];
        ib -= b_strides[d] * out_dims[d];
        coords[d] = 0;
      }
    }
  }
};

// NumPy broadcast of inputs 0 and 1 (same dtype, float32 unless ints allowed).
Dims infer_broadcast_dims(const InferContext& ctx) {
  Dims out;
  if (!broadcast_dims(ctx.in_dims(0), ctx.in_dims(1), &out))
    ctx.fail("input 0 has shape {} and input 1 has shape {}, which do not broadcast", dims_str(ctx.in_dims(0)),
             dims_str(ctx.in_dims(1)));
  return out;
}

// ---- SoftmaxCrossEntropyLoss ------------------------------------------------------------

// Checks scores [N,C] float32 (input `s`) and labels [N] int64 (input `s`+1);
// returns [N, C] with N taken from whichever knows it.
Dims infer_scores_and_labels(const InferContext& ctx, int s) {
  ctx.expect_dtype(s, DType::f32);
  ctx.expect_dtype(s + 1, DType::i64);
  const Dims& scores = ctx.in_dims(s);
  const Dims& labels = ctx.in_dims(s + 1);
  if (scores.size() != 2) ctx.fail("scores have shape {}, expected [N, C] (rank 2)", dims_str(scores));
  if (labels.size() != 1) ctx.fail("labels have shape {}, expected [N] (rank 1, one class index per row)", dims_str(labels));
  if (!dim_compatible(scores[0], labels[0]))
    ctx.fail("scores have shape {} but labels have shape {}: the batch sizes differ", dims_str(scores), dims_str(labels));
  return {scores[0] >= 0 ? scores[0] : labels[0], scores[1]};
}

void infer_sce_loss(InferContext& ctx) {
  ctx.outputs[0] = {DType::f32, {}};
  ctx.outputs[1] = {DType::f32, infer_scores_and_labels(ctx, 0)};
}

void infer_sce_loss_grad(InferContext& ctx) {
  expect_scalar_grad(ctx);
  ctx.outputs[0] = {DType::f32, infer_scores_and_labels(ctx, 1)};
}

// Throws an Error naming the node and the label unless every label is in [0, C):
// checked before any row is touched, so a bad label never reads out of bounds.
void check_labels(const int64_t* labels, int64_t rows, int64_t classes, const std::string& node) {
  for (int64_t n = 0; n < rows; ++n)
    if (labels[n] < 0 || labels[n] >= classes)
      throw Error(fmt::format("{}: label {} (row {}) is outside [0, {}), the class range of the scores", node,
                              labels[n], n, classes));
}

struct ScoresShape {
  int64_t rows, classes;
  explicit ScoresShape(const Dims& scores) : rows(scores.at(0)), classes(scores.at(1)) {}
};

std::unique_ptr<Kernel> make_sce_loss_kernel(const KernelInit& init) {
  const ScoresShape shape(init.in_dims(0));
  return make_lambda_kernel([shape, node = node_label(init.node)](const KernelIO& io) {
    const float* scores = io.in<float>(0);
    const int64_t* labels = io.in<int64_t>(1);
    float* log_prob = io.out<float>(1);
    check_labels(labels, shape.rows, shape.classes, node);
    double total = 0;
    for (int64_t n = 0; n < shape.rows; ++n) {
      const float* x = scores + n * shape.classes;
      float* lp = log_prob + n * shape.classes;
      const float lse = log_sum_exp(x, shape.classes);
      for (int64_t c = 0; c < shape.classes; ++c) lp[c] = x[c] - lse;
      total -= lp[labels[n]];
    }
    io.out<float>(0)[0] = mean_of(total, shape.rows);
  });
}

// dS[n,c] = (softmax(S)[n,c] - (c == labels[n])) / N * dL.
std::unique_ptr<Kernel> make_sce_loss_grad_kernel(const KernelInit& init) {
  const ScoresShape shape(init.in_dims(1));
  return make_lambda_kernel([shape, node = node_label(init.node)](const KernelIO& io) {
    const float* scores = io.in<float>(1);
    const int64_t* labels = io.in<int64_t>(2);
    float* ds = io.out<float>(0);
    check_labels(labels, shape.rows, shape.classes, node);
    const float scale = io.in<float>(0)[0] / static_cast<float>(shape.rows);
    for (int64_t n = 0; n < shape.rows; ++n) {
      const float* x = scores + n * shape.classes;
      float* d = ds + n * shape.classes;
      const float lse = log_sum_exp(x, shape.classes);
      for (int64_t c = 0; c < shape.classes; ++c) d[c] = std::exp(x[c] - lse) * scale;
      d[labels[n]] -= scale;
    }
  });
}

void sce_loss_gradient(GradientBuilder& g) {
  if (!g.needs_grad(0)) return;  // labels are int64: never a gradient
  const ValueId dloss = g.output_grad(0), dlog_prob = g.output_grad(1);
  ValueId ds = kNoValue;
  if (dloss != kNoValue) ds = g.emit1("SoftmaxCrossEntropyLossGrad", {dloss, g.input(0), g.input(1)});
  if (dlog_prob != kNoValue) {
    // log_prob is LogSoftmax(scores) along the class axis (LogSoftmax's default -1).
    const ValueId from_log_prob = g.emit1("LogSoftmaxGrad", {dlog_prob, g.output(1)});
    ds = ds == kNoValue ? from_log_prob : g.emit1("Add", {ds, from_log_prob});
  }
  if (ds != kNoValue) g.set_input_grad(0, ds);
}

// ---- SoftmaxCrossEntropyWithProbs ---------------------------------------------------

// Checks scores and targets, both [N,C] float32, at inputs s and s+1.
Dims infer_scores_and_targets(const InferContext& ctx, int s) {
  ctx.expect_dtype(s, DType::f32);
  ctx.expect_dtype(s + 1, DType::f32);
  if (ctx.inputs[static_cast<size_t>(s)].rank() != 2)
    ctx.fail("scores have shape {}, expected [N, C] (rank 2)", dims_str(ctx.in_dims(s)));
  return same_dims(ctx, s, s + 1);
}

void infer_sce_probs(InferContext& ctx) {
  infer_scores_and_targets(ctx, 0);
  ctx.outputs[0] = {DType::f32, {}};
}

void infer_sce_probs_grad(InferContext& ctx) {
  expect_scalar_grad(ctx);
  const Dims dims = infer_scores_and_targets(ctx, 1);
  ctx.outputs[0] = ctx.outputs[1] = {DType::f32, dims};
}

std::unique_ptr<Kernel> make_sce_probs_kernel(const KernelInit& init) {
  const ScoresShape shape(init.in_dims(0));
  return make_lambda_kernel([shape](const KernelIO& io) {
    double total = 0;
    for (int64_t n = 0; n < shape.rows; ++n) {
      const float* x = io.in<float>(0) + n * shape.classes;
      const float* t = io.in<float>(1) + n * shape.classes;
      const float lse = log_sum_exp(x, shape.classes);
      for (int64_t c = 0; c < shape.classes; ++c) total -= static_cast<double>(t[c]) * (x[c] - lse);
    }
    io.out<float>(0)[0] = mean_of(total, shape.rows);
  });
}

// dS = (rowsum(T) * softmax(S) - T) / N * dL;  dT = -log_softmax(S) / N * dL.
std::unique_ptr<Kernel> make_sce_probs_grad_kernel(const KernelInit& init) {
  const ScoresShape shape(init.in_dims(1));
  return make_lambda_kernel([shape](const KernelIO& io) {
    const float scale = io.in<float>(0)[0] / static_cast<float>(shape.rows);
    for (int64_t n = 0; n < shape.rows; ++n) {
      const int64_t row = n * shape.classes;
      const float* x = io.in<float>(1) + row;
      const float* t = io.in<float>(2) + row;
      float* ds = io.out<float>(0) + row;
      float* dt = io.out<float>(1) + row;
      const float lse = log_sum_exp(x, shape.classes);
      float target_sum = 0;
      for (int64_t c = 0; c < shape.classes; ++c) target_sum += t[c];
      for (int64_t c = 0; c < shape.classes; ++c) {
        ds[c] = (target_sum * std::exp(x[c] - lse) - t[c]) * scale;
        dt[c] = -(x[c] - lse) * scale;
      }
    }
  });
}

// The shared rule of the three losses whose *Grad op yields (d input 0, d input 1).
// With `second_is_negated`, the grad op gives only input 0's and input 1's is -it.
GradientRule two_input_loss_gradient(std::string grad_op, bool second_is_negated) {
  return [grad_op, second_is_negated](GradientBuilder& g) {
    const ValueId dloss = g.output_grad(0);
    if (dloss == kNoValue || !(g.needs_grad(0) || g.needs_grad(1))) return;
    const std::vector<ValueId> grads = g.emit(grad_op, {dloss, g.input(0), g.input(1)});
    if (g.needs_grad(0)) g.set_input_grad(0, grads[0]);
    if (g.needs_grad(1)) g.set_input_grad(1, second_is_negated ? g.emit1("Neg", {grads[0]}) : grads[1]);
  };
}

// ---- SigmoidCrossEntropyWithLogits and MeanSquaredError ---------------------------------

void infer_same_shape_loss(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.expect_dtype(1, DType::f32);
  same_dims(ctx, 0, 1);
  ctx.outputs[0] = {DType::f32, {}};
}

// dLoss, then the two same-shape inputs; every output has their shape.
void infer_same_shape_loss_grad(InferContext& ctx) {
  expect_scalar_grad(ctx);
  ctx.expect_dtype(1, DType::f32);
  ctx.expect_dtype(2, DType::f32);
  const TensorType grad{DType::f32, same_dims(ctx, 1, 2)};
  for (TensorType& out : ctx.outputs) out = grad;
}

// The numerically stable form (TF): max(x, 0) - x t + log(1 + exp(-|x|)).
double sigmoid_cross_entropy(float x, float t) {
  return std::max(x, 0.f) - static_cast<double>(x) * t + std::log1p(std::exp(-static_cast<double>(std::fabs(x))));
}

float stable_sigmoid(float x) {
  // exp of a non-positive number only: no overflow for large |x|.
  if (x >= 0) return 1.f / (1.f + std::exp(-x));
  const float e = std::exp(x);
  return e / (1.f + e);
}

// A loss over elementwise pairs: out = mean_i term(a_i, b_i).
template <typename Term>
std::unique_ptr<Kernel> make_mean_loss_kernel(const KernelInit& init, Term term) {
  const int64_t count = init.inputs[0].num_elements();
  return make_lambda_kernel([count, term](const KernelIO& io) {
    double total = 0;
    for (int64_t i = 0; i < count; ++i) total += term(io.in<float>(0)[i], io.in<float>(1)[i]);
    io.out<float>(0)[0] = mean_of(total, count);
  });
}

std::unique_ptr<Kernel> make_sigmoid_ce_grad_kernel(const KernelInit& init) {
  const int64_t count = init.inputs[1].num_elements();
  return make_lambda_kernel([count](const KernelIO& io) {
    const float scale = io.in<float>(0)[0] / static_cast<float>(count);
    const float* x = io.in<float>(1);
    const float* t = io.in<float>(2);
    for (int64_t i = 0; i < count; ++i) {
      io.out<float>(0)[i] = (stable_sigmoid(x[i]) - t[i]) * scale;
      io.out<float>(1)[i] = -x[i] * scale;
    }
  });
}

std::unique_ptr<Kernel> make_mse_grad_kernel(const KernelInit& init) {
  const int64_t count = init.inputs[1].num_elements();
  return make_lambda_kernel([count](const KernelIO& io) {
    const float scale = 2.f * io.in<float>(0)[0] / static_cast<float>(count);
    for (int64_t i = 0; i < count; ++i) io.out<float>(0)[i] = (io.in<float>(1)[i] - io.in<float>(2)[i]) * scale;
  });
}

// ---- ArgMax -------------------------------------------------------------------------

int64_t argmax_axis_attr(const pb::Node& attrs) { return attrs.has_axis() ? attrs.axis() : 0; }  // ONNX default
bool keepdims_attr(const pb::Node& attrs) { return !attrs.has_keepdims() || attrs.keepdims(); }

void infer_argmax(InferContext& ctx) {
  const TensorType& x = ctx.inputs[0];
  const int64_t axis = argmax_axis_attr(ctx.attrs());
  const int a = normalize_axis(axis, x.rank());
  if (a < 0) ctx.fail("axis {} is out of range for input 0 of shape {} (rank {})", axis, dims_str(x.dims), x.rank());
  if (x.dims[static_cast<size_t>(a)] == 0) ctx.fail("axis {} of input 0 {} is empty; it has no maximum", axis, dims_str(x.dims));
  Dims out = x.dims;
  if (keepdims_attr(ctx.attrs()))
    out[static_cast<size_t>(a)] = 1;
  else
    out.erase(out.begin() + a);
  ctx.outputs[0] = {DType::i64, out};
}

// Data viewed as [outer, axis, inner]: element (o, k, i) is at (o * axis + k) * inner + i.
struct AxisView {
  int64_t outer, axis, inner;
  AxisView(const Dims& dims, int a)
      : outer(num_elements(Dims(dims.begin(), dims.begin() + a))),
        axis(dims[static_cast<size_t>(a)]),
        inner(num_elements(Dims(dims.begin() + a + 1, dims.end()))) {}
};

template <typename T>
void argmax_loop(const AxisView& v, const T* x, int64_t* out) {
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t i = 0; i < v.inner; ++i) {
      const T* column = x + o * v.axis * v.inner + i;
      int64_t best = 0;
      // Strictly greater: the first maximum wins a tie (ONNX select_last_index = 0).
      for (int64_t k = 1; k < v.axis; ++k)
        if (column[k * v.inner] > column[best * v.inner]) best = k;
      out[o * v.inner + i] = best;
    }
}

std::unique_ptr<Kernel> make_argmax_kernel(const KernelInit& init) {
  const Dims& dims = init.in_dims(0);
  const AxisView view(dims, normalize_axis(argmax_axis_attr(init.attrs()), static_cast<int>(dims.size())));
  if (init.inputs[0].dtype == DType::i64)
    return make_lambda_kernel([view](const KernelIO& io) { argmax_loop(view, io.in<int64_t>(0), io.out<int64_t>(0)); });
  return make_lambda_kernel([view](const KernelIO& io) { argmax_loop(view, io.in<float>(0), io.out<int64_t>(0)); });
}

// ---- Equal --------------------------------------------------------------------------

void infer_equal(InferContext& ctx) {
  if (ctx.inputs[0].dtype != ctx.inputs[1].dtype)
    ctx.fail("input 0 is {} but input 1 is {}; Equal compares values of one dtype", type_str(ctx.inputs[0]),
             type_str(ctx.inputs[1]));
  ctx.outputs[0] = {DType::f32, infer_broadcast_dims(ctx)};
}

template <typename T>
void equal_loop(const BroadcastWalk& walk, const KernelIO& io) {
  const T* a = io.in<T>(0);
  const T* b = io.in<T>(1);
  float* c = io.out<float>(0);
  walk.run([&](int64_t i, int64_t ia, int64_t ib) { c[i] = a[ia] == b[ib] ? 1.f : 0.f; });
}

std::unique_ptr<Kernel> make_equal_kernel(const KernelInit& init) {
  const BroadcastWalk walk(init.in_dims(0), init.in_dims(1), init.out_dims(0));
  if (init.inputs[0].dtype == DType::i64)
    return make_lambda_kernel([walk](const KernelIO& io) { equal_loop<int64_t>(walk, io); });
  return make_lambda_kernel([walk](const KernelIO& io) { equal_loop<float>(walk, io); });
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

void infer_float_unary(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.outputs[0] = ctx.inputs[0];
}

float sign_of(float x) { return x > 0 ? 1.f : (x < 0 ? -1.f : 0.f); }  // NaN gives 0

// ---- Max and Min --------------------------------------------------------------------

void infer_max_min(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  ctx.expect_dtype(1, DType::f32);
  ctx.outputs[0] = {DType::f32, infer_broadcast_dims(ctx)};
}

// oneDNN's binary primitive lets only src1 broadcast, so it runs when either
// input already has the output shape (max and min are symmetric in value, so
// the inputs may swap); otherwise a broadcasting loop does the work.
class MaxMinKernel final : public Kernel {
 public:
  MaxMinKernel(bool is_max, const Dims& a, const Dims& b, const Dims& out)
      : is_max_(is_max), walk_(a, b, out) {
    const size_t rank = out.size();
    if (walk_.count == 0 || rank > DNNL_MAX_NDIMS) return;
    Dims src0(rank - a.size(), 1), src1(rank - b.size(), 1);
    src0.insert(src0.end(), a.begin(), a.end());
    src1.insert(src1.end(), b.begin(), b.end());
    if (src0 != out && src1 != out) return;
    swap_ = src0 != out;
    if (swap_) std::swap(src0, src1);
    src0_md_ = plain_desc(src0);
    src1_md_ = plain_desc(src1);
    const dnnl::binary::desc desc(is_max ? dnnl::algorithm::binary_max : dnnl::algorithm::binary_min, src0_md_,
                                  src1_md_, src0_md_);
    const dnnl::binary::primitive_desc pd(desc, user_scratchpad_attr(), cpu_engine());
    scratchpad_md_ = pd.scratchpad_desc();
    primitive_ = dnnl::binary(pd);
    use_dnnl_ = true;
  }

  size_t scratchpad_bytes() const override { return use_dnnl_ ? scratchpad_md_.get_size() : 0; }

  void run(const KernelIO& io) const override {
    if (use_dnnl_) {
      execute(primitive_,
              {{DNNL_ARG_SRC_0, wrap(src0_md_, io.inputs[swap_ ? 1 : 0])},
               {DNNL_ARG_SRC_1, wrap(src1_md_, io.inputs[swap_ ? 0 : 1])},
               {DNNL_ARG_DST, wrap(src0_md_, io.outputs[0])}},
              scratchpad_md_, io.scratchpad);
      return;
    }
    const float* a = io.in<float>(0);
    const float* b = io.in<float>(1);
    float* c = io.out<float>(0);
    walk_.run([&](int64_t i, int64_t ia, int64_t ib) {
      c[i] = is_max_ ? std::max(a[ia], b[ib]) : std::min(a[ia], b[ib]);
    });
  }

 private:
  bool is_max_;
  BroadcastWalk walk_;
  bool use_dnnl_ = false;
  bool swap_ = false;
  dnnl::memory::desc src0_md_, src1_md_, scratchpad_md_;
  dnnl::binary primitive_;
};

// MaxGrad/MinGrad(dC, A, B) -> (dA, dB), both with dC's (the broadcast) shape.
void infer_max_min_grad(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  InferContext forward{ctx.node, {ctx.inputs[1], ctx.inputs[2]}, {TensorType{}}};
  infer_max_min(forward);
  const Dims& dc = ctx.in_dims(0);
  const Dims& out = forward.outputs[0].dims;
  bool same = dc.size() == out.size();
  for (size_t d = 0; same && d < dc.size(); ++d) same = dim_compatible(dc[d], out[d]);
  if (!same) ctx.fail("input 0 (dC) has shape {} but A and B broadcast to {}", dims_str(dc), dims_str(out));
  ctx.outputs[0] = ctx.outputs[1] = {DType::f32, dc};
}

// dA = dC where A was selected (A >= B for Max, A <= B for Min: ties go to A), dB = dC elsewhere.
std::unique_ptr<Kernel> make_max_min_grad_kernel(const KernelInit& init, bool is_max) {
  const BroadcastWalk walk(init.in_dims(1), init.in_dims(2), init.out_dims(0));
  return make_lambda_kernel([walk, is_max](const KernelIO& io) {
    const float* dc = io.in<float>(0);
    const float* a = io.in<float>(1);
    const float* b = io.in<float>(2);
    float* da = io.out<float>(0);
    float* db = io.out<float>(1);
    walk.run([&](int64_t i, int64_t ia, int64_t ib) {
      const bool a_selected = is_max ? a[ia] >= b[ib] : a[ia] <= b[ib];
      da[i] = a_selected ? dc[i] : 0.f;
      db[i] = a_selected ? 0.f : dc[i];
    });
  });
}

GradientRule max_min_gradient(std::string grad_op) {
  return [grad_op](GradientBuilder& g) {
    const ValueId dc = g.output_grad(0);
    if (dc == kNoValue || !(g.needs_grad(0) || g.needs_grad(1))) return;
    const std::vector<ValueId> grads = g.emit(grad_op, {dc, g.input(0), g.input(1)});
    for (size_t i = 0; i < 2; ++i)
      if (g.needs_grad(i)) g.set_input_grad(i, g.unbroadcast(grads[i], i));
  };
}

}  // namespace

// ---- Registration -------------------------------------------------------------------

void register_loss_ops(OpRegistry& registry) {
  OpDef sce = make_op_def(
      "SoftmaxCrossEntropyLoss", {"scores", "labels"}, {"output", "log_prob"}, infer_sce_loss, make_sce_loss_kernel,
      "ONNX SoftmaxCrossEntropyLoss with reduction='mean', no weights and no ignore_index: scores [N, C] float32, "
      "labels [N] int64 class indices. log_prob = log_softmax(scores) along C = scores - max - log(sum(exp(scores - "
      "max))) (stable for large scores), and output = -(1/N) sum_n log_prob[n, labels[n]], a float32 scalar []. "
      "log_prob [N, C] is always computed; leave it unused if not needed. A label outside [0, C) is a run-time "
      "error naming the node and the label. N = 0 gives NaN. Gradient: d scores = (softmax(scores) - "
      "onehot(labels)) / N * d output; labels get none.");
  sce.gradient = sce_loss_gradient;
  registry.add(std::move(sce));
  registry.add(make_grad_op_def(
      "SoftmaxCrossEntropyLossGrad", {"dLoss", "scores", "labels"}, {"dScores"}, infer_sce_loss_grad,
      make_sce_loss_grad_kernel,
      "Gradient of SoftmaxCrossEntropyLoss's loss output: dScores[n, c] = (softmax(scores)[n, c] - (c == "
      "labels[n])) / N * dLoss, with dLoss a float32 scalar []. A label outside [0, C) is a run-time error."));

  OpDef probs = make_op_def(
      "SoftmaxCrossEntropyWithProbs", {"scores", "targets"}, {"output"}, infer_sce_probs, make_sce_probs_kernel,
      "Cross-entropy against a distribution per row (as TF softmax_cross_entropy_with_logits; our name, not ONNX): "
      "scores and targets are float32 [N, C], output = -(1/N) sum_n sum_c targets[n, c] * log_softmax(scores)[n, "
      "c], a scalar []; log_softmax is computed stably. Targets are usually one-hot or soft labels (rows summing "
      "to 1) but need not be. Gradients: d scores = (rowsum(targets) * softmax(scores) - targets) / N * d output "
      "(softmax - targets for normalised rows) and d targets = -log_softmax(scores) / N * d output.");
  probs.gradient = two_input_loss_gradient("SoftmaxCrossEntropyWithProbsGrad", false);
  registry.add(std::move(probs));
  registry.add(make_grad_op_def(
      "SoftmaxCrossEntropyWithProbsGrad", {"dLoss", "scores", "targets"}, {"dScores", "dTargets"},
      infer_sce_probs_grad, make_sce_probs_grad_kernel,
      "Gradient of SoftmaxCrossEntropyWithProbs: dScores = (rowsum(targets) * softmax(scores) - targets) / N * "
      "dLoss and dTargets = -log_softmax(scores) / N * dLoss, for scores and targets [N, C] and dLoss a scalar []."));

  OpDef sigmoid_ce = make_op_def(
      "SigmoidCrossEntropyWithLogits", {"logits", "targets"}, {"output"}, infer_same_shape_loss,
      [](const KernelInit& init) { return make_mean_loss_kernel(init, sigmoid_cross_entropy); },
      "Binary cross-entropy on logits (TF sigmoid_cross_entropy_with_logits averaged; Keras binary_crossentropy "
      "with from_logits=True): logits x and targets t are float32 of one shape (any rank), and output = mean over "
      "all elements of max(x, 0) - x * t + log(1 + exp(-|x|)), the stable form of -t log(sigmoid(x)) - (1 - t) "
      "log(1 - sigmoid(x)); a scalar []. No elements gives NaN. Gradients: d logits = (sigmoid(x) - t) / M * d "
      "output and d targets = -x / M * d output, M = number of elements.");
  sigmoid_ce.gradient = two_input_loss_gradient("SigmoidCrossEntropyWithLogitsGrad", false);
  registry.add(std::move(sigmoid_ce));
  registry.add(make_grad_op_def(
      "SigmoidCrossEntropyWithLogitsGrad", {"dLoss", "logits", "targets"}, {"dLogits", "dTargets"},
      infer_same_shape_loss_grad, make_sigmoid_ce_grad_kernel,
      "Gradient of SigmoidCrossEntropyWithLogits: dLogits = (sigmoid(x) - t) / M * dLoss and dTargets = -x / M * "
      "dLoss, M = number of elements, dLoss a float32 scalar []."));

  OpDef mse = make_op_def(
      "MeanSquaredError", {"predictions", "targets"}, {"output"}, infer_same_shape_loss,
      [](const KernelInit& init) {
        return make_mean_loss_kernel(init, [](float p, float t) { return static_cast<double>(p - t) * (p - t); });
      },
      "output = mean((predictions - targets)^2) over all elements, a float32 scalar [] (Keras mean_squared_error "
      "averaged over the batch); predictions and targets are float32 of one shape (any rank, no broadcasting). "
      "No elements gives NaN. Gradients: d predictions = 2 (p - t) / M * d output (M = number of elements) and d "
      "targets = its negative.");
  mse.gradient = two_input_loss_gradient("MeanSquaredErrorGrad", true);
  registry.add(std::move(mse));
  registry.add(make_grad_op_def(
      "MeanSquaredErrorGrad", {"dLoss", "predictions", "targets"}, {"dPredictions"}, infer_same_shape_loss_grad,
      make_mse_grad_kernel,
      "Gradient of MeanSquaredError with respect to predictions: dPredictions = 2 (p - t) / M * dLoss, M = number "
      "of elements, dLoss a float32 scalar [] (the targets' gradient is its negative)."));

  OpDef argmax = make_op_def(
      "ArgMax", {"data"}, {"reduced"}, infer_argmax, make_argmax_kernel,
      "Index of the largest element along `axis` (default 0 as ONNX; Keras argmax uses the last axis, so write "
      "`axis: -1` for class scores; negative counts from the end) of a float32 or int64 input, as an int64 tensor. keepdims (default true, "
      "as ONNX) keeps the axis as a dim of 1, otherwise it is removed. On ties the first index wins (ONNX "
      "select_last_index = 0). The axis must not be empty.");
  argmax.schema.attrs = {"axis", "keepdims"};
  argmax.non_differentiable = true;  // an integer output
  registry.add(std::move(argmax));

  OpDef equal = make_op_def(
      "Equal", {"A", "B"}, {"C"}, infer_equal, make_equal_kernel,
      "C = (A == B) elementwise as float32 1.0 / 0.0 (ONNX Equal returns bool; we have no bool dtype, and float "
      "1/0 feeds ReduceMean directly, e.g. accuracy = ReduceMean(Equal(ArgMax(scores), labels))). A and B are "
      "both float32 or both int64, with NumPy/ONNX broadcasting. Float comparison is exact (NaN equals nothing).");
  equal.non_differentiable = true;  // piecewise constant
  registry.add(std::move(equal));

  OpDef to_float = make_op_def(
      "CastToFloat", {"input"}, {"output"}, infer_cast_to_float, make_cast_to_float_kernel,
      "ONNX Cast with to = FLOAT: converts int64 to float32 (exact for |x| <= 2^24, rounded to nearest beyond); "
      "float32 input is copied. Gradient: identity for float32 input, none for int64.");
  to_float.gradient = [](GradientBuilder& g) {
    const ValueId dy = g.output_grad(0);
    if (dy != kNoValue && g.needs_grad(0)) g.set_input_grad(0, dy);  // needs_grad is false for int64
  };
  registry.add(std::move(to_float));

  OpDef to_int = make_op_def(
      "CastToInt64", {"input"}, {"output"}, infer_cast_to_int64, make_cast_to_int64_kernel,
      "ONNX Cast with to = INT64: converts float32 to int64 truncating toward zero (2.7 -> 2, -2.7 -> -2); NaN "
      "gives 0 and values beyond int64's range saturate to its min/max (ONNX leaves these undefined). int64 input "
      "is copied.");
  to_int.non_differentiable = true;  // an integer output
  registry.add(std::move(to_int));

  OpDef sign = make_op_def(
      "Sign", {"input"}, {"output"}, infer_float_unary,
      [](const KernelInit& init) { return make_convert_kernel<float, float>(init, sign_of); },
      "y = sign(x) on float32 (ONNX Sign): -1 for x < 0, 0 for x = 0 (and NaN), 1 for x > 0. Differentiable with "
      "gradient 0 (its derivative almost everywhere): the rule emits nothing, so no gradient flows through.");
  sign.gradient = [](GradientBuilder&) {};  // d sign(x) / dx = 0 wherever it exists
  registry.add(std::move(sign));

  for (const bool is_max : {true, false}) {
    const char* name = is_max ? "Max" : "Min";
    const char* grad_name = is_max ? "MaxGrad" : "MinGrad";
    const std::string which = is_max ? "max" : "min";
    OpDef def = make_op_def(
        name, {"A", "B"}, {"C"}, infer_max_min,
        [is_max](const KernelInit& init) -> std::unique_ptr<Kernel> {
          return std::make_unique<MaxMinKernel>(is_max, init.in_dims(0), init.in_dims(1), init.out_dims(0));
        },
        fmt::format("C = {}(A, B) elementwise on float32 (ONNX {} with exactly two inputs), with NumPy/ONNX "
                    "broadcasting. Gradient: dC goes to the input that was selected (A {} B selects A, so ties go "
                    "to A) and is summed back over broadcast dims.",
                    which, name, is_max ? ">=" : "<="));
    def.gradient = max_min_gradient(grad_name);
    registry.add(std::move(def));
    registry.add(make_grad_op_def(
        grad_name, {"dC", "A", "B"}, {"dA", "dB"}, infer_max_min_grad,
        [is_max](const KernelInit& init) { return make_max_min_grad_kernel(init, is_max); },
        fmt::format("Gradient of {}: with s = (A {} B) at each position of the broadcast shape, dA = dC * s and dB = "
                    "dC * (1 - s), both in dC's shape (the forward's gradient rule sums them back to A's and B's).",
                    name, is_max ? ">=" : "<=")));
  }
}

}  // namespace graphrun
