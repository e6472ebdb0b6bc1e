// Reference kernel for ops/gather.cpp: one element at a time over output
// coordinates, for float32 and int64 data.
#include <fmt/format.h>

#include <cstring>

#include "ops/reference/reference.h"

namespace graphrun::reference {
namespace {

std::vector<Tensor> gather(const pb::Node& attrs, const std::vector<Tensor>& in,
                           const std::vector<TensorType>& out_types, const RunContext&) {
  const Tensor& data = in[0];
  const Tensor& indices = in[1];
  const size_t axis = static_cast<size_t>(attrs.axis() < 0 ? attrs.axis() + data.rank() : attrs.axis());
  const size_t q = indices.dims().size();
  const size_t size = dtype_size(data.dtype());
  Tensor out(out_types[0].dtype, out_types[0].dims);
  if (out.num_elements() == 0) return {out};
  Dims coords(out.dims().size(), 0);
  int64_t written = 0;
  do {
    // Output coords = [before axis..., index coords (q of them)..., after axis...].
    int64_t index_flat = 0;
    for (size_t k = 0; k < q; ++k) index_flat = index_flat * indices.dims()[k] + coords[axis + k];
    int64_t index = indices.data<int64_t>()[index_flat];
    const int64_t axis_size = data.dims()[axis];
    if (index < -axis_size || index >= axis_size) throw Error(fmt::format("Gather: index {} is out of range", index));
    if (index < 0) index += axis_size;
    int64_t data_flat = 0;
    for (size_t d = 0; d < data.dims().size(); ++d) {
      const int64_t c = d < axis ? coords[d] : d == axis ? index : coords[d + q - 1];
      data_flat = data_flat * data.dims()[d] + c;
    }
    std::memcpy(static_cast<std::byte*>(out.raw_data()) + static_cast<size_t>(written++) * size,
                static_cast<const std::byte*>(data.raw_data()) + static_cast<size_t>(data_flat) * size, size);
  } while (next_coords(out.dims(), coords));
  return {out};
}

// Zeros shaped like data (input 2); each output_grad (input 0) element is
// added at the data position that Gather read for the same output coordinates.
std::vector<Tensor> gather_grad(const pb::Node& attrs, const std::vector<Tensor>& in,
                                const std::vector<TensorType>& out_types, const RunContext&) {
  const Tensor& grad = in[0];
  const Tensor& indices = in[1];
  const Dims& data_dims = in[2].dims();
  const size_t axis = static_cast<size_t>(attrs.axis() < 0 ? attrs.axis() + in[2].rank() : attrs.axis());
  const size_t q = indices.dims().size();
  Tensor out(DType::f32, out_types[0].dims);
  std::fill_n(out.data<float>(), out.num_elements(), 0.f);
  if (grad.num_elements() == 0) return {out};
  Dims coords(grad.dims().size(), 0);
  int64_t read = 0;
  do {
    int64_t index_flat = 0;
    for (size_t k = 0; k < q; ++k) index_flat = index_flat * indices.dims()[k] + coords[axis + k];
    int64_t index = indices.data<int64_t>()[index_flat];
    const int64_t axis_size = data_dims[axis];
    if (index < -axis_size || index >= axis_size)
      throw Error(fmt::format("GatherGrad: index {} is out of range", index));
    if (index < 0) index += axis_size;
    int64_t data_flat = 0;
    for (size_t d = 0; d < data_dims.size(); ++d) {
      const int64_t c = d < axis ? coords[d] : d == axis ? index : coords[d + q - 1];
      data_flat = data_flat * data_dims[d] + c;
    }
    out.data<float>()[data_flat] += grad.data<float>()[read++];
  } while (next_coords(grad.dims(), coords));
  return {out};
}

}  // namespace

void register_gather(ReferenceTable& t) {
  t["Gather"] = gather;
  t["GatherGrad"] = gather_grad;
}

}  // namespace graphrun::reference
