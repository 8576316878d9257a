#include "api/nats_api.h"

#include <exception>
#include <optional>

#include "api/begin_request.h"
#include "api/error_mapping.h"
#include "api/tx_json.h"
#include "applog/applog.h"

namespace txc::api {
namespace {

bool SameName(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// NATS header names are case-sensitive on the wire, but clients differ in how they spell them
// (Go's canonicalises "traceparent" to "Traceparent"), so names are matched as HTTP's are.
std::optional<std::string> Header(const NatsApi::Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (SameName(key, name)) return value;
  }
  return std::nullopt;
}

}  // namespace

NatsApi::NatsApi(TransactionService& service, Options options)
    : service_(service), options_(std::move(options)) {}

void NatsApi::Answer(const std::string& reply, int status, std::string_view body) const {
  options_.respond(reply, {{kStatusHeader, std::to_string(status)}}, body);
}

void NatsApi::AnswerError(const std::string& reply, const Status& status) const {
  Answer(reply, HttpStatusFor(status.code()), ErrorBody(status));
  options_.flush();
}

void NatsApi::Handle(const std::string& reply, std::string_view body, const Headers& headers) {
  try {
    if (!options_.api_token.empty() &&
        !BearerTokenMatches(Header(headers, "Authorization").value_or(""), options_.api_token)) {
      return AnswerError(reply, Status(StatusCode::kUnauthenticated,
                                       "this coordinator needs 'Authorization: Bearer <token>'"));
    }
    if (body.size() > options_.max_body_bytes) {
      return AnswerError(reply, Status::ResourceExhausted("the request body is too large"));
    }
    BeginRequest request{.body = body,
                         .idempotency_key = Header(headers, "Idempotency-Key"),
                         .traceparent = Header(headers, "traceparent").value_or(""),
                         .wait = Header(headers, "Txc-Wait").value_or("")};
    auto cmd = ParseBeginCommand(request, options_.limits, options_.max_wait);
    if (!cmd.ok()) return AnswerError(reply, cmd.status());
    if (options_.admit) {
      if (Status admitted = options_.admit(*cmd); !admitted.ok()) {
        return AnswerError(reply, admitted);
      }
    }
    // Runs on the service's thread, which flushes after it.
    service_.BeginAsync(*cmd, [this, reply](Result<BeginResult> begun) noexcept {
      try {
        if (!begun.ok()) {
          Answer(reply, HttpStatusFor(begun.status().code()), ErrorBody(begun.status()));
        } else {
          Answer(reply, begun->created ? 201 : 200, TransactionJson(begun->tx));
        }
      } catch (const std::exception& e) {
        applog::Write(applog::Level::kError, "nats_api.answer_failed", {{"error", e.what()}});
      }
    });
  } catch (const std::exception& e) {
    applog::Write(applog::Level::kError, "nats_api.handler_threw", {{"error", e.what()}});
    AnswerError(reply, Status::Internal("internal error"));
  }
}

}  // namespace txc::api
