// wrap(): a buffer under a descriptor as a dnnl::memory, cached per thread; run_side_by_side():
// two pieces of work at once.
#include "ops/dnnl_util.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <stdexcept>
#include <thread>
#include <vector>

namespace graphrun {
namespace {

TEST(Wrap, MemoryPointsAtTheBufferUnderTheDescriptor) {
  std::vector<float> buffer(6);
  const dnnl::memory::desc matrix = plain_desc({2, 3});
  const dnnl::memory::desc transposed = strided_desc({3, 2}, {1, 3});
  const dnnl::memory as_matrix = wrap(matrix, buffer.data());
  const dnnl::memory as_transposed = wrap(transposed, buffer.data());
  EXPECT_EQ(as_matrix.get_data_handle(), buffer.data());
  EXPECT_EQ(as_transposed.get_data_handle(), buffer.data());
  EXPECT_TRUE(as_matrix.get_desc() == matrix);
  EXPECT_TRUE(as_transposed.get_desc() == transposed);
}

// A small model's step wraps a few dozen (buffer, descriptor) pairs, the same ones every
// step: wrapping them again must hand back the objects made the first time (a new one
// costs a malloc and a free). Sixteen pairs, two descriptors of each of eight buffers:
// a direct-mapped cache of 256 slots put two of them in one slot in about a third of
// address layouts; four ways per set leave that to about one layout in 4,000.
TEST(Wrap, PairsInUseStayCached) {
  std::vector<float> buffers(8 * 64);
  const dnnl::memory::desc matrix = plain_desc({8, 8});
  const dnnl::memory::desc transposed = strided_desc({8, 8}, {1, 8});
  std::vector<dnnl_memory_t> first;
  for (int round = 0; round < 3; ++round)
    for (int b = 0; b < 8; ++b)
      for (const dnnl::memory::desc* md : {&matrix, &transposed}) {
        const dnnl::memory memory = wrap(*md, buffers.data() + 64 * b);
        if (round == 0)
          first.push_back(memory.get());
        else
          EXPECT_EQ(memory.get(), first[static_cast<size_t>(2 * b + (md == &transposed))]) << "buffer " << b;
      }
}

TEST(Wrap, EvictedPairsAreWrappedAgainCorrectly) {
  std::vector<float> buffers(2000 * 16);
  const dnnl::memory::desc md = plain_desc({16});
  for (int b = 0; b < 2000; ++b) wrap(md, buffers.data() + 16 * b);  // more pairs than the cache holds
  for (int b = 0; b < 2000; b += 97)
    EXPECT_EQ(wrap(md, buffers.data() + 16 * b).get_data_handle(), buffers.data() + 16 * b);
}

// A kernel's fixed descriptors are found by id: each id keeps its own descriptor, so one
// buffer under two KernelDescs (a matrix and its transpose) gets two memories, each with
// its desc, and a copy of a KernelDesc is the same descriptor.
TEST(Wrap, KernelDescsAreFoundByIdAndKeepTheirOwnDescriptor) {
  std::vector<float> buffer(6);
  const KernelDesc matrix = plain_desc({2, 3});
  const KernelDesc transposed = strided_desc({3, 2}, {1, 3});
  EXPECT_NE(matrix.id(), transposed.id());
  const dnnl::memory as_matrix = wrap(matrix, buffer.data());
  const dnnl::memory as_transposed = wrap(transposed, buffer.data());
  EXPECT_NE(as_matrix.get(), as_transposed.get());
  EXPECT_TRUE(as_matrix.get_desc() == matrix.md());
  EXPECT_TRUE(as_transposed.get_desc() == transposed.md());
  EXPECT_EQ(as_transposed.get_data_handle(), buffer.data());
  EXPECT_EQ(wrap(matrix, buffer.data()).get(), as_matrix.get());  // cached

  const KernelDesc copy = matrix;
  EXPECT_EQ(copy.id(), matrix.id());
  EXPECT_EQ(wrap(copy, buffer.data()).get(), as_matrix.get());

  // A new KernelDesc, even with the same descriptor, has a new id: its memory is its own,
  // and correct.
  const KernelDesc again = plain_desc({2, 3});
  EXPECT_NE(again.id(), matrix.id());
  const dnnl::memory as_again = wrap(again, buffer.data());
  EXPECT_TRUE(as_again.get_desc() == again.md());
  EXPECT_EQ(as_again.get_data_handle(), buffer.data());
  // The same buffer and descriptor without an id is a separate entry, compared by descriptor.
  EXPECT_TRUE(wrap(plain_desc({2, 3}), buffer.data()).get_desc() == matrix.md());
}

// With a team of two, the two pieces run at once on two threads; with one thread, one after
// the other on the caller's. Either way both run, and an exception in one comes out after both.
TEST(SideBySide, RunsBothAtOnceWithATeamAndRethrows) {
  const int saved = omp_get_max_threads();
  for (int threads : {2, 1}) {
    SCOPED_TRACE(threads);
    omp_set_num_threads(threads);
    std::array<std::thread::id, 2> ran_on{};
    run_side_by_side([&](int i) { ran_on[static_cast<size_t>(i)] = std::this_thread::get_id(); });
    EXPECT_NE(ran_on[0], std::thread::id());
    EXPECT_NE(ran_on[1], std::thread::id());
    EXPECT_EQ(ran_on[0] != ran_on[1], threads == 2);
    std::array<bool, 2> done{};
    EXPECT_THROW(run_side_by_side([&](int i) {
                   done[static_cast<size_t>(i)] = true;
                   if (i == 1) throw std::runtime_error("second");
                 }),
                 std::runtime_error);
    EXPECT_TRUE(done[0] && done[1]);
  }
  omp_set_num_threads(saved);
}

// Profiled, primitives inside the pair add to the caller's sink (the longer thread's time),
// not to whatever sink the team's other thread has; without a sink nothing is timed.
TEST(SideBySide, PrimitiveTimeGoesToTheCallersSink) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  const dnnl::memory::desc matrix = plain_desc({64, 64});
  const dnnl::memory::desc transposed = strided_desc({64, 64}, {1, 64});
  const Reorder reorder(matrix, transposed);
  std::array<std::vector<float>, 2> from{std::vector<float>(64 * 64, 1.f), std::vector<float>(64 * 64, 2.f)};
  std::array<std::vector<float>, 2> to{std::vector<float>(64 * 64), std::vector<float>(64 * 64)};
  const size_t pad_bytes = std::max<size_t>(reorder.scratchpad_md.get_size(), 1);
  auto both = [&] {
    run_side_by_side([&](int i) {
      const auto k = static_cast<size_t>(i);
      std::vector<std::byte> own_pad(pad_bytes);  // each thread its own scratchpad
      reorder.run(from[k].data(), to[k].data(), own_pad.data());
    });
  };
  int64_t sink = 0;
  int64_t* previous = set_primitive_time_sink(&sink);
  both();
  set_primitive_time_sink(previous);
  EXPECT_GT(sink, 0);
  EXPECT_EQ(to[1][65], 2.f);  // the work ran
  const int64_t after = sink;
  both();  // no sink set: nothing added
  EXPECT_EQ(sink, after);
  omp_set_num_threads(saved);
}

}  // namespace
}  // namespace graphrun
