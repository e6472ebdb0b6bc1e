// NaN in, NaN out, as IEEE arithmetic, NumPy and PyTorch have it: a NaN input
// makes NaN every output it reaches, so a model never turns a NaN into a finite
// value silently. oneDNN's max-like primitives (eltwise relu, binary max/min,
// reduction max, max pooling), its exp and its softmax drop NaN; their kernels
// read the input once more and, only when it holds a NaN, write it through.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace graphrun {

inline bool has_nan(const float* x, int64_t n) {
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) nan |= std::isnan(x[i]);
  return nan;
}

// Whether no x[i] is NaN or infinite: the exponent bits of each tested without an early
// exit, which vectorises (std::isfinite with a break does not).
inline bool all_finite(const float* x, int64_t n) {
  uint32_t non_finite = 0;
  for (int64_t i = 0; i < n; ++i) non_finite |= (std::bit_cast<uint32_t>(x[i]) & 0x7f800000u) == 0x7f800000u;
  return non_finite == 0;
}

// std::max / std::min (ties give a), but NaN when either is NaN.
inline float max_or_nan(float a, float b) { return std::isnan(b) ? b : (a < b ? b : a); }
inline float min_or_nan(float a, float b) { return std::isnan(b) ? b : (b < a ? b : a); }

// ArgMax's order: a beats b when it is larger, or NaN where b is not (the first
// NaN along the axis wins, as numpy.argmax). Integers have no NaN.
inline bool argmax_beats(float a, float b) { return a > b || (std::isnan(a) && !std::isnan(b)); }
inline bool argmax_beats(int64_t a, int64_t b) { return a > b; }

}  // namespace graphrun
