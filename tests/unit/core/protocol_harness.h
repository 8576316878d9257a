// ProtocolHarness: drives a pure protocol machine the way the engine does (persist, then send,
// then arm timers) against an in-memory "durable log", and checks the invariants every commit
// protocol must keep after each step. Used by the core unit tests only; links only txc_core.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/protocol.h"

namespace txc::testing {

struct SentMessage {
  int branch;
  wire::Op op;
  int attempt;
};

class ProtocolHarness {
 public:
  ProtocolHarness(const core::ProtocolMachine& machine, core::Transaction tx)
      : machine_(machine), tx_(std::move(tx)) {}

  void Feed(const core::Event& event) {
    if (!known_) return;  // the coordinator forgot it: every event about it is dropped
    now_ += core::Duration(1);
    core::Actions a = machine_.On(tx_, event, now_);
    // The engine's contract: persist (and what the same batch carries lazily) is durable before
    // anything is sent; lazy records alone are appended but may be lost in a crash until a later
    // forced batch makes them durable (the log is written in order).
    pending_.insert(pending_.end(), a.persist.begin(), a.persist.end());
    pending_.insert(pending_.end(), a.lazy.begin(), a.lazy.end());
    if (!a.persist.empty()) {
      log_.insert(log_.end(), pending_.begin(), pending_.end());
      pending_.clear();
    }
    for (const auto& s : a.sends) {
      CheckSendAllowed(s);
      sent_.push_back({s.branch, s.op, s.attempt});
    }
    timers_.insert(timers_.end(), a.timers.begin(), a.timers.end());
    if (a.terminal) terminal_ = true;
    CheckNoMixedDecision();
  }

  // What a crash keeps of the records no forced write has covered yet.
  enum class Unforced { kLost, kKept };

  // Simulates a coordinator crash: memory is lost, the durable log is replayed. A transaction
  // whose creation never reached the disk is simply unknown after the restart.
  void CrashAndRecover(Unforced unforced = Unforced::kLost) {
    if (unforced == Unforced::kKept) log_.insert(log_.end(), pending_.begin(), pending_.end());
    pending_.clear();
    timers_.clear();
    if (!Created()) {
      known_ = false;
      return;
    }
    tx_ = Rebuild();
    Feed(core::Recover{});
  }

  // The transaction's creation is in the durable log.
  bool Created() const {
    for (const auto& record : log_) {
      if (std::holds_alternative<core::TxCreated>(record)) return true;
    }
    return false;
  }
  // False after a crash lost the transaction entirely (presumed abort then covers it).
  bool known() const { return known_; }

  core::Transaction Rebuild() const {
    core::Transaction t;
    for (const auto& record : log_) {
      if (auto* c = std::get_if<core::TxCreated>(&record)) t = c->tx;
      if (auto* s = std::get_if<core::TxStateChanged>(&record)) {
        t.state = s->state;
        t.reason = s->reason;
      }
      if (auto* b = std::get_if<core::BranchChanged>(&record)) {
        auto& br = t.branches.at(b->branch);
        br.state = b->state;
        br.op = b->op;
        br.op_attempt = b->op_attempt;
        br.attempts = b->attempts;
        br.last_error = b->last_error;
        br.op_since = b->op_since;
        br.awaiting_reply = false;
      }
      if (auto* f = std::get_if<core::AttentionChanged>(&record)) {
        t.branches.at(f->branch).needs_attention = f->branch_needs_attention;
        t.needs_attention = f->tx_needs_attention;
      }
    }
    for (auto& br : t.branches) br.awaiting_reply = false;
    return t;
  }

  // Durable, or appended lazily and not yet covered by a forced write.
  bool Appended(core::TxState state) const {
    if (Logged(state)) return true;
    for (const auto& record : pending_) {
      if (auto* s = std::get_if<core::TxStateChanged>(&record); s && s->state == state) return true;
    }
    return false;
  }

  bool Logged(core::TxState state) const {
    for (const auto& record : log_) {
      if (auto* s = std::get_if<core::TxStateChanged>(&record); s && s->state == state) return true;
    }
    return false;
  }

  int CountSent(int branch, wire::Op op) const {
    int n = 0;
    for (const auto& s : sent_) n += (s.branch == branch && s.op == op);
    return n;
  }

  // Timers of a kind armed so far for a branch (latest last).
  std::vector<core::TimerCommand> TimersFor(core::TimerKind kind, int branch) const {
    std::vector<core::TimerCommand> out;
    for (const auto& t : timers_) {
      if (t.kind == kind && t.branch == branch) out.push_back(t);
    }
    return out;
  }

  // Moves the clock on (each Feed adds 1 ms by itself).
  void Advance(core::Duration d) { now_ += d; }
  core::TimePoint now() const { return now_; }

  core::Transaction& tx() { return tx_; }
  const std::vector<core::LogRecord>& log() const { return log_; }
  const std::vector<SentMessage>& sent() const { return sent_; }
  std::vector<core::TimerCommand>& timers() { return timers_; }
  bool terminal() const { return terminal_; }
  void ClearSent() { sent_.clear(); }

 private:
  void CheckSendAllowed(const core::SendCommand& s) {
    if (s.op == wire::Op::kCommit || s.op == wire::Op::kDoCommit) {
      ASSERT_TRUE(Logged(core::TxState::kCommitting))
          << "commit sent to branch " << s.branch << " before the decision was logged";
    }
    if (s.op == wire::Op::kPreCommit) {
      ASSERT_TRUE(Logged(core::TxState::kPreCommitting))
          << "pre_commit sent before the pre-commit decision was logged";
    }
    if (s.op == wire::Op::kCompensate) {
      ASSERT_TRUE(Logged(core::TxState::kCompensating))
          << "compensation sent before the move to compensating was logged";
    }
    if (s.op == wire::Op::kAction) {
      const core::Transaction durable = Rebuild();
      for (int dep : durable.branches.at(s.branch).after) {
        ASSERT_EQ(durable.branches.at(dep).state, core::BranchState::kDone)
            << "step " << s.branch << " started before step " << dep << " was logged done";
      }
    }
    if (s.op == wire::Op::kAbort) {
      ASSERT_FALSE(Logged(core::TxState::kCommitting)) << "abort sent after a commit decision";
    }
  }

  void CheckNoMixedDecision() {
    ASSERT_FALSE(Logged(core::TxState::kCommitting) && Logged(core::TxState::kAborting))
        << "both commit and abort were decided";
  }

  const core::ProtocolMachine& machine_;
  core::Transaction tx_;
  core::TimePoint now_{core::Duration(1'700'000'000'000)};
  std::vector<core::LogRecord> log_;      // durable
  std::vector<core::LogRecord> pending_;  // appended lazily, not yet covered by a forced write
  bool known_ = true;
  std::vector<SentMessage> sent_;
  std::vector<core::TimerCommand> timers_;
  bool terminal_ = false;
};

inline core::Transaction MakeTx(int branches, core::Protocol protocol = core::Protocol::kTwoPhase) {
  core::Transaction tx;
  tx.id = "tx1";
  tx.protocol = protocol;
  tx.timeout = core::Duration(5000);
  for (int i = 0; i < branches; ++i) {
    core::Branch b;
    b.index = i;
    b.participant = "p" + std::to_string(i);
    b.payload = {{"n", i}};
    tx.branches.push_back(b);
  }
  return tx;
}

inline core::Reply ReplyFor(int branch, wire::Op op, core::AttemptResult result, int attempt = 1,
                            std::string message = "") {
  return core::Reply{branch, op, attempt, result, std::move(message), 100};
}

}  // namespace txc::testing
