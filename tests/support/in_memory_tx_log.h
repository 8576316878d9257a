// InMemoryTxLog: a deterministic TxLog for engine and service tests.
//
// Append() keeps each batch pending. With auto_complete (the default) it is applied and its
// `done(Ok)` runs at once, inline on the caller's thread. Otherwise batches wait for
// CompleteAll() (apply, then done(Ok), in order) or vanish with DropPending() (a crash before
// the group commit: `done` never runs). Poison(status) fails every later Append inline.
// Snapshot() replays the durable records into a fresh log: a restart from the same file.
//
// Record semantics mirror SqliteTxLog: a batch is applied atomically; a duplicate transaction id
// or idempotency key, or a record naming an unknown transaction or branch, fails the batch with
// kDataLoss and poisons the log. Reads see only applied (durable) batches.
//
// Thread-safe; `done` callbacks run with no lock held, so they may call back into the log.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "log/tx_log.h"

namespace txc::testing {

class InMemoryTxLog : public log::TxLog {
 public:
  explicit InMemoryTxLog(bool auto_complete = true) : auto_complete_(auto_complete) {}

  void set_auto_complete(bool on) {
    std::lock_guard lock(mu_);
    auto_complete_ = on;
  }

  void Append(std::vector<core::LogRecord> records, Done done,
              Urgency = Urgency::kUrgent) override {
    std::unique_lock lock(mu_);
    if (!poison_.ok()) {
      Status st = poison_;
      lock.unlock();
      if (done) done(st);
      return;
    }
    ++appends_;
    pending_.push_back(Pending{std::move(records), std::move(done)});
    if (!auto_complete_) return;
    lock.unlock();
    CompleteAll();
  }

  // Applies every pending batch in order and runs its `done`; returns how many completed.
  size_t CompleteAll() {
    std::vector<std::pair<Done, Status>> dones;
    {
      std::lock_guard lock(mu_);
      for (Pending& p : pending_) {
        Status st = poison_.ok() ? ApplyBatch(p.records) : poison_;
        dones.emplace_back(std::move(p.done), st);
      }
      pending_.clear();
    }
    for (auto& [done, st] : dones) {
      if (done) done(st);
    }
    return dones.size();
  }

  // Forgets pending batches without applying them or running `done`; returns how many.
  size_t DropPending() {
    std::vector<Pending> dropped;  // destroyed outside the lock
    std::lock_guard lock(mu_);
    dropped.swap(pending_);
    return dropped.size();
  }

  // Every later Append (and pending batches completed later) fails with `status`.
  void Poison(Status status) {
    std::lock_guard lock(mu_);
    poison_ = std::move(status);
  }

  size_t pending_batches() const {
    std::lock_guard lock(mu_);
    return pending_.size();
  }
  size_t appends() const {  // batches accepted by Append (not failed at once)
    std::lock_guard lock(mu_);
    return appends_;
  }

  // All applied records, in order.
  std::vector<core::LogRecord> durable_records() const {
    std::lock_guard lock(mu_);
    return durable_;
  }

  // A fresh log rebuilt from the durable records only: pending batches and poison are gone.
  std::unique_ptr<InMemoryTxLog> Snapshot(bool auto_complete = true) const {
    auto copy = std::make_unique<InMemoryTxLog>(auto_complete);
    copy->durable_ = durable_records();
    // The copy is not shared yet, so no lock. These records applied once, so they apply again.
    for (const core::LogRecord& r : copy->durable_) (void)copy->ApplyLocked(r);
    return copy;
  }

  Result<std::vector<core::Transaction>> LoadUnfinished() override {
    std::lock_guard lock(mu_);
    std::vector<core::Transaction> out;
    for (const core::Transaction& tx : txs_) {
      if (!core::IsTerminal(tx.state)) out.push_back(WithoutHistory(tx));
    }
    return out;
  }

  Result<std::optional<core::Transaction>> Find(const std::string& id, bool with_history) override {
    std::lock_guard lock(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return std::optional<core::Transaction>();
    const core::Transaction& tx = txs_[it->second];
    return std::optional<core::Transaction>(with_history ? tx : WithoutHistory(tx));
  }

  Result<std::optional<core::Transaction>> FindByIdempotencyKey(const std::string& key) override {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(key);
    if (key.empty() || it == by_key_.end()) return std::optional<core::Transaction>();
    return std::optional<core::Transaction>(WithoutHistory(txs_[it->second]));
  }

  // Newest first. The cursor is the decimal position (1-based creation order) of the last item.
  Result<log::TxPage> List(const log::TxFilter& filter) override {
    std::lock_guard lock(mu_);
    size_t before = txs_.size() + 1;  // exclusive upper bound on positions
    if (!filter.cursor.empty()) {
      const char* end = filter.cursor.data() + filter.cursor.size();
      auto [p, ec] = std::from_chars(filter.cursor.data(), end, before);
      if (ec != std::errc() || p != end || before == 0) {
        return Status::InvalidArgument("cursor is malformed");
      }
    }
    const auto limit = static_cast<size_t>(std::clamp(filter.limit, 1, 1000));
    log::TxPage page;
    for (size_t seq = std::min(before, txs_.size() + 1) - 1; seq >= 1; --seq) {
      const core::Transaction& tx = txs_[seq - 1];
      if (filter.state && tx.state != *filter.state) continue;
      if (filter.protocol && tx.protocol != *filter.protocol) continue;
      if (filter.needs_attention && tx.needs_attention != *filter.needs_attention) continue;
      if (page.items.size() == limit) {
        page.next_cursor = std::to_string(PositionOf(page.items.back().id));
        break;
      }
      page.items.push_back(WithoutHistory(tx));
    }
    return page;
  }

  Status Health() override {
    std::lock_guard lock(mu_);
    return poison_;
  }

 private:
  struct Pending {
    std::vector<core::LogRecord> records;
    Done done;
  };

  static core::Transaction WithoutHistory(const core::Transaction& tx) {
    core::Transaction copy = tx;
    copy.events.clear();
    for (core::Branch& b : copy.branches) b.history.clear();
    return copy;
  }

  size_t PositionOf(const std::string& id) const { return by_id_.at(id) + 1; }

  // Checks the whole batch against the state (plus what the batch itself creates) so that it
  // applies all or nothing, then applies it. Caller holds mu_.
  Status ApplyBatch(const std::vector<core::LogRecord>& records) {
    std::map<std::string, std::set<int>> created;  // tx id -> branch indexes, this batch
    std::set<std::string> keys;
    for (const core::LogRecord& r : records) {
      Status st = Check(r, created, keys);
      if (!st.ok()) {
        poison_ = Status::DataLoss("tx log poisoned: " + st.message());
        return poison_;
      }
    }
    for (const core::LogRecord& r : records) {
      (void)ApplyLocked(r);
      durable_.push_back(r);
    }
    return Status::Ok();
  }

  bool HasBranch(const std::string& id, int branch,
                 const std::map<std::string, std::set<int>>& created) const {
    if (auto c = created.find(id); c != created.end()) return c->second.count(branch) > 0;
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return false;
    const auto& bs = txs_[it->second].branches;
    return std::any_of(bs.begin(), bs.end(),
                       [&](const core::Branch& b) { return b.index == branch; });
  }

  Status Check(const core::LogRecord& record, std::map<std::string, std::set<int>>& created,
               std::set<std::string>& keys) const {
    if (const auto* c = std::get_if<core::TxCreated>(&record)) {
      const core::Transaction& tx = c->tx;
      if (by_id_.count(tx.id) || created.count(tx.id)) {
        return Status::Internal("TxCreated(" + tx.id + "): UNIQUE constraint failed: id");
      }
      if (!tx.idempotency_key.empty() &&
          (by_key_.count(tx.idempotency_key) || !keys.insert(tx.idempotency_key).second)) {
        return Status::Internal("TxCreated(" + tx.id + "): UNIQUE constraint failed: key");
      }
      std::set<int>& indexes = created[tx.id];
      for (const core::Branch& b : tx.branches) {
        if (!indexes.insert(b.index).second) {
          return Status::Internal("TxCreated(" + tx.id + "): duplicate branch index");
        }
      }
      return Status::Ok();
    }
    if (const auto* s = std::get_if<core::TxStateChanged>(&record)) {
      if (by_id_.count(s->id) || created.count(s->id)) return Status::Ok();
      return Status::Internal("TxStateChanged(" + s->id + "): no such transaction");
    }
    if (const auto* b = std::get_if<core::BranchChanged>(&record)) {
      if (HasBranch(b->id, b->branch, created)) return Status::Ok();
      return Status::Internal("BranchChanged(" + b->id + "): no such transaction or branch");
    }
    if (const auto* f = std::get_if<core::AttentionChanged>(&record)) {
      if (HasBranch(f->id, f->branch, created)) return Status::Ok();
      return Status::Internal("AttentionChanged(" + f->id + "): no such transaction or branch");
    }
    if (const auto* o = std::get_if<core::OperatorActed>(&record)) {
      if (by_id_.count(o->id) || created.count(o->id)) return Status::Ok();
      return Status::Internal("OperatorActed(" + o->id + "): no such transaction");
    }
    const auto& a = std::get<core::AttemptRecorded>(record);
    if (HasBranch(a.id, a.branch, created)) return Status::Ok();
    return Status::Internal("AttemptRecorded(" + a.id + "): no such transaction or branch");
  }

  // Applies one record already known to be valid. Caller holds mu_ (or owns the object).
  bool ApplyLocked(const core::LogRecord& record) {
    if (const auto* c = std::get_if<core::TxCreated>(&record)) {
      core::Transaction tx;  // field by field: only what the log stores survives a restart
      tx.id = c->tx.id;
      tx.protocol = c->tx.protocol;
      tx.state = c->tx.state;
      tx.timeout = c->tx.timeout;
      tx.created_at = c->tx.created_at;
      tx.updated_at = c->tx.updated_at;
      tx.reason = c->tx.reason;
      tx.idempotency_key = c->tx.idempotency_key;
      tx.request_hash = c->tx.request_hash;
      tx.traceparent = c->tx.traceparent;
      tx.retry_budget = c->tx.retry_budget;
      for (const core::Branch& src : c->tx.branches) {
        core::Branch b;
        b.index = src.index;
        b.participant = src.participant;
        b.payload = src.payload;
        b.state = src.state;
        b.op = src.op;
        b.op_attempt = src.op_attempt;
        b.attempts = src.attempts;
        b.last_error = src.last_error;
        b.after = src.after;
        b.op_since = src.op_since;
        tx.branches.push_back(std::move(b));
      }
      std::sort(tx.branches.begin(), tx.branches.end(),
                [](const core::Branch& x, const core::Branch& y) { return x.index < y.index; });
      by_id_[tx.id] = txs_.size();
      if (!tx.idempotency_key.empty()) by_key_[tx.idempotency_key] = txs_.size();
      txs_.push_back(std::move(tx));
      return true;
    }
    if (const auto* s = std::get_if<core::TxStateChanged>(&record)) {
      auto it = by_id_.find(s->id);
      if (it == by_id_.end()) return false;
      core::Transaction& tx = txs_[it->second];
      tx.state = s->state;
      tx.reason = s->reason;
      tx.updated_at = s->at;
      tx.events.push_back(core::EventOf(*s));
      return true;
    }
    if (const auto* b = std::get_if<core::BranchChanged>(&record)) {
      core::Branch* br = FindBranch(b->id, b->branch);
      if (br == nullptr) return false;
      br->state = b->state;
      br->op = b->op;
      br->op_attempt = b->op_attempt;
      br->attempts = b->attempts;
      br->last_error = b->last_error;
      br->op_since = b->op_since;
      return true;
    }
    if (const auto* f = std::get_if<core::AttentionChanged>(&record)) {
      core::Branch* br = FindBranch(f->id, f->branch);
      if (br == nullptr) return false;
      br->needs_attention = f->branch_needs_attention;
      txs_[by_id_.at(f->id)].needs_attention = f->tx_needs_attention;
      txs_[by_id_.at(f->id)].updated_at = f->at;
      txs_[by_id_.at(f->id)].events.push_back(core::EventOf(*f));
      return true;
    }
    if (const auto* o = std::get_if<core::OperatorActed>(&record)) {
      auto it = by_id_.find(o->id);
      if (it == by_id_.end()) return false;
      txs_[it->second].events.push_back(core::EventOf(*o));
      return true;
    }
    const auto& a = std::get<core::AttemptRecorded>(record);
    core::Branch* br = FindBranch(a.id, a.branch);
    if (br == nullptr) return false;
    br->history.push_back(a.attempt);
    return true;
  }

  core::Branch* FindBranch(const std::string& id, int branch) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return nullptr;
    for (core::Branch& b : txs_[it->second].branches) {
      if (b.index == branch) return &b;
    }
    return nullptr;
  }

  mutable std::mutex mu_;
  bool auto_complete_;                    // guarded by mu_
  Status poison_;                         // guarded by mu_
  size_t appends_ = 0;                    // guarded by mu_
  std::vector<Pending> pending_;          // guarded by mu_
  std::vector<core::LogRecord> durable_;  // guarded by mu_
  std::vector<core::Transaction> txs_;    // guarded by mu_; creation order (seq = index + 1)
  std::map<std::string, size_t> by_id_;   // guarded by mu_
  std::map<std::string, size_t> by_key_;  // guarded by mu_
};

}  // namespace txc::testing
