// What the coordinator's process is set up with, beyond its API: a listen backlog that takes a
// burst of new connections, small allocator caches per thread, and a log no other coordinator
// may open.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

// 64 clients connect while the coordinator cannot accept (stopped): the kernel completes each
// handshake into the listen backlog. httplib's own backlog of 5 would drop the other SYNs, and
// those clients would wait a second or more for the retransmission.
TEST_F(E2eTest, ABurstOfNewConnectionsIsTakenWithoutDroppedHandshakes) {
  StartCoordinator();
  constexpr int kClients = 64;
  coordinator_->Signal(SIGSTOP);
  std::vector<int> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(api_port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < kClients; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    (void)connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));  // EINPROGRESS
  }
  // A handshake the backlog took completes at once; one it dropped waits for a retransmission
  // (1 s at the earliest), past this deadline.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  int established = 0;
  for (int fd : fds) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLOUT, 0};
    int error = -1;
    socklen_t len = sizeof(error);
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count()))) == 1 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0) {
      ++established;
    }
  }
  coordinator_->Signal(SIGCONT);
  for (int fd : fds) close(fd);
  EXPECT_EQ(established, kClients);
  auto res = Client().Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

// The coordinator runs with jemalloc's small per-thread caches (coordinator/src/jemalloc_conf.cpp;
// with the defaults each of cpp-httplib's threads keeps what it freed, ~180 MB at 1,024 in
// flight). jemalloc prints its options at a clean exit when MALLOC_CONF asks it to.
TEST_F(E2eTest, TheCoordinatorRunsWithSmallAllocatorCaches) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the sanitizer build runs on the sanitizer's allocator";
#endif
  StartCoordinator({"MALLOC_CONF=stats_print:true"});
  coordinator_->Signal(SIGTERM);
  const std::optional<int> status = coordinator_->Wait(std::chrono::seconds(15));
  ASSERT_TRUE(status.has_value()) << "the coordinator did not stop";
  const std::string log = ReadFile(Path("coordinator.log"));
  EXPECT_NE(log.find("opt.tcache_nslots_small_max: 8"), std::string::npos);
  EXPECT_NE(log.find("opt.tcache_nslots_large: 4"), std::string::npos);
}

// Both would recover the same unfinished transactions and could decide them differently.
TEST_F(E2eTest, ASecondCoordinatorOnTheSameLogRefusesToStart) {
  StartCoordinator();
  auto second =
      Process::Start({TXC_COORDINATOR_BIN, "--nats-url", nats_.url(), "--http-addr",
                      "127.0.0.1:" + std::to_string(FreePort()), "--db-path", Path("txc.db")},
                     {}, Path("second.log"));
  ASSERT_NE(second, nullptr);
  const std::optional<int> status = second->Wait(std::chrono::seconds(15));
  ASSERT_TRUE(status.has_value()) << "the second coordinator is running";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << *status;
  const std::string log = ReadFile(Path("second.log"));
  EXPECT_NE(log.find("startup.failed"), std::string::npos) << log;
  EXPECT_NE(
      log.find("in use by another coordinator (pid " + std::to_string(coordinator_->pid()) + ")"),
      std::string::npos)
      << log;
  auto ready = Client().Get("/readyz");  // the first one goes on
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
}

}  // namespace
}  // namespace txc::testing
