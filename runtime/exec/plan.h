// A compiled plan: the graph lowered for one set of concrete feed shapes.
//
// Compiling re-runs every shape rule on the concrete feed shapes, keeps only
// the nodes the fetched values need, creates each node's kernel once (oneDNN
// primitives included) and plans the arena. A Plan is immutable after
// compilation, so one Plan may be executed from several threads at once: each
// execution brings its own arena (see executor.h).
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "graph/graph.h"
#include "graphrun/tensor.h"
#include "ops/registry.h"

namespace graphrun {

// Where a step finds one of its buffers during a run.
struct Slot {
  enum class Source { arena, feed, parameter, fetch };
  Source source = Source::arena;
  size_t index = 0;  // arena: byte offset; feed/parameter/fetch: position in the run's feeds/parameters/fetch buffers
};

// A step this large (inputs + outputs, or its kernel's parallel_work()) is worth an
// OpenMP team of its own or a TBB worker beside another such step (executor.h).
constexpr int64_t kLargeStepElements = kParallelElements;

struct PlanStep {
  NodeId node = kNoNode;
  std::unique_ptr<Kernel> kernel;
  std::vector<Slot> inputs;
  std::vector<Slot> outputs;
  size_t scratchpad_offset = 0;  // in the arena
  std::vector<int> successors;   // steps that read this step's outputs
  int num_predecessors = 0;      // distinct steps this one waits for
  int64_t work_elements = 0;     // the executor's size estimate: non-parameter input + output elements,
                                 // or the kernel's parallel_work() when smaller
};

class Plan {
 public:
  // feed_types: concrete types of graph.inputs (same order). fetches: values to
  // return. Throws Error when shapes do not fit.
  static std::unique_ptr<const Plan> compile(const Graph& graph, const OpRegistry& ops,
                                             const std::vector<TensorType>& feed_types,
                                             const std::vector<ValueId>& fetches);

  const std::vector<PlanStep>& steps() const { return steps_; }
  size_t arena_bytes() const { return arena_bytes_; }
  // Whether two large steps can ever run at once (neither is an ancestor of the
  // other). Only then does running steps as TBB tasks pay (see executor.h).
  bool has_independent_large_steps() const { return has_independent_large_steps_; }
  // Where each fetched value is after a run: a feed, a parameter, or one of the run's
  // fetch buffers (a node output's, one per value however often it is fetched).
  const std::vector<Slot>& fetch_slots() const { return fetch_slots_; }
  const TensorType& value_type(ValueId v) const { return value_types_[static_cast<size_t>(v)]; }

  // Arenas are recycled between runs: allocating (and page-faulting) a large
  // arena on every training step cost more system time than the step itself.
  std::shared_ptr<std::byte> acquire_arena() const;
  void release_arena(std::shared_ptr<std::byte> arena) const;
  // Fetch buffers (those of fetched node outputs) are recycled too, so that a training
  // loop's gradients and metrics stop allocating after its first steps: a run takes a
  // set of them that no caller holds any more, or new ones. The plan keeps the last
  // kRecycledFetchSets sets of at most kMaxRecycledFetchBytes each (two cover
  // `outputs = run(...)`, where the previous outputs live until the new ones are returned).
  static constexpr size_t kRecycledFetchSets = 2;
  static constexpr size_t kMaxRecycledFetchBytes = size_t{64} << 20;
  std::vector<Tensor> acquire_fetch_buffers() const;
  void retire_fetch_buffers(std::vector<Tensor> fetched) const;

 private:
  std::vector<PlanStep> steps_;
  size_t arena_bytes_ = 0;
  bool has_independent_large_steps_ = false;
  std::vector<Slot> fetch_slots_;
  std::vector<TensorType> fetch_buffer_types_;
  std::vector<TensorType> value_types_;  // concrete, by ValueId
  mutable std::mutex arenas_mutex_;
  mutable std::vector<std::shared_ptr<std::byte>> free_arenas_;
  mutable std::mutex fetches_mutex_;
  mutable std::vector<std::vector<Tensor>> recycled_fetches_;  // oldest first
};

}  // namespace graphrun
