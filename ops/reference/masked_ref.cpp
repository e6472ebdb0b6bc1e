// Reference kernels for ops/masked.cpp, in double, written from the definitions:
// the kept steps of a row are gathered first and the plain formula runs on them.
#include <algorithm>
#include <cmath>

#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

// X as [N, T, K] with its mask read as booleans.
struct Sequences {
  int64_t N, T, K;
  std::vector<bool> kept;  // [N * T]

  Sequences(const Tensor& x, const Tensor& mask)
      : N(x.dims()[0]), T(x.dims()[1]), K(x.num_elements() / std::max<int64_t>(1, N * T)) {
    if (N * T == 0) K = 0;
    for (int64_t i = 0; i < N * T; ++i)
      kept.push_back(mask.dtype() == DType::i64 ? mask.data<int64_t>()[i] != 0 : mask.data<float>()[i] != 0.0f);
  }
  // The kept time steps of row n.
  std::vector<int64_t> steps(int64_t n) const {
    std::vector<int64_t> s;
    for (int64_t t = 0; t < T; ++t)
      if (kept[static_cast<size_t>(n * T + t)]) s.push_back(t);
    return s;
  }
  int64_t at(int64_t n, int64_t t, int64_t k) const { return (n * T + t) * K + k; }
};

std::vector<Tensor> masked_softmax(const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>&,
                                   const RunContext&) {
  const Sequences s(in[0], in[1]);
  Tensor y(DType::f32, in[0].dims());
  std::fill(y.data<float>(), y.data<float>() + y.num_elements(), 0.0f);
  const float* x = in[0].data<float>();
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k) {
      const std::vector<int64_t> steps = s.steps(n);
      double max = -INFINITY, sum = 0;
      for (int64_t t : steps) max = std::max<double>(max, x[s.at(n, t, k)]);
      for (int64_t t : steps) sum += std::exp(x[s.at(n, t, k)] - max);
      for (int64_t t : steps)
        y.data<float>()[s.at(n, t, k)] = static_cast<float>(std::exp(x[s.at(n, t, k)] - max) / sum);
    }
  return {y};
}

Dims reduced_dims(const Dims& x) {
  Dims d = {x[0]};
  d.insert(d.end(), x.begin() + 2, x.end());
  return d;
}

std::vector<Tensor> masked_mean(const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>&,
                                const RunContext&) {
  const Sequences s(in[0], in[1]);
  Tensor y(DType::f32, reduced_dims(in[0].dims()));
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k) {
      const std::vector<int64_t> steps = s.steps(n);
      double sum = 0;
      for (int64_t t : steps) sum += in[0].data<float>()[s.at(n, t, k)];
      y.data<float>()[n * s.K + k] = steps.empty() ? 0.0f : static_cast<float>(sum / double(steps.size()));
    }
  return {y};
}

std::vector<Tensor> masked_max(const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>&,
                               const RunContext&) {
  const Sequences s(in[0], in[1]);
  Tensor y(DType::f32, reduced_dims(in[0].dims()));
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k) {
      const std::vector<int64_t> steps = s.steps(n);
      float max = steps.empty() ? 0.0f : in[0].data<float>()[s.at(n, steps[0], k)];
      for (int64_t t : steps) {
        const float x = in[0].data<float>()[s.at(n, t, k)];
        if (!std::isnan(max) && (max < x || std::isnan(x))) max = x;  // a NaN wins
      }
      y.data<float>()[n * s.K + k] = max;
    }
  return {y};
}

// MaskedReduceMeanGrad(dY, mask) -> dX [N, T, ...]
std::vector<Tensor> masked_mean_grad(const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>& out,
                                     const RunContext&) {
  Tensor dx(DType::f32, out[0].dims);
  std::fill(dx.data<float>(), dx.data<float>() + dx.num_elements(), 0.0f);
  const Sequences s(dx, in[1]);
  for (int64_t n = 0; n < s.N; ++n) {
    const std::vector<int64_t> steps = s.steps(n);
    for (int64_t t : steps)
      for (int64_t k = 0; k < s.K; ++k)
        dx.data<float>()[s.at(n, t, k)] =
            static_cast<float>(double(in[0].data<float>()[n * s.K + k]) / double(steps.size()));
  }
  return {dx};
}

// MaskedReduceMaxGrad(dY, X, Y, mask) -> dX
std::vector<Tensor> masked_max_grad(const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>&,
                                    const RunContext&) {
  const Sequences s(in[1], in[3]);
  Tensor dx(DType::f32, in[1].dims());
  std::fill(dx.data<float>(), dx.data<float>() + dx.num_elements(), 0.0f);
  const float* x = in[1].data<float>();
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t k = 0; k < s.K; ++k) {
      std::vector<int64_t> winners;
      for (int64_t t : s.steps(n))
        if (x[s.at(n, t, k)] == in[2].data<float>()[n * s.K + k]) winners.push_back(t);
      for (int64_t t : winners)
        dx.data<float>()[s.at(n, t, k)] = in[0].data<float>()[n * s.K + k] / static_cast<float>(winners.size());
    }
  return {dx};
}

}  // namespace

void register_masked(ReferenceTable& table) {
  table["MaskedSoftmax"] = masked_softmax;
  table["MaskedReduceMean"] = masked_mean;
  table["MaskedReduceMeanGrad"] = masked_mean_grad;
  table["MaskedReduceMax"] = masked_max;
  table["MaskedReduceMaxGrad"] = masked_max_grad;
}

}  // namespace graphrun::reference
