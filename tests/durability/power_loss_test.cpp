// Power loss, which kill -9 cannot show: the OS keeps a killed process's unsynced writes, a dead
// machine does not. Under the power-loss VFS every write not yet synced is dropped at the cut;
// every append the log acknowledged before it (the coordinator acts only on acknowledged
// decisions) must be there after the restart.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "log/sqlite_tx_log.h"
#include "log_test_util.h"
#include "power_loss_vfs.h"
#include "wait_for.h"

namespace txc::log::test {
namespace {

using core::TxState;
namespace power_loss = txc::testing::power_loss;

class PowerLossTest : public ::testing::Test {
 protected:
  void SetUp() override {
    power_loss::Install();
    power_loss::Restore();
    ASSERT_TRUE(dir_.ok());
  }
  void TearDown() override { power_loss::Restore(); }

  std::unique_ptr<SqliteTxLog> Open(const std::string& synchronous) {
    SqliteTxLog::Options options;
    options.path = dir_.File("txc.db");
    options.synchronous = synchronous;
    auto log = SqliteTxLog::Open(options);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  // Records what the log acknowledged while the power was on: id -> last acknowledged state.
  void Acknowledge(const std::string& id, TxState state) {
    std::lock_guard lock(mu_);
    if (!power_loss::Off()) acked_[id] = state;
  }
  size_t acked() {
    std::lock_guard lock(mu_);
    return acked_.size();
  }

  TempDir dir_;
  std::mutex mu_;
  std::map<std::string, TxState> acked_;
};

TEST_F(PowerLossTest, EveryAcknowledgedAppendSurvivesWithSynchronousFull) {
  auto log = Open("FULL");
  ASSERT_NE(log, nullptr);
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int n = 0; !stop; ++n) {
        const std::string id = "t" + std::to_string(c) + "-" + std::to_string(n);
        // The shape of a 2PC transaction: lazy creation, forced decision, lazy terminal state.
        log->Append({Created(MakeTx(id))}, nullptr, TxLog::Urgency::kLazy);
        log->Append({StateChanged(id, TxState::kCommitting)}, [this, id](Status s) {
          if (s.ok()) Acknowledge(id, TxState::kCommitting);
        });
        log->Append(
            {StateChanged(id, TxState::kCommitted)},
            [this, id](Status s) {
              if (s.ok()) Acknowledge(id, TxState::kCommitted);
            },
            TxLog::Urgency::kLazy);
        if (n % 8 == 7) std::this_thread::yield();
      }
    });
  }
  // Cut the power mid-stream, with appends queued and a commit in flight.
  // Not asserted here: the power must go off either way; the ASSERT after the restart reports it.
  (void)testing::WaitFor([&] { return acked() >= 2000; }, std::chrono::seconds(30));
  power_loss::PowerLoss();
  stop = true;
  for (auto& t : clients) t.join();
  log.reset();  // what the close writes goes nowhere: the machine is off
  power_loss::Restore();

  ASSERT_GE(acked(), 2000u) << "the workload did not run";
  auto reopened = Open("FULL");
  ASSERT_NE(reopened, nullptr);
  size_t missing = 0, behind = 0;
  for (const auto& [id, state] : acked_) {
    auto found = reopened->Find(id, false);
    ASSERT_TRUE(found.ok()) << found.status().ToString();
    if (!found->has_value()) {
      ++missing;
    } else if (state == TxState::kCommitted && (*found)->state != TxState::kCommitted) {
      ++behind;
    } else if ((*found)->state != TxState::kCommitting && (*found)->state != TxState::kCommitted) {
      ++behind;
    }
  }
  EXPECT_EQ(missing, 0u) << "of " << acked_.size() << " acknowledged transactions";
  EXPECT_EQ(behind, 0u) << "of " << acked_.size() << " acknowledged transactions";
}

// The same cut with synchronous=NORMAL, where a WAL commit is not synced: acknowledged appends
// are lost. This is what the VFS exists to show (and why FULL is the default).
TEST_F(PowerLossTest, SynchronousNormalLosesAcknowledgedAppends) {
  auto log = Open("NORMAL");
  ASSERT_NE(log, nullptr);
  for (int n = 0; n < 50; ++n) {
    const std::string id = "n" + std::to_string(n);
    ASSERT_TRUE(
        AppendSync(*log, {Created(MakeTx(id)), StateChanged(id, TxState::kCommitting)}).ok());
    Acknowledge(id, TxState::kCommitting);
  }
  power_loss::PowerLoss();
  log.reset();
  power_loss::Restore();
  auto reopened = Open("NORMAL");
  ASSERT_NE(reopened, nullptr);
  size_t survived = 0;
  for (const auto& [id, state] : acked_) {
    auto found = reopened->Find(id, false);
    ASSERT_TRUE(found.ok());
    survived += found->has_value();
  }
  EXPECT_LT(survived, acked_.size());
}

}  // namespace
}  // namespace txc::log::test
