// Bad input against the real coordinator binary: every malformed, oversized or hostile request
// gets a 4xx with a JSON error naming the problem, and the coordinator keeps serving.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

class BadInputE2eTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    StartParticipant("order");
    StartCoordinator();
  }

  // Expects a 4xx JSON error for a raw POST body; returns the error message.
  std::string ExpectRejected(const std::string& body, int status = 400,
                             const httplib::Headers& headers = {}) {
    auto res = Client().Post("/v1/transactions", headers, body, "application/json");
    if (!res) {
      ADD_FAILURE() << "no answer for " << body.substr(0, 80);
      return "";
    }
    EXPECT_EQ(res->status, status) << body.substr(0, 200) << " -> " << res->body;
    const json error = json::parse(res->body, nullptr, false);
    EXPECT_TRUE(error.is_object() && error.contains("error") && error["error"].contains("code"))
        << res->body;
    return error.is_object() && error.contains("error") ? error["error"].value("message", "") : "";
  }

  void ExpectStillServing() {
    const json ok = Post({{"protocol", "2pc"}, {"branches", {Branch("order")}}});
    EXPECT_EQ(ok["state"], "committed") << ok.dump();
  }
};

TEST_F(BadInputE2eTest, MalformedBodiesAndWrongTypes) {
  const std::vector<std::string> bodies = {
      "",
      "{",
      "not json",
      "[]",
      "null",
      R"({"protocol":"2pc"})",
      R"({"protocol":"4pc","branches":[{"participant":"order"}]})",
      R"({"protocol":2,"branches":[{"participant":"order"}]})",
      R"({"protocol":"2pc","branches":[]})",
      R"({"protocol":"2pc","branches":"order"})",
      R"({"protocol":"2pc","branches":[{"participant":17}]})",
      R"({"protocol":"2pc","branches":[{"participant":"order"}],"timeout_ms":-1})",
      R"({"protocol":"2pc","branches":[{"participant":"order"}],"timeout_ms":1e999})",
      R"({"protocol":"2pc","branches":[{"participant":"order"}],"timeout_ms":NaN})",
      R"({"protocol":"2pc","branches":[{"participant":"order"}],"timeout_ms":18446744073709551616})",
      R"({"protocol":"2pc","protocol":"3pc","branches":[{"participant":"order"}]})",
      "{\"protocol\":\"2pc\",\"branches\":[{\"participant\":\"ord\xff\xfe\"}]}",
      "{\"protocol\":\"2pc\",\"branches\":[{\"participant\":\"order\",\"payload\":\"\xc3\x28\"}]}",
      R"({"protocol":"saga","branches":[{"participant":"order","after":[1]}]})",
      R"({"protocol":"2pc","branches":[{"participant":"order","after":[]}]})",
  };
  for (const std::string& body : bodies) ExpectRejected(body);
  ExpectStillServing();
}

TEST_F(BadInputE2eTest, ParticipantNamesCannotAddressOtherSubjects) {
  for (const char* name : {"order.commit", "*", ">", "order >", "a\\tb", "a\\u0000b", ".", ""}) {
    const std::string body =
        std::string(R"({"protocol":"2pc","branches":[{"participant":")") + name + "\"}]}";
    const std::string message = ExpectRejected(body);
    EXPECT_NE(message.find("participant"), std::string::npos) << name << ": " << message;
  }
  ExpectStillServing();
}

TEST_F(BadInputE2eTest, LimitsOnBranchesNestingBodiesHeadersAndUris) {
  json many = {{"protocol", "2pc"}, {"branches", json::array()}};
  for (int i = 0; i < 10000; ++i) many["branches"].push_back(Branch("order"));
  EXPECT_NE(ExpectRejected(many.dump()).find("at most 64"), std::string::npos);
  json some = {{"protocol", "2pc"}, {"branches", json::array()}};
  for (int i = 0; i < 65; ++i) some["branches"].push_back(Branch("order"));
  EXPECT_NE(ExpectRejected(some.dump()).find("at most 64"), std::string::npos);

  std::string deep = R"({"protocol":"2pc","branches":[{"participant":"order","payload":)";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}]}";
  ExpectRejected(deep);
  ExpectRejected(std::string(2 << 20, ' '), 413);

  // A header or URI far beyond any sane size is refused (httplib caps a line at 8 KiB).
  auto huge_header = Client().Post("/v1/transactions", {{"X-Big", std::string(100000, 'x')}},
                                   R"({"protocol":"2pc","branches":[{"participant":"order"}]})",
                                   "application/json");
  EXPECT_TRUE(!huge_header || huge_header->status >= 400);
  auto huge_uri = Client().Get("/v1/transactions/" + std::string(100000, 'a'));
  EXPECT_TRUE(!huge_uri || huge_uri->status >= 400);
  ExpectStillServing();
}

TEST_F(BadInputE2eTest, BadIdsQueriesKeysAndContentTypes) {
  for (const std::string& path :
       std::vector<std::string>{"/v1/transactions/a.b", "/v1/transactions/" + std::string(65, 'a'),
                                "/v1/transactions?limit=0", "/v1/transactions?limit=abc",
                                "/v1/transactions?state=done", "/v1/transactions?protocol=4pc",
                                "/v1/transactions?cursor=!!!", "/v1/transactions?limit=1e9"}) {
    auto res = Client().Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 400) << path << " -> " << res->body;
  }
  EXPECT_EQ(Client().Get("/v1/transactions/unknown-id")->status, 404);

  const std::string good = R"({"protocol":"2pc","branches":[{"participant":"order"}]})";
  ExpectRejected(good, 400, {{"Idempotency-Key", std::string(200, 'k')}});
  ExpectRejected(good, 400, {{"Idempotency-Key", "tab\there"}});
  auto plain = Client().Post("/v1/transactions", good, "text/plain");
  EXPECT_EQ(plain->status, 415);
  auto gzip =
      Client().Post("/v1/transactions", {{"Content-Encoding", "gzip"}}, good, "application/json");
  EXPECT_EQ(gzip->status, 415);

  ASSERT_EQ(Post(json::parse(good), true, "same-key")["_status"], 201);
  ExpectRejected(R"({"protocol":"3pc","branches":[{"participant":"order"}]})", 422,
                 {{"Idempotency-Key", "same-key"}});
  ExpectStillServing();
}

// With the liveness check off (it would refuse "nobody" before anything is logged; see
// liveness_e2e_test.cpp), an unknown participant still aborts at once: nobody responds.
TEST_F(BadInputE2eTest, UnknownParticipantsAbortAtOnceWithAClearReason) {
  StartCoordinator({"TXC_REQUIRE_LIVE_PARTICIPANTS=false"});
  const json tx = Post({{"protocol", "3pc"}, {"branches", {Branch("order"), Branch("nobody")}}});
  EXPECT_EQ(tx["state"], "aborted");
  EXPECT_NE(tx["reason"].get<std::string>().find("nobody"), std::string::npos) << tx.dump();
}

// A client that opens connections and never finishes its request must not stop others.
TEST_F(BadInputE2eTest, SlowClientsDoNotBlockOthers) {
  std::vector<int> sockets;
  for (int i = 0; i < 20; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(api_port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    const char partial[] = "POST /v1/transactions HTTP/1.1\r\nHost: x\r\nContent-Len";
    ASSERT_GT(write(fd, partial, sizeof(partial) - 1), 0);
    sockets.push_back(fd);
  }
  ExpectStillServing();
  for (int fd : sockets) close(fd);
}

}  // namespace
}  // namespace txc::testing
