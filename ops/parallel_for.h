// Loops split over the OpenMP team the executor gave a step.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace graphrun {

// fn(i) for every i in [0, n), split over the current OpenMP team when `parallel`.
// A serial loop does not enter OpenMP at all: even a parallel region with a false
// `if` clause costs about 2 us, and the step-wise recurrent kernels run a few loops
// per time step, which at batch 1 was most of their time.
template <typename Fn>
void for_each_index(bool parallel, int64_t n, const Fn& fn) {
  if (parallel) {
#pragma omp parallel for
    for (int64_t i = 0; i < n; ++i) fn(i);
  } else {
    for (int64_t i = 0; i < n; ++i) fn(i);
  }
}

// fn(begin, end) on contiguous ranges that cover [0, n): one per thread of the current
// OpenMP team when `parallel`, else [0, n) at once. For loops whose body works on a run of
// elements at a time (vector code) rather than one index.
template <typename Fn>
void for_each_range(bool parallel, int64_t n, const Fn& fn) {
  if (!parallel) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    auto start = [&](int64_t k) { return n * k / threads; };
    fn(start(thread), start(thread + 1));
  }
}

}  // namespace graphrun
