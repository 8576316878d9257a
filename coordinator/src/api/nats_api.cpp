#include "api/nats_api.h"

#include <strings.h>

#include <exception>
#include <optional>

#include "api/bearer_token.h"
#include "api/begin_request.h"
#include "api/error_mapping.h"
#include "api/tx_json.h"
#include "applog/applog.h"

namespace txc::api {
namespace {

// NATS header names are case-sensitive on the wire, but clients differ in how they spell them
// (Go's canonicalises "traceparent" to "Traceparent"), so names are matched as HTTP's are.
bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The value of header `name`; kInvalidArgument when it was sent twice, in any spellings (which
// one counted would be up to the client library's order).
Result<std::optional<std::string>> Header(const NatsApi::Headers& headers, std::string_view name) {
  std::optional<std::string> found;
  for (const auto& [key, value] : headers) {
    if (!SameName(key, name)) continue;
    if (found) return Status::InvalidArgument("header " + std::string(name) + " is sent twice");
    found = value;
  }
  return found;
}

}  // namespace

NatsApi::NatsApi(TransactionService& service, Options options)
    : service_(service), options_(std::move(options)) {}

void NatsApi::Answer(const std::string& reply, int status, std::string_view body,
                     const std::string& tx_id) const {
  Status sent = options_.respond(reply, {{kStatusHeader, std::to_string(status)}}, body);
  if (sent.ok()) return;
  if (sent.code() == StatusCode::kResourceExhausted) {
    // Larger than the server's max_payload (the payloads come back with the transaction). The
    // client must still learn what it started.
    std::string message = sent.message();
    if (!tx_id.empty()) {
      message += "; the transaction " + tx_id + " was started: GET /v1/transactions/" + tx_id;
    }
    const Status too_large = Status::ResourceExhausted(message);
    sent =
        options_.respond(reply, {{kStatusHeader, std::to_string(HttpStatusFor(too_large.code()))}},
                         ErrorBody(too_large));
  }
  if (!sent.ok()) {
    applog::Write(applog::Level::kWarn, "nats_api.answer_failed",
                  {{"reply", reply}, {"tx", tx_id}, {"error", sent.ToString()}});
  }
}

void NatsApi::AnswerError(const std::string& reply, const Status& status) const {
  Answer(reply, HttpStatusFor(status.code()), ErrorBody(status));
  options_.flush();
}

void NatsApi::Handle(const std::string& reply, std::string_view body, const Headers& headers) {
  try {
    auto authorization = Header(headers, "Authorization");
    auto key = Header(headers, "Idempotency-Key");
    auto traceparent = Header(headers, "traceparent");
    auto wait = Header(headers, "Txc-Wait");
    for (const auto* h : {&authorization, &key, &traceparent, &wait}) {
      if (!h->ok()) return AnswerError(reply, h->status());
    }
    if (!options_.api_token.empty() &&
        !BearerTokenMatches(authorization->value_or(""), options_.api_token)) {
      return AnswerError(reply, Status(StatusCode::kUnauthenticated,
                                       "this coordinator needs 'Authorization: Bearer <token>'"));
    }
    if (body.size() > options_.max_body_bytes) {
      return AnswerError(reply, Status::ResourceExhausted("the request body is too large"));
    }
    const BeginRequest request{.body = body,
                               .idempotency_key = *key,
                               .traceparent = traceparent->value_or(""),
                               .wait = wait->value_or("")};
    auto cmd = ParseBeginCommand(request, options_.limits, options_.max_wait);
    if (!cmd.ok()) return AnswerError(reply, cmd.status());
    if (options_.admit) {
      if (Status admitted = options_.admit(*cmd); !admitted.ok()) {
        return AnswerError(reply, admitted);
      }
    }
    // Runs on one of the service's threads, which flushes after it.
    service_.BeginAsync(*cmd, [this, reply](Result<BeginResult> begun) noexcept {
      try {
        if (!begun.ok()) {
          Answer(reply, HttpStatusFor(begun.status().code()), ErrorBody(begun.status()));
        } else {
          Answer(reply, begun->created ? 201 : 200, TransactionJson(begun->tx), begun->tx.id);
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
