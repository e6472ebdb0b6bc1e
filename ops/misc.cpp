// Ops with no oneDNN primitive behind them.
//
//   Identity(x) = x (float32 or int64)
//   Constant    = the `value` attribute (float_data -> float32, int64_data -> int64)
//   Dropout(x)  = (x * mask, mask), mask = 1/(1-ratio) where kept, 0 where dropped,
//                 when training; (x, 1) otherwise.
//   RandomNormalLike(x) = samples of N(mean, scale^2) in x's shape, always.
// Dropout's keep decisions and RandomNormalLike's samples come from ops/random.h:
// element i's is a pure function of (the run's step_seed, the node's seed, i),
// so any thread count gives the same values and the reference kernel
// reproduces them exactly.
//
// Gradients: Identity's dX = dY; Dropout's dX = dY * mask (the mask does not
// depend on x, so its own gradient goes nowhere); Constant has no inputs;
// RandomNormalLike reads only x's shape, so x gets none.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/gradient.h"
#include "ops/parallel_for.h"
#include "ops/random.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

// ---- Identity ------------------------------------------------------------------

void infer_identity(InferContext& ctx) { ctx.outputs[0] = ctx.inputs[0]; }

std::unique_ptr<Kernel> make_identity_kernel(const KernelInit& init) {
  const size_t bytes = init.outputs.at(0).num_bytes();
  return make_lambda_kernel([bytes](const KernelIO& io) {
    if (bytes > 0) std::memcpy(io.outputs[0], io.inputs[0], bytes);
  });
}

// ---- Constant ------------------------------------------------------------------

void infer_constant(InferContext& ctx) {
  const pb::TensorValue& value = ctx.attrs().value();
  const Dims dims(value.dims().begin(), value.dims().end());
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) ctx.fail("value dims [{}] has invalid dim {}", fmt::join(dims, ","), d);
    if (__builtin_mul_overflow(count, d, &count)) ctx.fail("value dims {} have too many elements", dims_str(dims));
  }
  if (value.float_data_size() > 0 && value.int64_data_size() > 0)
    ctx.fail("value has both float_data and int64_data; give one");
  const bool is_int = value.int64_data_size() > 0;
  const int64_t given = is_int ? value.int64_data_size() : value.float_data_size();
  if (given != count)
    ctx.fail("value has {} {} values, but dims {} need {}", given, is_int ? "int64_data" : "float_data", dims_str(dims),
             count);
  ctx.outputs[0] = {is_int ? DType::i64 : DType::f32, dims};
}

std::unique_ptr<Kernel> make_constant_kernel(const KernelInit& init) {
  // The kernel owns a copy of the literal; each run copies it into the output.
  const pb::TensorValue& value = init.attrs().value();
  std::vector<std::byte> bytes(init.outputs.at(0).num_bytes());
  const void* source = init.outputs[0].dtype == DType::i64 ? static_cast<const void*>(value.int64_data().data())
                                                           : static_cast<const void*>(value.float_data().data());
  if (!bytes.empty()) std::memcpy(bytes.data(), source, bytes.size());
  return make_lambda_kernel([bytes = std::move(bytes)](const KernelIO& io) {
    if (!bytes.empty()) std::memcpy(io.outputs[0], bytes.data(), bytes.size());
  });
}

// ---- Dropout -------------------------------------------------------------------

float dropout_ratio(const pb::Node& attrs) { return attrs.has_ratio() ? attrs.ratio() : 0.5f; }

void infer_dropout(InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  const float ratio = dropout_ratio(ctx.attrs());
  if (!(ratio >= 0.0f && ratio < 1.0f)) ctx.fail("ratio {} is outside [0, 1)", ratio);
  ctx.outputs[0] = ctx.inputs[0];
  ctx.outputs[1] = ctx.inputs[0];
}

class DropoutKernel final : public Kernel {
 public:
  explicit DropoutKernel(const KernelInit& init)
      : ratio_(dropout_ratio(init.attrs())),
        node_seed_(random_node_seed(init.node.def)),
        size_(init.inputs.at(0).num_elements()) {}

  void run(const KernelIO& io) const override {
    const float* x = io.in<float>(0);
    float* y = io.out<float>(0);
    float* mask = io.out<float>(1);
    if (size_ == 0) return;
    if (io.run == nullptr || !io.run->training) {
      std::memcpy(y, x, static_cast<size_t>(size_) * sizeof(float));
      std::fill(mask, mask + size_, 1.0f);
      return;
    }
    const DropoutMask drop(io.run->step_seed, node_seed_, ratio_);
    // Each element's draw depends only on its index, so the split over the team the
    // executor gave this step changes no bit; small inputs skip the fork/join.
    for_each_range(size_ >= kParallelElements, size_, [&](int64_t begin, int64_t end) {
      drop.apply(static_cast<uint64_t>(begin), end - begin, x + begin, y + begin, mask + begin);
    });
  }

 private:
  float ratio_;
  uint64_t node_seed_;
  int64_t size_;
};

// ---- RandomNormalLike ----------------------------------------------------------

float normal_mean(const pb::Node& attrs) { return attrs.has_mean() ? attrs.mean() : 0.0f; }
float normal_scale(const pb::Node& attrs) { return attrs.has_scale() ? attrs.scale() : 1.0f; }

void infer_random_normal_like(InferContext& ctx) {
  // ONNX copies the input's dtype when `dtype` is not given, and allows only
  // float types for the output; float32 is graphrun's one float type.
  ctx.expect_dtype(0, DType::f32);
  const float mean = normal_mean(ctx.attrs());
  const float scale = normal_scale(ctx.attrs());
  if (!std::isfinite(mean)) ctx.fail("mean {} is not finite", mean);
  if (!(std::isfinite(scale) && scale >= 0.0f)) ctx.fail("scale {} is not a finite value >= 0", scale);
  ctx.outputs[0] = ctx.inputs[0];
}

class RandomNormalLikeKernel final : public Kernel {
 public:
  explicit RandomNormalLikeKernel(const KernelInit& init)
      : mean_(normal_mean(init.attrs())),
        scale_(normal_scale(init.attrs())),
        node_seed_(random_node_seed(init.node.def)),
        size_(init.outputs.at(0).num_elements()) {}

  // Samples whether or not training (the VAE's reparameterisation needs noise at
  // inference too); the input buffer is never read.
  void run(const KernelIO& io) const override {
    float* y = io.out<float>(0);
    const NormalStream normal(io.run != nullptr ? io.run->step_seed : 0, node_seed_, mean_, scale_);
    for (int64_t i = 0; i < size_; ++i) y[i] = normal.value(static_cast<uint64_t>(i));
  }

 private:
  float mean_;
  float scale_;
  uint64_t node_seed_;
  int64_t size_;
};

// ---- Gradient rules ------------------------------------------------------------

void identity_gradient(GradientBuilder& g) {
  if (g.needs_grad(0)) g.set_input_grad(0, g.output_grad(0));
}

// y = x * mask, so dx = dy * mask, reusing the forward pass's mask (all ones
// outside training) instead of drawing it again.
void dropout_gradient(GradientBuilder& g) {
  const ValueId dy = g.output_grad(0);
  if (!g.needs_grad(0) || dy == kNoValue) return;  // only the mask is used: x gets nothing
  g.set_input_grad(0, g.emit1("Mul", {dy, g.output(1)}));
}

}  // namespace

void register_misc_ops(OpRegistry& registry) {
  registry.op("Identity")
      .inputs({"input"})
      .outputs({"output"})
      .shape(infer_identity)
      .kernel(make_identity_kernel)
      .gradient(identity_gradient)
      .doc("y = x: a copy of the input, of any dtype and shape. Gradient: dx = dy.");

  registry.op("Constant")
      .outputs({"output"})
      .attrs({"value"})
      .shape(infer_constant)
      .kernel(make_constant_kernel)
      .non_differentiable("no inputs to differentiate")
      .doc(
          "Outputs the literal tensor in the `value` attribute: shape `dims` (empty = scalar) and either float_data "
          "(a float32 tensor) or int64_data (an int64 tensor), row-major, with exactly as many values as the dims "
          "have elements. Takes no inputs.");

  registry.op("Dropout")
      .inputs({"data"})
      .outputs({"output", "mask"})
      .attrs({"ratio", "seed"})
      .shape(infer_dropout)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> { return std::make_unique<DropoutKernel>(init); })
      .gradient(dropout_gradient)
      .doc(
          "When training, drops each element of the float32 input with probability `ratio` (default 0.5, in [0, 1)) "
          "and scales the kept ones: output = data * mask with mask = 1 / (1 - ratio) where kept and 0 where dropped "
          "(mask is a float32 output of the same shape). Outside training, output = data and mask = 1. Element i's "
          "decision is a pure function of (the run's step seed, the node's seed, i), via SplitMix64 (ops/random.h); "
          "the node's seed is the `seed` attribute, else a hash of the node name. Gradient: d data = d output * mask "
          "(Mul with the mask output); the mask gets none.");

  registry.op("RandomNormalLike")
      .inputs({"input"})
      .outputs({"output"})
      .attrs({"mean", "scale", "seed"})
      .shape(infer_random_normal_like)
      .kernel([](const KernelInit& init) -> std::unique_ptr<Kernel> {
        return std::make_unique<RandomNormalLikeKernel>(init);
      })
      .non_differentiable("reads only its input's shape")
      .doc(
          "A float32 tensor of the input's shape (only the shape is read; the input must be float32) whose elements "
          "are drawn from the normal distribution with mean `mean` (default 0) and standard deviation `scale` "
          "(default 1, finite and >= 0), as ONNX RandomNormalLike without `dtype`. It samples in training and at "
          "inference alike, as ONNX and Keras' K.random_normal do, e.g. for a variational autoencoder's "
          "reparameterisation z = mean + exp(log_var / 2) * eps. Element i is mean + scale * z_i, z_i the Box-Muller "
          "transform sqrt(-2 ln u1) cos(2 pi u2) of two 53-bit uniforms, a pure function of (the run's step seed, "
          "the node's seed, i) via SplitMix64 (ops/random.h): the node's seed is the `seed` attribute (an integer, "
          "where ONNX has a float), else a hash of the node name. Each training step has its own step seed; "
          "Session::run, `graphrun run` and evaluation use step seed 0, so every inference call draws the same "
          "values. Not differentiable: the output does not depend on the input's values, so the input gets no "
          "gradient.");
}

}  // namespace graphrun
