// Reference kernels for ops/eltwise.cpp.
#include <cmath>

#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

template <typename Fn>
ReferenceKernel unary(Fn fn) {
  return [fn](const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>&, const RunContext&) {
    Tensor out(DType::f32, in[0].dims());
    const float* x = in[0].data<float>();
    float* y = out.data<float>();
    for (int64_t i = 0; i < out.num_elements(); ++i) y[i] = fn(x[i]);
    return std::vector<Tensor>{out};
  };
}

// dX = dY * fprime(forward value), elementwise.
template <typename Fn>
ReferenceKernel backward(Fn fprime) {
  return [fprime](const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>&, const RunContext&) {
    Tensor out(DType::f32, in[1].dims());
    const float* dy = in[0].data<float>();
    const float* v = in[1].data<float>();
    float* dx = out.data<float>();
    for (int64_t i = 0; i < out.num_elements(); ++i) dx[i] = dy[i] * fprime(v[i]);
    return std::vector<Tensor>{out};
  };
}

std::vector<Tensor> cast_to_float(const pb::Node&, const Inputs& in, const Types&, const RunContext&) {
  Tensor out(DType::f32, in[0].dims());
  for (int64_t i = 0; i < out.num_elements(); ++i) out.data<float>()[i] = static_cast<float>(element(in[0], i));
  return {out};
}

std::vector<Tensor> cast_to_int64(const pb::Node&, const Inputs& in, const Types&, const RunContext&) {
  Tensor out(DType::i64, in[0].dims());
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    const double x = element(in[0], i);
    // std::trunc then a cast: toward zero. (NaN / out-of-range saturation is tested by hand.)
    out.data<int64_t>()[i] = std::isnan(x) ? 0 : static_cast<int64_t>(std::trunc(x));
  }
  return {out};
}

std::vector<Tensor> sign(const pb::Node&, const Inputs& in, const Types&, const RunContext&) {
  Tensor out(DType::f32, in[0].dims());
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    const float x = in[0].data<float>()[i];
    out.data<float>()[i] = std::isnan(x) ? x : (x > 0 ? 1.f : (x < 0 ? -1.f : 0.f));
  }
  return {out};
}

}  // namespace

void register_eltwise(ReferenceTable& t) {
  t["Relu"] = unary([](float x) { return std::isnan(x) ? x : (x > 0 ? x : 0.f); });  // NaN stays NaN
  t["Tanh"] = unary([](float x) { return std::tanh(x); });
  t["Sigmoid"] = unary([](float x) { return 1.f / (1.f + std::exp(-x)); });
  t["Exp"] = unary([](float x) { return std::exp(x); });
  t["Log"] = unary([](float x) { return std::log(x); });
  t["Sqrt"] = unary([](float x) { return std::sqrt(x); });
  t["Neg"] = unary([](float x) { return -x; });
  t["Abs"] = unary([](float x) { return std::fabs(x); });
  t["ReluGrad"] = backward([](float x) { return x <= 0 ? 0.f : 1.f; });  // NaN passes dY on, as PyTorch
  t["TanhGrad"] = backward([](float y) { return 1.f - y * y; });
  t["SigmoidGrad"] = backward([](float y) { return y * (1.f - y); });
  t["SqrtGrad"] = backward([](float y) { return 0.5f / y; });
  t["CastToFloat"] = cast_to_float;
  t["CastToInt64"] = cast_to_int64;
  t["Sign"] = sign;
  t["AbsGrad"] = backward([](float x) { return x > 0 ? 1.f : (x < 0 ? -1.f : 0.f); });
}

}  // namespace graphrun::reference
