// libFuzzer target for GET /v1/transactions: the input is a query string ("state=x&limit=5"),
// split and percent-decoded the way an HTTP server does, then given to ParseListQuery. The same
// bytes also go to the id and Idempotency-Key validators, checked against their definitions.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api/request_parser.h"
#include "fuzz_check.h"

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 &&
               HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::multimap<std::string, std::string> ParseQueryString(std::string_view query) {
  std::multimap<std::string, std::string> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    params.emplace(PercentDecode(key), PercentDecode(value));
  }
  return params;
}

// The last value given for `key`: the one a successful parse must have kept.
std::optional<std::string> Last(const std::multimap<std::string, std::string>& params,
                                const std::string& key) {
  auto [begin, end] = params.equal_range(key);
  if (begin == end) return std::nullopt;
  return std::prev(end)->second;
}

void CheckValidators(std::string_view s) {
  bool id_chars = !s.empty() && s.size() <= 64;
  bool key_chars = !s.empty() && s.size() <= 128;
  for (char c : s) {
    id_chars = id_chars && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '_' || c == '-');
    key_chars = key_chars && c >= 0x20 && c <= 0x7e;
  }
  FUZZ_CHECK(txc::api::IsValidTransactionId(s) == id_chars);
  FUZZ_CHECK(txc::api::IsValidIdempotencyKey(s) == key_chars);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  CheckValidators(query);

  const auto params = ParseQueryString(query);
  auto filter = txc::api::ParseListQuery(params);
  if (!filter.ok()) {
    FUZZ_CHECK(filter.status().code() == txc::StatusCode::kInvalidArgument);
    FUZZ_CHECK(!filter.status().message().empty());
    return 0;
  }
  for (const auto& [key, value] : params) {
    FUZZ_CHECK(key == "state" || key == "protocol" || key == "limit" || key == "cursor");
  }
  FUZZ_CHECK(filter->limit >= 1 && filter->limit <= 1000);
  const auto state = Last(params, "state");
  FUZZ_CHECK(filter->state.has_value() == state.has_value());
  if (state) FUZZ_CHECK(txc::core::TxStateName(*filter->state) == *state);
  const auto protocol = Last(params, "protocol");
  FUZZ_CHECK(filter->protocol.has_value() == protocol.has_value());
  if (protocol) FUZZ_CHECK(txc::core::ProtocolName(*filter->protocol) == *protocol);
  const auto limit = Last(params, "limit");
  if (limit) {
    // Digits only, maybe with leading zeros ("007"): no sign, space or suffix slips through.
    const size_t first = limit->find_first_not_of('0');
    FUZZ_CHECK(first != std::string::npos && limit->substr(first) == std::to_string(filter->limit));
  } else {
    FUZZ_CHECK(filter->limit == 50);
  }
  FUZZ_CHECK(filter->cursor == Last(params, "cursor").value_or(""));
  return 0;
}
