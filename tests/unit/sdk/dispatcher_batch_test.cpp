// Group commit in the SDK: a batch of requests is applied in one local transaction with one
// commit, each request isolated in its own savepoint, and later requests see earlier ones.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "dispatcher.h"
#include "request_batcher.h"
#include "temp_dir.h"

namespace txc::sdk {
namespace {

using wire::Op;

wire::BranchRequest Req(const std::string& gid, Op op, nlohmann::json payload = nullptr) {
  wire::BranchRequest r;
  r.gid = gid;
  r.participant = "inventory";
  r.protocol = op == Op::kAction || op == Op::kCompensate ? "saga" : "2pc";
  r.op = op;
  r.payload = std::move(payload);
  return r;
}

class DispatcherBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    auto store = BranchStore::Open(dir_.File("db"), std::chrono::milliseconds(1000));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    ASSERT_EQ(
        sqlite3_exec(store_->db(), "CREATE TABLE holds (gid TEXT)", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_commit_hook(store_->db(), &CountCommit, &commits_);
  }
  static int CountCommit(void* counter) {
    ++*static_cast<int*>(counter);
    return 0;  // let it commit
  }
  std::string State(const std::string& gid) {
    auto lock = store_->Lock();
    auto r = store_->Find(gid, 0);
    return r.ok() && r->has_value() ? BranchStateName((*r)->state) : "none";
  }
  int Holds(const std::string& gid) {
    auto lock = store_->Lock();
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(store_->db(), "SELECT COUNT(*) FROM holds WHERE gid = ?1", -1, &stmt,
                       nullptr);
    sqlite3_bind_text(stmt, 1, gid.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(stmt);
    const int n = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
  }

  testing::TempDir dir_;  // outlives the store: members go in reverse order
  std::unique_ptr<BranchStore> store_;
  CounterSet counters_;
  int commits_ = 0;
};

// Writes a hold, then does what the payload says: {"then": "ok" | "refuse" | "retry"}.
HandlerResult Hold(const BranchContext& ctx) {
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(ctx.db, "INSERT INTO holds VALUES (?1)", -1, &stmt, nullptr);
  sqlite3_bind_text(stmt, 1, ctx.gid.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  const std::string then = ctx.payload.is_object() ? ctx.payload.value("then", "ok") : "ok";
  if (then == "refuse") return HandlerResult::Refuse("no");
  if (then == "retry") return HandlerResult::Retry("busy");
  return HandlerResult::Ok();
}

TEST_F(DispatcherBatchTest, OneCommitForABatchAndEachRequestIsolated) {
  Handlers handlers;
  handlers.prepare = Hold;
  handlers.commit = Hold;
  Dispatcher dispatcher("inventory", store_.get(), handlers, &counters_);
  commits_ = 0;
  const auto replies = dispatcher.HandleBatch({
      Req("g1", Op::kPrepare),                        // yes
      Req("g1", Op::kPrepare),                        // duplicate inside the batch
      Req("g2", Op::kAbort),                          // null rollback
      Req("g2", Op::kPrepare),                        // late prepare: refused
      Req("g3", Op::kPrepare, {{"then", "retry"}}),   // transient: rolled back alone
      Req("g4", Op::kPrepare, {{"then", "refuse"}}),  // no vote: recorded, writes undone
      Req("g1", Op::kCommit),                         // sees the prepare above
  });
  std::vector<std::string> outcomes;
  for (const auto& r : replies) outcomes.push_back(wire::OutcomeName(r.outcome));
  EXPECT_EQ(outcomes,
            (std::vector<std::string>{"ok", "ok", "ok", "refused", "error", "refused", "ok"}));
  EXPECT_EQ(commits_, 1);
  EXPECT_EQ(State("g1"), "committed");
  EXPECT_EQ(State("g2"), "aborted");
  EXPECT_EQ(State("g3"), "none");
  EXPECT_EQ(State("g4"), "aborted");
  EXPECT_EQ(Holds("g1"), 2);  // its prepare and its commit, once each
  EXPECT_EQ(Holds("g3"), 0);
  EXPECT_EQ(Holds("g4"), 0);
  EXPECT_EQ(counters_.prepare_calls.load(), 3u);  // g1, g3, g4: never for a duplicate or late one
}

// A request allocates no large block: with SQLite's temp files on disk, each one took a 64 KB
// savepoint journal buffer and an 85 KB page cache for the IN-list check's temporary table, and
// glibc gave both back to the kernel every time (madvise and a TLB shoot-down per request).
TEST_F(DispatcherBatchTest, SavepointsNeverAskForALargeBlock) {
  Handlers handlers;
  handlers.prepare = Hold;
  Dispatcher dispatcher("inventory", store_.get(), handlers, &counters_);
  (void)dispatcher.HandleBatch({Req("warm", Op::kPrepare)});  // the page cache's first blocks
  sqlite3_int64 current = 0;
  sqlite3_int64 largest = 0;
  ASSERT_EQ(sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &current, &largest, /*reset=*/1),
            SQLITE_OK);
  std::vector<wire::BranchRequest> batch;
  for (int i = 0; i < 16; ++i) batch.push_back(Req("g" + std::to_string(i), Op::kPrepare));
  (void)dispatcher.HandleBatch(batch);
  ASSERT_EQ(sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &current, &largest, /*reset=*/0),
            SQLITE_OK);
  EXPECT_EQ(State("g15"), "prepared");
  if (largest == 0) GTEST_SKIP() << "this SQLite keeps no memory statistics (MEMSTATUS off)";
  EXPECT_LT(largest, 32 * 1024);
}

TEST_F(DispatcherBatchTest, ABatchOfDuplicatesOnlyCommitsNothing) {
  Dispatcher dispatcher("inventory", store_.get(), Handlers{}, &counters_);
  ASSERT_EQ(dispatcher.Handle(Req("g1", Op::kPrepare)).outcome, wire::Outcome::kOk);
  commits_ = 0;
  const auto replies = dispatcher.HandleBatch({Req("g1", Op::kPrepare), Req("g1", Op::kPrepare)});
  EXPECT_EQ(replies[0].outcome, wire::Outcome::kOk);
  EXPECT_EQ(replies[1].outcome, wire::Outcome::kOk);
  EXPECT_EQ(commits_, 0);  // answered from the record: no write, no fsync
}

TEST_F(DispatcherBatchTest, AFailedCommitTurnsEveryAnswerIntoAnError) {
  Dispatcher dispatcher("inventory", store_.get(), Handlers{}, &counters_);
  sqlite3_commit_hook(
      store_->db(), [](void*) { return 1; }, nullptr);  // veto: COMMIT fails
  const auto replies = dispatcher.HandleBatch({Req("g1", Op::kPrepare), Req("g2", Op::kAbort)});
  EXPECT_EQ(replies[0].outcome, wire::Outcome::kError);
  EXPECT_EQ(replies[1].outcome, wire::Outcome::kError);
  sqlite3_commit_hook(store_->db(), nullptr, nullptr);
  EXPECT_EQ(State("g1"), "none");
  EXPECT_EQ(State("g2"), "none");
}

// The thread that reads NATS must never block on the applier: a full queue refuses (the request
// is lost like a dropped message, and the coordinator re-sends it); so does a stopped batcher.
TEST_F(DispatcherBatchTest, AFullQueueRefusesInsteadOfBlocking) {
  using Queued = RequestBatcher::Queued;
  Handlers handlers;
  handlers.prepare = Hold;
  Dispatcher dispatcher("inventory", store_.get(), handlers, &counters_);
  std::vector<std::string> replied;
  RequestBatcher batcher(
      &dispatcher, [&](const std::string& to, const std::string&) { replied.push_back(to); }, [] {},
      /*max_batch=*/8, /*max_queued=*/2);
  // Not started: nothing takes from the queue.
  EXPECT_EQ(batcher.Submit(Req("g1", Op::kPrepare), "r1"), Queued::kYes);
  EXPECT_EQ(batcher.Submit(Req("g2", Op::kPrepare), "r2"), Queued::kYes);
  EXPECT_EQ(batcher.Submit(Req("g3", Op::kPrepare), "r3"), Queued::kFull);
  EXPECT_EQ(batcher.SubmitTask([] {}), Queued::kFull);
  batcher.Start();
  batcher.Stop();  // answers what was queued
  EXPECT_EQ(replied, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(batcher.Submit(Req("g4", Op::kPrepare), "r4"), Queued::kStopped);
  EXPECT_EQ(State("g3"), "none");
}

// A task (a peer's query) runs on the applier's thread between the batches around it, and its
// answer is flushed: it sees what the requests before it applied, not those after.
TEST_F(DispatcherBatchTest, ATaskRunsInOrderBetweenBatchesOnTheApplier) {
  Handlers handlers;
  handlers.prepare = Hold;
  Dispatcher dispatcher("inventory", store_.get(), handlers, &counters_);
  std::vector<std::string> events;  // only the applier's thread writes it before Stop returns
  std::thread::id applier;
  RequestBatcher batcher(
      &dispatcher, [&](const std::string& to, const std::string&) { events.push_back(to); },
      [&] { events.push_back("flush"); });
  EXPECT_EQ(batcher.Submit(Req("g1", Op::kPrepare), "r1"), RequestBatcher::Queued::kYes);
  batcher.SubmitTask([&] {
    applier = std::this_thread::get_id();
    events.push_back("task:g1=" + State("g1") + ",g2=" + State("g2"));
  });
  batcher.Submit(Req("g2", Op::kPrepare), "r2");
  batcher.Start();
  batcher.Stop();
  EXPECT_EQ(events, (std::vector<std::string>{"r1", "flush", "task:g1=prepared,g2=none", "flush",
                                              "r2", "flush"}));
  EXPECT_NE(applier, std::this_thread::get_id());
}

}  // namespace
}  // namespace txc::sdk
