// HttpApi: the coordinator's REST API over cpp-httplib. Thin by design: each route parses its
// request into a command (request_parser.h), calls the TransactionService, and renders the
// result or the error (error_mapping.h). No exception escapes a handler: anything thrown is
// answered 500 and the server keeps serving.
//
// Routes: POST /v1/transactions[?wait=true], GET /v1/transactions/{id},
// GET /v1/transactions?state=&protocol=&limit=&cursor=, GET /healthz, GET /readyz.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "api/request_parser.h"
#include "api/transaction_service.h"

namespace httplib {
class Server;
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

 private:
  void Routes();

  TransactionService& service_;
  Options options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace txc::api
