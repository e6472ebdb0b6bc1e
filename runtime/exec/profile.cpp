#include "runtime/exec/profile.h"

#include <atomic>

namespace graphrun {
namespace {

std::atomic<ExecutionProfile*> active_profile{nullptr};

}  // namespace

int64_t ExecutionProfile::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - origin_).count();
}

void ExecutionProfile::record(const StepTiming& timing) {
  std::lock_guard lock(mutex_);
  timings_.push_back(timing);
}

std::vector<StepTiming> ExecutionProfile::take() {
  std::lock_guard lock(mutex_);
  return std::exchange(timings_, {});
}

void set_execution_profile(ExecutionProfile* profile) { active_profile.store(profile, std::memory_order_release); }

ExecutionProfile* execution_profile() { return active_profile.load(std::memory_order_acquire); }

int profile_thread_id() {
  static std::atomic<int> next{0};
  thread_local const int id = next.fetch_add(1, std::memory_order_relaxed);
  return id;
}

}  // namespace graphrun
