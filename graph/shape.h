// Element types and shapes, and the helpers shape rules share.
//
// A dimension of -1 is unknown until run time (the batch). Shape rules accept
// unknown dims and propagate them; the runtime re-runs the same rules with the
// concrete feed shapes when it compiles a plan, so one rule serves both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graphrun/types.h"

namespace graphrun {

struct TensorType {
  DType dtype = DType::f32;
  Dims dims;

  bool operator==(const TensorType&) const = default;
  int rank() const { return static_cast<int>(dims.size()); }
  bool is_concrete() const;      // no unknown dims
  int64_t num_elements() const;  // requires is_concrete()
  size_t num_bytes() const;      // requires is_concrete()
};

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "float32", "int64"

std::string dims_str(const Dims& dims);     // "[?,10]"
std::string type_str(const TensorType& t);  // "float32[?,10]"

int64_t num_elements(const Dims& dims);  // product; requires concrete dims

// The most elements one tensor may hold: far beyond any real model, and small
// enough that a count times any element size fits int64 and size_t.
inline constexpr int64_t kMaxElements = int64_t{1} << 40;

// num_elements() for dims from untrusted input (a model, a file header, a
// checkpoint): throws Error "<what>: ..." naming the shape when a dim is
// negative or the product exceeds kMaxElements, before anything wraps around.
int64_t checked_num_elements(const Dims& dims, const std::string& what);
size_t checked_num_bytes(DType dtype, const Dims& dims, const std::string& what);

// Normalises a possibly negative axis against rank; returns -1 when out of range.
int normalize_axis(int64_t axis, int rank);

// Whether two dims agree, an unknown (-1) agreeing with anything.
inline bool dim_compatible(int64_t a, int64_t b) { return a < 0 || b < 0 || a == b; }

// NumPy broadcasting of two shapes. Returns false when they are incompatible.
// Unknown dims broadcast against 1 to unknown and against k to k.
bool broadcast_dims(const Dims& a, const Dims& b, Dims* out);

// `dims` with leading 1s up to `rank` (NumPy's alignment from the right).
Dims pad_leading_ones(const Dims& dims, size_t rank);

// Row-major strides (in elements) of a concrete shape.
Dims strides_of(const Dims& dims);

}  // namespace graphrun
