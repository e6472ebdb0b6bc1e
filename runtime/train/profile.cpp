// profile_training (include/graphrun/profile.h): StepDriver's steps, timed plain,
// alternating with steps timed by the executor's per-node profile.
#include "graphrun/profile.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>

#include "ops/registry.h"
#include "runtime/exec/profile.h"
#include "runtime/train/step_driver.h"

namespace graphrun {
namespace {

struct Counters {
  int64_t minor_faults = 0;
  AllocationCount allocations;

  Counters operator-(const Counters& o) const {
    return {minor_faults - o.minor_faults,
            {allocations.buffers - o.allocations.buffers, allocations.bytes - o.allocations.bytes}};
  }
  Counters& operator+=(const Counters& o) {
    minor_faults += o.minor_faults;
    allocations.buffers += o.allocations.buffers;
    allocations.bytes += o.allocations.bytes;
    return *this;
  }
};

Counters counters_now() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return {usage.ru_minflt, buffer_allocations()};
}

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

// Turns the process-wide execution profile on for a scope.
class ProfileScope {
 public:
  explicit ProfileScope(ExecutionProfile* profile) { set_execution_profile(profile); }
  ~ProfileScope() { set_execution_profile(nullptr); }
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;
};

std::string json_escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\')
      out += {'\\', c};
    else if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
    else
      out += c;
  }
  return out;
}

// The optimizer's update has no node: its timings carry kNoNode.
constexpr NodeId kUpdate = kNoNode;

// "Chrome trace" JSON: one complete ("X") event per node execution and per update.
void write_trace(const std::string& path, const std::vector<StepTiming>& timings,
                 const std::map<NodeId, NodeProfile>& nodes) {
  std::ofstream out(path);
  out << "{\"displayTimeUnit\": \"ms\", \"traceEvents\": [\n";
  for (size_t i = 0; i < timings.size(); ++i) {
    const StepTiming& t = timings[i];
    const NodeProfile& node = nodes.at(t.node);
    out << fmt::format(
        "{{\"name\": \"{}\", \"cat\": \"{}\", \"ph\": \"X\", \"pid\": 1, \"tid\": {}, \"ts\": {:.3f}, \"dur\": {:.3f}, "
        "\"args\": {{\"op\": \"{}\", \"primitive_us\": {:.3f}}}}}{}\n",
        json_escaped(node.name), node.phase, t.thread, static_cast<double>(t.start_ns) / 1e3,
        static_cast<double>(t.end_ns - t.start_ns) / 1e3, json_escaped(node.op),
        static_cast<double>(t.primitive_ns) / 1e3, i + 1 < timings.size() ? "," : "");
  }
  out << "]}\n";
  if (!out) throw Error(fmt::format("{}: cannot write the trace", path));
}

// Per-node totals over the profiled steps, divided per step.
std::vector<NodeProfile> node_profiles(const TrainingSetup& setup, const std::vector<StepTiming>& timings, int steps,
                                       std::map<NodeId, NodeProfile>& by_node) {
  const Graph& g = *setup.graph;
  const size_t forward_nodes = setup.data.graph.num_node_slots();  // autodiff appends the backward ones
  std::vector<NodeId> order;                                       // first execution order
  for (const StepTiming& t : timings) {
    auto [it, added] = by_node.try_emplace(t.node);
    NodeProfile& p = it->second;
    if (added) {
      order.push_back(t.node);
      if (t.node == kUpdate) {
        p = {"update", setup.config.optimizer().has_sgd() ? "SGD" : "Adam", "update", "", 0, 0, 0};
      } else {
        const Node& node = g.node(t.node);
        p = {node.name(), node.op(), static_cast<size_t>(t.node) < forward_nodes ? "forward" : "backward", "", 0, 0, 0};
        if (const OpSchema* schema = builtin_ops().find_schema(node.op()); schema && schema->note) {
          std::vector<TensorType> in_types;
          for (ValueId in : node.inputs) in_types.push_back(g.value(in).type);
          p.note = schema->note(node, in_types);
        }
      }
    }
    p.seconds += static_cast<double>(t.end_ns - t.start_ns) / 1e9;
    p.primitive_seconds += static_cast<double>(t.primitive_ns) / 1e9;
    ++p.runs;
  }
  std::vector<NodeProfile> out;
  for (NodeId id : order) {
    NodeProfile p = by_node.at(id);
    p.seconds /= steps;
    p.primitive_seconds /= steps;
    out.push_back(p);
  }
  // Plan order: forward, backward, then the update, each by first start.
  std::stable_partition(out.begin(), out.end(), [](const NodeProfile& p) { return p.phase != "update"; });
  return out;
}

}  // namespace

TrainingProfile profile_training(const std::string& model_path, const ProfileOptions& options) {
  TrainOptions train_options;
  train_options.batch_size = options.batch_size;
  train_options.threads = options.threads;
  train_options.intra_threads = options.intra_threads;
  train_options.quiet = true;
  StepDriver driver(model_path, train_options);
  return profile_steps(driver, options);
}

TrainingProfile profile_steps(StepDriver& driver, const ProfileOptions& options) {
  if (options.steps < 1 || options.warmup_steps < 0 || options.profiled_steps < 0)
    throw Error(fmt::format("profile: steps {} must be at least 1, warm-up {} and profiled steps {} at least 0",
                            options.steps, options.warmup_steps, options.profiled_steps));
  for (int i = 0; i < options.warmup_steps; ++i) driver.step();

  TrainingProfile result;
  result.model = driver.setup().graph->name;
  result.batch_size = driver.batch_size();
  result.steps = options.steps;
  result.profiled_steps = options.profiled_steps;

  // Plain and profiled steps alternate, so that both see the same phases of a machine
  // whose speed drifts within a second: timed one after the other, a small model's
  // step / primitives moved from 1.1x to 3.1x between runs of one binary.
  using Clock = std::chrono::steady_clock;
  std::vector<double> step_seconds;
  double update_seconds = 0;
  // Faults and allocations of the plain steps: all steps' minus the profiled ones' (the
  // profile's records allocate), so that no system call runs between two plain steps.
  Counters profiled_counts;
  ExecutionProfile profile;
  int64_t profiled_ns = 0;
  const Counters before = counters_now();
  for (int i = 0; i < std::max(options.steps, options.profiled_steps); ++i) {
    if (i < options.steps) {
      const auto start = Clock::now();
      update_seconds += driver.step();
      step_seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
    if (i < options.profiled_steps) {
      const Counters profiled_before = counters_now();
      {
        const ProfileScope scope(&profile);
        const int64_t start = profile.now_ns();
        const double update = driver.step();
        const int64_t end = profile.now_ns();
        profile.record({kUpdate, end - static_cast<int64_t>(update * 1e9), end, 0, profile_thread_id()});
        profiled_ns += end - start;
      }
      profiled_counts += counters_now() - profiled_before;
    }
  }
  const Counters plain = counters_now() - before - profiled_counts;
  std::sort(step_seconds.begin(), step_seconds.end());
  const size_t mid = step_seconds.size() / 2;
  result.step_seconds = step_seconds.size() % 2 ? step_seconds[mid] : (step_seconds[mid - 1] + step_seconds[mid]) / 2;
  result.samples_per_second = static_cast<double>(result.batch_size) / result.step_seconds;
  result.update_seconds = update_seconds / options.steps;
  result.minor_faults_per_step = static_cast<double>(plain.minor_faults) / options.steps;
  result.buffer_allocations_per_step = static_cast<double>(plain.allocations.buffers) / options.steps;
  result.allocated_bytes_per_step = static_cast<double>(plain.allocations.bytes) / options.steps;

  if (options.profiled_steps > 0) {
    std::vector<StepTiming> timings = profile.take();
    std::sort(timings.begin(), timings.end(),
              [](const StepTiming& a, const StepTiming& b) { return a.start_ns < b.start_ns; });
    std::map<NodeId, NodeProfile> by_node;
    result.nodes = node_profiles(driver.setup(), timings, options.profiled_steps, by_node);
    result.profiled_step_seconds = static_cast<double>(profiled_ns) / 1e9 / options.profiled_steps;
    for (const NodeProfile& p : result.nodes) result.primitive_seconds += p.primitive_seconds;
    if (!options.trace_path.empty()) write_trace(options.trace_path, timings, by_node);
  }
  result.peak_rss_bytes = peak_rss_bytes();
  return result;
}

}  // namespace graphrun
