// txcctl against a real coordinator: start, list and show, and how it reports errors.
#include <stdio.h>
#include <sys/wait.h>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

class TxcctlTest : public E2eTest {
 protected:
  struct Run {
    int exit_code = -1;
    std::string out;  // stdout and stderr
  };

  Run Txcctl(const std::string& args) {
    const std::string cmd = std::string(TXC_TXCCTL_BIN) +
                            " --url http://127.0.0.1:" + std::to_string(api_port_) + " " + args +
                            " 2>&1";
    Run r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) r.out.append(buf, n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }
};

TEST_F(TxcctlTest, StartsListsAndShowsTransactions) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator();

  Run ok = Txcctl(R"(start 2pc order 'inventory={"sku":"A"}' --timeout-ms 4000)");
  ASSERT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_NE(ok.out.find("2pc  committed"), std::string::npos) << ok.out;
  const std::string id = ok.out.substr(0, ok.out.find(' '));
  const json got = Get(id);
  ASSERT_EQ(got.value("state", ""), "committed") << id;
  EXPECT_EQ(got["branches"][1]["payload"]["sku"], "A");
  EXPECT_EQ(got["timeout_ms"], 4000);

  Run refused = Txcctl(R"(--json start saga order 'inventory={"refuse":true}')");
  ASSERT_EQ(refused.exit_code, 0) << refused.out;
  const json saga = json::parse(refused.out, nullptr, false);
  ASSERT_TRUE(saga.is_object()) << refused.out;
  EXPECT_EQ(saga["state"], "compensated");

  Run list = Txcctl("list --protocol 2pc");
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_NE(list.out.find(id), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("order,inventory"), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(saga["id"].get<std::string>()), std::string::npos) << "filtered out";

  Run show = Txcctl("show " + id);
  ASSERT_EQ(show.exit_code, 0) << show.out;
  EXPECT_NE(show.out.find("[1] inventory  committed  attempts 2"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("prepare #1  ok"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("commit #1  ok"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("state committing"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("state committed"), std::string::npos) << show.out;
}

TEST_F(TxcctlTest, AbortsAndRetriesTransactions) {
  StartParticipant("order");
  StartParticipant("inventory");
  StartCoordinator();
  Run slow = Txcctl(R"(--json start 2pc order 'inventory={"sleep_ms":2000}' )"
                    "--timeout-ms 60000 --no-wait");
  ASSERT_EQ(slow.exit_code, 0) << slow.out;
  const std::string id = json::parse(slow.out, nullptr, false).value("id", "");
  ASSERT_FALSE(id.empty()) << slow.out;
  Run abort = Txcctl("abort " + id + " --reason 'stuck in review'");
  ASSERT_EQ(abort.exit_code, 0) << abort.out;
  EXPECT_NE(abort.out.find("reason:  aborted by operator: stuck in review"), std::string::npos)
      << abort.out;
  EXPECT_EQ(WaitForState(id, "aborted")["state"], "aborted");

  Run retry = Txcctl("retry " + id);
  EXPECT_EQ(retry.exit_code, 1) << retry.out;
  EXPECT_NE(retry.out.find("failed_precondition"), std::string::npos) << retry.out;
  Run list = Txcctl("list --needs-attention");
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_EQ(list.out.find(id), std::string::npos) << list.out;
  EXPECT_EQ(Txcctl("abort").exit_code, 2);
}

TEST_F(TxcctlTest, ReportsErrorsWithTheirCauseAndExitStatus) {
  StartCoordinator();
  Run missing = Txcctl("show no-such-tx");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("not_found"), std::string::npos) << missing.out;
  Run bad = Txcctl("start 4pc order");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("protocol must be"), std::string::npos) << bad.out;
  EXPECT_EQ(Txcctl("start 2pc").exit_code, 2);
  EXPECT_EQ(Txcctl("frobnicate").exit_code, 2);
  EXPECT_EQ(Txcctl("start 2pc 'order={not json'").exit_code, 2);
  Run unreachable = Run{};
  const std::string cmd = std::string(TXC_TXCCTL_BIN) + " --url http://127.0.0.1:1 list 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) unreachable.out.append(buf, n);
  const int status = pclose(p);
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(unreachable.out.find("cannot reach the coordinator"), std::string::npos)
      << unreachable.out;
}

}  // namespace
}  // namespace txc::testing
