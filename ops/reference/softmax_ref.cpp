// Reference kernels for ops/softmax.cpp: each slice along the axis is a row of
// `axis_size` elements `inner` apart; max, then a double sum of exponentials.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

ReferenceKernel softmax(bool log) {
  return
      [log](const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>&, const RunContext&) {
        const Dims& dims = in[0].dims();
        const int axis = normalize_axis(attrs.has_axis() ? attrs.axis() : -1, in[0].rank());
        const int64_t outer = num_elements(Dims(dims.begin(), dims.begin() + axis));
        const int64_t axis_size = dims[static_cast<size_t>(axis)];
        const int64_t inner = num_elements(Dims(dims.begin() + axis + 1, dims.end()));
        Tensor out(DType::f32, dims);
        const float* x = in[0].data<float>();
        float* y = out.data<float>();
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            const int64_t base = o * axis_size * inner + i;
            float max = -std::numeric_limits<float>::infinity();
            for (int64_t j = 0; j < axis_size; ++j) max = std::max(max, x[base + j * inner]);
            double sum = 0;
            for (int64_t j = 0; j < axis_size; ++j) sum += std::exp(double(x[base + j * inner]) - max);
            for (int64_t j = 0; j < axis_size; ++j) {
              const double shifted = double(x[base + j * inner]) - max;
              y[base + j * inner] = static_cast<float>(log ? shifted - std::log(sum) : std::exp(shifted) / sum);
            }
          }
        return std::vector<Tensor>{out};
      };
}

// SoftmaxGrad: dx = y * (dy - sum(dy * y));  LogSoftmaxGrad: dx = dy - exp(y) * sum(dy).
ReferenceKernel softmax_grad(bool log) {
  return
      [log](const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>&, const RunContext&) {
        const Dims& dims = in[1].dims();
        const int axis = normalize_axis(attrs.has_axis() ? attrs.axis() : -1, in[1].rank());
        const int64_t outer = num_elements(Dims(dims.begin(), dims.begin() + axis));
        const int64_t axis_size = dims[static_cast<size_t>(axis)];
        const int64_t inner = num_elements(Dims(dims.begin() + axis + 1, dims.end()));
        Tensor out(DType::f32, dims);
        const float* dy = in[0].data<float>();
        const float* y = in[1].data<float>();
        float* dx = out.data<float>();
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            const int64_t base = o * axis_size * inner + i;
            double sum = 0;
            for (int64_t j = 0; j < axis_size; ++j) {
              const int64_t k = base + j * inner;
              sum += log ? double(dy[k]) : double(dy[k]) * y[k];
            }
            for (int64_t j = 0; j < axis_size; ++j) {
              const int64_t k = base + j * inner;
              dx[k] = static_cast<float>(log ? dy[k] - std::exp(double(y[k])) * sum : y[k] * (dy[k] - sum));
            }
          }
        return std::vector<Tensor>{out};
      };
}

}  // namespace

void register_softmax(ReferenceTable& t) {
  t["Softmax"] = softmax(false);
  t["LogSoftmax"] = softmax(true);
  t["SoftmaxGrad"] = softmax_grad(false);
  t["LogSoftmaxGrad"] = softmax_grad(true);
}

}  // namespace graphrun::reference
