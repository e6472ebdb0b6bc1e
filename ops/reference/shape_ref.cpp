// Reference kernels for ops/shape.cpp. Element by element over output
// coordinates, for float32 and int64 alike (elements are copied as bytes).
#include <algorithm>
#include <cstring>

#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

int64_t flat_index(const Dims& dims, const Dims& coords) {
  int64_t index = 0;
  for (size_t d = 0; d < dims.size(); ++d) index = index * dims[d] + coords[d];
  return index;
}

// Builds output 0 by calling source(out_coords) -> (input number, input coords)
// for every output element.
template <typename SourceFn>
Tensor gather_elements(const std::vector<Tensor>& in, const TensorType& out_type, SourceFn source) {
  Tensor out(out_type.dtype, out_type.dims);
  const size_t size = dtype_size(out_type.dtype);
  if (out.num_elements() == 0) return out;
  Dims coords(out_type.dims.size(), 0);
  int64_t written = 0;
  do {
    const auto [input, in_coords] = source(coords);
    const Tensor& src = in[input];
    std::memcpy(
        static_cast<std::byte*>(out.raw_data()) + static_cast<size_t>(written) * size,
        static_cast<const std::byte*>(src.raw_data()) + static_cast<size_t>(flat_index(src.dims(), in_coords)) * size,
        size);
    ++written;
  } while (next_coords(out_type.dims, coords));
  return out;
}

// Reshape, Squeeze, Unsqueeze, Flatten: same elements, the inferred shape.
std::vector<Tensor> same_elements(const pb::Node&, const std::vector<Tensor>& in, const std::vector<TensorType>& out,
                                  const RunContext&) {
  return {in[0].clone().reshaped(out[0].dims)};
}

std::vector<Tensor> transpose(const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>& out,
                              const RunContext&) {
  const size_t rank = in[0].dims().size();
  std::vector<size_t> perm(rank);
  for (size_t i = 0; i < rank; ++i)
    perm[i] = attrs.perm().empty() ? rank - 1 - i : static_cast<size_t>(attrs.perm(static_cast<int>(i)));
  return {gather_elements(in, out[0], [&](const Dims& c) {
    Dims src(rank);
    for (size_t i = 0; i < rank; ++i) src[perm[i]] = c[i];
    return std::pair{size_t{0}, src};
  })};
}

std::vector<Tensor> concat(const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>& out,
                           const RunContext&) {
  const int64_t rank = in[0].rank();
  const size_t axis = static_cast<size_t>(attrs.axis() < 0 ? attrs.axis() + rank : attrs.axis());
  return {gather_elements(in, out[0], [&](const Dims& c) {
    // Walk the inputs until the axis coordinate falls inside one.
    Dims src = c;
    size_t input = 0;
    while (src[axis] >= in[input].dims()[axis]) src[axis] -= in[input++].dims()[axis];
    return std::pair{input, src};
  })};
}

// Slice on a tensor of shape `dims` takes, on each dim d, the elements
// first[d] + i * step[d].
void slice_first_and_step(const pb::Node& attrs, const Dims& dims, Dims& first, Dims& step) {
  const int64_t rank = static_cast<int64_t>(dims.size());
  first.assign(dims.size(), 0);
  step.assign(dims.size(), 1);
  for (int k = 0; k < attrs.starts_size(); ++k) {
    int64_t axis = attrs.axes().empty() ? k : attrs.axes(k);
    if (axis < 0) axis += rank;
    const size_t a = static_cast<size_t>(axis);
    const int64_t dim = dims[a];
    step[a] = attrs.steps().empty() ? 1 : attrs.steps(k);
    int64_t start = attrs.starts(k);
    if (start < 0) start += dim;
    // ONNX clamps start to [0, dim] going forwards and [0, dim-1] going backwards.
    first[a] = std::max<int64_t>(0, std::min(start, step[a] > 0 ? dim : dim - 1));
  }
}

std::vector<Tensor> slice(const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>& out,
                          const RunContext&) {
  const Dims& dims = in[0].dims();
  Dims first, step;
  slice_first_and_step(attrs, dims, first, step);
  return {gather_elements(in, out[0], [&](const Dims& c) {
    Dims src(dims.size());
    for (size_t d = 0; d < dims.size(); ++d) src[d] = first[d] + c[d] * step[d];
    return std::pair{size_t{0}, src};
  })};
}

// Zeros shaped like data (input 1), with output_grad (input 0) element c written
// at the data position Slice read it from.
std::vector<Tensor> slice_grad(const pb::Node& attrs, const std::vector<Tensor>& in, const std::vector<TensorType>& out,
                               const RunContext&) {
  const Dims& dims = in[1].dims();
  Dims first, step;
  slice_first_and_step(attrs, dims, first, step);
  Tensor result(DType::f32, out[0].dims);
  std::fill_n(result.data<float>(), result.num_elements(), 0.f);
  const Tensor& grad = in[0];
  if (grad.num_elements() == 0) return {result};
  Dims c(grad.dims().size(), 0);
  int64_t read = 0;
  do {
    Dims dst(dims.size());
    for (size_t d = 0; d < dims.size(); ++d) dst[d] = first[d] + c[d] * step[d];
    result.data<float>()[flat_index(dims, dst)] = grad.data<float>()[read++];
  } while (next_coords(grad.dims(), c));
  return {result};
}

}  // namespace

void register_shape(ReferenceTable& t) {
  t["Reshape"] = same_elements;
  t["Squeeze"] = same_elements;
  t["Unsqueeze"] = same_elements;
  t["Flatten"] = same_elements;
  t["ReshapeLike"] = same_elements;
  t["Transpose"] = transpose;
  t["Concat"] = concat;
  t["Slice"] = slice;
  t["SliceGrad"] = slice_grad;
}

}  // namespace graphrun::reference
