#include "runtime/train/stop_signals.h"

#include <csignal>

namespace graphrun {
namespace {

volatile std::sig_atomic_t received_signal = 0;

extern "C" void record_signal(int signal) { received_signal = signal; }

void install(int signal, struct sigaction* previous) {
  struct sigaction action {};
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  // SA_RESTART: system calls the signal interrupts (file writes, the prefetcher's waits) carry on.
  action.sa_flags = SA_RESTART | SA_RESETHAND;
  ::sigaction(signal, &action, previous);
  if (previous->sa_handler == SIG_IGN) ::sigaction(signal, previous, nullptr);
}

}  // namespace

StopSignals::StopSignals() {
  received_signal = 0;
  install(SIGINT, &previous_interrupt_);
  install(SIGTERM, &previous_terminate_);
}

StopSignals::~StopSignals() {
  ::sigaction(SIGINT, &previous_interrupt_, nullptr);
  ::sigaction(SIGTERM, &previous_terminate_, nullptr);
}

int StopSignals::received() const { return received_signal; }

const char* signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "a signal";
}

}  // namespace graphrun
