// What HttpApi serves and to whom: exactly the routes docs/openapi.yaml documents, the admin
// UI's files, the bearer token and the per-client rate limit.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "http_api_fixture.h"

namespace txc::api {
namespace {

using http_test::FakeService;
using http_test::HttpApiTest;
using http_test::kGood;
using nlohmann::json;

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
  auto no_slash = client_->Get("/ui");
  ASSERT_TRUE(no_slash);
  EXPECT_EQ(no_slash->status, 302) << "the page's relative URLs resolve against /ui/ only";
  EXPECT_EQ(no_slash->get_header_value("Location"), "/ui/");

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
  for (const char* path : {"/", "/ui"}) {
    auto redirect = client.Get(path);
    ASSERT_TRUE(redirect);
    EXPECT_EQ(redirect->status, 302) << path;
  }
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

// A burst of 2 and one token every 2 s: none comes back during a test.
HttpApi::Options RateLimited() {
  HttpApi::Options o;
  o.port = 0;
  o.rate_limit_per_s = 0.5;
  o.rate_limit_burst = 2;
  return o;
}

TEST(HttpApiRateLimitTest, AClientOverItsRateGets429WithRetryAfterButHealthChecksPass) {
  FakeService service;
  HttpApi api(service, RateLimited());
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

// The UI's files are compiled-in bytes: a page load (ten files, again on every reload) must
// neither be refused nor spend the budget the page's own API calls need.
TEST(HttpApiRateLimitTest, TheUisFilesAreNeverLimitedAndSpendNothing) {
  FakeService service;
  HttpApi api(service, RateLimited());
  ASSERT_TRUE(api.Start().ok());
  httplib::Client client("127.0.0.1", api.port());
  for (int load = 0; load < 5; ++load) {
    for (const char* path : {"/", "/ui", "/ui/", "/ui/app.js", "/ui/style.css", "/ui/nope.js"}) {
      auto r = client.Get(path);
      ASSERT_TRUE(r) << path;
      EXPECT_NE(r->status, 429) << path << " (page load " << load << ")";
    }
  }
  EXPECT_EQ(api.rate_limited(), 0u);
  EXPECT_EQ(client.Get("/v1/transactions")->status, 200) << "the whole burst is left";
  EXPECT_EQ(client.Get("/v1/transactions")->status, 200);
  EXPECT_EQ(client.Get("/v1/transactions")->status, 429);
  // Only GETs of the UI are static: anything else on its paths is an API call like any other.
  EXPECT_EQ(client.Post("/ui/app.js", "", "text/plain")->status, 429);
  EXPECT_EQ(api.rate_limited(), 2u);
}

}  // namespace
}  // namespace txc::api
