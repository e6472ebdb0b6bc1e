#include "runtime/exec/graph_runner.h"

#include <fmt/format.h>

#include <algorithm>

#include "graph/graph_algo.h"
#include "graphrun/graphrun.h"
#include "ops/registry.h"

namespace graphrun {

GraphRunner::GraphRunner(std::shared_ptr<const Graph> graph, ExecutionPolicy policy)
    : graph_(std::move(graph)), policy_(policy) {
  for (const auto& [option, threads] :
       {std::pair{"inter-op", policy.inter_op_threads}, std::pair{"intra-op", policy.intra_op_threads}})
    if (threads < 0 || threads > kMaxThreads)
      throw Error(
          fmt::format("{} thread count {} is out of range (0 = automatic, at most {})", option, threads, kMaxThreads));
}

std::vector<Tensor> GraphRunner::feeds_in_graph_order(const std::map<std::string, Tensor>& feeds,
                                                      const std::vector<ValueId>& fetches) const {
  const Graph& g = *graph_;
  for (const auto& [name, tensor] : feeds) {
    auto id = g.find_value(name);
    if (!id || g.value(*id).kind != ValueKind::input)
      throw Error(fmt::format("cannot feed '{}': model '{}' has no input of that name", name, g.name));
  }

  // Feed types: fed tensors must match the declared dtype, rank and fixed dims.
  const std::vector<bool> needed = nodes_needed_for(g, fetches);
  std::vector<Tensor> feed_tensors;
  for (ValueId in : g.inputs) {
    const Value& v = g.value(in);
    auto it = feeds.find(v.name);
    if (it == feeds.end()) {
      bool used = std::find(fetches.begin(), fetches.end(), in) != fetches.end();
      for (NodeId c : v.consumers) used = used || needed[static_cast<size_t>(c)];
      if (used) throw Error(fmt::format("input '{}' ({}) was not fed", v.name, type_str(v.type)));
      feed_tensors.emplace_back();
      continue;
    }
    const Tensor& t = it->second;
    bool fits = t.dtype() == v.type.dtype && t.rank() == v.type.rank();
    for (int i = 0; fits && i < t.rank(); ++i) {
      const int64_t declared = v.type.dims[static_cast<size_t>(i)];
      fits = declared < 0 || declared == t.dims()[static_cast<size_t>(i)];
    }
    if (!fits)
      throw Error(fmt::format("input '{}': fed {}, the model declares {}", v.name, t.type_string(), type_str(v.type)));
    feed_tensors.push_back(t);
  }
  return feed_tensors;
}

TensorType GraphRunner::feed_type(size_t i, const Tensor& t) const {
  if (!t.empty()) return {t.dtype(), t.dims()};
  TensorType placeholder = graph_->value(graph_->inputs[i]).type;  // never read: any concrete shape will do
  for (int64_t& d : placeholder.dims) d = d < 0 ? 1 : d;
  return placeholder;
}

bool GraphRunner::feed_has_type(size_t i, const Tensor& t, const TensorType& type) const {
  if (!t.empty()) return t.dtype() == type.dtype && t.dims() == type.dims;
  const TensorType placeholder = feed_type(i, t);  // an unfed input: rare, so a copy is fine
  return placeholder.dtype == type.dtype && placeholder.dims == type.dims;
}

std::list<GraphRunner::CachedPlan>::iterator GraphRunner::find_plan(const std::vector<Tensor>& feeds,
                                                                    const std::vector<ValueId>& fetches) const {
  return std::find_if(plans_.begin(), plans_.end(), [&](const CachedPlan& cached) {
    if (cached.fetches != fetches) return false;
    for (size_t i = 0; i < cached.feed_types.size(); ++i)
      if (!feed_has_type(i, feeds[i], cached.feed_types[i])) return false;
    return true;
  });
}

std::shared_ptr<const Plan> GraphRunner::plan_for(const std::vector<Tensor>& feeds,
                                                  const std::vector<ValueId>& fetches) const {
  {
    std::lock_guard lock(plans_mutex_);
    if (auto it = find_plan(feeds, fetches); it != plans_.end()) {
      plans_.splice(plans_.begin(), plans_, it);
      return plans_.front().plan;
    }
  }
  std::vector<TensorType> feed_types;
  for (size_t i = 0; i < graph_->inputs.size(); ++i) feed_types.push_back(feed_type(i, feeds.at(i)));
  // Compile outside the lock; if two threads race, both plans are valid and the first wins.
  std::shared_ptr<const Plan> plan = Plan::compile(*graph_, builtin_ops(), feed_types, fetches);
  std::lock_guard lock(plans_mutex_);
  if (auto it = find_plan(feeds, fetches); it != plans_.end()) return it->plan;
  plans_.push_front(CachedPlan{std::move(feed_types), fetches, std::move(plan)});
  if (plans_.size() > kMaxCachedPlans) plans_.pop_back();
  return plans_.front().plan;
}

size_t GraphRunner::cached_plans() const {
  std::lock_guard lock(plans_mutex_);
  return plans_.size();
}

std::vector<Tensor> GraphRunner::run(const std::vector<Tensor>& feeds, const std::vector<Tensor>& parameters,
                                     const std::vector<ValueId>& fetches, const RunContext& run) const {
  if (feeds.size() != graph_->inputs.size())
    throw Error(
        fmt::format("{} feeds given, model '{}' has {} inputs", feeds.size(), graph_->name, graph_->inputs.size()));
  std::shared_ptr<const Plan> plan = plan_for(feeds, fetches);
  const RunBuffers buffers{&feeds, &parameters};
  return execute_plan(*plan, buffers, run, policy_);
}

}  // namespace graphrun
