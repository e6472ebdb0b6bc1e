// Reference kernels for ops/loss.cpp, in double precision and written straight
// from the formulas (softmax via an explicit max shift).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

// log_softmax of row n of a [N, C] tensor, in double.
std::vector<double> log_softmax_row(const Tensor& scores, int64_t n) {
  const int64_t classes = scores.dims()[1];
  const float* x = scores.data<float>() + n * classes;
  double max = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < classes; ++c) max = std::max(max, static_cast<double>(x[c]));
  double sum = 0;
  for (int64_t c = 0; c < classes; ++c) sum += std::exp(x[c] - max);
  std::vector<double> out(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c) out[static_cast<size_t>(c)] = x[c] - max - std::log(sum);
  return out;
}

void check_label(int64_t label, int64_t classes) {
  if (label < 0 || label >= classes) throw Error(fmt::format("label {} is outside [0, {})", label, classes));
}

std::vector<Tensor> sce_loss(const pb::Node&, const Inputs& in, const Types&, const RunContext&) {
  const int64_t rows = in[0].dims()[0], classes = in[0].dims()[1];
  Tensor loss(DType::f32, {});
  Tensor log_prob(DType::f32, in[0].dims());
  double total = 0;
  for (int64_t n = 0; n < rows; ++n) {
    const int64_t label = in[1].data<int64_t>()[n];
    check_label(label, classes);
    const std::vector<double> lp = log_softmax_row(in[0], n);
    for (int64_t c = 0; c < classes; ++c)
      log_prob.data<float>()[n * classes + c] = static_cast<float>(lp[static_cast<size_t>(c)]);
    total -= lp[static_cast<size_t>(label)];
  }
  loss.data<float>()[0] = static_cast<float>(total / static_cast<double>(rows));
  return {loss, log_prob};
}

std::vector<Tensor> sce_loss_grad(const pb::Node&, const Inputs& in, const Types&, const RunContext&) {
  const double dloss = in[0].data<float>()[0];
  const int64_t rows = in[1].dims()[0], classes = in[1].dims()[1];
  Tensor ds(DType::f32, in[1].dims());
  for (int64_t n = 0; n < rows; ++n) {
    const int64_t label = in[2].data<int64_t>()[n];
    check_label(label, classes);
    const std::vector<double> lp = log_softmax_row(in[1], n);
    for (int64_t c = 0; c < classes; ++c) {
      const double onehot = c == label ? 1.0 : 0.0;
      ds.data<float>()[n * classes + c] =
          static_cast<float>((std::exp(lp[static_cast<size_t>(c)]) - onehot) / rows * dloss);
    }
  }
  return {ds};
}

std::vector<Tensor> sce_probs(const pb::Node&, const Inputs& in, const Types&, const RunContext&) {
  const int64_t rows = in[0].dims()[0], classes = in[0].dims()[1];
  double total = 0;
  for (int64_t n = 0; n < rows; ++n) {
    const std::vector<double> lp = log_softmax_row(in[0], n);
    for (int64_t c = 0; c < classes; ++c) total -= in[1].data<float>()[n * classes + c] * lp[static_cast<size_t>(c)];
  }
  Tensor loss(DType::f32, {});
  loss.data<float>()[0] = static_cast<float>(total / static_cast<double>(rows));
  return {loss};
}

std::vector<Tensor> sce_probs_grad(const pb::Node&, const Inputs& in, const Types&, const RunContext&) {
  const double dloss = in[0].data<float>()[0];
  const int64_t rows = in[1].dims()[0], classes = in[1].dims()[1];
  Tensor ds(DType::f32, in[1].dims()), dt(DType::f32, in[1].dims());
  for (int64_t n = 0; n < rows; ++n) {
    const std::vector<double> lp = log_softmax_row(in[1], n);
    const float* t = in[2].data<float>() + n * classes;
    double target_sum = 0;
    for (int64_t c = 0; c < classes; ++c) target_sum += t[c];
    for (int64_t c = 0; c < classes; ++c) {
      const double l = lp[static_cast<size_t>(c)];
      ds.data<float>()[n * classes + c] = static_cast<float>((target_sum * std::exp(l) - t[c]) / rows * dloss);
      dt.data<float>()[n * classes + c] = static_cast<float>(-l / rows * dloss);
    }
  }
  return {ds, dt};
}

// mean_i term(a_i, b_i) of two same-shape float tensors.
template <typename Term>
ReferenceKernel mean_loss(Term term) {
  return [term](const pb::Node&, const Inputs& in, const Types&, const RunContext&) {
    double total = 0;
    for (int64_t i = 0; i < in[0].num_elements(); ++i) total += term(in[0].data<float>()[i], in[1].data<float>()[i]);
    Tensor loss(DType::f32, {});
    loss.data<float>()[0] = static_cast<float>(total / static_cast<double>(in[0].num_elements()));
    return std::vector<Tensor>{loss};
  };
}

// -t log(sigmoid(x)) - (1 - t) log(1 - sigmoid(x)) via log(sigmoid(x)) = -log(1 + exp(-x)),
// written with the stable softplus so the reference itself survives large |x|.
double softplus(double z) { return std::max(z, 0.0) + std::log1p(std::exp(-std::fabs(z))); }
double sigmoid_ce(float x, float t) { return t * softplus(-x) + (1.0 - t) * softplus(x); }

std::vector<Tensor> sigmoid_ce_grad(const pb::Node&, const Inputs& in, const Types&, const RunContext&) {
  const double scale = in[0].data<float>()[0] / static_cast<double>(in[1].num_elements());
  Tensor dx(DType::f32, in[1].dims()), dt(DType::f32, in[1].dims());
  for (int64_t i = 0; i < dx.num_elements(); ++i) {
    const double x = in[1].data<float>()[i], t = in[2].data<float>()[i];
    dx.data<float>()[i] = static_cast<float>((1.0 / (1.0 + std::exp(-x)) - t) * scale);
    dt.data<float>()[i] = static_cast<float>(-x * scale);
  }
  return {dx, dt};
}

std::vector<Tensor> mse_grad(const pb::Node&, const Inputs& in, const Types&, const RunContext&) {
  const double scale = 2.0 * in[0].data<float>()[0] / static_cast<double>(in[1].num_elements());
  Tensor dp(DType::f32, in[1].dims());
  for (int64_t i = 0; i < dp.num_elements(); ++i)
    dp.data<float>()[i] =
        static_cast<float>((static_cast<double>(in[1].data<float>()[i]) - in[2].data<float>()[i]) * scale);
  return {dp};
}

}  // namespace

void register_loss(ReferenceTable& t) {
  t["SoftmaxCrossEntropyLoss"] = sce_loss;
  t["SoftmaxCrossEntropyLossGrad"] = sce_loss_grad;
  t["SoftmaxCrossEntropyWithProbs"] = sce_probs;
  t["SoftmaxCrossEntropyWithProbsGrad"] = sce_probs_grad;
  t["SigmoidCrossEntropyWithLogits"] = mean_loss(sigmoid_ce);
  t["SigmoidCrossEntropyWithLogitsGrad"] = sigmoid_ce_grad;
  t["MeanSquaredError"] =
      mean_loss([](float p, float q) { return (static_cast<double>(p) - q) * (static_cast<double>(p) - q); });
  t["MeanSquaredErrorGrad"] = mse_grad;
}

}  // namespace graphrun::reference
