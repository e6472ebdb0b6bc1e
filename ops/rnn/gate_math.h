// The step-wise cells' transcendental functions over arrays: exp, sigmoid and tanh, in place.
// Each element's result is bit-identical to the scalar call it replaces (std::exp(float),
// 1.f / (1.f + std::exp(-x)), std::tanh(float)), so training results don't depend on the path.
//
// On a CPU with AVX-512F and FMA, 16 lanes at a time run a replica of glibc's expf (the
// table-driven double-precision algorithm of its FMA variant) and of fdlibm's tanhf over
// expm1f, branches as blends; lanes on a rare branch (|x| >= 88 for exp, NaN and infinities
// for tanh) call libm itself. At first use the replica is compared with the scalar libm on
// a few thousand inputs; on any difference (another libm) the process uses the scalar loops.
#pragma once

#include <cstdint>
#include <vector>

namespace graphrun::rnn {

void exp_in_place(float* values, int64_t n);
void sigmoid_in_place(float* values, int64_t n);
void tanh_in_place(float* values, int64_t n);

// Whether the functions above run the AVX-512 replica in this process.
bool gate_math_vectorized();
// Inputs on the edges of the replicated branches (both signs), part of the check at first use.
std::vector<float> gate_math_edge_cases();

// The replica itself (gate_math_avx512.cpp, compiled for AVX-512F and FMA): callable only
// when cpu_supported(). Exposed for the check at first use and for the tests.
namespace avx512 {
bool cpu_supported();
void exp(float* values, int64_t n);
void sigmoid(float* values, int64_t n);
void tanh(float* values, int64_t n);
}  // namespace avx512

}  // namespace graphrun::rnn
