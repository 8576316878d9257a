#include "log/log_file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

namespace txc::log {
namespace {

// What the holder wrote into the lock file: its pid, or "" if it could not be read.
std::string HolderOf(int fd) {
  std::array<char, 32> buf{};
  const ssize_t n = pread(fd, buf.data(), buf.size() - 1, 0);
  std::string pid(buf.data(), n > 0 ? static_cast<size_t>(n) : 0);
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == '\0')) pid.pop_back();
  return pid;
}

}  // namespace

Result<LogFileLock> LogFileLock::Acquire(const std::string& log_path) {
  const std::string path = log_path + ".lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Unavailable("cannot open the log's lock file " + path + ": " +
                               std::strerror(errno));
  }
  LogFileLock lock(fd);
  int rc = 0;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno != EWOULDBLOCK) {
      return Status::Unavailable("cannot lock " + path + ": " + std::strerror(errno));
    }
    const std::string holder = HolderOf(fd);
    return Status::FailedPrecondition(
        "the log " + log_path + " is in use by another coordinator" +
        (holder.empty() ? std::string() : " (pid " + holder + ")") +
        ": one coordinator per log, or both would drive the same transactions");
  }
  // Only for the message above: the lock itself is the flock, not the file's contents.
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) == 0) (void)!pwrite(fd, pid.data(), pid.size(), 0);
  return lock;
}

LogFileLock::LogFileLock(LogFileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

LogFileLock& LogFileLock::operator=(LogFileLock&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

LogFileLock::~LogFileLock() { Release(); }

void LogFileLock::Release() {
  // Closing the only descriptor of the open file releases the flock.
  if (fd_ >= 0) (void)close(std::exchange(fd_, -1));
}

}  // namespace txc::log
