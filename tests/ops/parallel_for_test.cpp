// The loops split over an OpenMP team: every index once.
#include "ops/parallel_for.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace graphrun {
namespace {

// The ranges for_each_range hands out on a team of `threads`, sorted by start.
std::vector<std::pair<int64_t, int64_t>> ranges(int threads, int64_t n) {
  std::vector<std::pair<int64_t, int64_t>> seen;
  std::mutex mutex;
  omp_set_num_threads(threads);
  for_each_range(true, n, [&](int64_t begin, int64_t end) {
    std::lock_guard lock(mutex);
    seen.emplace_back(begin, end);
  });
  std::sort(seen.begin(), seen.end());
  return seen;
}

TEST(ParallelFor, RangesCoverEveryIndexOnce) {
  const int saved = omp_get_max_threads();
  for (int threads : {1, 2, 3, 4})
    for (int64_t n : {0, 1, 15, 16, 17, 100, 400, 1000}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + " n " + std::to_string(n));
      const auto got = ranges(threads, n);
      ASSERT_EQ(got.size(), static_cast<size_t>(threads));
      int64_t next = 0;
      for (const auto& [begin, end] : got) {
        EXPECT_EQ(begin, next);
        EXPECT_LE(begin, end);
        next = end;
      }
      EXPECT_EQ(next, n);
    }
  omp_set_num_threads(saved);
}

TEST(ParallelFor, SerialIsOneRange) {
  std::vector<std::pair<int64_t, int64_t>> seen;
  for_each_range(false, 37, [&](int64_t begin, int64_t end) { seen.emplace_back(begin, end); });
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, int64_t>>{{0, 37}}));
}

TEST(ParallelFor, EveryIndexOnce) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  std::vector<int> count(1000, 0);
  for_each_index(true, 1000, [&](int64_t i) { ++count[static_cast<size_t>(i)]; });
  for (int c : count) EXPECT_EQ(c, 1);
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace graphrun
