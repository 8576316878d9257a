// NATS credentials and TLS, end to end: a nats-server that demands a user and password, and one
// that demands mutual TLS, with the coordinator and SDK participants configured through the
// TXC_NATS_* variables both read. Each runs a 2PC transaction to its end; a coordinator with the
// wrong password stops at startup and says why.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

constexpr const char* kUser = "txc";
constexpr const char* kPassword = "s3cret-pw";

class NatsPasswordTest : public E2eTest {
 protected:
  NatsPasswordTest() : E2eTest({"--user", kUser, "--pass", kPassword}) {}
};

TEST_F(NatsPasswordTest, CoordinatorAndParticipantsAuthenticate) {
  const std::vector<std::string> creds = {std::string("TXC_NATS_USER=") + kUser,
                                          std::string("TXC_NATS_PASSWORD=") + kPassword};
  StartParticipant("order", {}, creds);
  StartParticipant("inventory", {}, creds);
  StartCoordinator(creds);
  json tx = Post({{"protocol", "2pc"}, {"branches", {Branch("order"), Branch("inventory")}}});
  EXPECT_EQ(tx["state"], "committed") << tx.dump();
  EXPECT_EQ(Effects("inventory", tx["id"], "commit"), 1);
}

TEST_F(NatsPasswordTest, AWrongPasswordStopsTheCoordinatorAtStartup) {
  auto coordinator = Process::Start(
      {TXC_COORDINATOR_BIN, "--nats-url", nats_.url(), "--http-addr",
       "127.0.0.1:" + std::to_string(api_port_), "--db-path", Path("txc.db")},
      {std::string("TXC_NATS_USER=") + kUser, "TXC_NATS_PASSWORD=wrong"}, Path("wrong.log"));
  ASSERT_NE(coordinator, nullptr);
  const std::optional<int> status = coordinator->Wait(std::chrono::seconds(10));
  ASSERT_TRUE(status.has_value()) << "still running";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1);
  const std::string log = ReadFile(Path("wrong.log"));
  // Refused while starting, or right after it started (the server's answer comes late).
  EXPECT_TRUE(log.find("startup.failed") != std::string::npos ||
              log.find("nats.closed") != std::string::npos)
      << log;
  EXPECT_NE(log.find("closed the connection"), std::string::npos) << log;
  EXPECT_NE(log.find("check the NATS credentials"), std::string::npos) << log;
}

// A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made once.
std::string MakeCertificates() {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("txc-tls-" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  const std::string script = "cd '" + dir + R"sh(' && (set -e
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
key ca.key; key server.key; key client.key
openssl req -x509 -new -key ca.key -out ca.pem -days 2 -subj '/CN=txc test CA'
openssl req -new -key server.key -out server.csr -subj '/CN=localhost'
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile server.ext
openssl req -new -key client.key -out client.csr -subj '/CN=txc-client'
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2
) > openssl.log 2>&1)sh";
  return std::system(script.c_str()) == 0 ? dir : "";
}

const std::string& CertDir() {
  static const std::string dir = MakeCertificates();
  return dir;
}

class NatsMutualTlsTest : public E2eTest {
 protected:
  NatsMutualTlsTest()
      : E2eTest({"--tls", "--tlscert", CertDir() + "/server.pem", "--tlskey",
                 CertDir() + "/server.key", "--tlsverify", "--tlscacert", CertDir() + "/ca.pem"}) {}

  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(CertDir(), ec);
  }
};

TEST_F(NatsMutualTlsTest, CoordinatorAndParticipantsConnectWithClientCertificates) {
  ASSERT_FALSE(CertDir().empty()) << "openssl could not make the test certificates";
  const std::vector<std::string> tls = {"TXC_NATS_TLS_CA=" + CertDir() + "/ca.pem",
                                        "TXC_NATS_TLS_CERT=" + CertDir() + "/client.pem",
                                        "TXC_NATS_TLS_KEY=" + CertDir() + "/client.key"};
  StartParticipant("order", {}, tls);
  StartParticipant("inventory", {}, tls);
  StartCoordinator(tls);
  json tx = Post({{"protocol", "2pc"}, {"branches", {Branch("order"), Branch("inventory")}}});
  EXPECT_EQ(tx["state"], "committed") << tx.dump();
  EXPECT_EQ(Effects("order", tx["id"], "commit"), 1);
  EXPECT_NE(ReadFile(Path("coordinator.log")).find("\"nats_tls\":true"), std::string::npos);
}

}  // namespace
}  // namespace txc::testing
