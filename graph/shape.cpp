#include "graph/shape.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "graphrun/error.h"

namespace graphrun {

bool TensorType::is_concrete() const {
  return std::none_of(dims.begin(), dims.end(), [](int64_t d) { return d < 0; });
}

int64_t TensorType::num_elements() const { return graphrun::num_elements(dims); }

size_t TensorType::num_bytes() const { return static_cast<size_t>(num_elements()) * dtype_size(dtype); }

size_t dtype_size(DType dtype) { return dtype == DType::f32 ? 4 : 8; }

const char* dtype_name(DType dtype) { return dtype == DType::f32 ? "float32" : "int64"; }

std::string dims_str(const Dims& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += dims[i] < 0 ? std::string("?") : std::to_string(dims[i]);
  }
  return s + "]";
}

std::string type_str(const TensorType& t) { return dtype_name(t.dtype) + dims_str(t.dims); }

int64_t num_elements(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t checked_num_elements(const Dims& dims, const std::string& what) {
  // The dims as given: dims_str() would show a negative dim as "?".
  auto shape = [&] { return fmt::format("[{}]", fmt::join(dims, ",")); };
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw Error(fmt::format("{}: dimension {} of shape {} is negative", what, d, shape()));
    // n * d > kMaxElements, tested by division so that the product itself never overflows.
    if (d != 0 && n > kMaxElements / d)
      throw Error(fmt::format("{}: shape {} has more than 2^40 elements", what, shape()));
    n *= d;
  }
  return n;
}

size_t checked_num_bytes(DType dtype, const Dims& dims, const std::string& what) {
  return static_cast<size_t>(checked_num_elements(dims, what)) * dtype_size(dtype);
}

int normalize_axis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) return -1;
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

bool broadcast_dims(const Dims& a, const Dims& b, Dims* out) {
  const size_t rank = std::max(a.size(), b.size());
  Dims result(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right, padding the shorter shape with 1s.
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db)
      result[i] = da;
    else if (da == 1)
      result[i] = db;
    else if (db == 1)
      result[i] = da;
    else if (da < 0)
      result[i] = db;
    else if (db < 0)
      result[i] = da;
    else
      return false;
  }
  *out = std::move(result);
  return true;
}

Dims pad_leading_ones(const Dims& dims, size_t rank) {
  Dims padded(rank - dims.size(), 1);
  padded.insert(padded.end(), dims.begin(), dims.end());
  return padded;
}

Dims strides_of(const Dims& dims) {
  Dims strides(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;) strides[i - 1] = strides[i] * dims[i];
  return strides;
}

}  // namespace graphrun
