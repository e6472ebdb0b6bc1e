// Reference kernels for ops/binary.cpp: one loop over the output's coordinates,
// reading each input through broadcast_index.
#include <algorithm>
#include <cmath>

#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

template <typename Fn>
ReferenceKernel broadcasting(Fn fn) {
  return [fn](const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>& out_types,
              const RunContext&) {
    const Dims& out_dims = out_types[0].dims;
    Tensor out(DType::f32, out_dims);
    if (out.num_elements() == 0) return std::vector<Tensor>{out};
    const float* a = in[0].data<float>();
    const float* b = in[1].data<float>();
    float* c = out.data<float>();
    Dims coords(out_dims.size(), 0);
    int64_t i = 0;
    do {
      c[i++] = fn(a[broadcast_index(in[0].dims(), coords)], b[broadcast_index(in[1].dims(), coords)]);
    } while (next_coords(out_dims, coords));
    return std::vector<Tensor>{out};
  };
}

// A broadcasting binary op on float32 or int64 inputs, computed in double,
// giving float32.
template <typename Fn>
ReferenceKernel broadcasting_as_double(Fn fn) {
  return [fn](const pb::Node&, const Inputs& in, const Types& out_types, const RunContext&) {
    const Dims& out_dims = out_types[0].dims;
    Tensor out(DType::f32, out_dims);
    Dims coords(out_dims.size(), 0);
    if (out.num_elements() == 0) return std::vector<Tensor>{out};
    int64_t i = 0;
    do {
      const double a = element(in[0], broadcast_index(in[0].dims(), coords));
      const double b = element(in[1], broadcast_index(in[1].dims(), coords));
      out.data<float>()[i++] = static_cast<float>(fn(a, b));
    } while (next_coords(out_dims, coords));
    return std::vector<Tensor>{out};
  };
}

// MaxGrad / MinGrad: dA = dC where A is selected (ties to A), dB = dC elsewhere.
ReferenceKernel max_min_grad(bool is_max) {
  return [is_max](const pb::Node&, const Inputs& in, const Types& out_types, const RunContext&) {
    const Dims& out_dims = out_types[0].dims;
    Tensor da(DType::f32, out_dims), db(DType::f32, out_dims);
    if (da.num_elements() == 0) return std::vector<Tensor>{da, db};
    Dims coords(out_dims.size(), 0);
    int64_t i = 0;
    do {
      const float a = in[1].data<float>()[broadcast_index(in[1].dims(), coords)];
      const float b = in[2].data<float>()[broadcast_index(in[2].dims(), coords)];
      const bool a_selected = is_max ? a >= b : a <= b;
      (a_selected ? da : db).data<float>()[i] = in[0].data<float>()[i];
      ++i;
    } while (next_coords(out_dims, coords));
    return std::vector<Tensor>{da, db};
  };
}

}  // namespace

void register_binary(ReferenceTable& t) {
  t["Add"] = broadcasting([](float a, float b) { return a + b; });
  t["Sub"] = broadcasting([](float a, float b) { return a - b; });
  t["Mul"] = broadcasting([](float a, float b) { return a * b; });
  t["Div"] = broadcasting([](float a, float b) { return a / b; });
  t["Equal"] = broadcasting_as_double([](double a, double b) { return a == b ? 1.0 : 0.0; });
  // NaN in either gives NaN, as NumPy's maximum and minimum.
  t["Max"] =
      broadcasting_as_double([](double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); });
  t["Min"] =
      broadcasting_as_double([](double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); });
  t["MaxGrad"] = max_min_grad(true);
  t["MinGrad"] = max_min_grad(false);
}

}  // namespace graphrun::reference
