// The kernel interface: what an op runs.
//
// A kernel is created once per node and concrete shape when a plan is compiled
// (so oneDNN primitives are built once and cached with the plan) and is then
// immutable: run() is const and may be called from several threads at once,
// each call with its own buffers and scratchpad. That is why every oneDNN
// primitive is created with scratchpad_mode::user (see dnnl_util.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "graph/graph.h"

namespace graphrun {

// Per-run facts a kernel may need.
struct RunContext {
  bool training = false;   // Dropout drops only when training
  uint64_t step_seed = 0;  // random streams of this run (Dropout masks, RandomNormalLike samples)
};

// Buffers of one kernel invocation: inputs and outputs in the node's order,
// each sized for its concrete type; the scratchpad has scratchpad_bytes().
struct KernelIO {
  std::span<const void* const> inputs;
  std::span<void* const> outputs;
  void* scratchpad = nullptr;
  const RunContext* run = nullptr;

  template <typename T>
  const T* in(size_t i) const {
    return static_cast<const T*>(inputs[i]);
  }
  template <typename T>
  T* out(size_t i) const {
    return static_cast<T*>(outputs[i]);
  }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual size_t scratchpad_bytes() const { return 0; }
  virtual void run(const KernelIO& io) const = 0;
  // The elements an OpenMP team shares between two of its barriers, when that is less
  // than the node's inputs and outputs (the executor's default estimate): a recurrent
  // kernel synchronises at every time step, so only one step's work can be split.
  virtual std::optional<int64_t> parallel_work() const { return std::nullopt; }
};

// The fewest elements of per-element work worth an OpenMP team: below it the fork and
// join cost more than the split saves. Kernels test their loops against it, and the
// executor gives a step a team of its own (or runs it beside another) only from it up.
constexpr int64_t kParallelElements = 64 * 1024;

// What a kernel factory sees: the node and its concrete input/output types.
struct KernelInit {
  const Node& node;
  std::vector<TensorType> inputs;
  std::vector<TensorType> outputs;
  // Per output: whether the plan reads it (a later node or a fetch); empty = all of them.
  // A kernel may leave an unread output unwritten and skip the work that only it needs
  // (the gradient of an input nothing trains); its buffer still exists.
  std::vector<bool> outputs_read;

  const pb::Node& attrs() const { return node.def; }
  const Dims& in_dims(size_t i) const { return inputs.at(i).dims; }
  const Dims& out_dims(size_t i) const { return outputs.at(i).dims; }
  bool output_read(size_t i) const { return outputs_read.empty() || outputs_read.at(i); }
};

using KernelFactory = std::function<std::unique_ptr<Kernel>(const KernelInit&)>;

// A kernel from a lambda, for ops whose work needs no prepared state beyond
// what the lambda captures.
template <typename Fn>
class LambdaKernel final : public Kernel {
 public:
  explicit LambdaKernel(Fn fn) : fn_(std::move(fn)) {}
  void run(const KernelIO& io) const override { fn_(io); }

 private:
  Fn fn_;
};

template <typename Fn>
std::unique_ptr<Kernel> make_lambda_kernel(Fn fn) {
  return std::make_unique<LambdaKernel<Fn>>(std::move(fn));
}

}  // namespace graphrun
