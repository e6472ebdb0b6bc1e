// Losses, as plain loops. They accumulate in double: they sum N*C terms into one
// scalar.
//
//   SoftmaxCrossEntropyLoss(S [N,C], labels [N])  = -(1/N) sum_n log_softmax(S)[n, labels[n]]
//                                                   (+ log_prob = log_softmax(S) as output 1)
//   SoftmaxCrossEntropyWithProbs(S [N,C], T [N,C]) = -(1/N) sum_n sum_c T[n,c] log_softmax(S)[n,c]
//   SigmoidCrossEntropyWithLogits(X, T)          = mean(max(x,0) - x t + log(1 + exp(-|x|)))
//   MeanSquaredError(P, T)                       = mean((p - t)^2)
//
// Gradients (dL = the scalar loss's output gradient; M = number of elements):
//   SoftmaxCrossEntropyLoss: dS = (softmax(S) - onehot(labels)) / N * dL, via
//     SoftmaxCrossEntropyLossGrad; a gradient reaching log_prob adds LogSoftmaxGrad.
//   SoftmaxCrossEntropyWithProbs: dS = (rowsum(T) softmax(S) - T) / N * dL (the
//     familiar softmax - T when rows of T sum to 1), dT = -log_softmax(S) / N * dL.
//   SigmoidCrossEntropyWithLogits: dX = (sigmoid(x) - t) / M * dL, dT = -x / M * dL.
//   MeanSquaredError: dP = 2 (p - t) / M * dL, dT = -dP.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "ops/gradient.h"
#include "ops/registry.h"

namespace graphrun {
namespace {

// ---- Shared helpers ---------------------------------------------------------------

// "model.pbtxt:7:3: node 'loss' (SoftmaxCrossEntropyLoss)": how run-time errors name a node.
std::string node_label(const Node& node) { return node.location.str() + describe(node); }

// Checks that inputs i and j have the same shape up to unknown dims and returns
// it, taking each dim from whichever side knows it.
Dims same_dims(const InferContext& ctx, int i, int j) {
  const Dims& a = ctx.in_dims(i);
  const Dims& b = ctx.in_dims(j);
  bool same = a.size() == b.size();
  for (size_t d = 0; same && d < a.size(); ++d) same = dim_compatible(a[d], b[d]);
  if (!same)
    ctx.fail("input {} has shape {} but input {} has shape {}; they must match", i, dims_str(a), j, dims_str(b));
  Dims out = a;
  for (size_t d = 0; d < out.size(); ++d)
    if (out[d] < 0) out[d] = b[d];
  return out;
}

void expect_scalar_grad(const InferContext& ctx) {
  ctx.expect_dtype(0, DType::f32);
  if (ctx.inputs[0].rank() != 0)
    ctx.fail("input 0 (dLoss) has shape {}, expected a scalar []", dims_str(ctx.in_dims(0)));
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

// ---- SoftmaxCrossEntropyLoss ------------------------------------------------------------

// Checks scores [N,C] float32 (input `s`) and labels [N] int64 (input `s`+1);
// returns [N, C] with N taken from whichever knows it.
Dims infer_scores_and_labels(const InferContext& ctx, int s) {
  ctx.expect_dtype(s, DType::f32);
  ctx.expect_dtype(s + 1, DType::i64);
  const Dims& scores = ctx.in_dims(s);
  const Dims& labels = ctx.in_dims(s + 1);
  if (scores.size() != 2) ctx.fail("scores have shape {}, expected [N, C] (rank 2)", dims_str(scores));
  if (labels.size() != 1)
    ctx.fail("labels have shape {}, expected [N] (rank 1, one class index per row)", dims_str(labels));
  if (!dim_compatible(scores[0], labels[0]))
    ctx.fail("scores have shape {} but labels have shape {}: the batch sizes differ", dims_str(scores),
             dims_str(labels));
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

}  // namespace

// ---- Registration -------------------------------------------------------------------

void register_loss_ops(OpRegistry& registry) {
  registry.op("SoftmaxCrossEntropyLoss")
      .inputs({"scores", "labels"})
      .outputs({"output", "log_prob"})
      .shape(infer_sce_loss)
      .kernel(make_sce_loss_kernel)
      .gradient(sce_loss_gradient)
      .doc(
          "ONNX SoftmaxCrossEntropyLoss with reduction='mean', no weights and no ignore_index: scores [N, C] "
          "float32, labels [N] int64 class indices. log_prob = log_softmax(scores) along C = scores - max - "
          "log(sum(exp(scores - max))) (stable for large scores), and output = -(1/N) sum_n log_prob[n, labels[n]], "
          "a float32 scalar []. log_prob [N, C] is always computed; leave it unused if not needed. A label outside "
          "[0, C) is a run-time error naming the node and the label. N = 0 gives NaN. Gradient: d scores = "
          "(softmax(scores) - onehot(labels)) / N * d output; labels get none.");
  registry.grad_op("SoftmaxCrossEntropyLossGrad")
      .inputs({"dLoss", "scores", "labels"})
      .outputs({"dScores"})
      .shape(infer_sce_loss_grad)
      .kernel(make_sce_loss_grad_kernel)
      .doc(
          "Gradient of SoftmaxCrossEntropyLoss's loss output: dScores[n, c] = (softmax(scores)[n, c] - (c == "
          "labels[n])) / N * dLoss, with dLoss a float32 scalar []. A label outside [0, C) is a run-time error.");

  registry.op("SoftmaxCrossEntropyWithProbs")
      .inputs({"scores", "targets"})
      .outputs({"output"})
      .shape(infer_sce_probs)
      .kernel(make_sce_probs_kernel)
      .gradient(two_input_loss_gradient("SoftmaxCrossEntropyWithProbsGrad", false))
      .doc(
          "Cross-entropy against a distribution per row (as TF softmax_cross_entropy_with_logits; our name, not "
          "ONNX): scores and targets are float32 [N, C], output = -(1/N) sum_n sum_c targets[n, c] * "
          "log_softmax(scores)[n, c], a scalar []; log_softmax is computed stably. Targets are usually one-hot or "
          "soft labels (rows summing to 1) but need not be. Gradients: d scores = (rowsum(targets) * softmax(scores) "
          "- targets) / N * d output (softmax - targets for normalised rows) and d targets = -log_softmax(scores) / "
          "N * d output.");
  registry.grad_op("SoftmaxCrossEntropyWithProbsGrad")
      .inputs({"dLoss", "scores", "targets"})
      .outputs({"dScores", "dTargets"})
      .shape(infer_sce_probs_grad)
      .kernel(make_sce_probs_grad_kernel)
      .doc(
          "Gradient of SoftmaxCrossEntropyWithProbs: dScores = (rowsum(targets) * softmax(scores) - targets) / N * "
          "dLoss and dTargets = -log_softmax(scores) / N * dLoss, for scores and targets [N, C] and dLoss a scalar "
          "[].");

  registry.op("SigmoidCrossEntropyWithLogits")
      .inputs({"logits", "targets"})
      .outputs({"output"})
      .shape(infer_same_shape_loss)
      .kernel([](const KernelInit& init) { return make_mean_loss_kernel(init, sigmoid_cross_entropy); })
      .gradient(two_input_loss_gradient("SigmoidCrossEntropyWithLogitsGrad", false))
      .doc(
          "Binary cross-entropy on logits (TF sigmoid_cross_entropy_with_logits averaged; Keras binary_crossentropy "
          "with from_logits=True): logits x and targets t are float32 of one shape (any rank), and output = mean "
          "over all elements of max(x, 0) - x * t + log(1 + exp(-|x|)), the stable form of -t log(sigmoid(x)) - (1 - "
          "t) log(1 - sigmoid(x)); a scalar []. No elements gives NaN. Gradients: d logits = (sigmoid(x) - t) / M * "
          "d output and d targets = -x / M * d output, M = number of elements.");
  registry.grad_op("SigmoidCrossEntropyWithLogitsGrad")
      .inputs({"dLoss", "logits", "targets"})
      .outputs({"dLogits", "dTargets"})
      .shape(infer_same_shape_loss_grad)
      .kernel(make_sigmoid_ce_grad_kernel)
      .doc(
          "Gradient of SigmoidCrossEntropyWithLogits: dLogits = (sigmoid(x) - t) / M * dLoss and dTargets = -x / M "
          "* dLoss, M = number of elements, dLoss a float32 scalar [].");

  registry.op("MeanSquaredError")
      .inputs({"predictions", "targets"})
      .outputs({"output"})
      .shape(infer_same_shape_loss)
      .kernel([](const KernelInit& init) {
        return make_mean_loss_kernel(init, [](float p, float t) { return static_cast<double>(p - t) * (p - t); });
      })
      .gradient(two_input_loss_gradient("MeanSquaredErrorGrad", true))
      .doc(
          "output = mean((predictions - targets)^2) over all elements, a float32 scalar [] (Keras "
          "mean_squared_error averaged over the batch); predictions and targets are float32 of one shape (any rank, "
          "no broadcasting). No elements gives NaN. Gradients: d predictions = 2 (p - t) / M * d output (M = number "
          "of elements) and d targets = its negative.");
  registry.grad_op("MeanSquaredErrorGrad")
      .inputs({"dLoss", "predictions", "targets"})
      .outputs({"dPredictions"})
      .shape(infer_same_shape_loss_grad)
      .kernel(make_mse_grad_kernel)
      .doc(
          "Gradient of MeanSquaredError with respect to predictions: dPredictions = 2 (p - t) / M * dLoss, M = "
          "number of elements, dLoss a float32 scalar [] (the targets' gradient is its negative).");
}

}  // namespace graphrun
