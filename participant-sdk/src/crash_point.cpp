#include "txc/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace txc {
namespace {

struct Armed {
  std::string point;
  std::atomic<int> remaining{0};
};

// Read once; the environment does not change under a running coordinator.
Armed* LoadArmed() {
  const char* spec = std::getenv("TXC_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return nullptr;
  auto* armed = new Armed;  // lives for the process
  std::string s(spec);
  const auto at = s.rfind('@');
  int count = 1;
  if (at != std::string::npos) {
    count = std::atoi(s.c_str() + at + 1);
    s.resize(at);
  }
  armed->point = s;
  armed->remaining = count > 0 ? count : 1;
  std::fprintf(stderr, "txc: crash point armed: %s (passage %d)\n", s.c_str(),
               armed->remaining.load());
  return armed;
}

Armed* GetArmed() {
  static Armed* armed = LoadArmed();
  return armed;
}

}  // namespace

bool CrashPointsArmed() { return GetArmed() != nullptr; }

void CrashPoint(std::string_view point, const std::function<void()>& before) {
  Armed* armed = GetArmed();
  if (armed == nullptr || point != armed->point) return;
  if (armed->remaining.fetch_sub(1) != 1) return;
  if (before) before();
  std::fprintf(stderr, "txc: crash point %s reached: killing the process\n", armed->point.c_str());
  std::fflush(stderr);
  kill(getpid(), SIGKILL);
  _exit(137);  // not reached
}

}  // namespace txc
