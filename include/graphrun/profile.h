// Where a training step's time goes: `graphrun profile` and bench/run.sh.
//
//   graphrun::TrainingProfile p = graphrun::profile_training("examples/imdb/lstm.pbtxt", {.steps = 5});
//
// The steps are the first batches of the model's training split, in the order
// and with the dropout seeds `graphrun train` gives them (data loading is not
// timed), and each runs the training graph then the optimizer. First
// warmup_steps untimed steps (plans compile, arenas fill), then `steps` timed
// ones without profiling (the step time a training run sees) alternating with
// profiled_steps with the executor's per-node timing on (see
// runtime/exec/profile.h: it changes no result), so both see the same phases of
// the machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace graphrun {

struct ProfileOptions {
  int warmup_steps = 2;
  int steps = 10;
  int profiled_steps = 3;         // 0: no per-node profile
  std::optional<int> batch_size;  // overrides train.batch_size
  int threads = 0;                // as SessionOptions
  int intra_threads = 0;
  std::string trace_path;  // a Chrome trace (chrome://tracing, Perfetto) of the profiled steps, JSON
};

struct NodeProfile {
  std::string name;              // the node, or "update" for the optimizer
  std::string op;                // its op, or the optimizer's name
  std::string phase;             // "forward", "backward" or "update"
  std::string note;              // recurrent nodes: the path their kernel takes (fused oneDNN or step-wise, and why)
  double seconds = 0;            // per profiled step
  double primitive_seconds = 0;  // of which inside oneDNN primitives
  int64_t runs = 0;              // executions over the profiled steps
};

struct TrainingProfile {
  std::string model;  // its name
  int64_t batch_size = 0;
  int steps = 0, profiled_steps = 0;
  double step_seconds = 0;  // the median of the timed steps
  double samples_per_second = 0;
  double update_seconds = 0;               // the optimizer's part of a timed step (mean)
  double profiled_step_seconds = 0;        // mean step while profiling (timing's own cost included)
  double primitive_seconds = 0;            // per profiled step, inside oneDNN primitives
  std::vector<NodeProfile> nodes;          // executed nodes in plan order (forward, backward), then the update
  double minor_faults_per_step = 0;        // page faults (getrusage) over the timed steps
  double buffer_allocations_per_step = 0;  // tensor and arena buffers allocated (buffer_allocations())
  double allocated_bytes_per_step = 0;
  int64_t peak_rss_bytes = 0;  // of the process so far (data included)
};

TrainingProfile profile_training(const std::string& model_path, const ProfileOptions& options = {});

}  // namespace graphrun
