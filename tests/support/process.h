// Process: a child process for end-to-end and fault tests (the coordinator, participants),
// with its output in a log file. The child dies with the test (PR_SET_PDEATHSIG), so a crashed
// or killed test leaves nothing running; the destructor kills and reaps it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace txc::testing {

// The whole content of a file ("" if it cannot be read).
std::string ReadFile(const std::string& path);

class Process {
 public:
  // Starts argv[0] (looked up in PATH if it has no '/') with `env` (NAME=VALUE) added to this
  // process's environment; stdout and stderr are appended to `log_path`. nullptr if fork fails.
  static std::unique_ptr<Process> Start(const std::vector<std::string>& argv,
                                        const std::vector<std::string>& env,
                                        const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  bool Running();
  void Signal(int sig);
  // Waits until the process exits; its wait status, or nullopt if it is still running then.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // SIGKILL and reap (no-op once it has exited).
  void Kill();
  std::string Log() const;

 private:
  Process(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  bool Reap(int options);

  pid_t pid_;
  std::string log_path_;
  std::optional<int> status_;
};

}  // namespace txc::testing
