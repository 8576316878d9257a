// Helpers shared by the log tests: sample transactions, waiting for `done`, and TempDir.
#pragma once

#include <stdlib.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "log/tx_log.h"
#include "temp_dir.h"

namespace txc::log::test {

using core::Transaction;

using ::txc::testing::TempDir;

inline core::TimePoint At(int64_t offset_ms) {
  return core::FromMillis(1'700'000'000'000 + offset_ms);
}

inline Transaction MakeTx(const std::string& id, int branches = 2,
                          core::Protocol protocol = core::Protocol::kTwoPhase,
                          const std::string& key = "") {
  Transaction tx;
  tx.id = id;
  tx.protocol = protocol;
  tx.timeout = core::Duration(1500);
  tx.created_at = At(1);
  tx.updated_at = At(2);
  tx.idempotency_key = key;
  tx.request_hash = key.empty() ? "" : "sha256:" + key;
  for (int i = 0; i < branches; ++i) {
    core::Branch b;
    b.index = i;
    b.participant = "svc" + std::to_string(i);
    b.payload = {{"sku", "A-" + std::to_string(i)}, {"qty", i + 1}, {"note", "caf\u00e9"}};
    tx.branches.push_back(b);
  }
  return tx;
}

inline core::LogRecord Created(const Transaction& tx) { return core::TxCreated{tx}; }

inline core::LogRecord StateChanged(const std::string& id, core::TxState s,
                                    const std::string& reason = "", int64_t at = 10) {
  return core::TxStateChanged{id, s, reason, At(at)};
}

// Appends and waits for `done`; returns its status.
inline Status AppendSync(TxLog& log, std::vector<core::LogRecord> records) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> f = promise->get_future();
  log.Append(std::move(records), [promise](Status st) { promise->set_value(std::move(st)); });
  if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return Status::DeadlineExceeded("done never called");
  }
  return f.get();
}

// Counts `done` calls per slot, so a test can check each ran exactly once and with what.
class Completions {
 public:
  explicit Completions(size_t n) : calls_(n, 0), statuses_(n) {}

  TxLog::Done Track(size_t slot) {
    return [this, slot](Status st) {
      std::lock_guard lock(mu_);
      ++calls_[slot];
      statuses_[slot] = std::move(st);
      ++total_;
      cv_.notify_all();
    };
  }
  bool WaitAll() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return total_ >= calls_.size(); });
  }
  size_t total() {
    std::lock_guard lock(mu_);
    return total_;
  }
  int calls(size_t slot) {
    std::lock_guard lock(mu_);
    return calls_[slot];
  }
  Status status(size_t slot) {
    std::lock_guard lock(mu_);
    return statuses_[slot];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> calls_;        // guarded by mu_
  std::vector<Status> statuses_;  // guarded by mu_
  size_t total_ = 0;              // guarded by mu_
};

inline void ExpectSameAttempt(const core::Attempt& a, const core::Attempt& b) {
  EXPECT_EQ(a.op, b.op);
  EXPECT_EQ(a.number, b.number);
  EXPECT_EQ(a.at, b.at);
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.latency_us, b.latency_us);
}

inline void ExpectSameEvent(const core::TxEvent& a, const core::TxEvent& b) {
  EXPECT_EQ(a.at, b.at);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.branch, b.branch);
  EXPECT_EQ(a.detail, b.detail);
}

// Field-by-field equality of everything the log stores (history and events too).
inline void ExpectSameTx(const Transaction& got, const Transaction& want) {
  SCOPED_TRACE("tx " + want.id);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.protocol, want.protocol);
  EXPECT_EQ(got.state, want.state);
  EXPECT_EQ(got.timeout, want.timeout);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.updated_at, want.updated_at);
  EXPECT_EQ(got.reason, want.reason);
  EXPECT_EQ(got.idempotency_key, want.idempotency_key);
  EXPECT_EQ(got.request_hash, want.request_hash);
  EXPECT_EQ(got.traceparent, want.traceparent);
  EXPECT_EQ(got.retry_budget.max_attempts, want.retry_budget.max_attempts);
  EXPECT_EQ(got.retry_budget.deadline, want.retry_budget.deadline);
  EXPECT_EQ(got.needs_attention, want.needs_attention);
  ASSERT_EQ(got.branches.size(), want.branches.size());
  for (size_t i = 0; i < want.branches.size(); ++i) {
    const core::Branch& g = got.branches[i];
    const core::Branch& w = want.branches[i];
    SCOPED_TRACE("branch " + std::to_string(w.index));
    EXPECT_EQ(g.index, w.index);
    EXPECT_EQ(g.participant, w.participant);
    EXPECT_EQ(g.payload, w.payload);
    EXPECT_EQ(g.after, w.after);
    EXPECT_EQ(g.state, w.state);
    EXPECT_EQ(g.op, w.op);
    EXPECT_EQ(g.op_attempt, w.op_attempt);
    EXPECT_EQ(g.attempts, w.attempts);
    EXPECT_EQ(g.last_error, w.last_error);
    EXPECT_EQ(g.needs_attention, w.needs_attention);
    EXPECT_EQ(g.op_since, w.op_since);
    ASSERT_EQ(g.history.size(), w.history.size());
    for (size_t k = 0; k < w.history.size(); ++k) ExpectSameAttempt(g.history[k], w.history[k]);
  }
  ASSERT_EQ(got.events.size(), want.events.size());
  for (size_t k = 0; k < want.events.size(); ++k) ExpectSameEvent(got.events[k], want.events[k]);
}

inline std::vector<std::string> Ids(const std::vector<Transaction>& txs) {
  std::vector<std::string> ids;
  for (const Transaction& tx : txs) ids.push_back(tx.id);
  return ids;
}

}  // namespace txc::log::test
