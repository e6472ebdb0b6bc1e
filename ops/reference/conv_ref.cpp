// Reference kernels for ops/conv.cpp, from the definitions: every (Conv2D output position,
// kernel tap) pair that lands inside the image is visited in plain loops, accumulating in
// double. Conv2DTranspose uses the same pairs with the roles of image and map swapped (it is
// the adjoint), so its loops scatter where Conv2D's gather.
#include <algorithm>

#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

// Conv2D's geometry: the image [N, H, W, C] it reads (Conv2DTranspose writes), the map
// [N, P, Q, C'] it writes (Conv2DTranspose reads) and the kernel window.
struct Taps {
  int64_t n = 0, h = 0, w = 0, p = 0, q = 0, kh = 0, kw = 0, sh = 1, sw = 1, top = 0, left = 0;
};

Taps taps_of(const pb::Node& attrs, const Dims& image, const Dims& map, const Dims& kernel) {
  Taps t{image[0], image[1], image[2], map[1], map[2], kernel[0], kernel[1]};
  if (attrs.strides_size() == 2) {
    t.sh = attrs.strides(0);
    t.sw = attrs.strides(1);
  }
  if (attrs.auto_pad() == "SAME_UPPER") {
    // TF 'SAME': pad so the last window ends at the image's end; the smaller half goes first.
    t.top = std::max<int64_t>((t.p - 1) * t.sh + t.kh - t.h, 0) / 2;
    t.left = std::max<int64_t>((t.q - 1) * t.sw + t.kw - t.w, 0) / 2;
  }
  return t;
}

// fn(image offset, map offset, tap offset), each the flat index of its first channel:
// image[n, y, x, :], map[n, p, q, :] and kernel[i, j, :, :] for every tap that lands inside.
template <typename Fn>
void for_each_tap(const Taps& t, int64_t image_c, int64_t map_c, int64_t tap_size, Fn fn) {
  for (int64_t n = 0; n < t.n; ++n)
    for (int64_t p = 0; p < t.p; ++p)
      for (int64_t q = 0; q < t.q; ++q)
        for (int64_t i = 0; i < t.kh; ++i)
          for (int64_t j = 0; j < t.kw; ++j) {
            const int64_t y = p * t.sh + i - t.top, x = q * t.sw + j - t.left;
            if (y < 0 || y >= t.h || x < 0 || x >= t.w) continue;
            fn(((n * t.h + y) * t.w + x) * image_c, ((n * t.p + p) * t.q + q) * map_c, (i * t.kw + j) * tap_size);
          }
}

Tensor to_tensor(const Dims& dims, const std::vector<double>& values) {
  Tensor out(DType::f32, dims);
  std::transform(values.begin(), values.end(), out.data<float>(), [](double v) { return static_cast<float>(v); });
  return out;
}

// y[map] = B + sum x[image] * K[i, j, c, o].
std::vector<Tensor> conv2d(const pb::Node& attrs, const std::vector<Tensor>& in,
                           const std::vector<TensorType>& out_types, const RunContext&) {
  const Dims& y_dims = out_types[0].dims;
  const Taps t = taps_of(attrs, in[0].dims(), y_dims, in[1].dims());
  const int64_t ci = in[1].dims()[2], co = in[1].dims()[3];
  const float* x = in[0].data<float>();
  const float* k = in[1].data<float>();
  std::vector<double> y(static_cast<size_t>(num_elements(y_dims)), 0.0);
  if (in.size() == 3)
    for (size_t e = 0; e < y.size(); ++e) y[e] = in[2].data<float>()[static_cast<int64_t>(e) % co];
  for_each_tap(t, ci, co, ci * co, [&](int64_t xi, int64_t yi, int64_t ki) {
    for (int64_t c = 0; c < ci; ++c)
      for (int64_t o = 0; o < co; ++o) y[static_cast<size_t>(yi + o)] += double(x[xi + c]) * k[ki + c * co + o];
  });
  return {to_tensor(y_dims, y)};
}

// (dY, K, X) -> dX: each tap sends dY * K back to the image position it read.
std::vector<Tensor> conv2d_backward_data(const pb::Node& attrs, const std::vector<Tensor>& in,
                                         const std::vector<TensorType>&, const RunContext&) {
  const Dims& x_dims = in[2].dims();
  const Taps t = taps_of(attrs, x_dims, in[0].dims(), in[1].dims());
  const int64_t ci = in[1].dims()[2], co = in[1].dims()[3];
  const float* dy = in[0].data<float>();
  const float* k = in[1].data<float>();
  std::vector<double> dx(static_cast<size_t>(num_elements(x_dims)), 0.0);
  for_each_tap(t, ci, co, ci * co, [&](int64_t xi, int64_t yi, int64_t ki) {
    for (int64_t c = 0; c < ci; ++c)
      for (int64_t o = 0; o < co; ++o) dx[static_cast<size_t>(xi + c)] += double(dy[yi + o]) * k[ki + c * co + o];
  });
  return {to_tensor(x_dims, dx)};
}

// (dY, X, K) -> dK[i, j, c, o] = sum over taps (i, j) of x * dY.
std::vector<Tensor> conv2d_backward_weights(const pb::Node& attrs, const std::vector<Tensor>& in,
                                            const std::vector<TensorType>&, const RunContext&) {
  const Dims& k_dims = in[2].dims();
  const Taps t = taps_of(attrs, in[1].dims(), in[0].dims(), k_dims);
  const int64_t ci = k_dims[2], co = k_dims[3];
  const float* dy = in[0].data<float>();
  const float* x = in[1].data<float>();
  std::vector<double> dk(static_cast<size_t>(num_elements(k_dims)), 0.0);
  for_each_tap(t, ci, co, ci * co, [&](int64_t xi, int64_t yi, int64_t ki) {
    for (int64_t c = 0; c < ci; ++c)
      for (int64_t o = 0; o < co; ++o) dk[static_cast<size_t>(ki + c * co + o)] += double(x[xi + c]) * dy[yi + o];
  });
  return {to_tensor(k_dims, dk)};
}

// Conv2DTranspose: X is the map, Y the image, K [kh, kw, Co, Ci]: y[image] += x[map] * K[i, j, o, c] (+ B).
std::vector<Tensor> conv2d_transpose(const pb::Node& attrs, const std::vector<Tensor>& in,
                                     const std::vector<TensorType>& out_types, const RunContext&) {
  const Dims& y_dims = out_types[0].dims;
  const Taps t = taps_of(attrs, y_dims, in[0].dims(), in[1].dims());
  const int64_t co = in[1].dims()[2], ci = in[1].dims()[3];
  const float* x = in[0].data<float>();
  const float* k = in[1].data<float>();
  std::vector<double> y(static_cast<size_t>(num_elements(y_dims)), 0.0);
  if (in.size() == 3)
    for (size_t e = 0; e < y.size(); ++e) y[e] = in[2].data<float>()[static_cast<int64_t>(e) % co];
  for_each_tap(t, co, ci, co * ci, [&](int64_t yi, int64_t xi, int64_t ki) {
    for (int64_t o = 0; o < co; ++o)
      for (int64_t c = 0; c < ci; ++c) y[static_cast<size_t>(yi + o)] += double(x[xi + c]) * k[ki + o * ci + c];
  });
  return {to_tensor(y_dims, y)};
}

// (dY, K, X) -> dX[map] = sum over taps of dY[image] * K[i, j, o, c].
std::vector<Tensor> conv2d_transpose_backward_data(const pb::Node& attrs, const std::vector<Tensor>& in,
                                                   const std::vector<TensorType>&, const RunContext&) {
  const Dims& x_dims = in[2].dims();
  const Taps t = taps_of(attrs, in[0].dims(), x_dims, in[1].dims());
  const int64_t co = in[1].dims()[2], ci = in[1].dims()[3];
  const float* dy = in[0].data<float>();
  const float* k = in[1].data<float>();
  std::vector<double> dx(static_cast<size_t>(num_elements(x_dims)), 0.0);
  for_each_tap(t, co, ci, co * ci, [&](int64_t yi, int64_t xi, int64_t ki) {
    for (int64_t o = 0; o < co; ++o)
      for (int64_t c = 0; c < ci; ++c) dx[static_cast<size_t>(xi + c)] += double(dy[yi + o]) * k[ki + o * ci + c];
  });
  return {to_tensor(x_dims, dx)};
}

// (dY, X, K) -> dK[i, j, o, c] = sum over taps (i, j) of dY[image] * x[map].
std::vector<Tensor> conv2d_transpose_backward_weights(const pb::Node& attrs, const std::vector<Tensor>& in,
                                                      const std::vector<TensorType>&, const RunContext&) {
  const Dims& k_dims = in[2].dims();
  const Taps t = taps_of(attrs, in[0].dims(), in[1].dims(), k_dims);
  const int64_t co = k_dims[2], ci = k_dims[3];
  const float* dy = in[0].data<float>();
  const float* x = in[1].data<float>();
  std::vector<double> dk(static_cast<size_t>(num_elements(k_dims)), 0.0);
  for_each_tap(t, co, ci, co * ci, [&](int64_t yi, int64_t xi, int64_t ki) {
    for (int64_t o = 0; o < co; ++o)
      for (int64_t c = 0; c < ci; ++c) dk[static_cast<size_t>(ki + o * ci + c)] += double(dy[yi + o]) * x[xi + c];
  });
  return {to_tensor(k_dims, dk)};
}

}  // namespace

void register_conv(ReferenceTable& table) {
  table["Conv2D"] = conv2d;
  table["Conv2DBackwardData"] = conv2d_backward_data;
  table["Conv2DBackwardWeights"] = conv2d_backward_weights;
  table["Conv2DTranspose"] = conv2d_transpose;
  table["Conv2DTransposeBackwardData"] = conv2d_transpose_backward_data;
  table["Conv2DTransposeBackwardWeights"] = conv2d_transpose_backward_weights;
}

}  // namespace graphrun::reference
