// NatsApi: POST /v1/transactions over NATS, for clients that are on NATS already
// (docs/protocol.md, "Starting a transaction over NATS"). A request on wire::kBeginSubject carries
// the same JSON body as the REST call and the same headers as NATS headers (Authorization,
// Idempotency-Key, traceparent, and Txc-Wait for ?wait=); the answer carries the REST answer's
// body and its HTTP status in the header Txc-Status. The same validation, token and admission
// check as over HTTP; no HTTP connection, and no thread held while a transaction runs
// (TransactionService::BeginAsync).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/request_parser.h"
#include "api/transaction_service.h"

namespace txc::api {

class NatsApi {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;
  struct Options {
    size_t max_body_bytes = 1 << 20;
    ParseLimits limits;
    core::Duration max_wait{60000};
    // When set, every request needs the header "Authorization: Bearer <token>".
    std::string api_token;
    // As HttpApi::Options::admit.
    std::function<Status(const BeginCommand&)> admit;
    // Buffers the answer to a request: its reply subject, headers and body (any thread).
    // kResourceExhausted when it is over the NATS server's max_payload.
    std::function<Status(const std::string& reply, const Headers& headers, std::string_view body)>
        respond;
    // Sends what `respond` buffered on the calling thread.
    std::function<void()> flush;
  };

  NatsApi(TransactionService& service, Options options);

  // One request, from the subscription's delivery thread: answers it now (a bad request) or
  // once the service has (a start). Never throws, never blocks on the transaction. (Which reply
  // subjects may be answered at all is the transport's check.)
  void Handle(const std::string& reply, std::string_view body, const Headers& headers);

  // The header that carries the HTTP status of an answer.
  static constexpr const char* kStatusHeader = "Txc-Status";

 private:
  // Buffers an answer; one too large for NATS is replaced by an error naming the transaction.
  void Answer(const std::string& reply, int status, std::string_view body,
              const std::string& tx_id = "") const;
  void AnswerError(const std::string& reply, const Status& status) const;

  TransactionService& service_;
  const Options options_;
};

}  // namespace txc::api
