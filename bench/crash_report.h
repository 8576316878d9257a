// A fatal signal in txc-bench (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) writes the signal and the
// stack to stderr before the process dies of it: the smoke test runs on CI machines that keep no
// core file, and a crash there would otherwise leave nothing to go on. Not in a sanitizer build,
// whose own handler reports more.
#pragma once

namespace txc::bench {

void InstallCrashReport();

}  // namespace txc::bench
