#include "runtime/exec/executor.h"

#include <omp.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <atomic>
#include <boost/container/small_vector.hpp>
#include <memory>
#include <thread>

#include "ops/dnnl_util.h"
#include "runtime/exec/profile.h"

namespace graphrun {
namespace {

// OpenMP's team size before graphrun changed any (OMP_NUM_THREADS or all cores).
int default_omp_threads() {
  static const int threads = omp_get_max_threads();
  return threads;
}

// This thread's OpenMP team size within a scope: set by use() when it changes, the
// previous size restored at the end. A serial run holds one for all its steps, so
// consecutive steps with the same team pay no call (two per node at batch 1 before).
class OmpTeam {
 public:
  OmpTeam() : previous_(omp_get_max_threads()), current_(previous_) {}
  ~OmpTeam() {
    if (current_ != previous_) omp_set_num_threads(previous_);
  }
  OmpTeam(const OmpTeam&) = delete;
  OmpTeam& operator=(const OmpTeam&) = delete;

  void use(int threads) {
    if (threads == current_) return;
    omp_set_num_threads(threads);
    current_ = threads;
  }

 private:
  int previous_, current_;
};

// The mutable state of one execution of a plan.
class PlanRun {
 public:
  PlanRun(const Plan& plan, const RunBuffers& buffers, const RunContext& run, const ExecutionPolicy& policy)
      : plan_(plan),
        buffers_(buffers),
        run_(run),
        policy_(policy),
        profile_(execution_profile()),
        arena_(plan.acquire_arena()),
        // Every kernel writes all of its outputs: fetched buffers need no zero fill.
        fetched_(plan.acquire_fetch_buffers()) {}
  ~PlanRun() {
    plan_.retire_fetch_buffers(std::move(fetched_));
    plan_.release_arena(std::move(arena_));
  }
  PlanRun(const PlanRun&) = delete;
  PlanRun& operator=(const PlanRun&) = delete;

  void run_serial() {
    OmpTeam team;
    for (size_t s = 0; s < plan_.steps().size(); ++s) run_step(s, /*alone=*/true, team);
  }

  // In `arena`, or with none in the arena the calling thread is in (the host's).
  void run_parallel(tbb::task_arena* arena) {
    const auto& steps = plan_.steps();
    pending_ = std::make_unique<std::atomic<int>[]>(steps.size());
    for (size_t s = 0; s < steps.size(); ++s) pending_[s].store(steps[s].num_predecessors, std::memory_order_relaxed);
    auto run_all = [&] {
      tbb::task_group group;
      for (size_t s = 0; s < steps.size(); ++s)
        if (steps[s].num_predecessors == 0) spawn(group, s);
      group.wait();  // rethrows the first error; the group cancels the remaining tasks
    };
    if (arena)
      arena->execute(run_all);
    else
      run_all();
  }

  std::vector<Tensor> take_fetches() const {
    std::vector<Tensor> out;
    for (const Slot& slot : plan_.fetch_slots()) {
      if (slot.source == Slot::Source::feed)
        out.push_back((*buffers_.feeds)[slot.index]);
      else if (slot.source == Slot::Source::parameter)  // a copy: the caller never writes a session's parameter
        out.push_back((*buffers_.parameters)[slot.index].clone());
      else
        out.push_back(fetched_[slot.index]);  // a fetched node output is in its fetch buffer
    }
    return out;
  }

 private:
  void spawn(tbb::task_group& group, size_t s) {
    group.run([this, &group, s] {
      const bool alone = running_.fetch_add(1, std::memory_order_acq_rel) == 0;
      OmpTeam team;  // this task's thread: TBB's, or the caller's
      run_step(s, alone, team);
      running_.fetch_sub(1, std::memory_order_acq_rel);
      for (int next : plan_.steps()[s].successors)
        if (pending_[static_cast<size_t>(next)].fetch_sub(1, std::memory_order_acq_rel) == 1)
          spawn(group, static_cast<size_t>(next));
    });
  }

  // `alone`: no other step of this run executes meanwhile.
  void run_step(size_t s, bool alone, OmpTeam& team_scope) {
    const PlanStep& step = plan_.steps()[s];
    // The OpenMP team size is per thread and sticky: set for the step and restored
    // after it (after the whole run when serial), so neither another session's run nor
    // the host's own OpenMP code on this thread (a caller's thread, or a TBB worker the
    // host shares) sees it.
    // Automatic: the whole team only for a large step running alone; when
    // steps overlap, TBB already keeps the cores busy.
    const int team = policy_.intra_op_threads > 0                        ? policy_.intra_op_threads
                     : alone && step.work_elements >= kLargeStepElements ? default_omp_threads()
                                                                         : 1;
    team_scope.use(team);
    // On the stack: a step of a small model takes a few microseconds, and two vectors'
    // allocations were a tenth of that.
    boost::container::small_vector<const void*, 16> inputs;
    for (const Slot& slot : step.inputs) inputs.push_back(address(slot));
    boost::container::small_vector<void*, 8> outputs;
    for (const Slot& slot : step.outputs) outputs.push_back(const_cast<void*>(address(slot)));
    const KernelIO io{
        {inputs.data(), inputs.size()}, {outputs.data(), outputs.size()}, arena_.get() + step.scratchpad_offset, &run_};
    if (profile_ == nullptr)
      step.kernel->run(io);
    else
      run_profiled(step, io);
  }

  void run_profiled(const PlanStep& step, const KernelIO& io) {
    StepTiming timing{step.node, profile_->now_ns(), 0, 0, profile_thread_id()};
    int64_t* previous_sink = set_primitive_time_sink(&timing.primitive_ns);
    try {
      step.kernel->run(io);
    } catch (...) {
      set_primitive_time_sink(previous_sink);
      throw;
    }
    set_primitive_time_sink(previous_sink);
    timing.end_ns = profile_->now_ns();
    profile_->record(timing);
  }

  const void* address(const Slot& slot) {
    switch (slot.source) {
      case Slot::Source::arena:
        return arena_.get() + slot.index;
      case Slot::Source::feed:
        return (*buffers_.feeds)[slot.index].raw_data();
      case Slot::Source::parameter:
        return (*buffers_.parameters)[slot.index].raw_data();
      case Slot::Source::fetch:
        return fetched_[slot.index].raw_data();
    }
    return nullptr;
  }

  const Plan& plan_;
  const RunBuffers& buffers_;
  const RunContext& run_;
  const ExecutionPolicy& policy_;
  ExecutionProfile* const profile_;  // nullptr: not profiling
  std::shared_ptr<std::byte> arena_;
  std::vector<Tensor> fetched_;
  std::unique_ptr<std::atomic<int>[]> pending_;
  std::atomic<int> running_{0};  // steps executing right now (parallel runs only)
};

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

std::vector<Tensor> execute_plan(const Plan& plan, const RunBuffers& buffers, const RunContext& run,
                                 const ExecutionPolicy& policy) {
  default_omp_threads();  // capture the default before any step changes it
  PlanRun state(plan, buffers, run, policy);
  const int threads = policy.inter_op_threads > 0          ? policy.inter_op_threads
                      : plan.has_independent_large_steps() ? resolve_threads(0)
                                                           : 1;
  if (policy.caller_arena && plan.has_independent_large_steps() && plan.steps().size() > 1) {
    state.run_parallel(nullptr);  // the host's arena bounds the concurrency
  } else if (threads == 1 || plan.steps().size() <= 1) {
    state.run_serial();
  } else {
    // One arena per thread count, shared by all runs with that policy.
    thread_local std::unique_ptr<tbb::task_arena> arena;
    if (!arena || arena->max_concurrency() != threads) arena = std::make_unique<tbb::task_arena>(threads);
    state.run_parallel(arena.get());
  }
  return state.take_fetches();
}

}  // namespace graphrun
