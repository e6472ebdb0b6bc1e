// Buffer reuse for one run of a plan.
//
// Every temporary (a node output that is not fetched, or a node's scratchpad)
// gets an offset in one arena. Two temporaries may share bytes only if one is
// dead before the other is born *in every schedule the executor may pick*: the
// executor runs independent nodes concurrently, so "earlier in the topological
// order" is not enough. A buffer becomes free for step s only when every step
// that reads its current occupant is a strict ancestor of s in the DAG.
#pragma once

#include <cstddef>
#include <vector>

namespace graphrun {

struct MemoryRequest {
  int birth_step = 0;             // the step that writes it
  std::vector<int> reader_steps;  // steps that read it (empty: only its writer touches it)
  size_t bytes = 0;
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // by request index, multiples of kBufferAlignment (graph/alignment.h)
  size_t arena_bytes = 0;
};

// `predecessors[s]` lists the steps whose outputs step s reads; steps are in a
// topological order. Requests are placed in order of birth step.
MemoryPlan plan_memory(const std::vector<std::vector<int>>& predecessors, const std::vector<MemoryRequest>& requests);

}  // namespace graphrun
