// The step-wise cells' gate math (ops/rnn/gate_math.h): the AVX-512 replica of libm's expf
// and tanhf must give the scalar calls' bits for every float, NaN payloads and signs included.
#include "ops/rnn/gate_math.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <string>
#include <vector>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

namespace graphrun::rnn {
namespace {

using ArrayFunction = void (*)(float*, int64_t);

struct Function {
  const char* name;
  ArrayFunction replica, dispatched;
  float (*scalar)(float);
};
const Function kFunctions[] = {
    {"exp", avx512::exp, exp_in_place, [](float x) { return std::exp(x); }},
    {"sigmoid", avx512::sigmoid, sigmoid_in_place, [](float x) { return 1.f / (1.f + std::exp(-x)); }},
    {"tanh", avx512::tanh, tanh_in_place, [](float x) { return std::tanh(x); }},
};

// Runs f on the bit patterns first, first + stride, ... below 2^32 in chunks and counts the
// results whose bits differ from the scalar call's, printing the first few.
int64_t count_mismatches(const Function& fn, ArrayFunction f, uint64_t first, uint64_t stride) {
  constexpr size_t kChunk = 1 << 16;
  std::vector<float> values;
  values.reserve(kChunk);
  int64_t mismatches = 0;
  auto flush = [&] {
    std::vector<float> results = values;
    f(results.data(), static_cast<int64_t>(results.size()));
    for (size_t i = 0; i < values.size(); ++i) {
      const float expected = fn.scalar(values[i]);
      if (std::bit_cast<uint32_t>(expected) == std::bit_cast<uint32_t>(results[i])) continue;
      if (++mismatches <= 5)
        ADD_FAILURE() << fn.name << "(" << values[i] << " = 0x" << std::hex << std::bit_cast<uint32_t>(values[i])
                      << "): 0x" << std::bit_cast<uint32_t>(results[i]) << ", libm 0x"
                      << std::bit_cast<uint32_t>(expected);
    }
    values.clear();
  };
  for (uint64_t bits = first; bits < (uint64_t{1} << 32); bits += stride) {
    values.push_back(std::bit_cast<float>(static_cast<uint32_t>(bits)));
    if (values.size() == kChunk) flush();
  }
  flush();
  return mismatches;
}

// The libm the replica was written from and checked against on every float.
bool verified_libm() {
#ifdef __GLIBC__
  return std::string(gnu_get_libc_version()) == "2.36";
#else
  return false;
#endif
}

// The replica must be exact where it runs: with the verified libm (a mismatch is a bug), or
// with another one the check at first use accepted.
class GateMathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!avx512::cpu_supported()) GTEST_SKIP() << "no AVX-512F and FMA on this CPU";
    if (!verified_libm() && !gate_math_vectorized()) GTEST_SKIP() << "another libm, which the replica does not match";
  }
};

TEST_F(GateMathTest, CheckAtFirstUseAcceptsTheReplica) { EXPECT_TRUE(gate_math_vectorized()); }

TEST_F(GateMathTest, ReplicaEqualsLibmOnTheEdgeCases) {
  const std::vector<float> inputs = gate_math_edge_cases();
  for (const Function& fn : kFunctions) {
    // Every length up to 40 too: full vectors and each tail size.
    for (size_t n = 1; n <= inputs.size(); ++n) {
      std::vector<float> values(inputs.begin(), inputs.begin() + static_cast<std::ptrdiff_t>(n));
      fn.replica(values.data(), static_cast<int64_t>(n));
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(std::bit_cast<uint32_t>(values[i]), std::bit_cast<uint32_t>(fn.scalar(inputs[i])))
            << fn.name << "(" << inputs[i] << "), length " << n;
      if (n >= 40) break;
    }
    std::vector<float> values = inputs;
    fn.replica(values.data(), static_cast<int64_t>(values.size()));
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(std::bit_cast<uint32_t>(values[i]), std::bit_cast<uint32_t>(fn.scalar(inputs[i])))
          << fn.name << "(" << inputs[i] << ")";
  }
}

// Every 97th float bit pattern: 44 million per function, all exponents, both signs.
TEST_F(GateMathTest, ReplicaEqualsLibmOnAStridedSweep) {
  for (const Function& fn : kFunctions) EXPECT_EQ(count_mismatches(fn, fn.replica, 3, 97), 0) << fn.name;
}

// All 2^32 patterns (a few minutes): --gtest_also_run_disabled_tests.
TEST_F(GateMathTest, DISABLED_ReplicaEqualsLibmOnEveryFloat) {
  for (const Function& fn : kFunctions) EXPECT_EQ(count_mismatches(fn, fn.replica, 0, 1), 0) << fn.name;
}

// Whichever path this process chose, the in-place functions give libm's results.
TEST(GateMath, InPlaceFunctionsEqualLibm) {
  for (const Function& fn : kFunctions) EXPECT_EQ(count_mismatches(fn, fn.dispatched, 11, 4099), 0) << fn.name;
}

}  // namespace
}  // namespace graphrun::rnn
