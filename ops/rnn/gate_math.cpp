#include "ops/rnn/gate_math.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

namespace graphrun::rnn {
namespace {

// The scalar definitions, the fallback and what the replica must equal.
void scalar_exp(float* values, int64_t n) {
  for (int64_t i = 0; i < n; ++i) values[i] = std::exp(values[i]);
}
void scalar_sigmoid(float* values, int64_t n) {
  for (int64_t i = 0; i < n; ++i) values[i] = 1.f / (1.f + std::exp(-values[i]));
}
void scalar_tanh(float* values, int64_t n) {
  for (int64_t i = 0; i < n; ++i) values[i] = std::tanh(values[i]);
}

using ArrayFunction = void (*)(float*, int64_t);

bool same_bits(ArrayFunction replica, ArrayFunction scalar, const std::vector<float>& inputs) {
  std::vector<float> expected = inputs, actual = inputs;
  scalar(expected.data(), static_cast<int64_t>(expected.size()));
  replica(actual.data(), static_cast<int64_t>(actual.size()));
  return std::memcmp(expected.data(), actual.data(), inputs.size() * sizeof(float)) == 0;
}

// The check at first use: the edge cases, every 2^20-th bit pattern and a dense [-20, 20].
bool replica_matches_libm() {
  std::vector<float> inputs = gate_math_edge_cases();
  for (uint64_t bits = 12345; bits < (uint64_t{1} << 32); bits += (uint64_t{1} << 20) + 7)
    inputs.push_back(std::bit_cast<float>(static_cast<uint32_t>(bits)));
  for (int i = -1000; i <= 1000; ++i) inputs.push_back(static_cast<float>(i) * 0.02f);
  return same_bits(avx512::exp, scalar_exp, inputs) && same_bits(avx512::sigmoid, scalar_sigmoid, inputs) &&
         same_bits(avx512::tanh, scalar_tanh, inputs);
}

}  // namespace

bool gate_math_vectorized() {
  static const bool vectorized = avx512::cpu_supported() && replica_matches_libm();
  return vectorized;
}

void exp_in_place(float* values, int64_t n) { (gate_math_vectorized() ? avx512::exp : scalar_exp)(values, n); }
void sigmoid_in_place(float* values, int64_t n) {
  (gate_math_vectorized() ? avx512::sigmoid : scalar_sigmoid)(values, n);
}
void tanh_in_place(float* values, int64_t n) { (gate_math_vectorized() ? avx512::tanh : scalar_tanh)(values, n); }

std::vector<float> gate_math_edge_cases() {
  const uint32_t bit_patterns[] = {
      0x00000000, 0x00000001, 0x007fffff, 0x00800000,  // 0, denormals, FLT_MIN
      0x7f7fffff, 0x7f800000, 0x7fc00000, 0x7fa00001,  // FLT_MAX, inf, quiet and signalling NaN
      0x24000000, 0x23ffffff, 0x24000001,              // tanhf: 2^-55, below it x (1 + x)
      0x33000000, 0x32ffffff,                          // expm1f: 2^-25, below it x
      0x3e800000, 0x3eb17218, 0x3eb17219,              // 0.25, 0.5 ln2 (expm1f's k = 0 | +-1)
      0x3f851591, 0x3f851592, 0x3f800000, 0x3f7fffff,  // 1.5 ln2 (k = +-1 | rounded), 1 (tanhf's two forms)
      0x40f98871, 0x40f98872,                          // tanhf: 7.798, from it expm1f's k > 22
      0x41100000, 0x4195b843, 0x4195b844,              // 9, 27 ln2
      0x41afffff, 0x41b00000, 0x41b00001,              // tanhf: 22, from it +-1
      0x42afffff, 0x42b00000, 0x42b17217, 0x42b17218,  // expf: 88 (its special branch), overflow at 88.72
      0x42ce8ecf, 0x42cff1b4, 0x42cff1b5,              // expf: -103.28 (may underflow), -103.97 (underflows)
  };
  std::vector<float> values;
  for (const uint32_t bits : bit_patterns) {
    values.push_back(std::bit_cast<float>(bits));
    values.push_back(std::bit_cast<float>(bits | 0x80000000u));
  }
  return values;
}

}  // namespace graphrun::rnn
