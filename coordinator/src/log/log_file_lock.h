// LogFileLock: one coordinator per log. Two coordinators on one file would both recover the same
// unfinished transactions and could decide them differently (one aborts on recovery what the
// other is committing), so the second one must refuse to start. The lock is an flock on
// "<log>.lock", a file of its own: SQLite's POSIX locks on the database file stay untouched (on
// NFS, Linux emulates flock with POSIX locks, which would collide with SQLite's on the same
// file). The kernel releases it when the process dies, however it dies. The lock file is never
// removed: deleting it under a running coordinator would let a second one take a new one. On a
// network filesystem flock may exclude nothing (nor, there, a second lock in the same process).
#pragma once

#include <string>

#include "txc/status.h"

namespace txc::log {

class LogFileLock {
 public:
  // kFailedPrecondition, naming the holder's pid, when another LogFileLock (in this process or
  // another) holds the lock; kUnavailable when the lock file cannot be opened or locked.
  static Result<LogFileLock> Acquire(const std::string& log_path);

  LogFileLock(LogFileLock&& other) noexcept;
  LogFileLock& operator=(LogFileLock&& other) = delete;
  LogFileLock(const LogFileLock&) = delete;
  LogFileLock& operator=(const LogFileLock&) = delete;
  ~LogFileLock();  // Release()

  void Release();  // idempotent

 private:
  explicit LogFileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace txc::log
