// SIGINT and SIGTERM while `graphrun train` runs: the handler only records the
// signal; the training loop looks after each step, writes a resumable checkpoint
// and returns. A second signal ends the process at once (SA_RESETHAND puts the
// default action back when the first one arrives).
#pragma once

#include <signal.h>

namespace graphrun {

// Installs the handlers for as long as it lives, then restores the previous ones.
// A signal the process ignores (started under nohup) stays ignored.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The signal received since construction (SIGINT or SIGTERM), else 0.
  int received() const;

 private:
  struct sigaction previous_interrupt_ {};
  struct sigaction previous_terminate_ {};
};

// "SIGINT" or "SIGTERM" (else "a signal").
const char* signal_name(int signal);

}  // namespace graphrun
