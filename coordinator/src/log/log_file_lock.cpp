#include "log/log_file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

namespace txc::log {
namespace {

// What the holder wrote into the lock file, up to its newline: its pid, or "" if there is none
// yet. (The holder writes before it truncates, so what follows the newline may be older text.)
std::string HolderOf(int fd) {
  std::array<char, 32> buf{};
  const ssize_t n = pread(fd, buf.data(), buf.size(), 0);
  const std::string_view text(buf.data(), n > 0 ? static_cast<size_t>(n) : 0);
  const size_t end = text.find('\n');
  return end == std::string_view::npos ? std::string() : std::string(text.substr(0, end));
}

}  // namespace

Result<LogFileLock> LogFileLock::Acquire(const std::string& log_path) {
  // One lock per file, not per spelling of its path (a symlink, "./", a relative path).
  std::error_code ec;
  const std::filesystem::path canonical = std::filesystem::weakly_canonical(log_path, ec);
  const std::string path = (ec ? log_path : canonical.string()) + ".lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Unavailable("cannot open the log's lock file " + path + ": " +
                               std::strerror(errno));
  }
  LogFileLock lock(fd);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {  // LOCK_NB: it never waits, so no EINTR to retry
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
  // Written before the truncation, so that a refused opener reading meanwhile never finds it empty.
  const std::string pid = std::to_string(getpid()) + "\n";
  if (pwrite(fd, pid.data(), pid.size(), 0) == static_cast<ssize_t>(pid.size())) {
    (void)ftruncate(fd, static_cast<off_t>(pid.size()));
  }
  return lock;
}

LogFileLock::LogFileLock(LogFileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

LogFileLock::~LogFileLock() { Release(); }

void LogFileLock::Release() {
  // Closing the only descriptor of the open file releases the flock.
  if (fd_ >= 0) (void)close(std::exchange(fd_, -1));
}

}  // namespace txc::log
