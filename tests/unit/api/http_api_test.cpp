#include "api/http_api.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace txc::api {
namespace {

using nlohmann::json;

// A TransactionService that records what the HTTP layer asked and answers as scripted.
class FakeService : public TransactionService {
 public:
  Result<BeginResult> Begin(const BeginCommand& command) override {
    std::lock_guard<std::mutex> lock(mu);
    last_begin = command;
    if (throw_on_begin) throw std::runtime_error("boom");
    if (!begin_error.ok()) return begin_error;
    core::Transaction tx;
    tx.id = "tx1";
    tx.protocol = command.protocol;
    for (size_t i = 0; i < command.branches.size(); ++i) {
      core::Branch b;
      b.index = static_cast<int>(i);
      b.participant = command.branches[i].participant;
      tx.branches.push_back(b);
    }
    const bool created = !command.idempotency_key.empty() ? keys_seen++ == 0 : true;
    if (command.wait) {
      awaited = tx.id;
      waited_for = *command.wait;
      tx.state = core::TxState::kCommitted;
    }
    return BeginResult{tx, created};
  }
  Result<core::Transaction> AwaitTerminal(const std::string& id, core::Duration max_wait) override {
    awaited = id;
    waited_for = max_wait;
    core::Transaction tx;
    tx.id = id;
    tx.state = core::TxState::kCommitted;
    return tx;
  }
  Result<core::Transaction> Get(const std::string& id) override {
    if (id != "tx1") return Status::NotFound("no transaction with id '" + id + "'");
    core::Transaction tx;
    tx.id = id;
    core::Branch b;
    b.participant = "inv";
    b.history.push_back(core::Attempt{wire::Op::kPrepare, 1, core::FromMillis(1000),
                                      core::AttemptResult::kRefused, "out of stock", 42});
    tx.branches.push_back(b);
    return tx;
  }
  Result<log::TxPage> List(const log::TxFilter& filter) override {
    last_filter = filter;
    log::TxPage page;
    core::Transaction tx;
    tx.id = "tx1";
    page.items.push_back(tx);
    page.next_cursor = "c1";
    return page;
  }
  Result<core::Transaction> Abort(const std::string& id, const std::string& reason) override {
    last_abort = {id, reason};
    if (!operate_error.ok()) return operate_error;
    core::Transaction tx;
    tx.id = id;
    tx.state = core::TxState::kAborting;
    tx.reason = "aborted by operator: " + reason;
    return tx;
  }
  Result<core::Transaction> Retry(const std::string& id) override {
    last_retry = id;
    if (!operate_error.ok()) return operate_error;
    core::Transaction tx;
    tx.id = id;
    tx.state = core::TxState::kCommitting;
    tx.needs_attention = true;
    return tx;
  }
  Status Ready() override { return ready; }

  std::mutex mu;
  std::pair<std::string, std::string> last_abort;
  std::string last_retry;
  Status operate_error;
  BeginCommand last_begin;
  Status begin_error;
  bool throw_on_begin = false;
  int keys_seen = 0;
  std::string awaited;
  core::Duration waited_for{0};
  log::TxFilter last_filter;
  Status ready;
};

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpApi::Options o;
    o.port = 0;
    o.max_body_bytes = 4096;
    api_ = std::make_unique<HttpApi>(service_, o);
    ASSERT_TRUE(api_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", api_->port());
  }

  httplib::Result Post(const std::string& path, const std::string& body,
                       httplib::Headers headers = {}) {
    return client_->Post(path.c_str(), headers, body, "application/json");
  }

  static json Body(const httplib::Result& r) { return json::parse(r->body); }

  FakeService service_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<httplib::Client> client_;
};

constexpr const char* kGood = R"({"protocol":"2pc","branches":[{"participant":"inv"}]})";

std::string ReadOpenApi() {
  std::ifstream in(TXC_OPENAPI_PATH);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The operations under `paths:` of docs/openapi.yaml (two-space path keys, four-space methods).
std::vector<HttpApi::Route> DocumentedRoutes() {
  std::vector<HttpApi::Route> routes;
  std::istringstream lines(ReadOpenApi());
  const std::regex path_line(R"(^  (/\S*):\s*$)");
  const std::regex method_line(R"(^    (get|post|put|patch|delete):\s*$)");
  bool in_paths = false;
  std::string path;
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!line.empty() && line[0] != ' ') in_paths = line == "paths:";
    if (!in_paths) continue;
    if (std::regex_match(line, m, path_line)) {
      path = m[1];
    } else if (std::regex_match(line, m, method_line)) {
      std::string method = m[1];
      std::transform(method.begin(), method.end(), method.begin(), ::toupper);
      routes.push_back({method, path});
    }
  }
  return routes;
}

TEST_F(HttpApiTest, ServesExactlyTheRoutesItsOpenApiDocumentDescribes) {
  std::vector<HttpApi::Route> documented = DocumentedRoutes();
  std::vector<HttpApi::Route> served = api_->routes();
  ASSERT_GE(documented.size(), 6u) << "the parser found the paths in " << TXC_OPENAPI_PATH;
  std::sort(documented.begin(), documented.end());
  std::sort(served.begin(), served.end());
  EXPECT_TRUE(documented == served) << "docs/openapi.yaml and HttpApi::Routes() disagree";
  // And each one is really routed (a route recorded but not registered would answer 404).
  for (const auto& route : served) {
    const std::string path = std::regex_replace(route.path, std::regex(R"(\{[^}]*\})"), "tx1");
    auto r = route.method == "POST" ? Post(path, kGood) : client_->Get(path.c_str());
    ASSERT_TRUE(r) << route.method << " " << path;
    EXPECT_EQ(r->body.find("no route"), std::string::npos) << route.method << " " << path;
  }
}

TEST_F(HttpApiTest, ServesItsOpenApiDocument) {
  auto r = client_->Get("/openapi.yaml");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/yaml");
  EXPECT_EQ(r->body, ReadOpenApi());
  EXPECT_EQ(r->body.rfind("openapi: 3", 0), 0u);
}

TEST_F(HttpApiTest, ServesTheAdminUiAndEveryFileItsPageLoads) {
  auto root = client_->Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 302);
  EXPECT_EQ(root->get_header_value("Location"), "/ui/");

  auto page = client_->Get("/ui/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->get_header_value("Cache-Control"), "no-cache");
  EXPECT_EQ(page->get_header_value("Content-Security-Policy").rfind("default-src 'self';", 0), 0u)
      << "no inline script, no other origin";
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");

  // Every file the page refers to (src="..." / href="...", relative) is served with its type.
  const std::map<std::string, std::string> types = {{"js", "text/javascript; charset=utf-8"},
                                                    {"css", "text/css; charset=utf-8"},
                                                    {"svg", "image/svg+xml"}};
  const std::regex ref(R"re((?:src|href)="([a-z_]+)\.([a-z]+)")re");
  int files = 0;
  for (std::sregex_iterator it(page->body.begin(), page->body.end(), ref), end; it != end; ++it) {
    const std::string name = (*it)[1].str() + "." + (*it)[2].str();
    auto r = client_->Get(("/ui/" + name).c_str());
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(r->status, 200) << name;
    EXPECT_EQ(r->get_header_value("Content-Type"), types.at((*it)[2].str())) << name;
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache") << name;
    EXPECT_FALSE(r->body.empty()) << name;
    ++files;
  }
  EXPECT_GE(files, 4) << "errors.js, app.js, style.css, favicon.svg";
  // app.js imports the views; they are served too.
  for (const char* module :
       {"api.js", "dom.js", "list_view.js", "detail_view.js", "participants_view.js"}) {
    auto r = client_->Get((std::string("/ui/") + module).c_str());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << module;
  }

  auto missing = client_->Get("/ui/nope.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(Body(missing)["error"]["code"], "not_found");
}

TEST(HttpApiTokenTest, EveryCallButTheHealthChecksNeedsTheBearerToken) {
  FakeService service;
  HttpApi::Options o;
  o.port = 0;
  o.api_token = "s3cret";
  HttpApi api(service, o);
  ASSERT_TRUE(api.Start().ok());
  httplib::Client client("127.0.0.1", api.port());
  auto post = [&](httplib::Headers headers) {
    return client.Post("/v1/transactions", headers, kGood, "application/json");
  };

  for (const httplib::Headers& bad :
       {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer wrong!"}},
        httplib::Headers{{"Authorization", "s3cret"}},
        httplib::Headers{{"Authorization", "Bearer s3cret2"}},
        httplib::Headers{{"Authorization", "Basic s3cret"}}}) {
    auto r = post(bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Bearer");
    EXPECT_EQ(json::parse(r->body)["error"]["code"], "unauthenticated");
  }
  EXPECT_TRUE(service.last_begin.branches.empty()) << "refused before reaching the service";
  for (const char* path : {"/v1/transactions", "/v1/transactions/tx1", "/openapi.yaml"}) {
    auto r = client.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
  }
  for (const char* path : {"/healthz", "/readyz"}) {
    auto r = client.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << path << " stays open for probes";
  }
  // The UI's static files carry no data: the page loads, then asks for the token.
  for (const char* path : {"/ui/", "/ui/app.js", "/ui/style.css"}) {
    auto r = client.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << path;
  }
  auto redirect = client.Get("/");
  ASSERT_TRUE(redirect);
  EXPECT_EQ(redirect->status, 302);
  auto post_ui = client.Post("/ui/app.js", "", "text/plain");
  ASSERT_TRUE(post_ui);
  EXPECT_EQ(post_ui->status, 401) << "only GET of the UI is open";
  auto ok = post({{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 201);
  auto get = client.Get("/v1/transactions/tx1", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
}

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

TEST(HttpApiRateLimitTest, AClientOverItsRateGets429WithRetryAfterButHealthChecksPass) {
  FakeService service;
  HttpApi::Options o;
  o.port = 0;
  o.rate_limit_per_s = 0.5;  // one token every 2 s: none comes back during the test
  o.rate_limit_burst = 2;
  HttpApi api(service, o);
  ASSERT_TRUE(api.Start().ok());
  httplib::Client client("127.0.0.1", api.port());
  EXPECT_EQ(client.Get("/v1/transactions/tx1")->status, 200);
  EXPECT_EQ(client.Get("/v1/transactions")->status, 200);
  auto limited = client.Get("/v1/transactions/tx1");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("Retry-After"), "2");
  EXPECT_EQ(json::parse(limited->body)["error"]["code"], "resource_exhausted");
  EXPECT_EQ(client.Post("/v1/transactions", kGood, "application/json")->status, 429);
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  EXPECT_EQ(client.Get("/readyz")->status, 200);
  EXPECT_EQ(api.rate_limited(), 2u);
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
