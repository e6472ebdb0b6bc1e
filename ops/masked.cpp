// Mask-aware reductions over the time axis (axis 1 of [N, T, ...]), Keras
// `mask_zero` semantics for what comes after a masked recurrent layer:
//
//   MaskedSoftmax(X, mask)    softmax over t of the steps where mask != 0; masked
//                             steps get weight 0 (Keras' Softmax layer with a mask)
//   MaskedReduceMean(X, mask) sum_t m_t x_t / sum_t m_t (Keras GlobalAveragePooling1D
//                             with a mask)
//   MaskedReduceMax(X, mask)  max over the unmasked steps (global max over time)
//
// `mask` is [N, T]: the token ids themselves (int64, 0 = padding, the same input
// the recurrent ops take for mask_zero) or a float32 mask (0 = masked). A row with
// every step masked gives zeros (Keras gives NaN for the mean and a uniform softmax:
// neither is useful, and zeros keep a padded empty text from poisoning a batch).
//
// oneDNN has no masked softmax or masked reduction primitive (its reductions and
// softmax see every element), so the kernels are plain loops over [N, T, K] with
// K = the product of the dims after T; each (n, k) column is independent.
//
// Gradients: MaskedSoftmax's is SoftmaxGrad along axis 1 (masked steps have y = 0,
// so they get dx = 0); MaskedReduceMeanGrad(dY, mask) spreads dY / count over the
// unmasked steps; MaskedReduceMaxGrad(dY, X, Y, mask) sends dY to the unmasked steps
// equal to the max (split evenly between ties, as ReduceMaxGrad). The mask gets none.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ops/gradient.h"
#include "ops/nan.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

// ---- Shapes ----------------------------------------------------------------------

// X is [N, T, ...] float32 and the mask [N, T] (int64 token ids or float32).
void expect_sequence_and_mask(InferContext& ctx, int x_index, int mask_index) {
  ctx.expect_dtype(x_index, DType::f32);
  const TensorType& x = ctx.inputs[static_cast<size_t>(x_index)];
  const TensorType& mask = ctx.inputs[static_cast<size_t>(mask_index)];
  if (x.rank() < 2)
    ctx.fail("input {} has shape {}: it needs a batch and a time axis [N, T, ...]", x_index, dims_str(x.dims));
  if (mask.dtype != DType::i64 && mask.dtype != DType::f32)
    ctx.fail("input {} (mask) is {}: give int64 token ids (0 = padding) or a float32 mask", mask_index, type_str(mask));
  if (mask.rank() != 2) ctx.fail("input {} (mask) has shape {}: it must be [N, T]", mask_index, dims_str(mask.dims));
  for (size_t d = 0; d < 2; ++d)
    if (x.dims[d] >= 0 && mask.dims[d] >= 0 && x.dims[d] != mask.dims[d])
      ctx.fail("mask shape {} does not match the first two dims of input {} {}", dims_str(mask.dims), x_index,
               dims_str(x.dims));
}

Dims without_time(const Dims& x) {
  Dims out = {x[0]};
  out.insert(out.end(), x.begin() + 2, x.end());
  return out;
}

void infer_masked_softmax(InferContext& ctx) {
  expect_sequence_and_mask(ctx, 0, 1);
  ctx.outputs[0] = ctx.inputs[0];
}

void infer_masked_reduce(InferContext& ctx) {
  expect_sequence_and_mask(ctx, 0, 1);
  ctx.outputs[0] = {DType::f32, without_time(ctx.in_dims(0))};
}

// MaskedReduceMeanGrad(dY [N, ...], mask [N, T]) -> dX [N, T, ...]
void infer_masked_mean_grad(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  const Dims& dy = ctx.in_dims(0);
  const Dims& mask = ctx.in_dims(1);
  if (dy.empty() || mask.size() != 2)
    ctx.fail("dY {} and mask {} do not fit [N, ...] and [N, T]", dims_str(dy), dims_str(mask));
  Dims dx = {dy[0], mask[1]};
  dx.insert(dx.end(), dy.begin() + 1, dy.end());
  ctx.outputs[0] = {DType::f32, dx};
}

// MaskedReduceMaxGrad(dY, X, Y, mask) -> dX with X's shape.
void infer_masked_max_grad(InferContext& ctx) {
  expect_sequence_and_mask(ctx, 1, 3);
  ctx.outputs[0] = ctx.inputs[1];
}

// ---- Kernels ---------------------------------------------------------------------

// The [N, T, K] view of X and how to read its mask.
struct SequenceView {
  int64_t n = 0, t = 0, k = 0;
  bool mask_is_int = false;

  SequenceView(const Dims& x, DType mask_dtype)
      : n(x[0]), t(x[1]), k(num_elements(Dims(x.begin() + 2, x.end()))), mask_is_int(mask_dtype == DType::i64) {}

  bool kept(const void* mask, int64_t row, int64_t step) const {
    const int64_t i = row * t + step;
    return mask_is_int ? static_cast<const int64_t*>(mask)[i] != 0 : static_cast<const float*>(mask)[i] != 0.0f;
  }
  int64_t kept_steps(const void* mask, int64_t row) const {
    int64_t count = 0;
    for (int64_t s = 0; s < t; ++s) count += kept(mask, row, s);
    return count;
  }
  int64_t at(int64_t row, int64_t step, int64_t col) const { return (row * t + step) * k + col; }
  // The max of x over the kept steps of (row, col); -inf when no step is kept, NaN when one is NaN.
  float kept_max(const float* x, const void* mask, int64_t row, int64_t col) const {
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t s = 0; s < t; ++s)
      if (kept(mask, row, s)) max = max_or_nan(max, x[at(row, s, col)]);
    return max;
  }
};

std::unique_ptr<Kernel> make_masked_softmax_kernel(const KernelInit& init) {
  const SequenceView v(init.in_dims(0), init.inputs.at(1).dtype);
  return make_lambda_kernel([v](const KernelIO& io) {
    const float* x = io.in<float>(0);
    const void* mask = io.inputs[1];
    float* y = io.out<float>(0);
    for (int64_t row = 0; row < v.n; ++row)
      for (int64_t col = 0; col < v.k; ++col) {
        const float max = v.kept_max(x, mask, row, col);
        float sum = 0;
        for (int64_t s = 0; s < v.t; ++s) {
          const float e = v.kept(mask, row, s) ? std::exp(x[v.at(row, s, col)] - max) : 0.0f;
          y[v.at(row, s, col)] = e;
          sum += e;
        }
        const float scale = sum > 0 ? 1.0f / sum : 0.0f;  // every step masked: all zeros
        for (int64_t s = 0; s < v.t; ++s) y[v.at(row, s, col)] *= scale;
      }
  });
}

std::unique_ptr<Kernel> make_masked_mean_kernel(const KernelInit& init) {
  const SequenceView v(init.in_dims(0), init.inputs.at(1).dtype);
  return make_lambda_kernel([v](const KernelIO& io) {
    const float* x = io.in<float>(0);
    const void* mask = io.inputs[1];
    float* y = io.out<float>(0);
    std::fill(y, y + v.n * v.k, 0.0f);
    for (int64_t row = 0; row < v.n; ++row) {
      const int64_t count = v.kept_steps(mask, row);
      if (count == 0) continue;
      float* y_row = y + row * v.k;
      for (int64_t s = 0; s < v.t; ++s)
        if (v.kept(mask, row, s))
          for (int64_t col = 0; col < v.k; ++col) y_row[col] += x[v.at(row, s, col)];
      for (int64_t col = 0; col < v.k; ++col) y_row[col] /= static_cast<float>(count);
    }
  });
}

std::unique_ptr<Kernel> make_masked_mean_grad_kernel(const KernelInit& init) {
  const SequenceView v(init.out_dims(0), init.inputs.at(1).dtype);
  return make_lambda_kernel([v](const KernelIO& io) {
    const float* dy = io.in<float>(0);
    const void* mask = io.inputs[1];
    float* dx = io.out<float>(0);
    for (int64_t row = 0; row < v.n; ++row) {
      const int64_t count = v.kept_steps(mask, row);
      for (int64_t s = 0; s < v.t; ++s) {
        const bool kept = v.kept(mask, row, s);
        for (int64_t col = 0; col < v.k; ++col)
          dx[v.at(row, s, col)] = kept ? dy[row * v.k + col] / static_cast<float>(count) : 0.0f;
      }
    }
  });
}

std::unique_ptr<Kernel> make_masked_max_kernel(const KernelInit& init) {
  const SequenceView v(init.in_dims(0), init.inputs.at(1).dtype);
  return make_lambda_kernel([v](const KernelIO& io) {
    const float* x = io.in<float>(0);
    const void* mask = io.inputs[1];
    float* y = io.out<float>(0);
    for (int64_t row = 0; row < v.n; ++row) {
      const bool any_kept = v.kept_steps(mask, row) > 0;
      for (int64_t col = 0; col < v.k; ++col)
        y[row * v.k + col] = any_kept ? v.kept_max(x, mask, row, col) : 0.0f;  // every step masked: 0
    }
  });
}

std::unique_ptr<Kernel> make_masked_max_grad_kernel(const KernelInit& init) {
  const SequenceView v(init.in_dims(1), init.inputs.at(3).dtype);
  return make_lambda_kernel([v](const KernelIO& io) {
    const float* dy = io.in<float>(0);
    const float* x = io.in<float>(1);
    const float* y = io.in<float>(2);
    const void* mask = io.inputs[3];
    float* dx = io.out<float>(0);
    for (int64_t row = 0; row < v.n; ++row)
      for (int64_t col = 0; col < v.k; ++col) {
        const float max = y[row * v.k + col];
        int64_t ties = 0;
        for (int64_t s = 0; s < v.t; ++s) ties += v.kept(mask, row, s) && x[v.at(row, s, col)] == max;
        for (int64_t s = 0; s < v.t; ++s) {
          const bool winner = v.kept(mask, row, s) && x[v.at(row, s, col)] == max;
          dx[v.at(row, s, col)] = winner ? dy[row * v.k + col] / static_cast<float>(ties) : 0.0f;
        }
      }
  });
}

// ---- Gradient rules --------------------------------------------------------------

void masked_softmax_gradient(GradientBuilder& g) {
  const ValueId dy = g.output_grad(0);
  if (dy == kNoValue || !g.needs_grad(0)) return;
  pb::Node attrs;
  attrs.set_axis(1);
  g.set_input_grad(0, g.emit1("SoftmaxGrad", {dy, g.output(0)}, attrs));
}

void masked_mean_gradient(GradientBuilder& g) {
  const ValueId dy = g.output_grad(0);
  if (dy == kNoValue || !g.needs_grad(0)) return;
  g.set_input_grad(0, g.emit1("MaskedReduceMeanGrad", {dy, g.input(1)}));
}

void masked_max_gradient(GradientBuilder& g) {
  const ValueId dy = g.output_grad(0);
  if (dy == kNoValue || !g.needs_grad(0)) return;
  g.set_input_grad(0, g.emit1("MaskedReduceMaxGrad", {dy, g.input(0), g.output(0), g.input(1)}));
}

}  // namespace

void register_masked_ops(OpRegistry& registry) {
  registry.op("MaskedSoftmax")
      .inputs({"X", "mask"})
      .outputs({"Y"})
      .shape(infer_masked_softmax)
      .kernel(make_masked_softmax_kernel)
      .gradient(masked_softmax_gradient)
      .doc(
          "Softmax over the time axis (axis 1) of X [N, T, ...] float32, counting only the steps where mask [N, T] "
          "is non-zero: y = exp(x - max) / sum(exp(x - max)) over the kept steps, y = 0 at masked steps (Keras' "
          "Softmax layer given a mask). The mask is the int64 token ids (0 = padding, as the recurrent ops' "
          "mask_zero input) or a float32 mask. A row with every step masked gives zeros (Keras: uniform). Gradient: "
          "SoftmaxGrad along axis 1 (masked steps get 0); the mask gets none.");

  registry.op("MaskedReduceMean")
      .inputs({"X", "mask"})
      .outputs({"Y"})
      .shape(infer_masked_reduce)
      .kernel(make_masked_mean_kernel)
      .gradient(masked_mean_gradient)
      .doc(
          "Mean over the time axis of X [N, T, ...] float32 counting only the steps where mask [N, T] is non-zero: "
          "Y [N, ...] = sum_t m_t x_t / sum_t m_t (Keras GlobalAveragePooling1D given a mask). The mask is int64 "
          "token ids (0 = padding) or float32. A row with every step masked gives zeros (Keras: NaN). Gradient: "
          "MaskedReduceMeanGrad.");

  registry.grad_op("MaskedReduceMeanGrad")
      .inputs({"dY", "mask"})
      .outputs({"dX"})
      .shape(infer_masked_mean_grad)
      .kernel(make_masked_mean_grad_kernel)
      .doc(
          "Gradient of MaskedReduceMean: dX [N, T, ...] = dY / (kept steps of the row) at the kept steps, 0 at "
          "masked ones; T comes from the mask [N, T].");

  registry.op("MaskedReduceMax")
      .inputs({"X", "mask"})
      .outputs({"Y"})
      .shape(infer_masked_reduce)
      .kernel(make_masked_max_kernel)
      .gradient(masked_max_gradient)
      .doc(
          "Max over the time axis of X [N, T, ...] float32 taking only the steps where mask [N, T] is non-zero: Y "
          "[N, ...] (global max pooling over time that ignores padding). The mask is int64 token ids (0 = padding) "
          "or float32. A row with every step masked gives zeros; a NaN at a kept step gives NaN. Gradient: "
          "MaskedReduceMaxGrad.");

  registry.grad_op("MaskedReduceMaxGrad")
      .inputs({"dY", "X", "Y", "mask"})
      .outputs({"dX"})
      .shape(infer_masked_max_grad)
      .kernel(make_masked_max_grad_kernel)
      .doc(
          "Gradient of MaskedReduceMax: dX (X's shape) = dY / ties at the kept steps whose x equals the max Y, 0 "
          "elsewhere (ties share dY evenly, as ReduceMaxGrad).");
}

}  // namespace graphrun
