// SqliteTxLog: the durable TxLog, one SQLite file in WAL mode.
//
// Writes: Append() only queues. One writer thread takes everything queued (up to max_batch
// records, never splitting one Append's batch), applies it inside a single
// BEGIN IMMEDIATE ... COMMIT and then runs each batch's `done` in order, on the writer thread,
// with no lock held. Between groups it purges expired finished transactions (Options.retention).
// If a write, commit or sync fails the group is rolled back and the log is poisoned: that group and
// every later Append complete with kDataLoss carrying the SQLite error, and Health() returns it.
// Reopening the file is the only way back.
//
// Reads go through a second connection (serialised by a mutex) and see only committed data.
//
// Thread safety: every public method may be called from any thread. No method throws.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log/log_file_lock.h"
#include "log/tx_log.h"

namespace txc::log {

class SqliteReader;
class SqliteWriter;

// SQLite counts every allocation and free in process-wide statistics behind a global mutex: a
// lock and an unlock per allocation on the log writer's hot path, for figures the coordinator
// never reads. Turns them off. Call at the start of main, before any thread: sqlite3_config is
// not thread-safe, and once SQLite is initialised it is refused and changes nothing.
void DisableSqliteMemoryStatistics();

class SqliteTxLog final : public TxLog {
 public:
  struct Options {
    std::string path;                  // the database file; created when missing
    std::string synchronous = "FULL";  // "FULL" (fsync every commit) or "NORMAL" (faster; a
                                       // power loss may lose the last commits, never corrupt)
    size_t max_batch = 4096;           // records per commit, at most (one batch may exceed it)
    // How long lazy appends may wait for an urgent one to share its commit.
    std::chrono::microseconds lazy_delay{2000};
    int busy_timeout_ms = 5000;  // wait for a lock held by another connection
    // Retention: terminal transactions created and last updated longer ago than this are deleted
    // with their history, `purge_batch` at a time, so the file stops growing. Zero keeps them
    // forever. What a purge forgets: the transaction (GET answers 404) and its Idempotency-Key
    // (a POST retried with it later starts a new transaction). A status query about it is
    // answered "aborted" (presumed abort): right, because a committed transaction is terminal
    // only once every branch acknowledged the commit (docs/durability.md).
    std::chrono::milliseconds retention{0};
    std::chrono::milliseconds purge_every{10000};  // how often the writer looks for expired rows
    size_t purge_batch = 500;  // transactions per purge commit: bounds the pause of the writer
    // Called on the writer thread after each successful group commit / purge (metrics).
    std::function<void(size_t records, std::chrono::microseconds took)> on_commit = nullptr;
    std::function<void(size_t transactions)> on_purge = nullptr;
  };

  struct Stats {
    uint64_t appends = 0;  // batches completed with Ok
    uint64_t records = 0;  // records committed
    uint64_t commits = 0;  // successful COMMITs (group commit: usually far fewer than appends)
    uint64_t purged = 0;   // finished transactions deleted by retention
    // Times the writer held lazy records only and waited for an urgent one (or their delay).
    uint64_t lazy_waits = 0;
  };

  // Opens or creates the log, migrates its schema and starts the writer thread. Only one open
  // log per file at a time, across processes (log_file_lock.h).
  // Errors: kInvalidArgument (bad options), kFailedPrecondition (schema newer than this code, or
  // the file is in use by another open log), kUnavailable (cannot open or lock the file),
  // kInternal (other SQLite failures).
  static Result<std::unique_ptr<SqliteTxLog>> Open(const Options& options);

  // Close()s.
  ~SqliteTxLog() override;
  SqliteTxLog(const SqliteTxLog&) = delete;
  SqliteTxLog& operator=(const SqliteTxLog&) = delete;

  // See TxLog. After Close(), `done` runs at once on the caller's thread with kUnavailable.
  void Append(std::vector<core::LogRecord> records, Done done,
              Urgency urgency = Urgency::kUrgent) override;
  Result<std::vector<core::Transaction>> LoadUnfinished() override;
  Result<std::optional<core::Transaction>> Find(const std::string& id, bool with_history) override;
  Result<std::optional<core::Transaction>> FindByIdempotencyKey(const std::string& key) override;
  // Newest first; limit is clamped to 1..1000; a malformed cursor is kInvalidArgument.
  Result<TxPage> List(const TxFilter& filter) override;
  Status Health() override;

  // Completes everything already queued, stops the writer thread and releases the file to the
  // next log opened on it. Idempotent. Reads keep working afterwards. Must not be called (nor the
  // log destroyed) from a `done` callback, which runs on the writer thread it would join.
  void Close();

  Stats stats() const;
  uint64_t commits() const { return commits_.load(); }

 private:
  struct Pending {
    std::vector<core::LogRecord> records;
    Done done;
    bool urgent = true;
    std::chrono::steady_clock::time_point queued_at;
  };

  SqliteTxLog(Options options, LogFileLock lock, std::unique_ptr<SqliteWriter> writer,
              std::unique_ptr<SqliteReader> reader);
  void WriterLoop();
  // Applies one group and completes its batches. Runs on the writer thread, mu_ not held.
  void WriteGroup(std::vector<Pending>& group);
  // Deletes one batch of expired transactions; returns when the next purge is due. Writer thread.
  std::chrono::steady_clock::time_point Purge();

  const Options options_;
  LogFileLock lock_;                      // released by Close(), once nothing more is written
  std::unique_ptr<SqliteWriter> writer_;  // used only by the writer thread
  std::unique_ptr<SqliteReader> reader_;  // internally synchronised

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  size_t urgent_queued_ = 0;   // guarded by mu_: urgent batches in queue_
  bool stopping_ = false;      // guarded by mu_
  Status poison_;              // guarded by mu_; not Ok once a write failed
  std::thread thread_;         // joined by Close(); Close() is serialised by close_mu_
  std::mutex close_mu_;

  std::atomic<uint64_t> appends_{0};
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> purged_{0};
  std::atomic<uint64_t> lazy_waits_{0};
};

}  // namespace txc::log
