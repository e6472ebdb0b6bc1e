// SplitMix64's constants (Steele, Lea and Flood 2014), apart from its code: constants only,
// no function, so files compiled for AVX-512 (ops/dropout_mask_avx512.cpp) include them
// safely. Namespace-scope constexpr variables have internal linkage: no copy the linker
// could take from one of those files.
#pragma once

#include <cstdint>

namespace graphrun::splitmix {

// The i-th output from state s is mix(s + (i + 1) * kGoldenGamma), mix the two
// xor-shift-multiply rounds below and a final xor-shift.
constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kMix1 = 0xBF58476D1CE4E5B9ull;  // z = (z ^ (z >> 30)) * kMix1
constexpr uint64_t kMix2 = 0x94D049BB133111EBull;  // z = (z ^ (z >> 27)) * kMix2; z ^ (z >> 31)

}  // namespace graphrun::splitmix
