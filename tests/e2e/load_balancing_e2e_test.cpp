// Load balancing: two instances of one participant (same name, same SQLite file) share its
// branches through the NATS queue group. Both serve, and SIGKILL of one in the middle of a run
// loses nothing: every transaction ends with the same outcome at the coordinator and at every
// participant, each effect happened once, and the survivor finishes what the dead one prepared.
#include <sqlite3.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

class LoadBalancingE2eTest : public E2eTest {
 protected:
  // Two "order" instances (keys order-1 and order-2) on order.db, and "inventory".
  void SetUp() override {
    E2eTest::SetUp();
    for (const std::string key : {"order-1", "order-2"}) {
      StartNamed(key, {TXC_TEST_PARTICIPANT_BIN, "--name", "order", "--db", Path("order.db"),
                       "--nats-url", nats_.url(), "--in-doubt-ms", "300", "--resolve-ms", "100"});
      instance_[key] = InstanceId(key);
      ASSERT_FALSE(instance_[key].empty()) << ReadFile(Path(key + ".log"));
    }
    ASSERT_NE(instance_["order-1"], instance_["order-2"]);
    StartParticipant("inventory");
    StartCoordinator();
    // GET /v1/participants lists both instances of order.
    ASSERT_TRUE(WaitFor([&] {
      return LiveInstances("order") ==
                 std::set<std::string>{instance_["order-1"], instance_["order-2"]} &&
             LiveInstances("inventory").size() == 1;
    })) << Client().Get("/v1/participants")->body;
  }

  // Every row of `sql` at a participant's database, each column as text.
  std::vector<std::vector<std::string>> Rows(const std::string& participant,
                                             const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(Path(participant + ".db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
      sqlite3_busy_timeout(db, 5000);
      sqlite3_stmt* stmt = nullptr;
      if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK) {
        while (sqlite3_step(stmt) == SQLITE_ROW) {
          std::vector<std::string> row;
          for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
            const unsigned char* text = sqlite3_column_text(stmt, c);
            row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
          }
          rows.push_back(std::move(row));
        }
      }
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return rows;
  }

  // Branches (handler calls for `op`) each instance of order ran.
  std::map<std::string, int> ServedBy(const std::string& op) {
    std::map<std::string, int> served;
    for (const auto& row : Rows("order", "SELECT instance, COUNT(*) FROM effects WHERE op = '" +
                                             op + "' GROUP BY instance")) {
      served[row[0]] = std::stoi(row[1]);
    }
    return served;
  }

  // Runs `count` transactions from `threads` clients at once (?wait=true), every `saga_every`th
  // a saga, the rest 2PC; returns their ids. `after_each` runs after each answer.
  std::vector<std::string> Drive(int count, int threads, int saga_every,
                                 const std::function<void(int done)>& after_each = {}) {
    std::atomic<int> next{0}, done{0};
    std::mutex mu;
    std::vector<std::string> ids;
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        httplib::Client http = Client();
        for (int n; (n = next++) < count;) {
          const bool saga = saga_every > 0 && n % saga_every == 0;
          const json body = {
              {"protocol", saga ? "saga" : "2pc"},
              {"timeout_ms", 10000},
              {"branches", {Branch("order", {{"n", n}}), Branch("inventory", {{"n", n}})}}};
          auto res = http.Post("/v1/transactions?wait=true", body.dump(), "application/json");
          if (res && (res->status == 201)) {
            std::lock_guard lock(mu);
            ids.push_back(json::parse(res->body)["id"].get<std::string>());
          } else {
            ADD_FAILURE() << "POST " << n << ": " << (res ? res->body : "no answer");
          }
          if (after_each) after_each(++done);
        }
      });
    }
    for (auto& w : workers) w.join();
    return ids;
  }

  // The coordinator's terminal answer for every id, checked against both participants'
  // records and effects: one outcome everywhere, each effect once.
  void ExpectOneOutcomeEverywhere(const std::vector<std::string>& ids) {
    std::map<std::pair<std::string, std::string>, std::string> records;  // (gid, branch) -> state
    for (const std::string p : {"order", "inventory"}) {
      for (const auto& r : Rows(p, "SELECT gid, branch, state FROM txc_branches")) {
        records[{r[0], r[1]}] = r[2];
      }
    }
    std::map<std::tuple<std::string, std::string, std::string>, int> effects;
    for (const std::string p : {"order", "inventory"}) {
      for (const auto& r :
           Rows(p, "SELECT gid, branch, op, COUNT(*) FROM effects GROUP BY 1, 2, 3")) {
        effects[{r[0], r[1], r[2]}] = std::stoi(r[3]);
      }
    }
    auto state = [&](const std::string& gid, int branch) {
      auto it = records.find({gid, std::to_string(branch)});
      return it == records.end() ? std::string("none") : it->second;
    };
    auto ran = [&](const std::string& gid, int branch, const std::string& op) {
      auto it = effects.find({gid, std::to_string(branch), op});
      return it == effects.end() ? 0 : it->second;
    };
    std::map<std::string, int> outcomes;
    for (const std::string& id : ids) {
      const json tx = WaitForTerminal(id);
      ASSERT_TRUE(tx.value("terminal", false)) << tx.dump();
      const std::string s = tx["state"];
      outcomes[s]++;
      for (int b = 0; b < 2; ++b) {
        SCOPED_TRACE(id + " branch " + std::to_string(b) + " (" + s + ")");
        for (const std::string op : {"prepare", "commit", "abort", "action", "compensate"}) {
          EXPECT_LE(ran(id, b, op), 1) << op << " ran more than once";
        }
        if (s == "committed") {
          EXPECT_EQ(state(id, b), "committed");
          EXPECT_EQ(ran(id, b, "prepare"), 1);
          EXPECT_EQ(ran(id, b, "commit"), 1);
        } else if (s == "aborted") {
          EXPECT_TRUE(state(id, b) == "aborted" || state(id, b) == "none") << state(id, b);
          EXPECT_EQ(ran(id, b, "commit"), 0);
          EXPECT_EQ(ran(id, b, "prepare"), ran(id, b, "abort")) << "a hold is released";
        } else if (s == "completed") {
          EXPECT_EQ(state(id, b), "done");
          EXPECT_EQ(ran(id, b, "action"), 1);
          EXPECT_EQ(ran(id, b, "compensate"), 0);
        } else {
          EXPECT_EQ(s, "compensated");
          EXPECT_NE(state(id, b), "done");
          EXPECT_EQ(ran(id, b, "action"), ran(id, b, "compensate")) << "every action undone";
        }
      }
    }
    EXPECT_EQ(Rows("order",
                   "SELECT 1 FROM txc_branches WHERE state IN ('prepared', "
                   "'precommitted')")
                  .size(),
              0u)
        << "nothing left in doubt";
    std::string summary;
    for (const auto& [s, n] : outcomes) summary += s + "=" + std::to_string(n) + " ";
    std::cerr << "outcomes: " << summary << "\n";
  }

  std::map<std::string, std::string> instance_;  // key -> instance id
};

TEST_F(LoadBalancingE2eTest, TwoInstancesOfOneParticipantBothServeItsBranches) {
  const std::vector<std::string> ids = Drive(360, 8, /*saga_every=*/6);  // 300 2PC, 60 sagas
  ASSERT_EQ(ids.size(), 360u);
  ExpectOneOutcomeEverywhere(ids);
  for (const std::string& id : ids) {
    const std::string s = Get(id).value("state", "");
    EXPECT_TRUE(s == "committed" || s == "completed") << id << " " << s;
  }
  const auto prepares = ServedBy("prepare");
  const auto actions = ServedBy("action");
  const std::string a = instance_["order-1"], b = instance_["order-2"];
  for (const auto& [instance, n] : prepares) std::cerr << instance << " prepared " << n << "\n";
  EXPECT_GT(prepares.count(a) ? prepares.at(a) : 0, 0) << "order-1 served 2PC branches";
  EXPECT_GT(prepares.count(b) ? prepares.at(b) : 0, 0) << "order-2 served 2PC branches";
  EXPECT_EQ((prepares.count(a) ? prepares.at(a) : 0) + (prepares.count(b) ? prepares.at(b) : 0),
            300);
  EXPECT_EQ((actions.count(a) ? actions.at(a) : 0) + (actions.count(b) ? actions.at(b) : 0), 60);
  EXPECT_EQ(LiveInstances("order"), (std::set<std::string>{a, b}));
}

TEST_F(LoadBalancingE2eTest, KillingOneInstanceMidRunLosesNothing) {
  // Mid-run: a transaction whose inventory vote takes 1.5 s holds its order branch prepared
  // (in doubt) at whichever instance took it; that instance is the one SIGKILLed.
  std::atomic<bool> killed{false};
  std::string slow_id, victim_key, survivor_key, effects_at_kill;
  std::thread killer;
  auto kill_mid_run = [&](int done) {
    if (done != 100) return;
    killer = std::thread([&] {
      const json slow =
          Post({{"protocol", "2pc"},
                {"timeout_ms", 10000},
                {"branches",
                 {Branch("order", {{"slow", true}}), Branch("inventory", {{"sleep_ms", 1500}})}}},
               /*wait=*/false);
      ASSERT_EQ(slow["_status"], 201) << slow.dump();
      slow_id = slow["id"];
      std::string prepared_by;
      ASSERT_TRUE(WaitFor([&] {
        const auto rows = Rows("order", "SELECT instance FROM effects WHERE gid = '" + slow_id +
                                            "' AND op = 'prepare'");
        if (rows.empty()) return false;
        prepared_by = rows[0][0];
        return true;
      }));
      victim_key = prepared_by == instance_["order-1"] ? "order-1" : "order-2";
      survivor_key = victim_key == "order-1" ? "order-2" : "order-1";
      ASSERT_EQ(prepared_by, instance_[victim_key]);
      KillParticipant(victim_key);  // SIGKILL, with the slow transaction's branch in doubt
      effects_at_kill = Rows("order", "SELECT MAX(rowid) FROM effects")[0][0];
      killed = true;
    });
  };
  const std::vector<std::string> ids = Drive(300, 6, /*saga_every=*/5, kill_mid_run);
  if (killer.joinable()) killer.join();
  ASSERT_TRUE(killed);
  ASSERT_EQ(ids.size(), 300u);
  EXPECT_EQ(WaitForState(slow_id, "committed")["state"], "committed");
  std::vector<std::string> all = ids;
  all.push_back(slow_id);
  ExpectOneOutcomeEverywhere(all);

  const std::string victim = instance_[victim_key], survivor = instance_[survivor_key];
  // The dead instance's in-doubt branch was finished by the survivor.
  const auto commit =
      Rows("order", "SELECT instance FROM effects WHERE gid = '" + slow_id + "' AND op = 'commit'");
  ASSERT_EQ(commit.size(), 1u);
  EXPECT_EQ(commit[0][0], survivor);
  // Both served before the kill; only the survivor after it.
  const auto prepares = ServedBy("prepare");
  EXPECT_GT(prepares.count(victim) ? prepares.at(victim) : 0, 0);
  EXPECT_GT(prepares.count(survivor) ? prepares.at(survivor) : 0, 0);
  std::map<std::string, int> after_kill;
  for (const auto& row : Rows("order", "SELECT instance, COUNT(*) FROM effects WHERE rowid > " +
                                           effects_at_kill + " GROUP BY instance")) {
    after_kill[row[0]] = std::stoi(row[1]);
  }
  EXPECT_EQ(after_kill.count(victim), 0u);
  EXPECT_GT(after_kill[survivor], 50) << "the survivor served the rest of the run";
  std::cerr << "prepared: " << victim << " (killed) " << prepares.at(victim) << ", " << survivor
            << " " << prepares.at(survivor) << "; handlers run after the kill: " << survivor << " "
            << after_kill[survivor] << "\n";
  // The dead instance stays listed, not live, once its window has passed.
  ASSERT_TRUE(WaitFor([&] { return LiveInstances("order") == std::set<std::string>{survivor}; }))
      << Client().Get("/v1/participants")->body;
  auto res = Client().Get("/v1/participants");
  ASSERT_TRUE(res);
  EXPECT_NE(res->body.find(victim), std::string::npos) << res->body;
}

}  // namespace
}  // namespace txc::testing
