#include "graphrun/data/shuffle.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "graphrun/error.h"

namespace graphrun::data {

std::uint64_t Shuffler::below(std::uint64_t bound) {
  if (bound <= 1) return 0;
  // 2^64 - (2^64 mod bound) is a multiple of bound; draws at or above it
  // would make the low residues more likely, so they are redrawn.
  const std::uint64_t remainder = (0 - bound) % bound;  // 2^64 mod bound
  const std::uint64_t last_accepted = std::numeric_limits<std::uint64_t>::max() - remainder;
  std::uint64_t r = engine_();
  while (r > last_accepted) r = engine_();
  return r % bound;
}

std::vector<std::size_t> Shuffler::permutation(std::size_t n) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  shuffle(std::span<std::size_t>(order));
  return order;
}

std::vector<std::size_t> permutation(std::size_t n, std::uint64_t seed) { return Shuffler(seed).permutation(n); }

Split stratified_split(std::span<const std::int64_t> labels, double validation_fraction, std::uint64_t seed) {
  if (!(validation_fraction >= 0.0 && validation_fraction <= 1.0)) {
    throw Error(fmt::format("validation fraction must be in [0, 1], got {}", validation_fraction));
  }
  std::map<std::int64_t, std::vector<std::size_t>> by_class;  // ordered by label
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);

  Shuffler shuffler(seed);
  Split split;
  for (auto& [label, members] : by_class) {
    shuffler.shuffle(std::span<std::size_t>(members));
    const auto n_val =
        static_cast<std::size_t>(std::llround(static_cast<double>(members.size()) * validation_fraction));
    split.validation.insert(split.validation.end(), members.begin(), members.begin() + n_val);
    split.train.insert(split.train.end(), members.begin() + n_val, members.end());
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.validation.begin(), split.validation.end());
  return split;
}

std::uint64_t NumpyRandomState::next_uint64() {
  const std::uint64_t high = next_uint32();
  return (high << 32) | next_uint32();
}

std::uint64_t NumpyRandomState::random_interval(std::uint64_t max) {
  if (max == 0) return 0;
  std::uint64_t mask = max;  // smallest 2^k - 1 >= max
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  mask |= mask >> 32;
  std::uint64_t value;
  if (max <= 0xffffffffULL) {
    while ((value = (next_uint32() & mask)) > max) {
    }
  } else {
    while ((value = (next_uint64() & mask)) > max) {
    }
  }
  return value;
}

std::vector<std::size_t> NumpyRandomState::permutation(std::size_t n) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  shuffle(std::span<std::size_t>(order));
  return order;
}

std::vector<std::size_t> NumpyRandomState::choice_without_replacement(std::size_t n, std::size_t k) {
  if (k > n) throw Error(fmt::format("cannot take a larger sample ({}) than the population ({})", k, n));
  std::vector<std::size_t> order = permutation(n);
  order.resize(k);
  return order;
}

namespace {

// sklearn's _approximate_mode (see shuffle.h for the float64 formula).
std::vector<std::int64_t> approximate_mode(const std::vector<std::int64_t>& class_counts, std::int64_t n_draws,
                                           NumpyRandomState& rng) {
  const std::int64_t total = std::accumulate(class_counts.begin(), class_counts.end(), std::int64_t{0});
  const std::size_t n_classes = class_counts.size();
  std::vector<double> continuous(n_classes), floored(n_classes), remainder(n_classes);
  double floored_sum = 0;
  for (std::size_t c = 0; c < n_classes; ++c) {
    // numpy: int64 product (exact), then true_divide in float64.
    continuous[c] = static_cast<double>(n_draws * class_counts[c]) / static_cast<double>(total);
    floored[c] = std::floor(continuous[c]);
    remainder[c] = continuous[c] - floored[c];
    floored_sum += floored[c];  // integral values: exact in any order
  }
  auto need_to_add = static_cast<std::int64_t>(static_cast<double>(n_draws) - floored_sum);
  if (need_to_add > 0) {
    std::vector<double> values = remainder;  // np.sort(np.unique(remainder))[::-1]
    std::sort(values.begin(), values.end(), std::greater<>());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    for (double value : values) {
      std::vector<std::size_t> inds;  // np.where(remainder == value): ascending
      for (std::size_t c = 0; c < n_classes; ++c)
        if (remainder[c] == value) inds.push_back(c);
      const auto add_now = std::min<std::int64_t>(static_cast<std::int64_t>(inds.size()), need_to_add);
      for (std::size_t pick : rng.choice_without_replacement(inds.size(), static_cast<std::size_t>(add_now)))
        floored[inds[pick]] += 1;
      need_to_add -= add_now;
      if (need_to_add == 0) break;
    }
  }
  std::vector<std::int64_t> result(n_classes);
  for (std::size_t c = 0; c < n_classes; ++c) result[c] = static_cast<std::int64_t>(floored[c]);
  return result;
}

}  // namespace

Split sklearn_stratified_split(std::span<const std::int64_t> labels, double test_size, std::uint32_t random_state) {
  if (!(test_size > 0.0 && test_size < 1.0)) {
    throw Error(fmt::format("sklearn split: test_size must be in (0, 1), got {}", test_size));
  }
  const auto n = static_cast<std::int64_t>(labels.size());
  const auto n_test = static_cast<std::int64_t>(std::ceil(test_size * static_cast<double>(n)));
  const std::int64_t n_train = n - n_test;
  if (n_train <= 0) {
    throw Error(fmt::format("sklearn split: with {} rows and test_size {} the train set would be empty", n, test_size));
  }
  // np.unique(labels, return_inverse=True), np.bincount, stable argsort.
  std::map<std::int64_t, std::vector<std::size_t>> by_class;  // ascending labels, rows ascending
  for (std::size_t i = 0; i < labels.size(); ++i) by_class[labels[i]].push_back(i);
  std::vector<std::int64_t> class_counts;
  std::vector<std::vector<std::size_t>*> class_indices;
  for (auto& [label, rows] : by_class) {
    if (rows.size() < 2) {
      throw Error(
          fmt::format("sklearn split: class {} has only {} row; every class needs at least 2", label, rows.size()));
    }
    class_counts.push_back(static_cast<std::int64_t>(rows.size()));
    class_indices.push_back(&rows);
  }
  const auto n_classes = static_cast<std::int64_t>(class_counts.size());
  if (n_train < n_classes || n_test < n_classes) {
    throw Error(
        fmt::format("sklearn split: train size {} and test size {} must each be at least the "
                    "number of classes {}",
                    n_train, n_test, n_classes));
  }

  NumpyRandomState rng(random_state);
  const std::vector<std::int64_t> n_i = approximate_mode(class_counts, n_train, rng);
  std::vector<std::int64_t> remaining(class_counts.size());
  for (std::size_t c = 0; c < class_counts.size(); ++c) remaining[c] = class_counts[c] - n_i[c];
  const std::vector<std::int64_t> t_i = approximate_mode(remaining, n_test, rng);

  std::vector<std::size_t> train, test;
  for (std::size_t c = 0; c < class_counts.size(); ++c) {
    const std::vector<std::size_t>& rows = *class_indices[c];
    const std::vector<std::size_t> perm = rng.permutation(rows.size());
    const auto a = static_cast<std::size_t>(n_i[c]);
    const std::size_t b = std::min(rows.size(), a + static_cast<std::size_t>(t_i[c]));  // Python slices clip
    for (std::size_t k = 0; k < a; ++k) train.push_back(rows[perm[k]]);
    for (std::size_t k = a; k < b; ++k) test.push_back(rows[perm[k]]);
  }
  Split split;
  for (std::size_t k : rng.permutation(train.size())) split.train.push_back(train[k]);
  for (std::size_t k : rng.permutation(test.size())) split.validation.push_back(test[k]);
  return split;
}

}  // namespace graphrun::data
