#include "api/request_parser.h"

#include <algorithm>

#include <charconv>
#include <cstdio>
#include <set>

#include "api/json_duplicate_keys.h"
#include "core/retry_budget_limits.h"
#include "txc/wire.h"

namespace txc::api {
namespace {

using nlohmann::json;

// An integer from `min` to `max` (both >= 0).
Result<int64_t> IntegerIn(const json& value, const std::string& name, int64_t min, int64_t max) {
  if (!value.is_number_integer()) return Status::InvalidArgument(name + " must be an integer");
  const bool negative = !value.is_number_unsigned() && value.get<int64_t>() < 0;
  const uint64_t n = negative ? 0 : value.get<uint64_t>();
  if (negative || n < static_cast<uint64_t>(min) || n > static_cast<uint64_t>(max)) {
    return Status::InvalidArgument(name + " must be from " + std::to_string(min) + " to " +
                                   std::to_string(max));
  }
  return static_cast<int64_t>(n);
}

Status ParseRetryBudget(const json& value, BeginCommand& cmd) {
  if (!value.is_object()) return Status::InvalidArgument("retry_budget must be an object");
  for (const auto& [key, field] : value.items()) {
    if (key == "max_attempts") {
      TXC_ASSIGN_OR_RETURN(int64_t n, IntegerIn(field, "retry_budget.max_attempts", 0,
                                                core::kMaxRetryBudgetAttempts));
      cmd.retry_max_attempts = static_cast<int>(n);
    } else if (key == "deadline_ms") {
      TXC_ASSIGN_OR_RETURN(int64_t ms, IntegerIn(field, "retry_budget.deadline_ms", 0,
                                                 core::kMaxRetryBudgetDeadlineMs));
      cmd.retry_deadline = core::Duration(ms);
    } else {
      return Status::InvalidArgument("retry_budget has unknown field '" + key + "'");
    }
  }
  return Status::Ok();
}

std::string Field(size_t i, const char* name) {
  return "branches[" + std::to_string(i) + "]." + name;
}

Result<std::vector<int>> ParseAfter(const json& value, size_t index) {
  const std::string field = Field(index, "after");
  if (!value.is_array())
    return Status::InvalidArgument(field + " must be an array of step indices");
  std::vector<int> after;
  std::set<int> seen;
  for (const auto& dep : value) {
    if (!dep.is_number_integer()) {
      return Status::InvalidArgument(field + " must hold integers");
    }
    const int64_t d = dep.get<int64_t>();
    // Only earlier steps: the dependencies can then never form a cycle.
    if (d < 0 || d >= static_cast<int64_t>(index)) {
      return Status::InvalidArgument(field + " may only name earlier steps (0.." +
                                     std::to_string(static_cast<int64_t>(index) - 1) + "), got " +
                                     std::to_string(d));
    }
    if (!seen.insert(static_cast<int>(d)).second) {
      return Status::InvalidArgument(field + " names step " + std::to_string(d) + " twice");
    }
    after.push_back(static_cast<int>(d));
  }
  return after;
}

Result<BranchSpec> ParseBranch(const json& item, size_t i, core::Protocol protocol,
                               std::vector<int>* after) {
  if (!item.is_object()) {
    return Status::InvalidArgument("branches[" + std::to_string(i) + "] must be an object");
  }
  for (const auto& [key, value] : item.items()) {
    if (key != "participant" && key != "payload" && key != "after") {
      return Status::InvalidArgument("branches[" + std::to_string(i) + "] has unknown field '" +
                                     key + "'");
    }
  }
  BranchSpec spec;
  auto p = item.find("participant");
  if (p == item.end()) return Status::InvalidArgument(Field(i, "participant") + " is missing");
  if (!p->is_string())
    return Status::InvalidArgument(Field(i, "participant") + " must be a string");
  spec.participant = p->get<std::string>();
  if (spec.participant.empty()) {
    return Status::InvalidArgument(Field(i, "participant") + " is empty");
  }
  if (!wire::IsValidParticipantName(spec.participant)) {
    return Status::InvalidArgument(
        Field(i, "participant") +
        " may only contain letters, digits, '_' and '-' (1 to 64 characters): participant names "
        "become NATS subject tokens");
  }
  auto payload = item.find("payload");
  spec.payload = payload == item.end() ? json::object() : *payload;
  auto a = item.find("after");
  if (a != item.end()) {
    if (protocol != core::Protocol::kSaga) {
      return Status::InvalidArgument(Field(i, "after") + " is only allowed in a saga");
    }
    TXC_ASSIGN_OR_RETURN(*after, ParseAfter(*a, i));
  } else if (protocol == core::Protocol::kSaga && i > 0) {
    *after = {static_cast<int>(i) - 1};  // by default a step runs after the one before it
  }
  return spec;
}

}  // namespace

Status CheckJsonDepth(std::string_view text, int max_depth) {
  if (!wire::JsonNestedDeeperThan(text, max_depth)) return Status::Ok();
  return Status::InvalidArgument("JSON is nested deeper than " + std::to_string(max_depth) +
                                 " levels");
}

Result<BeginCommand> ParseBeginRequest(std::string_view body, const ParseLimits& limits) {
  TXC_RETURN_IF_ERROR(CheckJsonDepth(body, limits.max_json_depth));
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("the body is not valid JSON");
  // A key given twice would mean whatever the parser picks (here: the last); refuse it instead.
  if (auto duplicate = FirstDuplicateKey(body)) {
    return Status::InvalidArgument("the key '" + *duplicate + "' appears twice in one object");
  }
  if (!doc.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  for (const auto& [key, value] : doc.items()) {
    if (key != "protocol" && key != "branches" && key != "timeout_ms" && key != "retry_budget") {
      return Status::InvalidArgument("unknown field '" + key + "'");
    }
  }
  BeginCommand cmd;
  auto protocol = doc.find("protocol");
  if (protocol == doc.end()) return Status::InvalidArgument("protocol is missing");
  if (!protocol->is_string()) return Status::InvalidArgument("protocol must be a string");
  auto parsed = core::ParseProtocol(protocol->get<std::string>());
  if (!parsed) {
    return Status::InvalidArgument("protocol must be \"2pc\", \"3pc\" or \"saga\", got \"" +
                                   protocol->get<std::string>() + "\"");
  }
  cmd.protocol = *parsed;

  auto branches = doc.find("branches");
  if (branches == doc.end()) return Status::InvalidArgument("branches is missing");
  if (!branches->is_array()) return Status::InvalidArgument("branches must be an array");
  if (branches->empty()) return Status::InvalidArgument("branches is empty");
  if (branches->size() > limits.max_branches) {
    return Status::InvalidArgument("branches has " + std::to_string(branches->size()) +
                                   " entries; at most " + std::to_string(limits.max_branches) +
                                   " are allowed");
  }
  for (size_t i = 0; i < branches->size(); ++i) {
    std::vector<int> after;
    TXC_ASSIGN_OR_RETURN(BranchSpec spec, ParseBranch((*branches)[i], i, cmd.protocol, &after));
    spec.after = std::move(after);
    cmd.branches.push_back(std::move(spec));
  }

  if (auto t = doc.find("timeout_ms"); t != doc.end()) {
    TXC_ASSIGN_OR_RETURN(int64_t ms, IntegerIn(*t, "timeout_ms", 1, limits.max_timeout.count()));
    cmd.timeout = core::Duration(ms);
  }
  if (auto b = doc.find("retry_budget"); b != doc.end()) {
    TXC_RETURN_IF_ERROR(ParseRetryBudget(*b, cmd));
  }
  return cmd;
}

Result<log::TxFilter> ParseListQuery(const std::multimap<std::string, std::string>& params) {
  log::TxFilter filter;
  for (const auto& [key, value] : params) {
    if (key == "state") {
      filter.state = core::ParseTxState(value);
      if (!filter.state) return Status::InvalidArgument("unknown state '" + value + "'");
    } else if (key == "protocol") {
      filter.protocol = core::ParseProtocol(value);
      if (!filter.protocol) return Status::InvalidArgument("unknown protocol '" + value + "'");
    } else if (key == "limit") {
      int limit = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc() || ptr != value.data() + value.size() || limit < 1 || limit > 1000) {
        return Status::InvalidArgument("limit must be an integer from 1 to 1000");
      }
      filter.limit = limit;
    } else if (key == "cursor") {
      filter.cursor = value;
    } else if (key == "needs_attention") {
      if (value != "true" && value != "false") {
        return Status::InvalidArgument("needs_attention must be true or false");
      }
      filter.needs_attention = value == "true";
    } else {
      return Status::InvalidArgument("unknown query parameter '" + key + "'");
    }
  }
  return filter;
}

Result<std::string> ParseAbortRequest(std::string_view body) {
  if (body.empty()) return std::string();
  TXC_RETURN_IF_ERROR(CheckJsonDepth(body, 4));
  json doc = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("the body is not valid JSON");
  if (!doc.is_object()) return Status::InvalidArgument("the body must be a JSON object");
  std::string reason;
  for (const auto& [key, value] : doc.items()) {
    if (key != "reason") return Status::InvalidArgument("unknown field '" + key + "'");
    if (!value.is_string()) return Status::InvalidArgument("reason must be a string");
    reason = value.get<std::string>();
    if (reason.size() > kMaxAbortReasonBytes) {
      return Status::InvalidArgument("reason is longer than " +
                                     std::to_string(kMaxAbortReasonBytes) + " bytes");
    }
  }
  return reason;
}

bool IsValidTransactionId(std::string_view id) { return wire::IsValidParticipantName(id); }

bool IsValidTraceparent(std::string_view tp) {
  // version "-" trace-id "-" parent-id "-" flags, lower-case hex: 2-32-16-2.
  if (tp.size() != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-') return false;
  auto hex = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  };
  auto zero = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
  };
  const std::string_view version = tp.substr(0, 2), trace = tp.substr(3, 32),
                         parent = tp.substr(36, 16), flags = tp.substr(53, 2);
  return hex(version) && version != "ff" && hex(trace) && !zero(trace) && hex(parent) &&
         !zero(parent) && hex(flags);
}

bool IsValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > 128) return false;
  for (char c : key) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string RequestFingerprint(std::string_view body) {
  // dump() recurses once per level: a body too deep for that is hashed as raw bytes, like one
  // that is not JSON (ParseBeginRequest refuses both long before this limit).
  constexpr int kMaxCanonicalDepth = 1024;
  json doc = CheckJsonDepth(body, kMaxCanonicalDepth).ok() ? json::parse(body, nullptr, false)
                                                           : json(json::value_t::discarded);
  const std::string canonical = doc.is_discarded()
                                    ? std::string(body)
                                    : doc.dump(-1, ' ', false, json::error_handler_t::replace);
  uint64_t h = 14695981039346656037ULL;  // FNV-1a 64
  for (unsigned char c : canonical) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace txc::api
