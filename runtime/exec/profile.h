// Per-step timing of plan executions, for `graphrun profile`.
//
// Off by default: the executor reads the process-wide profile once per run, and
// an unprofiled run pays that load and one branch per step. While a profile is
// set, every step of every run records when it ran, on which thread, and how
// much of it was inside oneDNN primitives (ops/dnnl_util.h's execute()). Timing
// only observes: kernels, buffers and arithmetic are the same either way.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "graph/graph.h"

namespace graphrun {

struct StepTiming {
  NodeId node = kNoNode;
  int64_t start_ns = 0, end_ns = 0;  // since the profile's origin
  int64_t primitive_ns = 0;          // inside oneDNN primitives
  int thread = 0;                    // a small id per executing thread, for traces
};

class ExecutionProfile {
 public:
  ExecutionProfile() : origin_(std::chrono::steady_clock::now()) {}

  int64_t now_ns() const;
  void record(const StepTiming& timing);  // thread-safe
  std::vector<StepTiming> take();         // the records so far, in completion order; clears them

 private:
  const std::chrono::steady_clock::time_point origin_;
  std::mutex mutex_;
  std::vector<StepTiming> timings_;
};

// The profile every plan execution records into; nullptr (the default) turns profiling off.
// The profile must outlive the runs that see it.
void set_execution_profile(ExecutionProfile* profile);
ExecutionProfile* execution_profile();

// A small, stable id for the calling thread (0, 1, 2, ... in order of first use).
int profile_thread_id();

}  // namespace graphrun
