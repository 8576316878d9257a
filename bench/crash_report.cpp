#include "crash_report.h"

#include <execinfo.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <initializer_list>

namespace txc::bench {
namespace {

// Its own stack, so that a stack overflow can still be reported.
alignas(16) char alternate_stack[64 * 1024];

// strsignal may allocate or take the locale's lock: not in a signal handler.
const char* SignalName(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGILL:
      return "SIGILL";
    case SIGFPE:
      return "SIGFPE";
    case SIGABRT:
      return "SIGABRT";
    default:
      return "another signal";
  }
}

void Report(int sig) {
  // Only async-signal-safe calls (backtrace is loaded below, before any crash, so that its first
  // call does not load libgcc here).
  const char* name = SignalName(sig);
  (void)!write(STDERR_FILENO, "txc-bench: fatal signal: ", 25);
  (void)!write(STDERR_FILENO, name, strlen(name));
  (void)!write(STDERR_FILENO, "\n", 1);
  void* frames[64];
  backtrace_symbols_fd(frames, backtrace(frames, 64), STDERR_FILENO);
  // SA_RESETHAND put the default action back: the process dies of the signal, as it would have.
  raise(sig);
}

}  // namespace

void InstallCrashReport() {
#if defined(__SANITIZE_ADDRESS__)
  return;  // the sanitizer's own report of these signals says more
#endif
  void* warm[1];
  (void)backtrace(warm, 1);
  stack_t stack{};
  stack.ss_sp = alternate_stack;
  stack.ss_size = sizeof(alternate_stack);
  sigaltstack(&stack, nullptr);
  struct sigaction action {};
  action.sa_handler = Report;
  action.sa_flags = SA_RESETHAND | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) sigaction(sig, &action, nullptr);
}

}  // namespace txc::bench
