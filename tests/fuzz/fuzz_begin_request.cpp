// libFuzzer target for the body of POST /v1/transactions: ParseBeginRequest with the default
// limits, and CheckJsonDepth, RequestFingerprint and FirstDuplicateKey on the same bytes. Besides
// "no crash, no sanitizer report, no exception", it checks what the parser promises about a command
// it accepts.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/json_duplicate_keys.h"
#include "api/request_parser.h"
#include "duplicate_key_oracle.h"
#include "fuzz_check.h"
#include "txc/wire.h"

namespace {

using txc::api::BeginCommand;
using txc::api::ParseLimits;

bool IsFingerprint(const std::string& f) {
  if (f.size() != 16) return false;
  for (char c : f) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

void CheckCommand(const BeginCommand& cmd, const ParseLimits& limits) {
  FUZZ_CHECK(!cmd.branches.empty());
  FUZZ_CHECK(cmd.branches.size() <= limits.max_branches);
  FUZZ_CHECK(cmd.timeout.count() >= 1 && cmd.timeout <= limits.max_timeout);
  FUZZ_CHECK(cmd.idempotency_key.empty() && cmd.request_hash.empty() && !cmd.wait);
  const bool saga = cmd.protocol == txc::core::Protocol::kSaga;
  for (size_t i = 0; i < cmd.branches.size(); ++i) {
    const auto& b = cmd.branches[i];
    FUZZ_CHECK(txc::wire::IsValidParticipantName(b.participant));
    FUZZ_CHECK(!b.payload.is_discarded());
    if (!saga) {
      FUZZ_CHECK(b.after.empty());
      continue;
    }
    // Only earlier steps, each once: the steps can never form a cycle.
    std::set<int> seen;
    for (int a : b.after) {
      FUZZ_CHECK(a >= 0 && static_cast<size_t>(a) < i);
      FUZZ_CHECK(seen.insert(a).second);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const ParseLimits limits;

  const txc::Status depth = txc::api::CheckJsonDepth(body, limits.max_json_depth);
  FUZZ_CHECK(depth.ok() || depth.code() == txc::StatusCode::kInvalidArgument);

  auto cmd = txc::api::ParseBeginRequest(body, limits);
  if (!cmd.ok()) {
    FUZZ_CHECK(cmd.status().code() == txc::StatusCode::kInvalidArgument);
    FUZZ_CHECK(!cmd.status().message().empty());
  } else {
    FUZZ_CHECK(depth.ok());
    CheckCommand(*cmd, limits);
  }

  // Bounded first: nlohmann's parser recurses per level.
  if (depth.ok() && nlohmann::json::accept(body)) {
    FUZZ_CHECK(txc::api::FirstDuplicateKey(body) == txc::api::test::DuplicateKeyByCallback(body));
  }

  const std::string fingerprint = txc::api::RequestFingerprint(body);
  FUZZ_CHECK(IsFingerprint(fingerprint));
  FUZZ_CHECK(fingerprint == txc::api::RequestFingerprint(body));
  if (cmd.ok()) {
    // Canonical: spacing and key order do not change the fingerprint of an accepted body.
    const std::string canonical = nlohmann::json::parse(body).dump();
    FUZZ_CHECK(txc::api::RequestFingerprint(canonical) == fingerprint);
  }
  return 0;
}
