// Reference kernels for ops/pooling.cpp: each window scanned in order, the first
// maximum wins (so the gradient goes to it).
#include <cmath>
#include <limits>

#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

struct Window {
  int64_t kernel, stride;
};

Window window(const pb::Node& attrs) {
  const int64_t k = attrs.kernel_shape(0);
  return {k, attrs.strides_size() == 1 ? attrs.strides(0) : k};
}

// Position (time step) of the first maximum of window `w` in column (n, c); a NaN is the maximum.
int64_t argmax(const float* x, const Dims& dims, const Window& win, int64_t n, int64_t w, int64_t c) {
  const int64_t T = dims[1], C = dims[2];
  int64_t best = w * win.stride;
  for (int64_t j = 1; j < win.kernel; ++j) {
    const int64_t t = w * win.stride + j;
    const float candidate = x[(n * T + t) * C + c], so_far = x[(n * T + best) * C + c];
    if (!std::isnan(so_far) && (candidate > so_far || std::isnan(candidate))) best = t;
  }
  return best;
}

std::vector<Tensor> max_pool(const pb::Node& attrs, const std::vector<Tensor>& in,
                             const std::vector<TensorType>& out_types, const RunContext&) {
  const Window win = window(attrs);
  const Dims& x_dims = in[0].dims();
  Tensor y(DType::f32, out_types[0].dims);
  const int64_t N = x_dims[0], T = x_dims[1], C = x_dims[2], W = y.dims()[1];
  const float* x = in[0].data<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t w = 0; w < W; ++w)
      for (int64_t c = 0; c < C; ++c)
        y.data<float>()[(n * W + w) * C + c] = x[(n * T + argmax(x, x_dims, win, n, w, c)) * C + c];
  return {y};
}

std::vector<Tensor> max_pool_grad(const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>&,
                                  const RunContext&) {
  const Window win = window(attrs);
  const Tensor& dy = in[0];
  const Dims& x_dims = in[1].dims();
  Tensor dx(DType::f32, x_dims);
  std::fill(dx.data<float>(), dx.data<float>() + dx.num_elements(), 0.0f);
  const int64_t N = x_dims[0], T = x_dims[1], C = x_dims[2], W = dy.dims()[1];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t w = 0; w < W; ++w)
      for (int64_t c = 0; c < C; ++c)
        dx.data<float>()[(n * T + argmax(in[1].data<float>(), x_dims, win, n, w, c)) * C + c] +=
            dy.data<float>()[(n * W + w) * C + c];
  return {dx};
}

}  // namespace

void register_pooling(ReferenceTable& table) {
  table["MaxPool1D"] = max_pool;
  table["MaxPool1DGrad"] = max_pool_grad;
}

}  // namespace graphrun::reference
