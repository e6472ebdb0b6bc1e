// Deterministic shuffling: the same seed gives the same order on every
// platform and standard library.
//
// Generator: std::mt19937_64 seeded with the uint64 seed (its output sequence
// is fixed by the C++ standard). std::shuffle and std::uniform_int_distribution
// are NOT used because their algorithms are implementation-defined. Instead:
//   - below(bound): a uniform integer in [0, bound) by rejection: draw
//     r = engine(); reject while r >= 2^64 - (2^64 mod bound); return r % bound.
//   - shuffle: Fisher-Yates from the back: for i = n-1 down to 1,
//     swap(v[i], v[below(i + 1)]).
//   - permutation(n, seed): shuffle of 0, 1, ..., n-1 with a fresh engine.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace graphrun::data {

class Shuffler {
 public:
  explicit Shuffler(std::uint64_t seed) : engine_(seed) {}

  // Uniform in [0, bound); bound must be > 0 (returns 0 for bound 0).
  std::uint64_t below(std::uint64_t bound);

  template <typename T>
  void shuffle(std::span<T> values) {
    for (std::size_t i = values.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(below(i));
      std::swap(values[i - 1], values[j]);
    }
  }

  // A random order of 0..n-1.
  std::vector<std::size_t> permutation(std::size_t n);

 private:
  std::mt19937_64 engine_;
};

// A random order of 0..n-1 determined by `seed` (Shuffler(seed).permutation(n)).
std::vector<std::size_t> permutation(std::size_t n, std::uint64_t seed);

struct Split {
  std::vector<std::size_t> train;       // ascending (sklearn_stratified_split: sklearn's order)
  std::vector<std::size_t> validation;  // ascending (sklearn_stratified_split: sklearn's order)
};

// Stratified train/validation split of the examples 0..labels.size()-1.
// For each class (in ascending label order) the examples of that class are
// shuffled with one Shuffler(seed), used class after class, and the first
// round(n_c * validation_fraction) of them (halves rounded up) go to
// validation, the rest to train. Both lists are returned sorted ascending;
// shuffle them per epoch as needed. Throws Error unless
// 0 <= validation_fraction <= 1.
Split stratified_split(std::span<const std::int64_t> labels, double validation_fraction, std::uint64_t seed);

// numpy's legacy generator, np.random.RandomState(seed) for an integer seed in
// [0, 2^32), reproduced draw for draw (numpy 1.x; the legacy stream is frozen):
//   - engine: MT19937 seeded by init_genrand(seed) (numpy's mt19937_seed),
//     which is exactly std::mt19937(seed) (its algorithm is fixed by the standard);
//   - next_uint64(): (first 32-bit draw << 32) | second 32-bit draw;
//   - random_interval(max): uniform in [0, max] by masked rejection: mask =
//     the smallest 2^k - 1 >= max; draw (next_uint32() & mask) while > max
//     (next_uint64() instead when max >= 2^32); 0 for max 0 without a draw;
//   - shuffle (mtrand shuffle's 1-d path): for i = n-1 down to 1,
//     swap(v[i], v[random_interval(i)]);
//   - permutation(n): shuffle of 0..n-1 (RandomState.permutation(n), and the
//     same draws as permutation(array) of any 1-d array of length n);
//   - choice_without_replacement(n, k): permutation(n)[:k], as
//     RandomState.choice(n, size=k, replace=False) with p=None.
class NumpyRandomState {
 public:
  explicit NumpyRandomState(std::uint32_t seed) : engine_(seed) {}

  std::uint32_t next_uint32() { return static_cast<std::uint32_t>(engine_()); }
  std::uint64_t next_uint64();
  std::uint64_t random_interval(std::uint64_t max);

  template <typename T>
  void shuffle(std::span<T> values) {
    for (std::size_t i = values.size(); i > 1; --i) {
      const auto j = static_cast<std::size_t>(random_interval(i - 1));
      std::swap(values[i - 1], values[j]);
    }
  }

  std::vector<std::size_t> permutation(std::size_t n);
  std::vector<std::size_t> choice_without_replacement(std::size_t n, std::size_t k);

 private:
  std::mt19937 engine_;
};

// sklearn's train_test_split(X, y, test_size=test_size, random_state=random_state,
// stratify=labels), i.e. StratifiedShuffleSplit(test_size, random_state)._iter_indices:
//   n_test = ceil(test_size * n), n_train = n - n_test;
//   classes = np.unique(labels) (ascending), class_indices[c] = the rows of class c
//   in ascending order; rng = NumpyRandomState(random_state);
//   n_i = _approximate_mode(class_counts, n_train, rng);
//   t_i = _approximate_mode(class_counts - n_i, n_test, rng);
//   per class in order: perm = rng.permutation(count_c); the class's rows taken in
//   perm order, the first n_i[c] to train and the next t_i[c] to test;
//   then train = rng.permutation(train), test = rng.permutation(test).
// _approximate_mode: continuous = n_draws * counts / counts.sum() (the integer
// product exact, then one float64 division, as sklearn < 1.0 and the reference
// PyTorch reference re-implementation's train_ref.py; sklearn >= 1.0 computes
// counts / counts.sum() * n_draws, which can differ only when that rounding moves
// a share across an integer or splits a tie); floored = floor(continuous); the
// missing draws go to the classes with the largest remainders, value by value in
// descending order, ties broken by rng.choice(tied classes, size=k, replace=False).
// train and validation (sklearn's test) are returned in sklearn's order, NOT
// sorted. Throws Error like sklearn: test_size not in (0, 1), n_train == 0, a
// class with fewer than 2 rows, n_train or n_test below the number of classes.
Split sklearn_stratified_split(std::span<const std::int64_t> labels, double test_size, std::uint32_t random_state);

}  // namespace graphrun::data
