#include "runtime/exec/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "graph/graph_algo.h"
#include "graphrun/tensor.h"
#include "runtime/exec/memory_plan.h"

namespace graphrun {

std::shared_ptr<std::byte> Plan::acquire_arena() const {
  {
    std::lock_guard lock(arenas_mutex_);
    if (!free_arenas_.empty()) {
      std::shared_ptr<std::byte> arena = std::move(free_arenas_.back());
      free_arenas_.pop_back();
      return arena;
    }
  }
  return allocate_aligned(arena_bytes_, /*zeroed=*/false);
}

void Plan::release_arena(std::shared_ptr<std::byte> arena) const {
  std::lock_guard lock(arenas_mutex_);
  free_arenas_.push_back(std::move(arena));
}

namespace {

// Whether two large steps (kLargeStepElements or more) are independent: neither is an
// ancestor of the other, so they may overlap. Large steps are few, so a walk over the
// successors from each is cheap.
bool independent_large_steps(const std::vector<PlanStep>& steps) {
  std::vector<size_t> large;
  for (size_t s = 0; s < steps.size(); ++s)
    if (steps[s].work_elements >= kLargeStepElements) large.push_back(s);
  std::vector<int> reached(steps.size(), -1);  // the last large step whose descendants were marked
  for (size_t from : large) {
    const int mark = static_cast<int>(from);
    std::vector<int> stack(steps[from].successors);
    while (!stack.empty()) {
      const auto s = static_cast<size_t>(stack.back());
      stack.pop_back();
      if (reached[s] == mark) continue;
      reached[s] = mark;
      stack.insert(stack.end(), steps[s].successors.begin(), steps[s].successors.end());
    }
    // Steps are in topological order, so a step reaches only later ones: each pair is
    // checked from its earlier step.
    for (size_t other : large)
      if (other > from && reached[other] != mark) return true;
  }
  return false;
}

}  // namespace

std::vector<Tensor> Plan::acquire_fetch_buffers() const {
  {
    std::lock_guard lock(fetches_mutex_);
    for (auto set = recycled_fetches_.begin(); set != recycled_fetches_.end(); ++set)
      if (std::all_of(set->begin(), set->end(), [](const Tensor& t) { return t.sole_owner(); })) {
        std::vector<Tensor> free = std::move(*set);
        recycled_fetches_.erase(set);
        return free;
      }
  }
  std::vector<Tensor> fresh;
  for (const TensorType& t : fetch_buffer_types_) fresh.push_back(Tensor::uninitialized(t.dtype, t.dims));
  return fresh;
}

void Plan::retire_fetch_buffers(std::vector<Tensor> fetched) const {
  size_t bytes = 0;
  for (const Tensor& t : fetched) bytes += t.num_bytes();
  if (bytes > kMaxRecycledFetchBytes) return;
  std::lock_guard lock(fetches_mutex_);
  recycled_fetches_.push_back(std::move(fetched));
  if (recycled_fetches_.size() > kRecycledFetchSets) recycled_fetches_.erase(recycled_fetches_.begin());
}

std::unique_ptr<const Plan> Plan::compile(const Graph& graph, const OpRegistry& ops,
                                          const std::vector<TensorType>& feed_types,
                                          const std::vector<ValueId>& fetches) {
  auto plan = std::unique_ptr<Plan>(new Plan());

  // Concrete types: feeds as given, parameters as declared, the rest inferred.
  plan->value_types_.resize(graph.num_values());
  for (size_t i = 0; i < graph.inputs.size(); ++i)
    plan->value_types_[static_cast<size_t>(graph.inputs[i])] = feed_types.at(i);
  for (const ParameterDef& p : graph.parameters)
    plan->value_types_[static_cast<size_t>(p.value)] = graph.value(p.value).type;

  const std::vector<bool> needed = nodes_needed_for(graph, fetches);
  std::vector<NodeId> order;
  for (NodeId id : topological_order(graph))
    if (needed[static_cast<size_t>(id)]) order.push_back(id);

  std::map<NodeId, int> step_of;
  for (size_t s = 0; s < order.size(); ++s) step_of[order[s]] = static_cast<int>(s);

  std::map<ValueId, size_t> feed_index, param_index;
  for (size_t i = 0; i < graph.inputs.size(); ++i) feed_index[graph.inputs[i]] = i;
  for (size_t i = 0; i < graph.parameters.size(); ++i) param_index[graph.parameters[i].value] = i;

  const std::set<ValueId> fetched(fetches.begin(), fetches.end());
  auto outputs_read = [&](const Node& node) {
    std::vector<bool> read;
    for (ValueId out : node.outputs) {
      const std::vector<NodeId>& consumers = graph.value(out).consumers;
      read.push_back(fetched.count(out) > 0 ||
                     std::any_of(consumers.begin(), consumers.end(), [&](NodeId c) { return step_of.count(c) > 0; }));
    }
    return read;
  };

  // Kernels, on concrete types.
  std::vector<std::vector<int>> predecessors(order.size());
  for (size_t s = 0; s < order.size(); ++s) {
    const Node& node = graph.node(order[s]);
    const OpDef& def = ops.get(node.op());
    std::vector<TensorType> in_types;
    for (ValueId in : node.inputs) in_types.push_back(plan->value_types_[static_cast<size_t>(in)]);
    std::vector<TensorType> out_types = infer_node_types(def.schema, node, in_types);
    for (size_t k = 0; k < out_types.size(); ++k) {
      if (!out_types[k].is_concrete())
        throw node_error("planning failed", node,
                         fmt::format("output {} has unknown shape {}", k, dims_str(out_types[k].dims)));
      plan->value_types_[static_cast<size_t>(node.outputs[k])] = out_types[k];
    }
    PlanStep step;
    step.node = node.id;
    // Parameters are left out: a Gather reads a few rows of a large table.
    for (size_t i = 0; i < in_types.size(); ++i)
      if (graph.value(node.inputs[i]).kind != ValueKind::parameter) step.work_elements += in_types[i].num_elements();
    for (const TensorType& t : out_types) step.work_elements += t.num_elements();
    try {
      step.kernel = def.kernel(KernelInit{node, in_types, out_types, outputs_read(node)});
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {  // e.g. oneDNN rejecting a primitive
      throw node_error("kernel creation failed", node, e.what());
    }
    if (const std::optional<int64_t> work = step.kernel->parallel_work())
      step.work_elements = std::min(step.work_elements, *work);
    for (ValueId in : node.inputs) {
      const NodeId producer = graph.value(in).producer;
      if (producer != kNoNode) predecessors[s].push_back(step_of.at(producer));
    }
    std::sort(predecessors[s].begin(), predecessors[s].end());
    predecessors[s].erase(std::unique(predecessors[s].begin(), predecessors[s].end()), predecessors[s].end());
    step.num_predecessors = static_cast<int>(predecessors[s].size());
    plan->steps_.push_back(std::move(step));
  }
  for (size_t s = 0; s < order.size(); ++s)
    for (int p : predecessors[s]) plan->steps_[static_cast<size_t>(p)].successors.push_back(static_cast<int>(s));
  plan->has_independent_large_steps_ = independent_large_steps(plan->steps_);

  // A fetched node output is written into a fetch buffer of its own; fetched feeds and
  // parameters are handed out as they are, so they take none.
  std::map<ValueId, size_t> fetch_buffer_of;
  for (ValueId f : fetches)
    if (graph.value(f).kind == ValueKind::node_output &&
        fetch_buffer_of.emplace(f, plan->fetch_buffer_types_.size()).second)
      plan->fetch_buffer_types_.push_back(plan->value_types_[static_cast<size_t>(f)]);

  // Memory: every non-fetched node output and every scratchpad is an arena request.
  std::vector<MemoryRequest> requests;
  std::vector<std::pair<int, int>> request_owner;  // (step, output port or -1 for scratchpad)
  for (size_t s = 0; s < order.size(); ++s) {
    const Node& node = graph.node(order[s]);
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const ValueId out = node.outputs[k];
      if (fetch_buffer_of.count(out)) continue;
      MemoryRequest req;
      req.birth_step = static_cast<int>(s);
      req.bytes = plan->value_types_[static_cast<size_t>(out)].num_bytes();
      for (NodeId c : graph.value(out).consumers)
        if (step_of.count(c)) req.reader_steps.push_back(step_of.at(c));
      requests.push_back(std::move(req));
      request_owner.emplace_back(static_cast<int>(s), static_cast<int>(k));
    }
    if (const size_t scratch = plan->steps_[s].kernel->scratchpad_bytes()) {
      requests.push_back(MemoryRequest{static_cast<int>(s), {}, scratch});
      request_owner.emplace_back(static_cast<int>(s), -1);
    }
  }
  const MemoryPlan memory = plan_memory(predecessors, requests);
  plan->arena_bytes_ = memory.arena_bytes;

  std::map<ValueId, Slot> slot_of;
  for (const auto& [value, index] : feed_index) slot_of[value] = {Slot::Source::feed, index};
  for (const auto& [value, index] : param_index) slot_of[value] = {Slot::Source::parameter, index};
  for (const auto& [value, buffer] : fetch_buffer_of) slot_of[value] = {Slot::Source::fetch, buffer};
  for (size_t r = 0; r < requests.size(); ++r) {
    const auto [s, port] = request_owner[r];
    if (port < 0)
      plan->steps_[static_cast<size_t>(s)].scratchpad_offset = memory.offsets[r];
    else
      slot_of[graph.node(order[static_cast<size_t>(s)]).outputs[static_cast<size_t>(port)]] = {Slot::Source::arena,
                                                                                               memory.offsets[r]};
  }
  for (size_t s = 0; s < order.size(); ++s) {
    const Node& node = graph.node(order[s]);
    for (ValueId in : node.inputs) plan->steps_[s].inputs.push_back(slot_of.at(in));
    for (ValueId out : node.outputs) plan->steps_[s].outputs.push_back(slot_of.at(out));
  }
  for (ValueId f : fetches) plan->fetch_slots_.push_back(slot_of.at(f));
  return plan;
}

}  // namespace graphrun
