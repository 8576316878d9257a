// Status and Result<T>: how every expected failure travels between txc modules.
// Exceptions never cross a module boundary; a function that can fail returns one of these.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace txc {

enum class StatusCode {
  kOk,
  kInvalidArgument,     // the caller sent something malformed (HTTP 400)
  kNotFound,            // no such object (404)
  kAlreadyExists,       // conflicts with existing state, e.g. an Idempotency-Key reused (409/422)
  kFailedPrecondition,  // valid request, wrong state (409)
  kUnavailable,         // a dependency (NATS, the log) is down; retry later (503)
  kDeadlineExceeded,    // a wait ran out (504)
  kResourceExhausted,   // a limit was hit (413/429)
  kUnauthenticated,     // no valid credentials (401)
  kDataLoss,            // durable storage cannot be trusted any more (500, log poisoned)
  kInternal,            // a bug (500)
};

const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) {
    return {StatusCode::kDeadlineExceeded, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context`, so errors say where they came from.
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must not be Ok

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace txc

#define TXC_CONCAT_INNER(a, b) a##b
#define TXC_CONCAT(a, b) TXC_CONCAT_INNER(a, b)

#define TXC_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::txc::Status txc_status_ = (expr);        \
    if (!txc_status_.ok()) return txc_status_; \
  } while (0)

#define TXC_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#define TXC_ASSIGN_OR_RETURN(lhs, expr) \
  TXC_ASSIGN_OR_RETURN_IMPL(TXC_CONCAT(txc_result_, __LINE__), lhs, expr)
