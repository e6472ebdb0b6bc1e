#include "graphrun/tensor.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "graph/alignment.h"
#include "graph/shape.h"

namespace graphrun {
namespace {

std::atomic<uint64_t> allocated_buffers{0};
std::atomic<uint64_t> allocated_bytes{0};

}  // namespace

std::shared_ptr<std::byte> allocate_aligned(size_t bytes, bool zeroed) {
  const size_t rounded = align_up(std::max<size_t>(bytes, 1));
  allocated_buffers.fetch_add(1, std::memory_order_relaxed);
  allocated_bytes.fetch_add(rounded, std::memory_order_relaxed);
  void* p = std::aligned_alloc(kBufferAlignment, rounded);
  if (!p) throw Error(fmt::format("out of memory allocating {} bytes", rounded));
  if (zeroed) std::memset(p, 0, rounded);
  return std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

AllocationCount buffer_allocations() {
  return {allocated_buffers.load(std::memory_order_relaxed), allocated_bytes.load(std::memory_order_relaxed)};
}

Tensor::Tensor(DType dtype, Dims dims) : dtype_(dtype), dims_(std::make_shared<const Dims>(std::move(dims))) {
  storage_ = allocate_aligned(checked_num_bytes(dtype_, *dims_, "tensor"));
}

Tensor Tensor::uninitialized(DType dtype, Dims dims) {
  Tensor t;
  t.dtype_ = dtype;
  t.dims_ = std::make_shared<const Dims>(std::move(dims));
  t.storage_ = allocate_aligned(checked_num_bytes(dtype, *t.dims_, "tensor"), /*zeroed=*/false);
  return t;
}

Tensor Tensor::from_floats(Dims dims, std::span<const float> values) {
  Tensor t(DType::f32, std::move(dims));
  if (static_cast<int64_t>(values.size()) != t.num_elements())
    throw Error(fmt::format("{} values given for a tensor of shape {}", values.size(), dims_str(t.dims())));
  std::memcpy(t.raw_data(), values.data(), values.size_bytes());
  return t;
}

Tensor Tensor::from_ints(Dims dims, std::span<const int64_t> values) {
  Tensor t(DType::i64, std::move(dims));
  if (static_cast<int64_t>(values.size()) != t.num_elements())
    throw Error(fmt::format("{} values given for a tensor of shape {}", values.size(), dims_str(t.dims())));
  std::memcpy(t.raw_data(), values.data(), values.size_bytes());
  return t;
}

int64_t Tensor::num_elements() const { return graphrun::num_elements(dims()); }
size_t Tensor::num_bytes() const { return static_cast<size_t>(num_elements()) * dtype_size(dtype_); }

Tensor Tensor::clone() const {
  Tensor t(dtype_, dims());
  if (storage_) std::memcpy(t.raw_data(), raw_data(), num_bytes());
  return t;
}

Tensor Tensor::reshaped(Dims dims) const {
  if (checked_num_elements(dims, "reshape") != num_elements())
    throw Error(fmt::format("cannot reshape {} to {}", type_string(), dims_str(dims)));
  Tensor t = *this;
  t.dims_ = std::make_shared<const Dims>(std::move(dims));
  return t;
}

std::string Tensor::type_string() const { return type_str(TensorType{dtype_, dims()}); }

namespace {
template <typename T>
constexpr DType dtype_of() {
  return std::is_same_v<T, float> ? DType::f32 : DType::i64;
}
void check_dtype(DType have, DType want) {
  if (have != want) throw Error(fmt::format("tensor holds {}, accessed as {}", dtype_name(have), dtype_name(want)));
}
}  // namespace

template <>
float* Tensor::data<float>() {
  check_dtype(dtype_, DType::f32);
  return reinterpret_cast<float*>(storage_.get());
}
template <>
const float* Tensor::data<float>() const {
  check_dtype(dtype_, DType::f32);
  return reinterpret_cast<const float*>(storage_.get());
}
template <>
int64_t* Tensor::data<int64_t>() {
  check_dtype(dtype_, DType::i64);
  return reinterpret_cast<int64_t*>(storage_.get());
}
template <>
const int64_t* Tensor::data<int64_t>() const {
  check_dtype(dtype_, DType::i64);
  return reinterpret_cast<const int64_t*>(storage_.get());
}

}  // namespace graphrun
