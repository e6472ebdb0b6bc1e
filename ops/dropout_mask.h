// The vectorised bulk draw behind DropoutMask::fill and DropoutMask::apply (ops/random.h):
// on a CPU with AVX-512F and DQ (64-bit lane multiplies), 16 elements at a time, chosen at
// run time. The draw is integer arithmetic (splitmix64 and the keep threshold) and y = x * mask
// one float multiply per element, so every element gets DropoutMask::value's bits.
//
// Declarations only: the kernel's file is compiled for AVX-512 and includes no other header of
// ours (an inline function of a shared header compiled there could be the copy the linker keeps).
#pragma once

#include <cstdint>

namespace graphrun::dropout_avx512 {

bool cpu_supported();

// For k in [0, n): mask[k] = the value of element first_index + k of the DropoutMask with this
// stream key, keep threshold and scale (DropoutMask::value). Callable only when cpu_supported().
void fill(uint64_t key, uint64_t keep_threshold, float scale, uint64_t first_index, int64_t n, float* mask);
// fill, and y[k] = x[k] * mask[k] in the same pass.
void apply(uint64_t key, uint64_t keep_threshold, float scale, uint64_t first_index, int64_t n, const float* x,
           float* y, float* mask);

}  // namespace graphrun::dropout_avx512
