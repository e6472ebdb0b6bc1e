// DropoutMask's bulk draw (ops/dropout_mask.h) on AVX-512F and DQ, 16 elements at a time.
//
// Two vectors of 8 64-bit lanes hold the stream counters key + (i + 1) * gamma of 16
// consecutive elements i; each lane runs splitmix64 (shifts, xors and vpmullq, all modulo
// 2^64 like the scalar code) and the integer keep test (bits >> 11) >= threshold. Integer
// arithmetic is exact, so each lane decides as DropoutMask::keep does; y = x * mask is one
// IEEE multiply per lane, as in the scalar loop.
//
// Only header-free code here (see gate_math_avx512.cpp): splitmix64's constants come from a
// header of constants alone, and the tests compare this path with DropoutMask::value element
// by element.
#include <immintrin.h>

#include <cstdint>

#include "ops/dropout_mask.h"
#include "ops/splitmix_constants.h"

namespace graphrun::dropout_avx512 {

#if defined(__AVX512F__) && defined(__AVX512DQ__)

namespace {

constexpr int kLanes = 16;
using splitmix::kGoldenGamma, splitmix::kMix1, splitmix::kMix2;

__m512i splat(uint64_t v) { return _mm512_set1_epi64(static_cast<long long>(v)); }

__m512i splitmix64(__m512i z) {
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), splat(kMix1));
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), splat(kMix2));
  return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

// Bit l set when the element of counter lane l is kept.
__mmask8 kept(__m512i counters, __m512i threshold) {
  return _mm512_cmpge_epu64_mask(_mm512_srli_epi64(splitmix64(counters), 11), threshold);
}

template <bool kApply>
void draw(uint64_t key, uint64_t keep_threshold, float scale, uint64_t first_index, int64_t n, const float* x, float* y,
          float* mask) {
  const __m512i threshold = splat(keep_threshold);
  const __m512 scales = _mm512_set1_ps(scale);
  // Counters of elements first_index + l (low) and first_index + 8 + l (high), l < 8.
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  __m512i low =
      _mm512_add_epi64(splat(key + (first_index + 1) * kGoldenGamma), _mm512_mullo_epi64(lane, splat(kGoldenGamma)));
  __m512i high = _mm512_add_epi64(low, splat(8 * kGoldenGamma));
  const __m512i step = splat(kLanes * kGoldenGamma);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 valid = n - i >= kLanes ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __mmask16 keep = static_cast<__mmask16>(kept(low, threshold) | (kept(high, threshold) << 8));
    const __m512 m = _mm512_maskz_mov_ps(keep, scales);  // dropped lanes: +0, as DropoutMask::value
    // The mask is stored before x is read, as the scalar loop does.
    _mm512_mask_storeu_ps(mask + i, valid, m);
    if constexpr (kApply) _mm512_mask_storeu_ps(y + i, valid, _mm512_mul_ps(_mm512_maskz_loadu_ps(valid, x + i), m));
    low = _mm512_add_epi64(low, step);
    high = _mm512_add_epi64(high, step);
  }
}

}  // namespace

bool cpu_supported() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"); }

void fill(uint64_t key, uint64_t keep_threshold, float scale, uint64_t first_index, int64_t n, float* mask) {
  draw<false>(key, keep_threshold, scale, first_index, n, nullptr, nullptr, mask);
}

void apply(uint64_t key, uint64_t keep_threshold, float scale, uint64_t first_index, int64_t n, const float* x,
           float* y, float* mask) {
  draw<true>(key, keep_threshold, scale, first_index, n, x, y, mask);
}

#else  // a build for another architecture: the kernel is never selected

bool cpu_supported() { return false; }
void fill(uint64_t, uint64_t, float, uint64_t, int64_t, float*) {}
void apply(uint64_t, uint64_t, float, uint64_t, int64_t, const float*, float*, float*) {}

#endif

}  // namespace graphrun::dropout_avx512
