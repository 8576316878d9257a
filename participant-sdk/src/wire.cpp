#include "txc/wire.h"

#include <array>
#include <utility>

#include "json_fields.h"
#include "txc/json_text.h"

namespace txc::wire {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<Op, const char*>, 8> kOps = {{
    {Op::kPrepare, "prepare"},
    {Op::kCommit, "commit"},
    {Op::kAbort, "abort"},
    {Op::kCanCommit, "can_commit"},
    {Op::kPreCommit, "pre_commit"},
    {Op::kDoCommit, "do_commit"},
    {Op::kAction, "action"},
    {Op::kCompensate, "compensate"},
}};

constexpr std::array<std::pair<Outcome, const char*>, 3> kOutcomes = {{
    {Outcome::kOk, "ok"},
    {Outcome::kRefused, "refused"},
    {Outcome::kError, "error"},
}};

constexpr std::array<std::pair<Decision, const char*>, 3> kDecisions = {{
    {Decision::kCommit, "commit"},
    {Decision::kAbort, "abort"},
    {Decision::kPending, "pending"},
}};

constexpr std::array<std::pair<PeerState, const char*>, 5> kPeerStates = {{
    {PeerState::kNone, "none"},
    {PeerState::kUncertain, "uncertain"},
    {PeerState::kPreCommitted, "precommitted"},
    {PeerState::kCommitted, "committed"},
    {PeerState::kAborted, "aborted"},
}};

template <typename E, size_t N>
const char* NameOf(const std::array<std::pair<E, const char*>, N>& table, E value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> ValueOf(const std::array<std::pair<E, const char*>, N>& table,
                         std::string_view name) {
  for (const auto& [v, n] : table) {
    if (name == n) return v;
  }
  return std::nullopt;
}

// Far deeper than any message txc sends (REST bodies are capped at 32 levels). Copying or
// encoding a JSON value recurses once per level, so a forged message nested 100,000 deep (200 KB)
// would overflow the stack of whoever decodes it.
constexpr int kMaxJsonDepth = 128;

// Field readers: each returns an error naming the field instead of throwing. Messages are read
// with JsonFields, not as nlohmann documents (see json_fields.h); only payloads become documents.
Result<JsonFields> ParseFields(std::string_view data) {
  if (JsonNestedDeeperThan(data, kMaxJsonDepth)) {
    return Status::InvalidArgument("message is nested deeper than " +
                                   std::to_string(kMaxJsonDepth) + " levels");
  }
  JsonFields doc;
  switch (doc.Read(data)) {
    case JsonFields::Parsed::kInvalid:
      return Status::InvalidArgument("message is not valid JSON");
    case JsonFields::Parsed::kNotObject:
      return Status::InvalidArgument("message is not a JSON object");
    case JsonFields::Parsed::kObject:
      break;
  }
  return doc;
}

// A payload JsonFields accepted; a disagreement with nlohmann is refused, not thrown.
Result<json> ParseValue(std::string_view text) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Status::InvalidArgument("message is not valid JSON");
  return value;
}

Status ReadString(const JsonFields& doc, const char* field, std::string* out,
                  bool required = true) {
  const JsonFields::Member* m = doc.Find(field);
  if (m == nullptr) {
    return required ? Status::InvalidArgument(std::string(field) + " is missing") : Status::Ok();
  }
  if (m->kind != JsonFields::Kind::kString) {
    return Status::InvalidArgument(std::string(field) + " must be a string");
  }
  *out = JsonFields::DecodeString(m->value);
  return Status::Ok();
}

Status ReadInt(const JsonFields& doc, const char* field, int* out, bool required = true) {
  const JsonFields::Member* m = doc.Find(field);
  if (m == nullptr) {
    return required ? Status::InvalidArgument(std::string(field) + " is missing") : Status::Ok();
  }
  const std::optional<int64_t> v =
      m->kind == JsonFields::Kind::kNumber ? JsonFields::AsInteger(m->value) : std::nullopt;
  if (!v) return Status::InvalidArgument(std::string(field) + " must be an integer");
  if (*v < 0 || *v > INT32_MAX) {
    return Status::InvalidArgument(std::string(field) + " out of range");
  }
  *out = static_cast<int>(*v);
  return Status::Ok();
}

template <typename E, size_t N>
Status ReadEnum(const JsonFields& doc, const char* field,
                const std::array<std::pair<E, const char*>, N>& table, E* out) {
  std::string name;
  TXC_RETURN_IF_ERROR(ReadString(doc, field, &name));
  auto value = ValueOf(table, name);
  if (!value)
    return Status::InvalidArgument(std::string(field) + " has unknown value '" + name + "'");
  *out = *value;
  return Status::Ok();
}

}  // namespace

const char* OpName(Op op) { return NameOf(kOps, op); }
std::optional<Op> ParseOp(std::string_view name) { return ValueOf(kOps, name); }
const char* OutcomeName(Outcome outcome) { return NameOf(kOutcomes, outcome); }
std::optional<Outcome> ParseOutcome(std::string_view name) { return ValueOf(kOutcomes, name); }
const char* DecisionName(Decision decision) { return NameOf(kDecisions, decision); }
std::optional<Decision> ParseDecision(std::string_view name) { return ValueOf(kDecisions, name); }

const char* PeerStateName(PeerState state) { return NameOf(kPeerStates, state); }
std::optional<PeerState> ParsePeerState(std::string_view name) {
  return ValueOf(kPeerStates, name);
}

std::string PeerStateSubject(std::string_view participant) {
  std::string subject(kParticipantSubjectPrefix);
  subject.append(participant).append(".").append(kPeerStateOp);
  return subject;
}

bool IsValidParticipantName(std::string_view name) {
  if (name.empty() || name.size() > kMaxParticipantNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string ParticipantSubject(std::string_view participant, Op op) {
  std::string subject(kParticipantSubjectPrefix);
  subject.append(participant).append(".").append(OpName(op));
  return subject;
}

bool JsonNestedDeeperThan(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if ((c == '[' || c == '{') && ++depth > max_depth) {
      return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

std::string ParticipantWildcardSubject(std::string_view participant) {
  std::string subject(kParticipantSubjectPrefix);
  subject.append(participant).append(".*");
  return subject;
}

// The two messages of every branch step are written directly (JsonText); the keys stay in the
// order nlohmann's sorted objects gave them, so the bytes on the wire did not change.
std::string Encode(const BranchRequest& r) {
  JsonText out;
  out.BeginObject()
      .Member("attempt", r.attempt)
      .Member("branch", r.branch)
      .Member("gid", r.gid)
      .Member("op", OpName(r.op))
      .Member("participant", r.participant);
  if (!r.participants.empty()) {
    out.Key("participants").BeginArray();
    for (const auto& p : r.participants) out.String(p);
    out.EndArray();
  }
  out.Key("payload").Value(r.payload).Member("protocol", r.protocol);
  if (!r.traceparent.empty()) out.Member("traceparent", r.traceparent);
  out.Member("v", kVersion).EndObject();
  return out.Take();
}

std::string Encode(const BranchReply& r) {
  JsonText out;
  out.BeginObject().Member("branch", r.branch).Member("gid", r.gid);
  if (!r.message.empty()) out.Member("message", r.message);
  out.Member("op", OpName(r.op))
      .Member("outcome", OutcomeName(r.outcome))
      .Member("v", kVersion)
      .EndObject();
  return out.Take();
}

std::string Encode(const StatusQuery& q) { return json{{"v", kVersion}, {"gid", q.gid}}.dump(); }

std::string Encode(const StatusReply& r) {
  return json{{"v", kVersion}, {"gid", r.gid}, {"decision", DecisionName(r.decision)}}.dump();
}

std::string Encode(const PeerStateQuery& q) {
  return json{{"v", kVersion}, {"gid", q.gid}, {"from", q.from}}.dump();
}

std::string Encode(const PeerStateReply& r) {
  json branches = json::array();
  for (const auto& b : r.branches) {
    branches.push_back({{"branch", b.branch}, {"state", PeerStateName(b.state)}});
  }
  return json{
      {"v", kVersion}, {"gid", r.gid}, {"participant", r.participant}, {"branches", branches}}
      .dump();
}

std::string HeartbeatSubject(std::string_view participant) {
  std::string subject(kHeartbeatSubjectPrefix);
  subject.append(participant);
  return subject;
}

bool IsValidInstanceId(std::string_view id) {
  if (id.empty() || id.size() > kMaxInstanceIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string Encode(const Heartbeat& h) {
  json doc = {{"v", kVersion},
              {"participant", h.participant},
              {"instance", h.instance},
              {"interval_ms", h.interval_ms}};
  if (h.leaving) doc["leaving"] = true;
  return doc.dump();
}

Result<Heartbeat> DecodeHeartbeat(std::string_view data) {
  TXC_ASSIGN_OR_RETURN(JsonFields doc, ParseFields(data));
  Heartbeat h;
  TXC_RETURN_IF_ERROR(ReadString(doc, "participant", &h.participant));
  TXC_RETURN_IF_ERROR(ReadString(doc, "instance", &h.instance));
  TXC_RETURN_IF_ERROR(ReadInt(doc, "interval_ms", &h.interval_ms));
  if (const JsonFields::Member* m = doc.Find("leaving")) {
    if (m->kind != JsonFields::Kind::kBool) {
      return Status::InvalidArgument("leaving must be a boolean");
    }
    h.leaving = m->value == "true";
  }
  if (!IsValidParticipantName(h.participant)) {
    return Status::InvalidArgument("participant is not a valid participant name");
  }
  if (!IsValidInstanceId(h.instance)) {
    return Status::InvalidArgument("instance must be 1..128 characters of [A-Za-z0-9_.-]");
  }
  if (h.interval_ms < 1 || h.interval_ms > kMaxHeartbeatIntervalMs) {
    return Status::InvalidArgument("interval_ms must be from 1 to " +
                                   std::to_string(kMaxHeartbeatIntervalMs));
  }
  return h;
}

Result<PeerStateQuery> DecodePeerStateQuery(std::string_view data) {
  TXC_ASSIGN_OR_RETURN(JsonFields doc, ParseFields(data));
  PeerStateQuery q;
  TXC_RETURN_IF_ERROR(ReadString(doc, "gid", &q.gid));
  TXC_RETURN_IF_ERROR(ReadString(doc, "from", &q.from, /*required=*/false));
  if (q.gid.empty()) return Status::InvalidArgument("gid is empty");
  return q;
}

Result<PeerStateReply> DecodePeerStateReply(std::string_view data) {
  TXC_ASSIGN_OR_RETURN(JsonFields doc, ParseFields(data));
  PeerStateReply r;
  TXC_RETURN_IF_ERROR(ReadString(doc, "gid", &r.gid));
  TXC_RETURN_IF_ERROR(ReadString(doc, "participant", &r.participant));
  const JsonFields::Member* branches = doc.Find("branches");
  if (branches == nullptr || branches->kind != JsonFields::Kind::kArray) {
    return Status::InvalidArgument("branches must be an array");
  }
  for (const JsonFields::Member& element : JsonFields::Elements(branches->value)) {
    JsonFields b;
    if (element.kind != JsonFields::Kind::kObject ||
        b.Read(element.value) != JsonFields::Parsed::kObject) {
      return Status::InvalidArgument("branches must hold objects");
    }
    PeerBranchState s;
    TXC_RETURN_IF_ERROR(ReadInt(b, "branch", &s.branch));
    TXC_RETURN_IF_ERROR(ReadEnum(b, "state", kPeerStates, &s.state));
    r.branches.push_back(s);
  }
  return r;
}

Result<BranchRequest> DecodeBranchRequest(std::string_view data) {
  TXC_ASSIGN_OR_RETURN(JsonFields doc, ParseFields(data));
  BranchRequest r;
  TXC_RETURN_IF_ERROR(ReadString(doc, "gid", &r.gid));
  TXC_RETURN_IF_ERROR(ReadInt(doc, "branch", &r.branch));
  TXC_RETURN_IF_ERROR(ReadString(doc, "participant", &r.participant));
  TXC_RETURN_IF_ERROR(ReadString(doc, "protocol", &r.protocol));
  TXC_RETURN_IF_ERROR(ReadEnum(doc, "op", kOps, &r.op));
  TXC_RETURN_IF_ERROR(ReadInt(doc, "attempt", &r.attempt, /*required=*/false));
  if (const JsonFields::Member* m = doc.Find("payload")) {
    TXC_ASSIGN_OR_RETURN(r.payload, ParseValue(m->value));
  }
  if (const JsonFields::Member* m = doc.Find("participants")) {
    if (m->kind != JsonFields::Kind::kArray) {
      return Status::InvalidArgument("participants must be an array");
    }
    for (const JsonFields::Member& p : JsonFields::Elements(m->value)) {
      if (p.kind != JsonFields::Kind::kString) {
        return Status::InvalidArgument("participants must hold strings");
      }
      r.participants.push_back(JsonFields::DecodeString(p.value));
    }
  }
  TXC_RETURN_IF_ERROR(ReadString(doc, "traceparent", &r.traceparent, /*required=*/false));
  if (r.gid.empty()) return Status::InvalidArgument("gid is empty");
  return r;
}

Result<BranchReply> DecodeBranchReply(std::string_view data) {
  TXC_ASSIGN_OR_RETURN(JsonFields doc, ParseFields(data));
  BranchReply r;
  TXC_RETURN_IF_ERROR(ReadString(doc, "gid", &r.gid));
  TXC_RETURN_IF_ERROR(ReadInt(doc, "branch", &r.branch));
  TXC_RETURN_IF_ERROR(ReadEnum(doc, "op", kOps, &r.op));
  TXC_RETURN_IF_ERROR(ReadEnum(doc, "outcome", kOutcomes, &r.outcome));
  TXC_RETURN_IF_ERROR(ReadString(doc, "message", &r.message, /*required=*/false));
  return r;
}

Result<StatusQuery> DecodeStatusQuery(std::string_view data) {
  TXC_ASSIGN_OR_RETURN(JsonFields doc, ParseFields(data));
  StatusQuery q;
  TXC_RETURN_IF_ERROR(ReadString(doc, "gid", &q.gid));
  if (q.gid.empty()) return Status::InvalidArgument("gid is empty");
  return q;
}

Result<StatusReply> DecodeStatusReply(std::string_view data) {
  TXC_ASSIGN_OR_RETURN(JsonFields doc, ParseFields(data));
  StatusReply r;
  TXC_RETURN_IF_ERROR(ReadString(doc, "gid", &r.gid));
  TXC_RETURN_IF_ERROR(ReadEnum(doc, "decision", kDecisions, &r.decision));
  return r;
}

}  // namespace txc::wire
