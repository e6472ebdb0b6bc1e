// Reference kernels for ops/misc.cpp.
#include "ops/random.h"
#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

std::vector<Tensor> identity(const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>&,
                             const RunContext&) {
  return {in[0].clone()};
}

std::vector<Tensor> constant(const pb::Node& attrs, const std::vector<Tensor>&, const std::vector<TensorType>& out,
                             const RunContext&) {
  const pb::TensorValue& value = attrs.value();
  const Dims dims(value.dims().begin(), value.dims().end());
  if (out[0].dtype == DType::i64) {
    const std::vector<int64_t> ints(value.int64_data().begin(), value.int64_data().end());
    return {Tensor::from_ints(dims, ints)};
  }
  const std::vector<float> floats(value.float_data().begin(), value.float_data().end());
  return {Tensor::from_floats(dims, floats)};
}

std::vector<Tensor> dropout(const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>&,
                            const RunContext& run) {
  const float ratio = attrs.has_ratio() ? attrs.ratio() : 0.5f;
  const DropoutMask drop(run.step_seed, random_node_seed(attrs), ratio);
  Tensor output(DType::f32, in[0].dims());
  Tensor mask(DType::f32, in[0].dims());
  for (int64_t i = 0; i < output.num_elements(); ++i) {
    mask.data<float>()[i] = run.training ? drop.value(static_cast<uint64_t>(i)) : 1.0f;
    output.data<float>()[i] = in[0].data<float>()[i] * mask.data<float>()[i];
  }
  return {output, mask};
}

// Samples in training and inference alike; only the input's shape is read.
std::vector<Tensor> random_normal_like(const pb::Node& attrs, const std::vector<Tensor>& in,
                                       const std::vector<TensorType>&, const RunContext& run) {
  const float mean = attrs.has_mean() ? attrs.mean() : 0.0f;
  const float scale = attrs.has_scale() ? attrs.scale() : 1.0f;
  const NormalStream normal(run.step_seed, random_node_seed(attrs), mean, scale);
  Tensor output(DType::f32, in[0].dims());
  for (int64_t i = 0; i < output.num_elements(); ++i) output.data<float>()[i] = normal.value(static_cast<uint64_t>(i));
  return {output};
}

}  // namespace

void register_misc(ReferenceTable& t) {
  t["Identity"] = identity;
  t["Constant"] = constant;
  t["Dropout"] = dropout;
  t["RandomNormalLike"] = random_normal_like;
}

}  // namespace graphrun::reference
