// Dropout's mask draw (ops/random.h, ops/dropout_mask.h): the integer keep test equals the
// double comparison that defines it, and the bulk draw (AVX-512 or scalar) gives
// DropoutMask::value's bits on every element, for any length, offset, seed and ratio.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "ops/dropout_mask.h"
#include "ops/random.h"

namespace graphrun {
namespace {

constexpr uint64_t kTwoTo53 = uint64_t{1} << 53;
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kDenormalMin = std::numeric_limits<float>::denorm_min();

// The keep test as ops/random.h defines it: u = (bits >> 11) * 2^-53 >= ratio, in double.
bool keeps_in_double(uint64_t b, float ratio) {
  return static_cast<double>(b) * 0x1.0p-53 >= static_cast<double>(ratio);
}

TEST(DropoutMaskThreshold, EdgeRatios) {
  EXPECT_EQ(DropoutMask::keep_threshold(0.0f), 0u);
  EXPECT_EQ(DropoutMask::keep_threshold(-0.0f), 0u);
  EXPECT_EQ(DropoutMask::keep_threshold(kDenormalMin), 1u);  // only b = 0 is dropped
  EXPECT_EQ(DropoutMask::keep_threshold(0x1.0p-53f), 1u);    // ratio * 2^53 = 1 exactly
  EXPECT_EQ(DropoutMask::keep_threshold(0x1.8p-53f), 2u);    // 1.5 rounds up
  EXPECT_EQ(DropoutMask::keep_threshold(0.5f), kTwoTo53 / 2);
  EXPECT_EQ(DropoutMask::keep_threshold(0.75f), kTwoTo53 / 4 * 3);
  EXPECT_EQ(DropoutMask::keep_threshold(std::nextafter(1.0f, 0.0f)), kTwoTo53 - (uint64_t{1} << 29));
  EXPECT_EQ(DropoutMask::keep_threshold(1.0f), kTwoTo53);
  EXPECT_EQ(DropoutMask::keep_threshold(kNaN), kTwoTo53);
}

// b * 2^-53 >= ratio <=> b >= threshold, on the b next to the threshold and at the ends of
// [0, 2^53), for edge ratios and every 4099th float bit pattern below 1 (all exponents).
TEST(DropoutMaskThreshold, EqualsTheDoubleComparison) {
  std::vector<float> ratios = {0.0f,       -0.0f,      kDenormalMin, std::numeric_limits<float>::min(),
                               0x1.0p-53f, 0x1.8p-53f, 0x1.0p-30f,   0x1.0p-29f,
                               1e-10f,     0.1f,       0.2f,         0.3f,
                               0.5f,       0.75f,      0.9f,         std::nextafter(1.0f, 0.0f),
                               1.0f,       1.5f,       kInf,         -0.5f,
                               -kInf,      kNaN};
  for (uint32_t bits = 1; bits < 0x3f800000u; bits += 4099) ratios.push_back(std::bit_cast<float>(bits));
  for (const float ratio : ratios) {
    const uint64_t threshold = DropoutMask::keep_threshold(ratio);
    ASSERT_LE(threshold, kTwoTo53) << ratio;
    for (const uint64_t b : {uint64_t{0}, uint64_t{1}, threshold - 2, threshold - 1, threshold, threshold + 1,
                             threshold + 2, kTwoTo53 / 2, kTwoTo53 - 1}) {
      if (b >= kTwoTo53) continue;  // wrapped below 0 or beyond bits >> 11
      ASSERT_EQ(b >= threshold, keeps_in_double(b, ratio)) << "ratio " << ratio << ", b " << b;
    }
  }
}

// The draw itself, spelled out as before the integer form: trained models depend on it.
TEST(DropoutMaskThreshold, KeepEqualsTheWrittenOutDoubleDraw) {
  for (const float ratio : {0.0f, 0x1.0p-40f, 0.2f, 0.5f, 0.9f, std::nextafter(1.0f, 0.0f)}) {
    const uint64_t step_seed = 12, node_seed = 34;
    const DropoutMask drop(step_seed, node_seed, ratio);
    const uint64_t key = splitmix64(node_seed ^ splitmix64(step_seed));
    for (uint64_t i = 0; i < 20000; ++i) {
      const uint64_t bits = splitmix64(key + (i + 1) * kGoldenGamma);
      ASSERT_EQ(drop.keep(i), keeps_in_double(bits >> 11, ratio)) << "ratio " << ratio << ", element " << i;
    }
  }
}

// ---- The bulk draw ----------------------------------------------------------------

// The AVX-512 kernel called directly, with the mask's parameters recomputed from its definition.
struct StreamParameters {
  uint64_t key, threshold;
  float scale;
};
StreamParameters parameters(uint64_t step_seed, uint64_t node_seed, float ratio) {
  return {splitmix64(node_seed ^ splitmix64(step_seed)), DropoutMask::keep_threshold(ratio), 1.0f / (1.0f - ratio)};
}

const uint64_t kOffsets[] = {0, 1, 7, 13, 1000003, (uint64_t{1} << 32) - 5, std::numeric_limits<uint64_t>::max() - 40};
const float kRatios[] = {0.0f, 0x1.0p-40f, 0.1f, 0.3f, 0.5f, 0.75f, 0.9f, std::nextafter(1.0f, 0.0f)};

// Inputs with every kind of float the multiply may see: signs, zeros, infinities, NaN.
std::vector<float> inputs(int64_t n) {
  const float specials[] = {-0.0f, 0.0f, kInf, -3.5f, kNaN, 1e-42f, 2.25f};
  std::vector<float> x(static_cast<size_t>(n));
  for (size_t i = 0; i < x.size(); ++i) x[i] = i % 5 == 0 ? specials[i / 5 % 7] : static_cast<float>(i) * 0.37f - 9.f;
  return x;
}

// Runs fill and apply on [first, first + n) and checks each element's bits
// against DropoutMask::value and x * value, and that nothing past n is written.
template <typename Fill, typename Apply>
void expect_equals_value(const DropoutMask& drop, uint64_t first, int64_t n, const Fill& fill, const Apply& apply) {
  constexpr float kSentinel = -7.0f;
  const std::vector<float> x = inputs(n);
  std::vector<float> filled(static_cast<size_t>(n) + 17, kSentinel), mask(filled), y(filled);
  fill(first, n, filled.data());
  apply(first, n, x.data(), y.data(), mask.data());
  for (int64_t k = 0; k < n; ++k) {
    const float value = drop.value(first + static_cast<uint64_t>(k));
    const size_t at = static_cast<size_t>(k);
    ASSERT_EQ(std::bit_cast<uint32_t>(filled[at]), std::bit_cast<uint32_t>(value)) << "fill, element " << k;
    ASSERT_EQ(std::bit_cast<uint32_t>(mask[at]), std::bit_cast<uint32_t>(value)) << "apply's mask, element " << k;
    ASSERT_EQ(std::bit_cast<uint32_t>(y[at]), std::bit_cast<uint32_t>(x[at] * value)) << "apply's y, element " << k;
  }
  for (size_t k = static_cast<size_t>(n); k < filled.size(); ++k)
    ASSERT_TRUE(filled[k] == kSentinel && mask[k] == kSentinel && y[k] == kSentinel) << "written past n at " << k;
}

// Every length 0..100 (each tail size, several full vectors) at several offsets, seeds and
// ratios, then one long run.
template <typename MakeFunctions>
void sweep(const MakeFunctions& make_functions) {
  for (uint64_t seed = 0; seed < 6; ++seed) {
    for (const float ratio : kRatios) {
      const DropoutMask drop(seed * 977 + 3, seed * 31 + 1, ratio);
      const auto [fill, apply] = make_functions(seed * 977 + 3, seed * 31 + 1, ratio);
      for (const uint64_t first : kOffsets) {
        for (int64_t n = 0; n <= 100; ++n) {
          SCOPED_TRACE(testing::Message()
                       << "seed " << seed << ", ratio " << ratio << ", first " << first << ", n " << n);
          expect_equals_value(drop, first, n, fill, apply);
          if (testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
  const DropoutMask drop(99, 7, 0.3f);
  const auto [fill, apply] = make_functions(99, 7, 0.3f);
  expect_equals_value(drop, 5, 1'000'003, fill, apply);
}

TEST(DropoutMaskBulk, Avx512KernelEqualsValue) {
  if (!dropout_avx512::cpu_supported()) GTEST_SKIP() << "no AVX-512F and DQ on this CPU";
  sweep([](uint64_t step_seed, uint64_t node_seed, float ratio) {
    const StreamParameters p = parameters(step_seed, node_seed, ratio);
    auto fill = [p](uint64_t first, int64_t n, float* mask) {
      dropout_avx512::fill(p.key, p.threshold, p.scale, first, n, mask);
    };
    auto apply = [p](uint64_t first, int64_t n, const float* x, float* y, float* mask) {
      dropout_avx512::apply(p.key, p.threshold, p.scale, first, n, x, y, mask);
    };
    return std::pair{fill, apply};
  });
}

// Whichever path this process chose.
TEST(DropoutMaskBulk, FillAndApplyEqualValue) {
  sweep([](uint64_t step_seed, uint64_t node_seed, float ratio) {
    const DropoutMask drop(step_seed, node_seed, ratio);
    auto fill = [drop](uint64_t first, int64_t n, float* mask) { drop.fill(first, n, mask); };
    auto apply = [drop](uint64_t first, int64_t n, const float* x, float* y, float* mask) {
      drop.apply(first, n, x, y, mask);
    };
    return std::pair{fill, apply};
  });
}

}  // namespace
}  // namespace graphrun
