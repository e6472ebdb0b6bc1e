// Counter-based random numbers for ops that draw them (Dropout, the recurrent
// layers' dropout, RandomNormalLike).
//
// Element i of a stream is a pure function of (stream key, i), never the next
// state of a sequential generator, so a result does not depend on thread count,
// scheduling or which kernel computes it: the reference kernel reproduces the
// oneDNN-side kernel bit for bit. This is part of the ops' definition.
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>

#include "graphrun.pb.h"
#include "ops/splitmix_constants.h"

namespace graphrun {

// SplitMix64 (Steele, Lea and Flood 2014): a bijective 64-bit mix. Its i-th
// output from state s is splitmix64(s + (i + 1) * kGoldenGamma).
using splitmix::kGoldenGamma;

constexpr uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * splitmix::kMix1;
  z = (z ^ (z >> 27)) * splitmix::kMix2;
  return z ^ (z >> 31);
}

// FNV-1a: a hash that, unlike std::hash, is the same on every platform, for
// deriving seeds from names.
constexpr uint64_t stable_hash(std::string_view text) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  return h;
}

// The seed of a node's random streams (Dropout, recurrent dropout,
// RandomNormalLike): its `seed` attribute, else a hash of its name.
inline uint64_t random_node_seed(const pb::Node& node) {
  return node.has_seed() ? node.seed() : stable_hash(node.name());
}

// Dropout's keep/drop decisions for one node in one run. Element i draws
// u_i in [0, 1) from the stream (step_seed, node_seed) and is dropped when
// u_i < ratio; a kept element is scaled by 1 / (1 - ratio).
class DropoutMask {
 public:
  DropoutMask(uint64_t step_seed, uint64_t node_seed, float ratio)
      : key_(splitmix64(node_seed ^ splitmix64(step_seed))),
        keep_threshold_(keep_threshold(ratio)),
        scale_(1.0f / (1.0f - ratio)) {}

  // u_i = (bits >> 11) * 2^-53 >= ratio, decided in integers (keep_threshold).
  bool keep(uint64_t i) const { return (splitmix64(key_ + (i + 1) * kGoldenGamma) >> 11) >= keep_threshold_; }
  // The mask value of element i: 1 / (1 - ratio) when kept, 0 when dropped.
  float value(uint64_t i) const { return keep(i) ? scale_ : 0.0f; }

  // mask[k] = value(first_index + k) for k in [0, n); on AVX-512 16 elements at a time
  // (ops/dropout_mask.h), the same bits.
  void fill(uint64_t first_index, int64_t n, float* mask) const;
  // fill, and y[k] = x[k] * mask[k] in the same pass: Dropout's two outputs.
  void apply(uint64_t first_index, int64_t n, const float* x, float* y, float* mask) const;

  // The least b = bits >> 11 that is kept: b * 2^-53 >= ratio  <=>  b >= keep_threshold(ratio).
  // Proof, for 0 < ratio < 1: b < 2^53 fits a double's 53-bit significand and scaling by 2^-53
  // is exact, so u = b * 2^-53 is b / 2^53 exactly; likewise t = ratio * 2^53 is exact (a
  // float's 24-bit significand scaled by a power of two, far inside double's range). So
  // u >= ratio <=> b >= t <=> b >= ceil(t), b being an integer; ceil(t) <= 2^53 is exact in
  // double and in uint64_t. Outside (0, 1) the test keeps its meaning too: a ratio of at most 0
  // keeps every element (threshold 0), one of 1 or more or NaN none (2^53 exceeds every b).
  static uint64_t keep_threshold(float ratio) {
    if (!(ratio < 1.0f)) return uint64_t{1} << 53;
    if (!(ratio > 0.0f)) return 0;
    return static_cast<uint64_t>(std::ceil(static_cast<double>(ratio) * 0x1.0p53));
  }

 private:
  uint64_t key_;
  uint64_t keep_threshold_;
  float scale_;
};

// The dropout masks of a recurrent layer (RNN, LSTM, GRU with dropout or
// recurrent_dropout): mask `kind` (0: inputs, 1: recurrent state) of gate g of G
// in direction d has a stream of its own; element index n * C + i (inputs) or
// n * H + j (state). The kernel and the reference kernel both draw from here.
inline DropoutMask rnn_dropout_stream(uint64_t step_seed, uint64_t node_seed, float ratio, int64_t d, int64_t kind,
                                      int64_t g, int64_t G) {
  const auto stream = static_cast<uint64_t>((d * 2 + kind) * G + g);
  return DropoutMask(step_seed, splitmix64(node_seed + (stream + 1) * kGoldenGamma), ratio);
}

// RandomNormalLike's samples for one node in one run: element i is
// mean + scale * z_i with z_i standard normal, by the basic Box-Muller
// transform (Box and Muller 1958) of two uniforms from the stream:
//   u1 = ((b_2i >> 11) + 1) * 2^-53  in (0, 1]  (never 0, so the log is finite)
//   u2 = (b_(2i+1) >> 11) * 2^-53     in [0, 1)
//   z_i = sqrt(-2 ln u1) * cos(2 pi u2)
// where b_j = splitmix64(key + (j + 1) * kGoldenGamma) is output j of the
// stream. Each element takes its own two outputs and keeps only the cosine
// half, so z_i depends on i alone (no pairing of neighbours). Everything is
// computed in double and rounded to float once. |z| <= sqrt(106 ln 2) ~ 8.57,
// the tail cut by the 53-bit u1. Unlike Dropout's decisions, the exact bits
// also depend on the C library's log and cos (glibc here), which the kernel
// and the reference kernel share.
class NormalStream {
 public:
  NormalStream(uint64_t step_seed, uint64_t node_seed, float mean, float scale)
      : key_(splitmix64(node_seed ^ kDomain ^ splitmix64(step_seed))), mean_(mean), scale_(scale) {}

  // A standard normal draw for element i.
  double standard(uint64_t i) const {
    const double u1 = static_cast<double>((bits(2 * i) >> 11) + 1) * 0x1.0p-53;
    const double u2 = static_cast<double>(bits(2 * i + 1) >> 11) * 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
  }
  float value(uint64_t i) const {
    return static_cast<float>(static_cast<double>(mean_) + static_cast<double>(scale_) * standard(i));
  }

 private:
  // Salts the key, so a RandomNormalLike node and a Dropout node given the same
  // `seed` attribute still draw unrelated bits.
  static constexpr uint64_t kDomain = stable_hash("RandomNormalLike");
  static constexpr double kTwoPi = 6.283185307179586476925;

  uint64_t bits(uint64_t j) const { return splitmix64(key_ + (j + 1) * kGoldenGamma); }

  uint64_t key_;
  float mean_;
  float scale_;
};

}  // namespace graphrun
