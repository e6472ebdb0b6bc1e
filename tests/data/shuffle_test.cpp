#include "graphrun/data/shuffle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "test_util.h"

namespace graphrun::data {
namespace {

using testing::error_of;
using Indices = std::vector<std::size_t>;

// Expected values come from an independent Python implementation of
// mt19937_64 (checked against the standard's 10000th output,
// 9981545732273789042) and of the documented below() and Fisher-Yates.
TEST(Shuffle, EngineIsTheStandardMt19937_64) {
  std::mt19937_64 engine(5489);
  engine.discard(9999);
  EXPECT_EQ(engine(), 9981545732273789042ull);
}

TEST(Shuffle, GoldenPermutations) {
  EXPECT_EQ(permutation(10, 42), (Indices{1, 7, 9, 0, 3, 8, 4, 2, 5, 6}));
  EXPECT_EQ(permutation(10, 0), (Indices{7, 2, 0, 8, 3, 9, 6, 1, 5, 4}));
  EXPECT_EQ(permutation(1, 7), Indices{0});
  EXPECT_EQ(permutation(0, 7), Indices{});
}

TEST(Shuffle, GoldenBelow) {
  Shuffler s(2024);
  std::vector<std::uint64_t> draws;
  for (int i = 0; i < 8; ++i) draws.push_back(s.below(6));
  EXPECT_EQ(draws, (std::vector<std::uint64_t>{4, 1, 5, 4, 4, 3, 4, 5}));
  EXPECT_EQ(s.below(1), 0u);
  EXPECT_EQ(s.below(0), 0u);
}

TEST(Shuffle, IsAPermutationAndDependsOnTheSeed) {
  const Indices a = permutation(1000, 123);
  Indices sorted = a;
  std::sort(sorted.begin(), sorted.end());
  Indices identity(1000);
  std::iota(identity.begin(), identity.end(), std::size_t{0});
  EXPECT_EQ(sorted, identity);
  EXPECT_EQ(permutation(1000, 123), a);
  EXPECT_NE(permutation(1000, 124), a);
}

TEST(Shuffle, ShufflesOtherTypesLikeIndices) {
  std::vector<std::string> words = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
  Shuffler(42).shuffle(std::span<std::string>(words));
  EXPECT_EQ(words, (std::vector<std::string>{"b", "h", "j", "a", "d", "i", "e", "c", "f", "g"}));
}

TEST(StratifiedSplit, GoldenSplitWithProportionalClasses) {
  // 10 of class 0, 5 of class 1, 3 of class 2, interleaved.
  const std::vector<std::int64_t> labels = {0, 0, 1, 0, 1, 2, 0, 1, 0, 0, 2, 0, 1, 0, 0, 2, 0, 1};
  const Split split = stratified_split(labels, 0.2, 99);
  // Per class: round(10 * 0.2) = 2, round(5 * 0.2) = 1, round(3 * 0.2) = 1.
  EXPECT_EQ(split.validation, (Indices{10, 11, 12, 14}));
  EXPECT_EQ(split.train, (Indices{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 15, 16, 17}));
}

TEST(StratifiedSplit, PartitionsAndKeepsClassProportions) {
  std::vector<std::int64_t> labels;
  for (int i = 0; i < 1000; ++i) labels.push_back(i % 7 == 0 ? 5 : (i % 3 == 0 ? -1 : 2));
  const Split split = stratified_split(labels, 0.25, 7);
  Indices all = split.train;
  all.insert(all.end(), split.validation.begin(), split.validation.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());  // disjoint
  EXPECT_EQ(all.size(), labels.size());                              // complete
  EXPECT_TRUE(std::is_sorted(split.train.begin(), split.train.end()));
  EXPECT_TRUE(std::is_sorted(split.validation.begin(), split.validation.end()));
  for (std::int64_t c : {-1, 2, 5}) {
    const auto total = std::count(labels.begin(), labels.end(), c);
    const auto in_val =
        std::count_if(split.validation.begin(), split.validation.end(), [&](std::size_t i) { return labels[i] == c; });
    EXPECT_EQ(in_val, std::llround(total * 0.25)) << "class " << c;
  }
  EXPECT_EQ(stratified_split(labels, 0.25, 7).validation, split.validation);
  EXPECT_NE(stratified_split(labels, 0.25, 8).validation, split.validation);
}

TEST(StratifiedSplit, EdgeFractionsAndErrors) {
  const std::vector<std::int64_t> labels = {1, 0, 1};
  EXPECT_EQ(stratified_split(labels, 0.0, 1).train, (Indices{0, 1, 2}));
  EXPECT_EQ(stratified_split(labels, 1.0, 1).validation, (Indices{0, 1, 2}));
  EXPECT_TRUE(stratified_split({}, 0.5, 1).train.empty());
  EXPECT_EQ(error_of([&] { stratified_split(labels, 1.5, 1); }), "validation fraction must be in [0, 1], got 1.5");
  EXPECT_EQ(error_of([&] { stratified_split(labels, std::nan(""), 1); }),
            "validation fraction must be in [0, 1], got nan");
}

// ---- numpy / sklearn compatibility ----------------------------------------
// Expected values were generated once with Debian's numpy 1.24.2
// (/usr/bin/python3) and pasted here; the Python line is above each constant.
// The sklearn splits come from sk_stratified_split in
// the PyTorch reference re-implementation's train_ref.py (sklearn's StratifiedShuffleSplit on the
// legacy RandomState stream); these tests do not need that file.

TEST(NumpyRandomState, RawDrawsAreMt19937InitGenrand) {
  // np.random.RandomState(42).randint(0, 2**32, size=5, dtype=np.uint32)
  NumpyRandomState rs(42);
  std::vector<std::uint32_t> draws;
  for (int i = 0; i < 5; ++i) draws.push_back(rs.next_uint32());
  EXPECT_EQ(draws, (std::vector<std::uint32_t>{1608637542u, 3421126067u, 4083286876u, 787846414u, 3143890026u}));
}

TEST(NumpyRandomState, PermutationEqualsNumpy) {
  // np.random.RandomState(42).permutation(n) for n = 1, 2, 10, 37
  EXPECT_EQ(NumpyRandomState(42).permutation(0), Indices{});
  EXPECT_EQ(NumpyRandomState(42).permutation(1), Indices{0});
  EXPECT_EQ(NumpyRandomState(42).permutation(2), (Indices{1, 0}));
  EXPECT_EQ(NumpyRandomState(42).permutation(10), (Indices{8, 1, 5, 0, 7, 2, 9, 4, 3, 6}));
  EXPECT_EQ(NumpyRandomState(42).permutation(37),
            (Indices{17, 13, 4,  29, 35, 25, 6,  26, 24, 16, 8,  15, 12, 32, 9,  19, 0,  31, 5,
                     11, 1,  27, 21, 2,  36, 34, 3,  33, 23, 30, 10, 22, 18, 20, 7,  14, 28}));
  // np.random.RandomState(0).permutation(20)
  EXPECT_EQ(NumpyRandomState(0).permutation(20),
            (Indices{18, 1, 19, 8, 10, 17, 6, 13, 4, 2, 5, 14, 9, 7, 16, 11, 3, 0, 15, 12}));
}

TEST(NumpyRandomState, RandomIntervalEqualsLegacyBoundedInts) {
  // np.random.RandomState(7).randint(0, 6, size=12)   (legacy masked rejection, max 5)
  NumpyRandomState a(7);
  std::vector<std::uint64_t> small;
  for (int i = 0; i < 12; ++i) small.push_back(a.random_interval(5));
  EXPECT_EQ(small, (std::vector<std::uint64_t>{4, 1, 3, 3, 4, 1, 0, 1, 2, 2, 0, 4}));
  // np.random.RandomState(3).randint(0, 2**40 + 1, size=3, dtype=np.uint64)   (64-bit draws)
  NumpyRandomState b(3);
  std::vector<std::uint64_t> big;
  for (int i = 0; i < 3; ++i) big.push_back(b.random_interval((std::uint64_t{1} << 40)));
  EXPECT_EQ(big, (std::vector<std::uint64_t>{1073054410371ull, 867663915883ull, 593770158997ull}));
  EXPECT_EQ(NumpyRandomState(1).random_interval(0), 0u);
}

TEST(NumpyRandomState, ChoiceWithoutReplacementEqualsNumpy) {
  // np.random.RandomState(1).choice(7, size=3, replace=False)
  EXPECT_EQ(NumpyRandomState(1).choice_without_replacement(7, 3), (Indices{6, 2, 1}));
  EXPECT_EQ(error_of([] { NumpyRandomState(1).choice_without_replacement(2, 3); }),
            "cannot take a larger sample (3) than the population (2)");
}

TEST(SklearnSplit, SmallThreeClassesEqualsReference) {
  // 5 of class 0, 13 of class 1, 4 of class 2:
  // y = np.array([2,0,1,1,0,2,1,1,0,1,1,2,1,0,1,1,1,0,1,2,1,1])
  const std::vector<std::int64_t> y = {2, 0, 1, 1, 0, 2, 1, 1, 0, 1, 1, 2, 1, 0, 1, 1, 1, 0, 1, 2, 1, 1};
  // sk_stratified_split(y, 0.3, 42)
  Split s = sklearn_stratified_split(y, 0.3, 42);
  EXPECT_EQ(s.train, (Indices{5, 20, 7, 8, 21, 15, 2, 18, 19, 4, 3, 17, 10, 11, 6}));
  EXPECT_EQ(s.validation, (Indices{1, 0, 16, 9, 14, 12, 13}));
  // sk_stratified_split(y, 0.25, 7)
  s = sklearn_stratified_split(y, 0.25, 7);
  EXPECT_EQ(s.train, (Indices{12, 8, 18, 13, 19, 1, 5, 11, 6, 10, 21, 4, 9, 3, 15, 2}));
  EXPECT_EQ(s.validation, (Indices{7, 0, 14, 20, 16, 17}));
}

TEST(SklearnSplit, TiedRemaindersAreBrokenWithTheSameStream) {
  // Labels -1 / 3 / 7 with 5 / 12 / 5 rows: n_train = 15 gives 3.41 / 8.18 / 3.41,
  // so _approximate_mode breaks the -1 / 7 tie with rng.choice.
  // y = np.array([7,-1,3,3,7,3,-1,3,3,7,3,-1,3,3,7,-1,3,3,3,7,-1,3])
  const std::vector<std::int64_t> y = {7, -1, 3, 3, 7, 3, -1, 3, 3, 7, 3, -1, 3, 3, 7, -1, 3, 3, 3, 7, -1, 3};
  // sk_stratified_split(y, 0.3, seed) for seed = 42, 0, 1
  Split s = sklearn_stratified_split(y, 0.3, 42);
  EXPECT_EQ(s.train, (Indices{18, 9, 17, 2, 4, 7, 11, 14, 21, 10, 16, 6, 3, 0, 20}));
  EXPECT_EQ(s.validation, (Indices{1, 15, 8, 12, 5, 19, 13}));
  s = sklearn_stratified_split(y, 0.3, 0);
  EXPECT_EQ(s.train, (Indices{19, 11, 17, 4, 6, 9, 18, 3, 12, 20, 7, 21, 2, 16, 14}));
  EXPECT_EQ(s.validation, (Indices{15, 1, 13, 5, 0, 10, 8}));
  s = sklearn_stratified_split(y, 0.3, 1);
  EXPECT_EQ(s.train, (Indices{18, 1, 16, 0, 11, 13, 6, 12, 5, 4, 20, 8, 14, 3, 7}));
  EXPECT_EQ(s.validation, (Indices{10, 2, 15, 17, 19, 9, 21}));
}

TEST(SklearnSplit, MovieReviewLabelsEqualReference) {
  // examples/movie_reviews/data/movie_reviews.csv.gz: 5,331 rows labelled 1, then 5,331 labelled 0.
  // ym = np.array([1]*5331 + [0]*5331); tr, te = sk_stratified_split(ym, 0.1, 42)
  std::vector<std::int64_t> y(10662, 0);
  std::fill(y.begin(), y.begin() + 5331, 1);
  const Split s = sklearn_stratified_split(y, 0.1, 42);
  ASSERT_EQ(s.train.size(), 9595u);
  ASSERT_EQ(s.validation.size(), 1067u);
  // list(te[:20]), list(te[-20:])
  EXPECT_EQ(Indices(s.validation.begin(), s.validation.begin() + 20),
            (Indices{7046, 7877, 6097, 325, 1802, 1292, 10447, 2237, 8062, 9244,
                     7785, 8751, 6995, 240, 4528, 7009, 6497,  1094, 5722, 7387}));
  EXPECT_EQ(Indices(s.validation.end() - 20, s.validation.end()),
            (Indices{6487, 5450, 904,   4103, 7312, 4371, 1620, 10225, 8565,  746,
                     5365, 3789, 10429, 3985, 946,  6515, 8635, 6191,  10487, 890}));
  // sum(te), sum((k+1)*te[k]) % 2**64, sum((k+1)*tr[k]) % 2**64, (ym[te] == 1).sum()
  auto weighted = [](const Indices& v) {
    std::uint64_t sum = 0;
    for (std::size_t k = 0; k < v.size(); ++k) sum += (k + 1) * v[k];
    return sum;
  };
  EXPECT_EQ(std::accumulate(s.validation.begin(), s.validation.end(), std::uint64_t{0}), 5693661u);
  EXPECT_EQ(weighted(s.validation), 3036995187u);
  EXPECT_EQ(weighted(s.train), 244424421934u);
  EXPECT_EQ(std::count_if(s.validation.begin(), s.validation.end(), [](std::size_t i) { return i < 5331; }), 533);
  // A partition of all rows.
  Indices all = s.train;
  all.insert(all.end(), s.validation.begin(), s.validation.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i);
}

TEST(SklearnSplit, ErrorsLikeSklearn) {
  const std::vector<std::int64_t> y = {0, 0, 1, 1, 1, 2};
  EXPECT_EQ(error_of([&] { sklearn_stratified_split(y, 0.0, 1); }),
            "sklearn split: test_size must be in (0, 1), got 0");
  EXPECT_EQ(error_of([&] { sklearn_stratified_split(y, 0.5, 1); }),
            "sklearn split: class 2 has only 1 row; every class needs at least 2");
  const std::vector<std::int64_t> two = {0, 0, 1, 1};
  EXPECT_EQ(error_of([&] { sklearn_stratified_split(two, 0.1, 1); }),
            "sklearn split: train size 3 and test size 1 must each be at least the number of classes 2");
}

}  // namespace
}  // namespace graphrun::data
