// wrap(): a buffer under a descriptor as a dnnl::memory, cached per thread.
#include "ops/dnnl_util.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace graphrun
