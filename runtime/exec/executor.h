// Executes a compiled Plan on TBB.
//
// Threading policy (inter-op x intra-op), measured by bench/threading.sh and
// `graphrun profile` on this 2-core machine (see README, "Threading policy"):
//  - inter-op: independent steps run as TBB tasks in an arena of
//    `inter_op_threads`. The default (0) does so only when two large steps
//    (kLargeStepElements) can overlap; otherwise the plan runs serially on the
//    calling thread. Small independent steps gain less from overlapping than the
//    hand-offs cost, and an idle TBB worker spinning beside a step that has the
//    whole OpenMP team takes a core from it: emotion's training step ran 45 ms
//    serially against 55 ms on TBB.
//  - intra-op: each step sets the OpenMP team its oneDNN calls use. The default
//    (0) gives small steps one thread (an OpenMP fork/join costs more than it
//    saves: 10 vs 16 us for a 64-wide chain); a step of at least
//    kLargeStepElements that runs while no other step does gets the whole team
//    (2x faster at width >= 512). A recurrent step counts one time step's work,
//    as its team meets at a barrier every step: at batch 1 the emotion BiLSTM's
//    forward took 0.58 ms on one thread and 2.07 ms on two.
//    Overlapping steps keep one thread each: TBB already fills the cores, and
//    oversubscribing them was slower. A positive value fixes the team size for
//    every step. The team size is set for the step only: the thread's previous
//    setting is restored after it (after the last step, when the run is serial).
#pragma once

#include <cstddef>
#include <vector>

#include "graphrun/tensor.h"
#include "runtime/exec/plan.h"

namespace graphrun {

struct ExecutionPolicy {
  int inter_op_threads = 0;   // TBB concurrency; 0 = automatic (above), 1 = serial
  int intra_op_threads = 0;   // OpenMP threads per oneDNN call; 0 = automatic (above)
  bool caller_arena = false;  // independent steps run in the caller's TBB arena, not one of graphrun's
};

struct RunBuffers {
  const std::vector<Tensor>* feeds = nullptr;       // graph inputs, in graph order
  const std::vector<Tensor>* parameters = nullptr;  // graph parameters, in graph order
};

// Runs the plan once and returns the fetched values (fresh tensors for node
// outputs and copies of fetched parameters, the fed tensor itself for a fetched input).
// Thread-safe: any number of calls may run the same plan at once.
std::vector<Tensor> execute_plan(const Plan& plan, const RunBuffers& buffers, const RunContext& run,
                                 const ExecutionPolicy& policy);

}  // namespace graphrun
