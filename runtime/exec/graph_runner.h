// Runs a Graph: compiles and caches one Plan per feed-shape signature and
// fetch list (the kMaxCachedPlans most recently used), and executes it.
// Thread-safe; used by Session (inference), the trainer and the gradient checker.
#pragma once

#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "graph/graph.h"
#include "graphrun/tensor.h"
#include "runtime/exec/executor.h"
#include "runtime/exec/plan.h"

namespace graphrun {

class GraphRunner {
 public:
  GraphRunner(std::shared_ptr<const Graph> graph, ExecutionPolicy policy);

  // `feeds` holds one tensor per graph input (an empty Tensor for an input the
  // fetches do not need); `parameters` one per graph parameter.
  std::vector<Tensor> run(const std::vector<Tensor>& feeds, const std::vector<Tensor>& parameters,
                          const std::vector<ValueId>& fetches, const RunContext& run = {}) const;

  // Named feeds as run() takes them, checked: every name is a graph input, every
  // tensor has the input's dtype, rank and fixed dims, and every input `fetches`
  // need is fed. An Error names the first input at fault.
  std::vector<Tensor> feeds_in_graph_order(const std::map<std::string, Tensor>& feeds,
                                           const std::vector<ValueId>& fetches) const;

  const Graph& graph() const { return *graph_; }
  size_t cached_plans() const;

 private:
  struct CachedPlan {
    std::vector<TensorType> feed_types;
    std::vector<ValueId> fetches;
    std::shared_ptr<const Plan> plan;
  };
  std::shared_ptr<const Plan> plan_for(const std::vector<Tensor>& feeds, const std::vector<ValueId>& fetches) const;
  // The cached plan for these feeds and fetches, or plans_.end(); the caller holds plans_mutex_.
  std::list<CachedPlan>::iterator find_plan(const std::vector<Tensor>& feeds,
                                            const std::vector<ValueId>& fetches) const;
  // The type a plan takes for input i fed `t`: t's, or for an input left unfed (the
  // fetches do not read it) the declared type with unknown dims as 1.
  TensorType feed_type(size_t i, const Tensor& t) const;
  // feed_type(i, t) == type, without building a TensorType for a fed input (the hot path).
  bool feed_has_type(size_t i, const Tensor& t, const TensorType& type) const;

  std::shared_ptr<const Graph> graph_;
  ExecutionPolicy policy_;
  // Most recently used first, found by comparing types and fetches directly: a step of a
  // small model takes a few microseconds, and a string key cost a tenth of that. A run
  // holds its plan's shared_ptr, so evicting a plan another thread is running is safe.
  mutable std::mutex plans_mutex_;
  mutable std::list<CachedPlan> plans_;
};

}  // namespace graphrun
