// The AVX-512 replica of glibc's expf and tanhf (gate_math.h), 16 floats at a time.
//
// Each function repeats the arithmetic of the scalar code lane-wise, operation for operation
// and with the same constants: every IEEE operation is correctly rounded per lane, so equal
// operations give equal bits. Branches become blends: they are computed (a rare one only when a
// lane of the vector takes it) and each lane keeps its own. The file is compiled with -ffp-contract=off, so a * b + c stays two
// roundings unless written as an FMA, which it is exactly where glibc's machine code has one.
// Lanes on a rare branch (listed per function) are recomputed by libm itself.
//
// Only header-free code here: an inline function from a shared header compiled for AVX-512
// in this file could be the copy the linker keeps for the whole program.
#include <immintrin.h>
#include <math.h>  // expf, tanhf: the C functions themselves, for the rare lanes

#include <cstdint>

#include "ops/rnn/gate_math.h"

namespace graphrun::rnn::avx512 {

#if defined(__AVX512F__) && defined(__FMA__)

namespace {

constexpr int kLanes = 16;

__m512 splat(float v) { return _mm512_set1_ps(v); }
__m512i splat_bits(int32_t v) { return _mm512_set1_epi32(v); }
__m512 flip_sign(__m512 v) {
  return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), splat_bits(INT32_MIN)));
}

// Recomputes the lanes in `lanes` with the scalar function f.
__m512 scalar_lanes(__m512 x, __m512 y, __mmask16 lanes, float (*f)(float)) {
  alignas(64) float xs[kLanes], ys[kLanes];
  _mm512_store_ps(xs, x);
  _mm512_store_ps(ys, y);
  for (int l = 0; l < kLanes; ++l)
    if ((lanes >> l) & 1) ys[l] = f(xs[l]);
  return _mm512_load_ps(ys);
}

// ---- expf: glibc's sysdeps/ieee754/flt-32/e_expf.c as built for its FMA variant ----
// exp(x) = 2^(k/32) * 2^(r/32) with x * 32/ln2 = k + r, in double: a 32-entry table of
// 2^(i/32) and a cubic polynomial. Its data (exp2f_data.c: tab, invln2_scaled, shift,
// poly_scaled):
alignas(64) constexpr uint64_t kExp2Table[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b,
    0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1, 0x3fef06fe0a31b715, 0x3feef1a7373aa9cb,
    0x3feedea64c123422, 0x3feece086061892d, 0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429,
    0x3feea47eb03a5585, 0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d, 0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};
constexpr double kInvLn2N = 0x1.71547652b82fep+5;  // 32 / ln2
constexpr double kShift = 0x1.8p+52;
constexpr double kC0 = 0x1.c6af84b912394p-20, kC1 = 0x1.ebfce50fac4f3p-13, kC2 = 0x1.62e42ff0c52d6p-6;
// top12(88.0f): |x| >= 88, infinities and NaN take expf's special-case branch.
constexpr int32_t kExpSpecialTop12 = 0x42b;

// tab[k % 32] of the ki lanes: two 16-entry permutes, chosen by bit 4.
__m512i exp2_table(__m512i ki) {
  const __m512i* tab = reinterpret_cast<const __m512i*>(kExp2Table);
  const __m512i low = _mm512_permutex2var_epi64(_mm512_load_si512(tab), ki, _mm512_load_si512(tab + 1));
  const __m512i high = _mm512_permutex2var_epi64(_mm512_load_si512(tab + 2), ki, _mm512_load_si512(tab + 3));
  return _mm512_mask_blend_epi64(_mm512_test_epi64_mask(ki, _mm512_set1_epi64(16)), low, high);
}

// expf's main path on 8 lanes widened to double.
__m256 exp_main_path(__m512d xd) {
  const __m512d shift = _mm512_set1_pd(kShift), inv_ln2_n = _mm512_set1_pd(kInvLn2N);
  __m512d kd = _mm512_fmadd_pd(inv_ln2_n, xd, shift);  // z = InvLn2N * xd; kd = z + SHIFT (one FMA)
  const __m512i ki = _mm512_castpd_si512(kd);
  kd = _mm512_sub_pd(kd, shift);
  const __m512d r = _mm512_fmsub_pd(inv_ln2_n, xd, kd);  // r = z - kd (one FMA: z is not rounded)
  // s = 2^(k/32): t = tab[ki % 32] + (ki << 47)
  const __m512d s = _mm512_castsi512_pd(_mm512_add_epi64(exp2_table(ki), _mm512_slli_epi64(ki, 52 - 5)));
  const __m512d z = _mm512_fmadd_pd(_mm512_set1_pd(kC0), r, _mm512_set1_pd(kC1));
  const __m512d r2 = _mm512_mul_pd(r, r);
  __m512d y = _mm512_fmadd_pd(_mm512_set1_pd(kC2), r, _mm512_set1_pd(1.0));
  y = _mm512_fmadd_pd(z, r2, y);
  return _mm512_cvtpd_ps(_mm512_mul_pd(y, s));
}

__m512 exp16(__m512 x) {
  const __m256 low = exp_main_path(_mm512_cvtps_pd(_mm512_castps512_ps256(x)));
  const __m256 high = exp_main_path(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
  const __m512 y =
      _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(low)), _mm256_castps_pd(high), 1));
  const __m512i abstop = _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(x), 20), splat_bits(0x7ff));
  const __mmask16 special = _mm512_cmpge_epi32_mask(abstop, splat_bits(kExpSpecialTop12));
  return special ? scalar_lanes(x, y, special, ::expf) : y;
}

// ---- tanhf: fdlibm's s_tanhf.c over s_expm1f.c (glibc's generic float code, no FMA) ----
// expm1f's constants.
constexpr float kLn2Hi = 6.9313812256e-01f;   // 0x3f317180
constexpr float kLn2Lo = 9.0580006145e-06f;   // 0x3717f7d1
constexpr float kInvLn2 = 1.4426950216e+00f;  // 0x3fb8aa3b
constexpr float kQ1 = -3.3333335072e-02f, kQ2 = 1.5873016091e-03f, kQ3 = -7.9365076090e-05f, kQ4 = 4.0082177293e-06f,
                kQ5 = -2.0109921195e-07f;
constexpr float kHuge = 1.0e+30f, kTiny = 1.0e-30f;

__m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
__m512 sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
__m512 mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
__m512 blend(__mmask16 take_b, __m512 a, __m512 b) { return _mm512_mask_blend_ps(take_b, a, b); }
__mmask16 equal(__m512i a, int32_t b) { return _mm512_cmpeq_epi32_mask(a, splat_bits(b)); }
// Adds k to the exponent of y (fdlibm's SET_FLOAT_WORD(y, i + (k << 23))).
__m512 add_to_exponent(__m512 y, __m512i k) {
  return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(y), _mm512_slli_epi32(k, 23)));
}

// expm1f on the arguments tanhf passes: -2 < x <= -2^-54 (for |tanh's x| < 1), 2 <= x < 44
// (for |x| >= 1) and 1 (lanes whose result tanhf takes from elsewhere). That is below
// expm1f's filter of huge and non-finite arguments, so from its argument reduction on. The
// reduction's k is then at most 0 or at least 3: expm1f's branch for k = 1 would serve only
// the placeholder lanes and is left out. The branches for k > 22 and tiny arguments, which
// a gate's usual values never take, are computed only when a lane of the vector needs them.
__m512 expm1_16(__m512 x) {
  const __m512 one = splat(1.f), half = splat(0.5f);
  const __m512i bits = _mm512_castps_si512(x), hx = _mm512_and_si512(bits, splat_bits(0x7fffffff));
  const __mmask16 negative = _mm512_cmplt_epi32_mask(bits, _mm512_setzero_si512());
  // Argument reduction: x = k ln2 + (hi - lo), k = +-1 for 0.5 ln2 < |x| < 1.5 ln2, else
  // k = (int)(x / ln2 +- 0.5); none below 0.5 ln2. k = +-1 makes t * ln2_hi, t * ln2_lo exact,
  // as fdlibm's explicit +-ln2_hi, +-ln2_lo.
  const __mmask16 reduced = _mm512_cmpgt_epi32_mask(hx, splat_bits(0x3eb17218));
  const __mmask16 near = _mm512_cmplt_epi32_mask(hx, splat_bits(0x3f851592));
  const __m512i k_rounded = _mm512_cvttps_epi32(add(mul(splat(kInvLn2), x), blend(negative, half, splat(-0.5f))));
  const __m512i k_near = _mm512_mask_blend_epi32(negative, splat_bits(1), splat_bits(-1));
  const __m512i k = _mm512_maskz_mov_epi32(reduced, _mm512_mask_blend_epi32(near, k_rounded, k_near));
  const __m512 t_k = _mm512_cvtepi32_ps(k);
  const __m512 hi = sub(x, mul(t_k, splat(kLn2Hi))), lo = mul(t_k, splat(kLn2Lo));
  const __m512 xr = blend(reduced, x, sub(hi, lo));
  const __m512 c = sub(sub(hi, xr), lo);  // the reduction's rounding error (used when k != 0)

  // x is now in the primary range.
  const __m512 hfx = mul(xr, half), hxs = mul(xr, hfx);
  __m512 r1 = add(mul(splat(kQ5), hxs), splat(kQ4));
  r1 = add(mul(r1, hxs), splat(kQ3));
  r1 = add(mul(r1, hxs), splat(kQ2));
  r1 = add(mul(r1, hxs), splat(kQ1));
  r1 = add(mul(r1, hxs), one);
  const __m512 t = sub(splat(3.f), mul(hfx, r1));
  const __m512 e = mul(_mm512_div_ps(sub(r1, t), sub(splat(6.f), mul(t, xr))), hxs);
  const __m512 result_k0 = sub(xr, sub(mul(e, xr), hxs));

  const __m512 ek = sub(sub(mul(sub(e, c), xr), c), hxs);  // e = (x * (e - c) - c) - hxs
  const __m512 result_km1 = sub(mul(sub(xr, ek), half), half);
  const __m512 e_minus_x = sub(ek, xr);
  // k <= -2 or k > 56: 2^k (1 - (e - x)) - 1
  const __m512 result_far = sub(add_to_exponent(sub(one, e_minus_x), k), one);
  // 2 <= k <= 22: 2^k ((1 - 2^-k) - (e - x))
  const __m512 one_minus_2_to_minus_k =
      _mm512_castsi512_ps(_mm512_sub_epi32(splat_bits(0x3f800000), _mm512_srlv_epi32(splat_bits(0x1000000), k)));
  const __m512 result_mid = add_to_exponent(sub(one_minus_2_to_minus_k, e_minus_x), k);
  __m512 y = blend(_mm512_cmpge_epi32_mask(k, splat_bits(2)), result_far, result_mid);
  // 23 <= k <= 56: 2^k ((x - (e + 2^-k)) + 1); k > 56 takes result_far again (tanh of |x| > 7.8).
  if (const __mmask16 k_above_22 = _mm512_cmpgt_epi32_mask(k, splat_bits(22))) {
    const __m512 two_to_minus_k = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_sub_epi32(splat_bits(0x7f), k), 23));
    y = blend(k_above_22, y, add_to_exponent(add(sub(xr, add(ek, two_to_minus_k)), one), k));
    y = blend(_mm512_cmpgt_epi32_mask(k, splat_bits(56)), y, result_far);
  }
  y = blend(equal(k, -1), y, result_km1);
  y = blend(equal(k, 0), y, result_k0);
  // |x| < 2^-25: x itself (fdlibm's x - ((huge + x) - (huge + x)), raising inexact).
  if (const __mmask16 tiny = _mm512_cmplt_epi32_mask(hx, splat_bits(0x33000000))) {
    const __m512 huge_x = add(splat(kHuge), x);
    y = blend(tiny, y, sub(x, sub(huge_x, huge_x)));
  }
  return y;
}

__m512 tanh16(__m512 x) {
  const __m512 one = splat(1.f), two = splat(2.f);
  const __m512i jx = _mm512_castps_si512(x), ix = _mm512_and_si512(jx, splat_bits(0x7fffffff));
  const __m512 ax = _mm512_castsi512_ps(ix);  // fabsf(x)
  const __mmask16 at_least_one = _mm512_cmpge_epi32_mask(ix, splat_bits(0x3f800000));
  const __mmask16 at_least_22 = _mm512_cmpge_epi32_mask(ix, splat_bits(0x41b00000));
  const __mmask16 below_2_to_minus_55 = _mm512_cmplt_epi32_mask(ix, splat_bits(0x24000000));
  const __mmask16 non_finite = _mm512_cmpge_epi32_mask(ix, splat_bits(0x7f800000));
  // 2^-55 <= |x| < 22: t = expm1f(2|x|), z = 1 - 2 / (t + 2) for |x| >= 1, else
  // t = expm1f(-2|x|), z = -t / (t + 2). The other lanes pass 1 to expm1f and ignore it.
  const __mmask16 uses_expm1 = static_cast<__mmask16>(~(at_least_22 | below_2_to_minus_55));
  const __m512 arg = blend(uses_expm1, one, blend(at_least_one, mul(ax, splat(-2.f)), add(ax, ax)));
  const __m512 t = expm1_16(arg);
  const __m512 quotient = _mm512_div_ps(blend(at_least_one, flip_sign(t), two), add(t, two));  // one division
  __m512 z = blend(at_least_one, quotient, sub(one, quotient));
  z = blend(at_least_22, z, sub(one, splat(kTiny)));  // |x| >= 22: 1 (raising inexact)
  const __mmask16 negative = _mm512_cmplt_epi32_mask(jx, _mm512_setzero_si512());
  __m512 y = blend(negative, z, flip_sign(z));
  if (below_2_to_minus_55) {  // |x| < 2^-55: x * (1 + x); +-0: x.
    y = blend(below_2_to_minus_55, y, mul(add(one, x), x));
    y = blend(equal(ix, 0), y, x);
  }
  return non_finite ? scalar_lanes(x, y, non_finite, ::tanhf) : y;
}

__m512 sigmoid16(__m512 x) {
  const __m512 one = splat(1.f);
  return _mm512_div_ps(one, add(one, exp16(flip_sign(x))));
}

// Applies f to n floats in place: full vectors, then the tail under a mask (its unused
// lanes hold 0, a harmless argument).
template <__m512 (*f)(__m512)>
void apply(float* values, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm512_storeu_ps(values + i, f(_mm512_loadu_ps(values + i)));
  if (i < n) {
    const __mmask16 tail = static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(values + i, tail, f(_mm512_maskz_loadu_ps(tail, values + i)));
  }
}

}  // namespace

bool cpu_supported() { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"); }
void exp(float* values, int64_t n) { apply<exp16>(values, n); }
void sigmoid(float* values, int64_t n) { apply<sigmoid16>(values, n); }
void tanh(float* values, int64_t n) { apply<tanh16>(values, n); }

#else  // a build for another architecture: the replica is never selected

bool cpu_supported() { return false; }
void exp(float*, int64_t) {}
void sigmoid(float*, int64_t) {}
void tanh(float*, int64_t) {}

#endif

}  // namespace graphrun::rnn::avx512
