#include "log/sqlite_tx_log.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <utility>

#include "applog/applog.h"
#include "log/sqlite_reader.h"
#include "log/sqlite_writer.h"

namespace txc::log {
namespace {

Result<std::string> NormaliseSynchronous(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (s != "FULL" && s != "NORMAL") {
    return Status::InvalidArgument("synchronous must be FULL or NORMAL, not '" + s + "'");
  }
  return s;
}

}  // namespace

void DisableSqliteMemoryStatistics() { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

Result<std::unique_ptr<SqliteTxLog>> SqliteTxLog::Open(const Options& options) {
  if (options.path.empty() || options.path == ":memory:") {
    // Two connections must see the same database, so it has to be a file.
    return Status::InvalidArgument("tx log path must name a file");
  }
  if (options.max_batch == 0) return Status::InvalidArgument("max_batch must be at least 1");
  if (options.busy_timeout_ms < 0) return Status::InvalidArgument("busy_timeout_ms is negative");
  if (options.retention.count() < 0) return Status::InvalidArgument("retention is negative");
  if (options.retention.count() > 0 &&
      (options.purge_batch == 0 || options.purge_every.count() <= 0)) {
    return Status::InvalidArgument("purge_batch and purge_every must be positive");
  }
  Options opts = options;
  TXC_ASSIGN_OR_RETURN(opts.synchronous, NormaliseSynchronous(options.synchronous));

  // Before anything touches the file: a second coordinator must not even migrate it.
  TXC_ASSIGN_OR_RETURN(LogFileLock lock, LogFileLock::Acquire(opts.path));
  // The writer opens first: it creates the file, enables WAL and migrates the schema, all of
  // which the reader relies on.
  TXC_ASSIGN_OR_RETURN(std::unique_ptr<SqliteWriter> writer,
                       SqliteWriter::Open(opts.path, opts.synchronous, opts.busy_timeout_ms));
  TXC_ASSIGN_OR_RETURN(std::unique_ptr<SqliteReader> reader,
                       SqliteReader::Open(opts.path, opts.busy_timeout_ms));
  std::unique_ptr<SqliteTxLog> log(
      new SqliteTxLog(std::move(opts), std::move(lock), std::move(writer), std::move(reader)));
  try {
    log->thread_ = std::thread(&SqliteTxLog::WriterLoop, log.get());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("start tx log writer thread: ") + e.what());
  }
  return log;
}

SqliteTxLog::SqliteTxLog(Options options, LogFileLock lock, std::unique_ptr<SqliteWriter> writer,
                         std::unique_ptr<SqliteReader> reader)
    : options_(std::move(options)),
      lock_(std::move(lock)),
      writer_(std::move(writer)),
      reader_(std::move(reader)) {}

SqliteTxLog::~SqliteTxLog() { Close(); }

void SqliteTxLog::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  lock_.Release();
}

void SqliteTxLog::Append(std::vector<core::LogRecord> records, Done done, Urgency urgency) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      // Even a poisoned log queues: `done` then still runs on the writer thread, as promised,
      // and never re-entrantly inside the caller.
      const bool urgent = urgency == Urgency::kUrgent;
      // The writer waits for a first record, or, holding lazy ones, for an urgent one: waking it
      // for another lazy record would only put it back to sleep (a context switch for nothing).
      const bool wake = urgent || queue_.empty();
      queue_.push_back(
          Pending{std::move(records), std::move(done), urgent, std::chrono::steady_clock::now()});
      if (urgent) ++urgent_queued_;
      if (wake) cv_.notify_one();
      return;
    }
  }
  if (done) done(Status::Unavailable("tx log is closed"));
}

void SqliteTxLog::WriterLoop() {
  using Clock = std::chrono::steady_clock;
  const bool retain_all = options_.retention.count() == 0;
  Clock::time_point next_purge = Clock::now();
  std::vector<Pending> group;
  while (true) {
    {
      std::unique_lock lock(mu_);
      const auto ready = [this] { return stopping_ || !queue_.empty(); };
      if (retain_all) {
        cv_.wait(lock, ready);
      } else {
        cv_.wait_until(lock, next_purge, ready);
      }
      if (queue_.empty()) {
        if (stopping_) return;  // everything queued has been completed
      } else {
        // Only lazy records so far: give an urgent append a moment to come and share the commit.
        if (urgent_queued_ == 0) lazy_waits_.fetch_add(1);  // counted under mu_: see Stats
        cv_.wait_until(lock, queue_.front().queued_at + options_.lazy_delay,
                       [this] { return stopping_ || urgent_queued_ > 0; });
        // Take whole batches while they fit in max_batch; the first is taken even when larger.
        size_t records = 0;
        while (!queue_.empty()) {
          size_t n = queue_.front().records.size();
          if (!group.empty() && records + n > options_.max_batch) break;
          records += n;
          if (queue_.front().urgent) --urgent_queued_;
          group.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
    }
    if (!group.empty()) {
      WriteGroup(group);
      group.clear();  // frees the records and callbacks here, outside mu_
    }
    // Checked after every group too: under steady load the queue is never empty.
    if (!retain_all && Clock::now() >= next_purge) next_purge = Purge();
  }
}

std::chrono::steady_clock::time_point SqliteTxLog::Purge() {
  // A backlog (say, the first start with weeks of history) is worked off one batch per pause,
  // so that purge commits take a bounded share of the writer: at most 500 per 20 ms by default,
  // far above any sustained rate of finished transactions.
  constexpr std::chrono::milliseconds kBacklogPause{20};
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (!poison_.ok() || stopping_) return now + options_.purge_every;
  }
  const auto cutoff =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) -
      options_.retention;
  Result<size_t> purged = Status::Internal("purge did not run");
  try {
    purged = writer_->PurgeFinished(cutoff.time_since_epoch().count(), options_.purge_batch);
  } catch (const std::exception& e) {  // only bad_alloc is possible; don't unwind the thread
    purged = Status::Internal(e.what());
  }
  if (!purged.ok()) {
    if (purged.status().code() == StatusCode::kDataLoss) {
      // The commit failed: the file can no longer be trusted, for decisions least of all.
      std::lock_guard lock(mu_);
      if (poison_.ok()) poison_ = Status::DataLoss("tx log poisoned: " + purged.status().message());
    } else {
      // Rolled back, nothing uncertain on disk: a failed clean-up must not stop the decisions.
      applog::Write(
          applog::Level::kWarn, "log.purge_failed",
          {{"error", purged.status().ToString()}, {"retry_in_ms", options_.purge_every.count()}});
    }
    return now + options_.purge_every;
  }
  purged_.fetch_add(*purged);
  if (options_.on_purge && *purged > 0) options_.on_purge(*purged);
  return *purged == options_.purge_batch ? now + kBacklogPause : now + options_.purge_every;
}

void SqliteTxLog::WriteGroup(std::vector<Pending>& group) {
  Status st;
  {
    std::lock_guard lock(mu_);
    st = poison_;
  }
  if (st.ok()) {
    std::vector<const std::vector<core::LogRecord>*> batches;
    size_t records = 0;
    for (const Pending& p : group) {
      batches.push_back(&p.records);
      records += p.records.size();
    }
    Status written;
    const auto started = std::chrono::steady_clock::now();
    if (records > 0) {
      try {
        written = writer_->ApplyGroup(batches);
      } catch (const std::exception& e) {  // only bad_alloc is possible; don't unwind the thread
        written = Status::Internal(e.what());
      }
    }
    if (written.ok()) {
      if (records > 0) {
        commits_.fetch_add(1);
        if (options_.on_commit) {
          options_.on_commit(records, std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - started));
        }
      }
      records_.fetch_add(records);
      appends_.fetch_add(group.size());
    } else {
      // Whether or not the file holds the group, nothing later may be acknowledged: the engine
      // must not send a decision it cannot prove was logged.
      st = Status::DataLoss("tx log poisoned: " + written.message());
      std::lock_guard lock(mu_);
      if (poison_.ok()) poison_ = st;
    }
  }
  for (Pending& p : group) {
    if (!p.done) continue;
    try {
      p.done(st);
    } catch (const std::exception& e) {  // the writer thread is a boundary: keep it alive
      applog::Write(applog::Level::kError, "log.callback_threw", {{"error", e.what()}});
    } catch (...) {
      applog::Write(applog::Level::kError, "log.callback_threw");
    }
  }
}

Result<std::vector<core::Transaction>> SqliteTxLog::LoadUnfinished() {
  return reader_->LoadUnfinished();
}

Result<std::optional<core::Transaction>> SqliteTxLog::Find(const std::string& id,
                                                           bool with_history) {
  return reader_->Find(id, with_history);
}

Result<std::optional<core::Transaction>> SqliteTxLog::FindByIdempotencyKey(const std::string& key) {
  return reader_->FindByIdempotencyKey(key);
}

Result<TxPage> SqliteTxLog::List(const TxFilter& filter) { return reader_->List(filter); }

Status SqliteTxLog::Health() {
  std::lock_guard lock(mu_);
  return poison_;
}

SqliteTxLog::Stats SqliteTxLog::stats() const {
  Stats s;
  s.appends = appends_.load();
  s.records = records_.load();
  s.commits = commits_.load();
  s.purged = purged_.load();
  s.lazy_waits = lazy_waits_.load();
  return s;
}

}  // namespace txc::log
