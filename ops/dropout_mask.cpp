// DropoutMask's bulk draw (ops/random.h): the AVX-512 kernel (ops/dropout_mask.h) where the
// CPU has it, else the scalar definition element by element. Both give the same bits.
#include "ops/dropout_mask.h"

#include "ops/random.h"

namespace graphrun {
namespace {

bool vectorized() {
  static const bool supported = dropout_avx512::cpu_supported();
  return supported;
}

}  // namespace

void DropoutMask::fill(uint64_t first_index, int64_t n, float* mask) const {
  if (vectorized()) return dropout_avx512::fill(key_, keep_threshold_, scale_, first_index, n, mask);
  for (int64_t k = 0; k < n; ++k) mask[k] = value(first_index + static_cast<uint64_t>(k));
}

void DropoutMask::apply(uint64_t first_index, int64_t n, const float* x, float* y, float* mask) const {
  if (vectorized()) return dropout_avx512::apply(key_, keep_threshold_, scale_, first_index, n, x, y, mask);
  for (int64_t k = 0; k < n; ++k) {
    mask[k] = value(first_index + static_cast<uint64_t>(k));
    y[k] = x[k] * mask[k];
  }
}

}  // namespace graphrun
