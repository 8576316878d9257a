// libFuzzer target for the NATS wire codec: every Decode* function gets the same bytes (any
// message can arrive on any subject). Decoders must never throw or crash; and whatever a decoder
// accepts must survive Encode then Decode unchanged (the round-trip property), so the coordinator
// and the SDK read back exactly what the other side meant. The branch messages are read by
// JsonFields instead of nlohmann: it must accept and read every input exactly as nlohmann does.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_check.h"
#include "json_fields_oracle.h"
#include "txc/wire.h"

namespace {

namespace wire = txc::wire;

bool Same(const wire::BranchRequest& a, const wire::BranchRequest& b) {
  return a.gid == b.gid && a.branch == b.branch && a.participant == b.participant &&
         a.protocol == b.protocol && a.op == b.op && a.attempt == b.attempt &&
         a.payload == b.payload && a.participants == b.participants;
}
bool Same(const wire::BranchReply& a, const wire::BranchReply& b) {
  return a.gid == b.gid && a.branch == b.branch && a.op == b.op && a.outcome == b.outcome &&
         a.message == b.message;
}
bool Same(const wire::StatusQuery& a, const wire::StatusQuery& b) { return a.gid == b.gid; }
bool Same(const wire::StatusReply& a, const wire::StatusReply& b) {
  return a.gid == b.gid && a.decision == b.decision;
}
bool Same(const wire::PeerStateQuery& a, const wire::PeerStateQuery& b) {
  return a.gid == b.gid && a.from == b.from;
}
bool Same(const wire::PeerStateReply& a, const wire::PeerStateReply& b) {
  if (a.gid != b.gid || a.participant != b.participant || a.branches.size() != b.branches.size())
    return false;
  for (size_t i = 0; i < a.branches.size(); ++i) {
    if (a.branches[i].branch != b.branches[i].branch || a.branches[i].state != b.branches[i].state)
      return false;
  }
  return true;
}
bool Same(const wire::Heartbeat& a, const wire::Heartbeat& b) {
  return a.participant == b.participant && a.instance == b.instance &&
         a.interval_ms == b.interval_ms && a.leaving == b.leaving;
}

// Decodes `data`; if that succeeds, checks the decoded message's invariants and that
// Decode(Encode(message)) gives it back.
template <typename Decode>
void CheckDecoder(std::string_view data, Decode decode) {
  auto first = decode(data);
  if (!first.ok()) {
    FUZZ_CHECK(first.status().code() == txc::StatusCode::kInvalidArgument);
    FUZZ_CHECK(!first.status().message().empty());
    return;
  }
  const std::string encoded = wire::Encode(*first);
  auto second = decode(encoded);
  if (!second.ok()) {
    std::fprintf(stderr, "re-encoded message rejected: %s\n%s\n",
                 second.status().ToString().c_str(), encoded.c_str());
  }
  FUZZ_CHECK(second.ok());
  FUZZ_CHECK(Same(*first, *second));
  FUZZ_CHECK(wire::Encode(*second) == encoded);  // encoding is deterministic
}

void CheckNames(std::string_view s) {
  // Each enum's name parses back to the same value, and only names parse.
  if (auto op = wire::ParseOp(s)) FUZZ_CHECK(wire::OpName(*op) == s);
  if (auto o = wire::ParseOutcome(s)) FUZZ_CHECK(wire::OutcomeName(*o) == s);
  if (auto d = wire::ParseDecision(s)) FUZZ_CHECK(wire::DecisionName(*d) == s);
  if (auto p = wire::ParsePeerState(s)) FUZZ_CHECK(wire::PeerStateName(*p) == s);
}

// What the branch decoders read with JsonFields must be what nlohmann reads from the same text.
void CheckAgainstNlohmann(std::string_view message) {
  using nlohmann::json;
  auto request = wire::DecodeBranchRequest(message);
  auto reply = wire::DecodeBranchReply(message);
  if (!request.ok() && !reply.ok()) return;
  const json doc = json::parse(message, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(doc.is_object());
  if (request.ok()) {
    FUZZ_CHECK(doc.at("gid") == request->gid && doc.at("participant") == request->participant);
    FUZZ_CHECK(doc.at("protocol") == request->protocol);
    FUZZ_CHECK(doc.value("payload", json()) == request->payload);
    FUZZ_CHECK(doc.value("participants", json::array()) == json(request->participants));
    FUZZ_CHECK(doc.value("traceparent", std::string()) == request->traceparent);
  }
  if (reply.ok()) {
    FUZZ_CHECK(doc.at("gid") == reply->gid);
    FUZZ_CHECK(doc.value("message", std::string()) == reply->message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  // Bounded (JsonFields and nlohmann recurse per level), deeper than any decoder accepts.
  if (!wire::JsonNestedDeeperThan(message, 512)) {
    const std::string disagreement = txc::wire::test::JsonFieldsDisagreement(message);
    if (!disagreement.empty()) std::fprintf(stderr, "JsonFields: %s\n", disagreement.c_str());
    FUZZ_CHECK(disagreement.empty());
  }
  CheckAgainstNlohmann(message);
  CheckDecoder(message, wire::DecodeBranchRequest);
  CheckDecoder(message, wire::DecodeBranchReply);
  CheckDecoder(message, wire::DecodeStatusQuery);
  CheckDecoder(message, wire::DecodeStatusReply);
  CheckDecoder(message, wire::DecodePeerStateQuery);
  CheckDecoder(message, wire::DecodePeerStateReply);
  CheckDecoder(message, wire::DecodeHeartbeat);
  if (size <= 16) CheckNames(message);
  return 0;
}
