#include "api/http_api.h"

#include <httplib.h>

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "api/bearer_token.h"
#include "api/begin_request.h"
#include "api/error_mapping.h"
#include "api/openapi_spec.h"
#include "api/participants_json.h"
#include "api/tx_json.h"
#include "api/ui_assets.h"
#include "applog/applog.h"

namespace txc::api {
namespace {

constexpr const char* kJson = "application/json";

void ReplyText(httplib::Response& res, int status, const std::string& json_text) {
  res.status = status;
  res.set_content(json_text, kJson);
}

void Reply(httplib::Response& res, int status, const nlohmann::json& body) {
  ReplyText(res, status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void ReplyError(httplib::Response& res, const Status& status) {
  res.status = HttpStatusFor(status.code());
  res.set_content(ErrorBody(status), kJson);
}

void ReplyError(httplib::Response& res, int http_status, StatusCode code, std::string message) {
  res.status = http_status;
  res.set_content(ErrorBody(Status(code, std::move(message))), kJson);
}

// Replies 400 and returns false when `id` cannot be a transaction id.
bool CheckTransactionId(const std::string& id, httplib::Response& res) {
  if (IsValidTransactionId(id)) return true;
  ReplyError(res,
             Status::InvalidArgument("transaction ids are 1 to 64 letters, digits, '_' or '-'"));
  return false;
}

// Replies 415 and returns false when a body is sent as something other than JSON.
bool CheckJsonContentType(const httplib::Request& req, httplib::Response& res) {
  const std::string type = req.get_header_value("Content-Type");
  if (type.empty() || type.rfind(kJson, 0) == 0) return true;
  ReplyError(res, 415, StatusCode::kInvalidArgument, "Content-Type must be application/json");
  return false;
}

// The admin UI's files carry no data (the page fetches it from the API with the token), so they
// are served without the token; everything they may load or send is pinned to this origin.
bool IsUiPath(const std::string& path) {
  return path == "/" || path == "/ui" || path.rfind("/ui/", 0) == 0;
}

// Requests that need no token and are never rate limited: the probes, and GETs of the UI's
// files, which are compiled-in bytes (one page load fetches ten of them, which must not eat a
// client's API budget).
bool IsOpen(const httplib::Request& req) {
  return req.path == "/healthz" || req.path == "/readyz" ||
         (req.method == "GET" && IsUiPath(req.path));
}

void ReplyUiAsset(httplib::Response& res, const UiAsset& asset) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
                 "frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
}

}  // namespace

HttpApi::HttpApi(TransactionService& service, Options options)
    : service_(service),
      options_(std::move(options)),
      server_(std::make_unique<httplib::Server>()) {
  const int threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_read_timeout(options_.read_timeout_s, 0);
  server_->set_write_timeout(options_.read_timeout_s, 0);
  server_->set_keep_alive_max_count(1000000);
  // Headers and body leave in separate writes; with Nagle the body would wait for the
  // client's delayed ACK (40 ms on Linux) on every kept-alive request.
  server_->set_tcp_nodelay(true);
  // Remembers the listening socket (see Start) and keeps httplib's own options for it.
  server_->set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd_ = static_cast<int>(sock);
  });
  if (options_.rate_limit_per_s > 0) {
    rate_limiter_ =
        std::make_unique<RateLimiter>(options_.rate_limit_per_s, options_.rate_limit_burst);
  }
  Routes();
}

HttpApi::~HttpApi() { Stop(); }

Status HttpApi::Start() {
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ <= 0) return Status::Unavailable("cannot bind " + options_.host);
  } else {
    if (!server_->bind_to_port(options_.host, options_.port)) {
      return Status::Unavailable("cannot bind " + options_.host + ":" +
                                 std::to_string(options_.port));
    }
    port_ = options_.port;
  }
  // This httplib listens with a backlog of 5 (compiled into Debian's library): a burst of new
  // connections beyond that has its SYNs dropped, and each such client waits 1 s, then 3 s, for
  // its retransmission. Listening again on the bound socket only raises the backlog.
  if (listen_fd_ >= 0 && ::listen(listen_fd_, SOMAXCONN) != 0) {
    applog::Write(applog::Level::kWarn, "http.backlog",
                  {{"error", std::string("listen: ") + std::strerror(errno)}});
  }
  auto listening_ended = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread([this, listening_ended] {
    server_->listen_after_bind();
    listening_ended->store(true);
  });
  // httplib's stop() does nothing until the loop runs: a Stop() right after Start() (a shutdown
  // at startup) would otherwise leave the thread listening forever and hang the join. This
  // httplib (0.11) has no wait_until_ready(), hence the polling; the socket is bound already,
  // so the loop either starts or fails at once.
  while (!server_->is_running() && !listening_ended->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (server_->is_running()) return Status::Ok();
  thread_.join();
  return Status::Unavailable("the HTTP server on " + options_.host + ":" + std::to_string(port_) +
                             " did not start listening");
}

void HttpApi::Stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

void HttpApi::Serve(const std::string& method, const std::string& path, Handler handler) {
  routes_.push_back({method, path});
  std::string pattern;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      i = path.find('}', i);
      pattern += "([^/]+)";
    } else {
      pattern += path[i];
    }
  }
  httplib::Server& s = *server_;
  if (method == "GET") s.Get(pattern, std::move(handler));
  if (method == "POST") s.Post(pattern, std::move(handler));
}

void HttpApi::Routes() {
  httplib::Server& s = *server_;

  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
        std::string what = "unknown exception";
        try {
          if (e) std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          what = ex.what();
        } catch (...) {
        }
        applog::Write(applog::Level::kError, "http.handler_threw", {{"error", what}});
        ReplyError(res, 500, StatusCode::kInternal, "internal error");
      });
  // Errors httplib raises itself (no route, body too large, bad request line) get our JSON body.
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.get_header_value("Content-Type") == kJson) return;  // a route answered already
    switch (res.status) {
      case 404:
        ReplyError(res, 404, StatusCode::kNotFound, "no route for " + req.method + " " + req.path);
        break;
      case 413:
        ReplyError(res, 413, StatusCode::kResourceExhausted, "the request body is too large");
        break;
      default:
        ReplyError(res, res.status, StatusCode::kInvalidArgument,
                   "bad request (HTTP " + std::to_string(res.status) + ")");
    }
  });

  // Runs before httplib reads the body: a client without the token is refused before it can make
  // the server read anything, and a compressed body is refused instead of inflated, so a small
  // request can never expand past the body limit (a decompression bomb).
  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const bool open = IsOpen(req);
    // Before the token: guessing tokens in a loop is throttled too.
    if (rate_limiter_ && !open) {
      if (auto wait = rate_limiter_->Take(req.remote_addr, std::chrono::steady_clock::now())) {
        rate_limited_.fetch_add(1, std::memory_order_relaxed);
        res.set_header("Retry-After", std::to_string((wait->count() + 999) / 1000));
        ReplyError(res, 429, StatusCode::kResourceExhausted,
                   "too many requests from " + req.remote_addr + "; retry in " +
                       std::to_string(wait->count()) + " ms");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (!options_.api_token.empty() && !open &&
        !BearerTokenMatches(req.get_header_value("Authorization"), options_.api_token)) {
      res.set_header("WWW-Authenticate", "Bearer");
      ReplyError(res, Status(StatusCode::kUnauthenticated,
                             "this coordinator needs 'Authorization: Bearer <token>'"));
      return httplib::Server::HandlerResponse::Handled;
    }
    const std::string encoding = req.get_header_value("Content-Encoding");
    if (encoding.empty() || encoding == "identity")
      return httplib::Server::HandlerResponse::Unhandled;
    ReplyError(res, 415, StatusCode::kInvalidArgument,
               "Content-Encoding '" + encoding + "' is not accepted; send plain JSON");
    return httplib::Server::HandlerResponse::Handled;
  });

  const ParseLimits limits{options_.max_branches, options_.max_json_depth, options_.max_timeout};
  Serve("POST", "/v1/transactions",
        [this, limits](const httplib::Request& req, httplib::Response& res) {
          if (!CheckJsonContentType(req, res)) return;
          std::optional<std::string> key;
          if (req.has_header("Idempotency-Key")) key = req.get_header_value("Idempotency-Key");
          const BeginRequest request{.body = req.body,
                                     .idempotency_key = std::move(key),
                                     .traceparent = req.get_header_value("traceparent"),
                                     .wait = req.get_param_value("wait")};
          auto cmd = ParseBeginCommand(request, limits, options_.max_wait);
          if (!cmd.ok()) return ReplyError(res, cmd.status());
          if (options_.admit) {
            if (Status admitted = options_.admit(*cmd); !admitted.ok()) {
              return ReplyError(res, admitted);
            }
          }
          auto begun = service_.Begin(*cmd);
          if (!begun.ok()) return ReplyError(res, begun.status());
          ReplyText(res, begun->created ? 201 : 200, TransactionJson(begun->tx));
        });

  Serve("GET", "/v1/transactions/{id}",
        [this](const httplib::Request& req, httplib::Response& res) {
          const std::string id = req.matches[1];
          if (!CheckTransactionId(id, res)) return;
          auto tx = service_.Get(id);
          if (!tx.ok()) return ReplyError(res, tx.status());
          ReplyText(res, 200, TransactionDetailJson(*tx));
        });

  // Operator actions: each answers with the transaction as the action left it.
  Serve("POST", "/v1/transactions/{id}/abort",
        [this](const httplib::Request& req, httplib::Response& res) {
          const std::string id = req.matches[1];
          if (!CheckTransactionId(id, res) || !CheckJsonContentType(req, res)) return;
          auto reason = ParseAbortRequest(req.body);
          if (!reason.ok()) return ReplyError(res, reason.status());
          auto tx = service_.Abort(id, *reason);
          if (!tx.ok()) return ReplyError(res, tx.status());
          ReplyText(res, 200, TransactionJson(*tx));
        });
  Serve("POST", "/v1/transactions/{id}/retry",
        [this](const httplib::Request& req, httplib::Response& res) {
          const std::string id = req.matches[1];
          if (!CheckTransactionId(id, res)) return;
          auto tx = service_.Retry(id);
          if (!tx.ok()) return ReplyError(res, tx.status());
          ReplyText(res, 200, TransactionJson(*tx));
        });

  Serve("GET", "/v1/transactions", [this](const httplib::Request& req, httplib::Response& res) {
    auto filter = ParseListQuery(req.params);
    if (!filter.ok()) return ReplyError(res, filter.status());
    auto page = service_.List(*filter);
    if (!page.ok()) return ReplyError(res, page.status());
    JsonText out;
    out.BeginObject().Key("items").BeginArray();
    for (const auto& tx : page->items) WriteTransactionJson(out, tx);
    out.EndArray().Key("next_cursor");
    if (page->next_cursor.empty()) {
      out.Null();
    } else {
      out.String(page->next_cursor);
    }
    ReplyText(res, 200, out.EndObject().str());
  });

  Serve("GET", "/v1/participants", [this](const httplib::Request&, httplib::Response& res) {
    if (options_.participants == nullptr) {
      return ReplyError(res, 503, StatusCode::kUnavailable, "participant liveness is not tracked");
    }
    Reply(res, 200, ParticipantsJson(options_.participants->Snapshot()));
  });

  Serve("GET", "/healthz", [](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200, {{"status", "ok"}});
  });
  Serve("GET", "/readyz", [this](const httplib::Request&, httplib::Response& res) {
    Status ready = service_.Ready();
    if (!ready.ok()) return ReplyError(res, 503, StatusCode::kUnavailable, ready.message());
    Reply(res, 200, {{"status", "ready"}});
  });
  Serve("GET", "/metrics", [this](const httplib::Request&, httplib::Response& res) {
    if (!options_.metrics) {
      return ReplyError(res, 503, StatusCode::kUnavailable, "metrics are not configured");
    }
    res.set_content(options_.metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  Serve("GET", "/openapi.yaml", [](const httplib::Request&, httplib::Response& res) {
    const std::string_view yaml = OpenApiYaml();
    res.set_content(yaml.data(), yaml.size(), "application/yaml");
  });

  // The page's relative URLs (app.js, style.css) resolve against /ui/, so /ui must not serve it.
  for (const char* path : {"/", "/ui"}) {
    Serve("GET", path,
          [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/ui/", 302); });
  }
  Serve("GET", "/ui/", [](const httplib::Request&, httplib::Response& res) {
    ReplyUiAsset(res, *FindUiAsset("index.html"));
  });
  Serve("GET", "/ui/{file}", [](const httplib::Request& req, httplib::Response& res) {
    const UiAsset* asset = FindUiAsset(req.matches[1].str());
    if (asset == nullptr) {
      return ReplyError(res, 404, StatusCode::kNotFound,
                        "the UI has no file '" + req.matches[1].str() + "'");
    }
    ReplyUiAsset(res, *asset);
  });

  // Known paths with a method they do not serve.
  auto not_allowed = [](const httplib::Request& req, httplib::Response& res) {
    ReplyError(res, 405, StatusCode::kInvalidArgument,
               req.method + " is not allowed on " + req.path);
  };
  for (const char* path : {"/v1/transactions", R"(/v1/transactions/([^/]+))",
                           R"(/v1/transactions/([^/]+)/(abort|retry))"}) {
    s.Put(path, not_allowed);
    s.Patch(path, not_allowed);
    s.Delete(path, not_allowed);
  }
  s.Post(R"(/v1/transactions/([^/]+))", not_allowed);
  s.Get(R"(/v1/transactions/([^/]+)/(abort|retry))", not_allowed);
}

}  // namespace txc::api
