// The arena planner reuses bytes only across DAG-ordered lifetimes.
#include <gtest/gtest.h>

#include "runtime/exec/memory_plan.h"

namespace graphrun {
namespace {

bool overlap(const MemoryPlan& plan, const std::vector<MemoryRequest>& req, size_t a, size_t b) {
  const size_t a0 = plan.offsets[a], a1 = a0 + req[a].bytes;
  const size_t b0 = plan.offsets[b], b1 = b0 + req[b].bytes;
  return a0 < b1 && b0 < a1;
}

TEST(MemoryPlan, ChainReusesDeadBuffers) {
  // 0 -> 1 -> 2 -> 3, each output read only by the next step.
  const std::vector<std::vector<int>> preds = {{}, {0}, {1}, {2}};
  const std::vector<MemoryRequest> req = {{0, {1}, 1000}, {1, {2}, 1000}, {2, {3}, 1000}, {3, {}, 1000}};
  const MemoryPlan plan = plan_memory(preds, req);
  EXPECT_FALSE(overlap(plan, req, 0, 1));       // step 1 reads 0 while writing 1
  EXPECT_EQ(plan.offsets[0], plan.offsets[2]);  // 0 is dead once step 1 is done
  EXPECT_LE(plan.arena_bytes, 2 * 1024u);
}

TEST(MemoryPlan, ConcurrentBranchesNeverShare) {
  // 0 feeds 1 and 2, which may run at once; 3 joins them.
  const std::vector<std::vector<int>> preds = {{}, {0}, {0}, {1, 2}};
  // Value of step 1 read by 3; step 2's scratchpad (read by nobody); value of 2 read by 3.
  const std::vector<MemoryRequest> req = {{0, {1, 2}, 64}, {1, {3}, 64}, {2, {}, 64}, {2, {3}, 64}};
  const MemoryPlan plan = plan_memory(preds, req);
  EXPECT_FALSE(overlap(plan, req, 1, 2));  // step 1's output vs step 2's scratchpad: concurrent
  EXPECT_FALSE(overlap(plan, req, 1, 3));
  EXPECT_FALSE(overlap(plan, req, 0, 2));  // step 2 reads 0
}

TEST(MemoryPlan, GrowsAFreeBufferForALargerValue) {
  const std::vector<std::vector<int>> preds = {{}, {0}, {1}};
  const std::vector<MemoryRequest> req = {{0, {1}, 64}, {1, {2}, 64}, {2, {}, 640}};
  const MemoryPlan plan = plan_memory(preds, req);
  EXPECT_EQ(plan.offsets[2], plan.offsets[0]);
  EXPECT_EQ(plan.arena_bytes, 640u + 64u);
}

}  // namespace
}  // namespace graphrun
