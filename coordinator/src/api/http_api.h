// HttpApi: the coordinator's REST API over cpp-httplib. Thin by design: each route parses its
// request into a command (request_parser.h), calls the TransactionService, and renders the
// result or the error (error_mapping.h). No exception escapes a handler: anything thrown is
// answered 500 and the server keeps serving.
//
// Routes: the ones docs/openapi.yaml documents (served at GET /openapi.yaml); routes() lists what
// is served, in the document's notation, so a test can hold the two equal.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "api/rate_limiter.h"
#include "api/request_parser.h"
#include "api/transaction_service.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace txc::liveness {
class ParticipantRegistry;
}

namespace txc::api {

class HttpApi {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 8080;  // 0: any free port (see port())
    size_t max_body_bytes = 1 << 20;
    size_t max_branches = 64;
    int max_json_depth = 32;
    core::Duration max_timeout{24LL * 3600 * 1000};
    core::Duration max_wait{60000};  // the longest a ?wait=true request is held
    int read_timeout_s = 10;         // slow clients (slowloris) are cut off
    int threads = 64;                // requests served at once (?wait=true holds one)
    // Requests per second each client address may make on average (0: no limit), and at once;
    // beyond that: 429 with Retry-After. Health checks and GETs of the admin UI's files are never
    // limited.
    double rate_limit_per_s = 0;
    double rate_limit_burst = 100;
    // When set, every request but /healthz, /readyz and GETs of the admin UI's files needs
    // "Authorization: Bearer <token>".
    std::string api_token;
    // GET /metrics answers with this (Prometheus text format); unset: 503.
    std::function<std::string()> metrics;
    // GET /v1/participants renders it; unset: 503. Must outlive the HttpApi.
    const liveness::ParticipantRegistry* participants = nullptr;
    // Runs once a POST /v1/transactions is parsed, before anything is logged; a non-Ok status
    // is the answer (the live-participants check). Unset: every transaction is admitted.
    std::function<Status(const BeginCommand&)> admit;
  };

  HttpApi(TransactionService& service, Options options);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Binds and starts serving on a background thread.
  Status Start();
  // Stops accepting and waits for the serving thread. Idempotent.
  void Stop();
  int port() const { return port_; }
  // Requests refused with 429 since start.
  uint64_t rate_limited() const { return rate_limited_.load(std::memory_order_relaxed); }

  struct Route {
    std::string method;  // "GET"
    std::string path;    // as OpenAPI writes it: "/v1/transactions/{id}"
    bool operator<(const Route& o) const {
      return std::tie(method, path) < std::tie(o.method, o.path);
    }
    bool operator==(const Route& o) const { return method == o.method && path == o.path; }
  };
  // Every route served, in registration order.
  const std::vector<Route>& routes() const { return routes_; }

 private:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  void Routes();
  // Registers `handler` for METHOD `path` ({name} segments match one path segment each) and
  // records it in routes_.
  void Serve(const std::string& method, const std::string& path, Handler handler);

  TransactionService& service_;
  Options options_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<RateLimiter> rate_limiter_;  // null: no limit
  std::atomic<uint64_t> rate_limited_{0};
  std::vector<Route> routes_;
  std::thread thread_;
  int port_ = 0;
  int listen_fd_ = -1;  // the listening socket, once bound (set by httplib's socket-options hook)
};

}  // namespace txc::api
