// graphrun::Tensor: a dense, row-major, 64-byte aligned array of float32 or int64.
//
// Copies are shallow (they share storage, like a shared_ptr); clone() makes a
// deep copy. New tensors are zero-filled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "graphrun/error.h"
#include "graphrun/types.h"

namespace graphrun {

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Dims dims);

  static Tensor from_floats(Dims dims, std::span<const float> values);
  static Tensor from_ints(Dims dims, std::span<const int64_t> values);
  static Tensor scalar(float value) { return from_floats({}, std::span<const float>(&value, 1)); }
  // A tensor whose contents are undefined until written (saves zero-filling
  // buffers a kernel overwrites completely).
  static Tensor uninitialized(DType dtype, Dims dims);

  DType dtype() const { return dtype_; }
  const Dims& dims() const { return dims_ ? *dims_ : kNoDims; }
  int rank() const { return static_cast<int>(dims().size()); }
  int64_t num_elements() const;
  size_t num_bytes() const;
  bool empty() const { return !storage_; }

  // Typed access; throws Error when T does not match the dtype.
  template <typename T>
  T* data();
  template <typename T>
  const T* data() const;
  template <typename T>
  std::span<T> values() {
    return {data<T>(), static_cast<size_t>(num_elements())};
  }
  template <typename T>
  std::span<const T> values() const {
    return {data<T>(), static_cast<size_t>(num_elements())};
  }

  void* raw_data() { return storage_.get(); }
  const void* raw_data() const { return storage_.get(); }

  // Whether no other Tensor shares this one's storage (a reshaped view or a copy does).
  bool sole_owner() const { return storage_.use_count() == 1; }

  Tensor clone() const;
  // Same storage, new dims with the same element count.
  Tensor reshaped(Dims dims) const;

  std::string type_string() const;  // "float32[2,3]"

 private:
  static inline const Dims kNoDims{};
  DType dtype_ = DType::f32;
  // Shared like the storage, so that copying a tensor allocates nothing (a small
  // model's training step copies a few dozen: each was a heap allocation and a free).
  std::shared_ptr<const Dims> dims_;
  std::shared_ptr<std::byte> storage_;
};

// 64-byte aligned allocation shared by tensors and plan arenas; zero-filled
// unless `zeroed` is false (arenas are always written before they are read).
std::shared_ptr<std::byte> allocate_aligned(size_t bytes, bool zeroed = true);

// How many buffers allocate_aligned has handed out in this process, and their bytes
// (counted always: one relaxed atomic add beside a heap allocation). `graphrun
// profile` reports the difference per training step.
struct AllocationCount {
  uint64_t buffers = 0;
  uint64_t bytes = 0;
};
AllocationCount buffer_allocations();

template <>
float* Tensor::data<float>();
template <>
const float* Tensor::data<float>() const;
template <>
int64_t* Tensor::data<int64_t>();
template <>
const int64_t* Tensor::data<int64_t>() const;

}  // namespace graphrun
