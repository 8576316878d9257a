// HttpApi's transaction endpoints over real HTTP against a scripted service: each request is
// parsed, handed to the service and rendered, and bad input gets a clear JSON 4xx.
#include <gtest/gtest.h>
#include <httplib.h>

#include "http_api_fixture.h"

namespace txc::api {
namespace {

using http_test::FakeService;
using http_test::HttpApiTest;
using http_test::kGood;
using nlohmann::json;

TEST_F(HttpApiTest, PassesAValidTraceparentOnAndIgnoresAMalformedOne) {
  const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  ASSERT_EQ(Post("/v1/transactions", kGood, {{"traceparent", tp}})->status, 201);
  EXPECT_EQ(service_.last_begin.traceparent, tp);
  ASSERT_EQ(Post("/v1/transactions", kGood, {{"traceparent", "00-xyz"}})->status, 201)
      << "W3C: a malformed traceparent restarts the trace, it does not fail the request";
  EXPECT_EQ(service_.last_begin.traceparent, "");
}

TEST(Traceparent, FollowsTheW3cFormat) {
  EXPECT_TRUE(IsValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_TRUE(IsValidTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  for (const char* bad : {"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                          "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}) {
    EXPECT_FALSE(IsValidTraceparent(bad)) << bad;
  }
}

TEST_F(HttpApiTest, CreatesATransaction) {
  auto r = Post("/v1/transactions", kGood);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(Body(r)["id"], "tx1");
  EXPECT_EQ(Body(r)["branches"][0]["participant"], "inv");
  EXPECT_TRUE(service_.awaited.empty());
}

TEST_F(HttpApiTest, WaitTrueAnswersWithTheTerminalState) {
  auto r = Post("/v1/transactions?wait=true",
                R"({"protocol":"2pc","timeout_ms":2000,"branches":[{"participant":"inv"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(Body(r)["state"], "committed");
  EXPECT_EQ(service_.awaited, "tx1");
  EXPECT_EQ(service_.waited_for, core::Duration(32000)) << "the timeout plus slack";
}

TEST_F(HttpApiTest, WaitDecisionAsksForTheDecisionAndAnUnknownWaitIsRefused) {
  const std::string body =
      R"({"protocol":"2pc","timeout_ms":2000,"branches":[{"participant":"inv"}]})";
  ASSERT_EQ(Post("/v1/transactions?wait=decision", body)->status, 201);
  ASSERT_TRUE(service_.last_begin.wait.has_value());
  EXPECT_TRUE(service_.last_begin.wait_for_decision);
  ASSERT_EQ(Post("/v1/transactions?wait=1", body)->status, 201);
  EXPECT_FALSE(service_.last_begin.wait_for_decision);
  ASSERT_EQ(Post("/v1/transactions?wait=false", body)->status, 201);
  EXPECT_FALSE(service_.last_begin.wait.has_value());
  service_.last_begin = {};
  auto bad = Post("/v1/transactions?wait=yes", body);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(Body(bad)["error"]["code"], "invalid_argument");
  EXPECT_TRUE(service_.last_begin.branches.empty()) << "refused before reaching the service";
}

TEST_F(HttpApiTest, IdempotencyKeyIsPassedWithAFingerprintAndAReplayIs200) {
  auto first = Post("/v1/transactions", kGood, {{"Idempotency-Key", "k-1"}});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 201);
  EXPECT_EQ(service_.last_begin.idempotency_key, "k-1");
  EXPECT_EQ(service_.last_begin.request_hash, RequestFingerprint(kGood));
  auto again = Post("/v1/transactions", kGood, {{"Idempotency-Key", "k-1"}});
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(Body(again)["id"], "tx1");
  auto bad = Post("/v1/transactions", kGood, {{"Idempotency-Key", std::string(200, 'k')}});
  EXPECT_EQ(bad->status, 400);
}

TEST_F(HttpApiTest, ServiceErrorsMapToStatusCodesWithJsonBodies) {
  service_.begin_error =
      Status::AlreadyExists("Idempotency-Key 'k' was used for a different request");
  auto r = Post("/v1/transactions", kGood);
  EXPECT_EQ(r->status, 422);
  EXPECT_EQ(Body(r)["error"]["code"], "already_exists");
  service_.begin_error = Status::Unavailable("log down");
  EXPECT_EQ(Post("/v1/transactions", kGood)->status, 503);
}

TEST_F(HttpApiTest, BadRequestsGetClearJsonErrors) {
  auto r = Post("/v1/transactions", R"({"protocol":"2pc","branches":[{"participant":"a.b"}]})");
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Body(r)["error"]["code"], "invalid_argument");
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("branches[0].participant"),
            std::string::npos);
  auto form = client_->Post("/v1/transactions", kGood, "text/plain");
  EXPECT_EQ(form->status, 415);
  auto gz =
      client_->Post("/v1/transactions", {{"Content-Encoding", "gzip"}}, kGood, "application/json");
  EXPECT_EQ(gz->status, 415);
  auto big = Post("/v1/transactions", std::string(10000, ' ') + kGood);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(Body(big)["error"]["code"], "resource_exhausted");
}

TEST_F(HttpApiTest, GetsAndListsTransactions) {
  auto r = client_->Get("/v1/transactions/tx1");
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(Body(r)["branches"][0]["history"][0]["error"], "out of stock");
  EXPECT_EQ(client_->Get("/v1/transactions/nope")->status, 404);
  EXPECT_EQ(client_->Get("/v1/transactions/a%2Eb")->status, 400);
  auto list = client_->Get("/v1/transactions?state=aborted&protocol=2pc&limit=5&cursor=c0");
  EXPECT_EQ(list->status, 200);
  EXPECT_EQ(Body(list)["next_cursor"], "c1");
  EXPECT_EQ(Body(list)["items"][0]["id"], "tx1");
  EXPECT_EQ(service_.last_filter.state, core::TxState::kAborted);
  EXPECT_EQ(service_.last_filter.limit, 5);
  EXPECT_EQ(service_.last_filter.cursor, "c0");
  EXPECT_EQ(client_->Get("/v1/transactions?limit=0")->status, 400);
}

TEST_F(HttpApiTest, OperatorAbortAndRetryAnswerWithTheTransaction) {
  auto abort = Post("/v1/transactions/tx9/abort", R"({"reason":"stuck"})");
  ASSERT_TRUE(abort);
  EXPECT_EQ(abort->status, 200) << abort->body;
  EXPECT_EQ(service_.last_abort, std::make_pair(std::string("tx9"), std::string("stuck")));
  EXPECT_EQ(Body(abort)["state"], "aborting");
  EXPECT_EQ(Body(abort)["reason"], "aborted by operator: stuck");

  auto no_body = client_->Post("/v1/transactions/tx8/abort");
  ASSERT_TRUE(no_body);
  EXPECT_EQ(no_body->status, 200) << no_body->body;
  EXPECT_EQ(service_.last_abort.second, "");

  auto retry = client_->Post("/v1/transactions/tx7/retry");
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 200) << retry->body;
  EXPECT_EQ(service_.last_retry, "tx7");
  EXPECT_EQ(Body(retry)["needs_attention"], true);
}

TEST_F(HttpApiTest, OperatorActionsTheStateForbidsAre409AndBadInputIs4xx) {
  service_.operate_error =
      Status::FailedPrecondition("cannot abort: the transaction is committing");
  for (const char* path : {"/v1/transactions/tx1/abort", "/v1/transactions/tx1/retry"}) {
    auto r = client_->Post(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 409) << path;
    EXPECT_EQ(Body(r)["error"]["code"], "failed_precondition");
  }
  auto bad_reason = Post("/v1/transactions/tx1/abort", R"({"reason":7})");
  EXPECT_EQ(bad_reason->status, 400);
  auto bad_id = client_->Post("/v1/transactions/a.b/retry");
  EXPECT_EQ(bad_id->status, 400);
  auto get = client_->Get("/v1/transactions/tx1/abort");
  EXPECT_EQ(get->status, 405);
  auto text = client_->Post("/v1/transactions/tx1/abort", "reason", "text/plain");
  EXPECT_EQ(text->status, 415);
}

TEST_F(HttpApiTest, HealthReadinessAndUnknownRoutes) {
  EXPECT_EQ(client_->Get("/healthz")->status, 200);
  EXPECT_EQ(client_->Get("/readyz")->status, 200);
  service_.ready = Status::Unavailable("not connected to NATS");
  auto r = client_->Get("/readyz");
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(Body(r)["error"]["message"], "not connected to NATS");
  auto missing = client_->Get("/v2/nothing");
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(Body(missing)["error"]["code"], "not_found");
  EXPECT_EQ(client_->Delete("/v1/transactions/tx1")->status, 405);
}

TEST_F(HttpApiTest, AThrowingHandlerIsA500AndTheServerKeepsServing) {
  service_.throw_on_begin = true;
  auto r = Post("/v1/transactions", kGood);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(Body(r)["error"]["code"], "internal");
  service_.throw_on_begin = false;
  EXPECT_EQ(Post("/v1/transactions", kGood)->status, 201);
}

}  // namespace
}  // namespace txc::api
