// The TxLog contract, run against SqliteTxLog and against the InMemoryTxLog test double, so the
// double used by engine tests keeps the real log's semantics.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "in_memory_tx_log.h"
#include "log/sqlite_tx_log.h"
#include "log_test_util.h"

namespace txc::log::test {
namespace {

using core::AttemptResult;
using core::BranchState;
using core::Protocol;
using core::TxState;

class TxLogContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      ASSERT_TRUE(dir_.ok());
      OpenSqlite();
    } else {
      memory_ = std::make_unique<testing::InMemoryTxLog>();
    }
  }

  TxLog& log() { return sqlite_ ? static_cast<TxLog&>(*sqlite_) : *memory_; }

  // A coordinator restart: the same durable state, read by a fresh instance.
  void Restart() {
    if (sqlite_) {
      sqlite_.reset();
      OpenSqlite();
    } else {
      memory_ = memory_->Snapshot();
    }
  }

  void OpenSqlite() {
    SqliteTxLog::Options opts;
    opts.path = dir_.File("txc.db");
    auto opened = SqliteTxLog::Open(opts);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    sqlite_ = std::move(opened).value();
  }

  void MustAppend(std::vector<core::LogRecord> records) {
    Status st = AppendSync(log(), std::move(records));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  Transaction MustFind(const std::string& id, bool with_history) {
    auto found = log().Find(id, with_history);
    EXPECT_TRUE(found.ok()) << found.status().ToString();
    if (!found.ok() || !found->has_value()) {
      ADD_FAILURE() << id << " not found";
      return {};
    }
    return **found;
  }

  TempDir dir_;
  std::unique_ptr<SqliteTxLog> sqlite_;
  std::unique_ptr<testing::InMemoryTxLog> memory_;
};

TEST_P(TxLogContract, RoundTripsEveryRecordType) {
  Transaction want = MakeTx("tx-1", 2, Protocol::kThreePhase, "key-1");
  want.branches[1].payload = nlohmann::json::array({1, "two", nullptr, {{"deep", true}}});
  want.branches[1].after = {0};
  MustAppend({Created(want)});

  core::Attempt a0{wire::Op::kCanCommit, 1, At(20), AttemptResult::kOk, "", 1234};
  core::Attempt a1{wire::Op::kCanCommit, 1, At(21), AttemptResult::kTimeout, "no reply", 0};
  core::Attempt a2{wire::Op::kCanCommit, 2, At(22), AttemptResult::kRefused, "out of stock", 99};
  MustAppend({core::AttemptRecorded{"tx-1", 0, a0},
              core::BranchChanged{"tx-1", 0, BranchState::kPrepared, wire::Op::kCanCommit, 1, 1, "",
                                  At(20)}});
  MustAppend({core::AttemptRecorded{"tx-1", 1, a1}, core::AttemptRecorded{"tx-1", 1, a2},
              core::BranchChanged{"tx-1", 1, BranchState::kRefused, wire::Op::kCanCommit, 2, 2,
                                  "out of stock", At(22), At(19)},
              StateChanged("tx-1", TxState::kAborting, "branch 1 refused", 23)});

  want.state = TxState::kAborting;
  want.reason = "branch 1 refused";
  want.updated_at = At(23);
  want.branches[0].state = BranchState::kPrepared;
  want.branches[0].op = wire::Op::kCanCommit;
  want.branches[0].op_attempt = 1;
  want.branches[0].attempts = 1;
  want.branches[0].history = {a0};
  want.branches[1].state = BranchState::kRefused;
  want.branches[1].op = wire::Op::kCanCommit;
  want.branches[1].op_attempt = 2;
  want.branches[1].attempts = 2;
  want.branches[1].last_error = "out of stock";
  want.branches[1].history = {a1, a2};
  want.branches[1].op_since = At(19);
  want.events = {{At(23), core::TxEventKind::kState, TxState::kAborting, -1, "branch 1 refused"}};
  ExpectSameTx(MustFind("tx-1", /*with_history=*/true), want);

  Transaction without = MustFind("tx-1", /*with_history=*/false);
  want.events.clear();
  for (auto& b : want.branches) b.history.clear();
  ExpectSameTx(without, want);

  auto missing = log().Find("nope", true);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

// The SQLite writer hands SQLite its records' texts in place (BindBorrowed) rather than copies:
// each must come back byte for byte, an embedded NUL and a text longer than any buffer included.
TEST_P(TxLogContract, TextsComeBackByteForByte) {
  const std::string nul = std::string("before") + '\0' + "after";
  const std::string long_text(100000, 'x');
  Transaction want = MakeTx("tx-text", 1, Protocol::kTwoPhase, "");
  want.reason = nul;
  want.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  MustAppend({Created(want)});
  EXPECT_EQ(MustFind("tx-text", /*with_history=*/false).reason, nul);
  core::Attempt attempt{wire::Op::kPrepare, 1, At(20), AttemptResult::kError, nul + long_text, 7};
  MustAppend({core::AttemptRecorded{"tx-text", 0, attempt},
              core::BranchChanged{"tx-text", 0, BranchState::kPreparing, wire::Op::kPrepare, 1, 1,
                                  long_text + nul, At(20)},
              StateChanged("tx-text", TxState::kAborting, "caf\xc3\xa9 " + nul, 21)});

  const Transaction got = MustFind("tx-text", /*with_history=*/true);
  EXPECT_EQ(got.reason, "caf\xc3\xa9 " + nul);
  EXPECT_EQ(got.traceparent, want.traceparent);
  ASSERT_EQ(got.branches.size(), 1u);
  EXPECT_EQ(got.branches[0].last_error, long_text + nul);
  ASSERT_EQ(got.branches[0].history.size(), 1u);
  EXPECT_EQ(got.branches[0].history[0].error, nul + long_text);
  ASSERT_EQ(got.events.size(), 1u);
  EXPECT_EQ(got.events[0].detail, "caf\xc3\xa9 " + nul);
}

TEST_P(TxLogContract, KeepsRetryBudgetsAndAttentionFlagsAndListsWhatNeedsAttention) {
  Transaction stuck = MakeTx("stuck", 2);
  stuck.retry_budget = {5, core::Duration(600000)};
  stuck.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  MustAppend({Created(stuck), Created(MakeTx("fine", 1))});
  MustAppend({core::AttentionChanged{"stuck", 1, true, true, At(40)}});
  Restart();

  stuck.needs_attention = true;
  stuck.branches[1].needs_attention = true;
  stuck.updated_at = At(40);
  ExpectSameTx(MustFind("stuck", false), stuck);
  auto unfinished = log().LoadUnfinished();
  ASSERT_TRUE(unfinished.ok());
  ASSERT_EQ(unfinished->size(), 2u);
  EXPECT_TRUE((*unfinished)[0].branches[1].needs_attention);

  TxFilter flagged;
  flagged.needs_attention = true;
  auto page = log().List(flagged);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Ids(page->items), std::vector<std::string>{"stuck"});
  flagged.needs_attention = false;
  EXPECT_EQ(Ids(log().List(flagged)->items), std::vector<std::string>{"fine"});

  MustAppend({core::OperatorActed{"stuck", core::TxEventKind::kOperatorRetry, "", At(41)},
              core::AttentionChanged{"stuck", 1, false, false, At(42)},
              core::OperatorActed{"stuck", core::TxEventKind::kOperatorAbort, "too late", At(42)}});
  flagged.needs_attention = true;
  EXPECT_TRUE(log().List(flagged)->items.empty());
  EXPECT_FALSE(MustFind("stuck", false).branches[1].needs_attention);

  // The timeline of the transaction as a whole, in the order it happened.
  Restart();
  const std::vector<core::TxEvent> events = MustFind("stuck", true).events;
  ASSERT_EQ(events.size(), 4u);
  ExpectSameEvent(events[0], {At(40), core::TxEventKind::kNeedsAttention, std::nullopt, 1, ""});
  ExpectSameEvent(events[1], {At(41), core::TxEventKind::kOperatorRetry, std::nullopt, -1, ""});
  ExpectSameEvent(events[2], {At(42), core::TxEventKind::kAttentionCleared, std::nullopt, 1, ""});
  ExpectSameEvent(events[3],
                  {At(42), core::TxEventKind::kOperatorAbort, std::nullopt, -1, "too late"});
}

TEST_P(TxLogContract, LoadUnfinishedReturnsEveryNonTerminalTransactionOldestFirst) {
  constexpr int kCount = 2000;
  Completions done(kCount);
  std::vector<std::string> want;
  for (int i = 0; i < kCount; ++i) {
    std::string id = "tx-" + std::to_string(i);
    std::vector<core::LogRecord> records{Created(MakeTx(id, 1))};
    if (i % 3 == 0) {
      records.push_back(StateChanged(id, i % 2 ? TxState::kCommitted : TxState::kAborted));
    } else {
      if (i % 3 == 1) records.push_back(StateChanged(id, TxState::kCommitting));
      want.push_back(id);
    }
    log().Append(std::move(records), done.Track(static_cast<size_t>(i)));
  }
  ASSERT_TRUE(done.WaitAll());
  for (int i = 0; i < kCount; ++i) ASSERT_TRUE(done.status(static_cast<size_t>(i)).ok());

  auto unfinished = log().LoadUnfinished();
  ASSERT_TRUE(unfinished.ok()) << unfinished.status().ToString();
  EXPECT_EQ(Ids(*unfinished), want);
  ASSERT_FALSE(unfinished->empty());
  EXPECT_EQ(unfinished->front().branches.size(), 1u);  // branches filled
  EXPECT_EQ(unfinished->front().branches[0].payload["sku"], "A-0");
}

TEST_P(TxLogContract, FindsByIdempotencyKey) {
  MustAppend({Created(MakeTx("a", 1, Protocol::kSaga, "key-a")), Created(MakeTx("b", 1)),
              Created(MakeTx("c", 1, Protocol::kTwoPhase, "key-c"))});
  auto a = log().FindByIdempotencyKey("key-a");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->id, "a");
  EXPECT_EQ((*a)->request_hash, "sha256:key-a");
  EXPECT_EQ((*a)->branches.size(), 1u);

  auto unknown = log().FindByIdempotencyKey("key-z");
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());
  auto empty = log().FindByIdempotencyKey("");  // "b" has no key: empty must not find it
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
}

TEST_P(TxLogContract, ListPagesNewestFirstWithFilters) {
  std::vector<std::string> all, committed_sagas;
  for (int i = 0; i < 30; ++i) {
    std::string id = "tx-" + std::to_string(i);
    Protocol p = i % 2 ? Protocol::kSaga : Protocol::kTwoPhase;
    TxState s = i % 3 ? TxState::kCommitted : TxState::kPreparing;
    std::vector<core::LogRecord> r{Created(MakeTx(id, 1, p))};
    if (s != TxState::kPreparing) r.push_back(StateChanged(id, s));
    MustAppend(std::move(r));
    all.insert(all.begin(), id);
    if (p == Protocol::kSaga && s == TxState::kCommitted) {
      committed_sagas.insert(committed_sagas.begin(), id);
    }
  }

  TxFilter f;
  f.state = TxState::kCommitted;
  f.protocol = Protocol::kSaga;
  f.limit = 4;
  std::vector<std::string> seen;
  for (int page = 0; page < 100; ++page) {
    auto got = log().List(f);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_LE(got->items.size(), 4u);
    for (const Transaction& tx : got->items) {
      seen.push_back(tx.id);
      EXPECT_EQ(tx.branches.size(), 1u);
    }
    if (got->next_cursor.empty()) break;
    EXPECT_EQ(got->items.size(), 4u);
    f.cursor = got->next_cursor;
  }
  EXPECT_EQ(seen, committed_sagas);

  TxFilter by_state;
  by_state.state = TxState::kPreparing;
  by_state.limit = 1000;
  auto preparing = log().List(by_state);
  ASSERT_TRUE(preparing.ok());
  EXPECT_EQ(preparing->items.size(), 10u);
  EXPECT_TRUE(preparing->next_cursor.empty());

  TxFilter everything;
  everything.limit = 30;  // exactly the number of rows: no further page
  auto got = log().List(everything);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Ids(got->items), all);
  EXPECT_TRUE(got->next_cursor.empty());

  everything.limit = 0;  // clamped to 1
  got = log().List(everything);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->items.size(), 1u);
  EXPECT_EQ(got->items[0].id, "tx-29");
  EXPECT_FALSE(got->next_cursor.empty());
}

TEST_P(TxLogContract, ListRejectsMalformedCursor) {
  MustAppend({Created(MakeTx("a", 1))});
  for (std::string cursor :
       {"garbage", "c", "c0", "c-3", "c12x", "-1", "0", "c99999999999999999999999", " c1"}) {
    TxFilter f;
    f.cursor = cursor;
    auto got = log().List(f);
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << "cursor '" << cursor << "'";
  }
}

TEST_P(TxLogContract, DurableStateSurvivesRestart) {
  Transaction tx = MakeTx("keep", 2, Protocol::kTwoPhase, "key-keep");
  core::Attempt a{wire::Op::kPrepare, 1, At(5), AttemptResult::kError, "boom", 7};
  MustAppend({Created(tx), core::AttemptRecorded{"keep", 1, a}});
  MustAppend({Created(MakeTx("done", 1)), StateChanged("done", TxState::kCommitted)});
  Restart();

  tx.branches[1].history = {a};
  ExpectSameTx(MustFind("keep", true), tx);
  auto unfinished = log().LoadUnfinished();
  ASSERT_TRUE(unfinished.ok());
  EXPECT_EQ(Ids(*unfinished), std::vector<std::string>{"keep"});
  auto by_key = log().FindByIdempotencyKey("key-keep");
  ASSERT_TRUE(by_key.ok() && by_key->has_value());
  // And it keeps accepting appends after the restart.
  MustAppend({StateChanged("keep", TxState::kAborted, "restarted", 50)});
  EXPECT_EQ(MustFind("keep", false).state, TxState::kAborted);
}

TEST_P(TxLogContract, DuplicateIdPoisonsTheLogAndRollsBackItsBatch) {
  MustAppend({Created(MakeTx("a", 1))});
  // The whole batch fails: "b" must not appear even though its record came first.
  Status st = AppendSync(log(), {Created(MakeTx("b", 1)), Created(MakeTx("a", 1))});
  EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
  EXPECT_EQ(log().Health().code(), StatusCode::kDataLoss);

  Status later = AppendSync(log(), {Created(MakeTx("c", 1))});
  EXPECT_EQ(later.code(), StatusCode::kDataLoss);

  auto b = log().Find("b", false);
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->has_value());
  auto a = log().Find("a", false);  // reads of committed data still work
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->has_value());
}

TEST_P(TxLogContract, RecordsNamingUnknownTransactionsOrBranchesPoisonTheLog) {
  MustAppend({Created(MakeTx("a", 1))});
  core::Attempt at{};
  for (core::LogRecord bad : std::vector<core::LogRecord>{
           StateChanged("ghost", TxState::kCommitted),
           core::BranchChanged{"a", 7, BranchState::kPrepared, wire::Op::kPrepare, 1, 1, "", At(1)},
           core::AttemptRecorded{"ghost", 0, at},
           core::AttentionChanged{"a", 7, true, true, At(1)},
           core::OperatorActed{"ghost", core::TxEventKind::kOperatorRetry, "", At(1)},
       }) {
    Restart();  // a fresh, healthy instance for each bad record
    ASSERT_TRUE(log().Health().ok());
    Status st = AppendSync(log(), {bad});
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
    EXPECT_FALSE(log().Health().ok());
  }
}

TEST_P(TxLogContract, DuplicateIdempotencyKeyIsRejected) {
  MustAppend({Created(MakeTx("a", 1, Protocol::kTwoPhase, "k"))});
  Status st = AppendSync(log(), {Created(MakeTx("b", 1, Protocol::kTwoPhase, "k"))});
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(Impl, TxLogContract, ::testing::Values("sqlite", "in_memory"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace txc::log::test
