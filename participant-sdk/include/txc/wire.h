// The txc NATS wire protocol: subjects, messages and their JSON codec.
// This is a public contract (docs/protocol.md describes it for other languages); the SDK and the
// coordinator both use this file so they cannot drift apart. Decoders never throw: bad input comes
// back as a Status with a message naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "txc/status.h"

namespace txc::wire {

inline constexpr int kVersion = 1;
// Coordinator -> participant requests go to "txc.participant.<name>.<op>"; participants subscribe
// to "txc.participant.<name>.*" in queue group "<name>".
inline constexpr std::string_view kParticipantSubjectPrefix = "txc.participant.";
// Participant -> coordinator: "what was decided for gid?" (answered from the coordinator's log).
inline constexpr std::string_view kStatusSubject = "txc.coordinator.status";
// Client -> coordinator (when it serves its API over NATS): start a transaction, as
// POST /v1/transactions does (docs/protocol.md, "Starting a transaction over NATS").
inline constexpr std::string_view kBeginSubject = "txc.coordinator.begin";
inline constexpr size_t kMaxParticipantNameLength = 64;

enum class Op {
  kPrepare,     // 2PC phase one: vote
  kCommit,      // 2PC phase two
  kAbort,       // 2PC / 3PC rollback
  kCanCommit,   // 3PC phase one
  kPreCommit,   // 3PC phase two
  kDoCommit,    // 3PC phase three
  kAction,      // saga forward step
  kCompensate,  // saga compensation
};
const char* OpName(Op op);
std::optional<Op> ParseOp(std::string_view name);

// What a participant answers. kOk is a yes vote / acknowledgement; kRefused is a definitive no
// (never retried); kError is transient (the coordinator may retry or, before a decision, abort).
enum class Outcome { kOk, kRefused, kError };
const char* OutcomeName(Outcome outcome);
std::optional<Outcome> ParseOutcome(std::string_view name);

// Participant names become NATS subject tokens: only [A-Za-z0-9_-], 1..64 characters.
bool IsValidParticipantName(std::string_view name);

// True if arrays/objects in the JSON `text` nest deeper than `max_depth`. A linear scan that
// runs before any recursive parser sees the text (a forged document nested 100,000 deep would
// overflow the stack of whoever parses, copies or encodes it); strings are skipped correctly.
bool JsonNestedDeeperThan(std::string_view text, int max_depth);
std::string ParticipantSubject(std::string_view participant, Op op);
std::string ParticipantWildcardSubject(std::string_view participant);

struct BranchRequest {
  std::string gid;          // global transaction id
  int branch = 0;           // index of the branch within the transaction (0-based)
  std::string participant;  // the participant this branch belongs to
  std::string protocol;     // "2pc", "3pc" or "saga"
  Op op = Op::kPrepare;
  int attempt = 1;                        // 1 for the first send of this op, +1 on each re-send
  nlohmann::json payload;                 // the branch's business payload, sent with every op
  std::vector<std::string> participants;  // every participant of the transaction (3PC peers)
  // The W3C trace context (traceparent header) of the request that started the transaction;
  // empty when it had none. The same in every message of the transaction.
  std::string traceparent = {};
};

struct BranchReply {
  std::string gid;
  int branch = 0;
  Op op = Op::kPrepare;
  Outcome outcome = Outcome::kOk;
  std::string message;  // why, for refused/error; shown in the coordinator's branch history
};

enum class Decision { kCommit, kAbort, kPending };
const char* DecisionName(Decision decision);
std::optional<Decision> ParseDecision(std::string_view name);

struct StatusQuery {
  std::string gid;
};

// 3PC termination protocol: a participant asks a peer, on "txc.participant.<peer>.state", what it
// knows of transaction `gid`. Its answer covers every branch it holds of that transaction.
inline constexpr std::string_view kPeerStateOp = "state";
std::string PeerStateSubject(std::string_view participant);

enum class PeerState {
  kNone,          // no record of gid (never voted, or it was never asked)
  kUncertain,     // voted yes, no pre_commit yet (Skeen's "w")
  kPreCommitted,  // pre_commit received and recorded ("p")
  kCommitted,
  kAborted,
};
const char* PeerStateName(PeerState state);
std::optional<PeerState> ParsePeerState(std::string_view name);

struct PeerStateQuery {
  std::string gid;
  std::string from;  // the asking participant's name (for logs)
};

struct PeerBranchState {
  int branch = 0;
  PeerState state = PeerState::kNone;
};

struct PeerStateReply {
  std::string gid;
  std::string participant;                // who answers
  std::vector<PeerBranchState> branches;  // empty: no record at all (kNone)
};

struct StatusReply {
  std::string gid;
  Decision decision = Decision::kPending;  // unknown gid -> kAbort (presumed abort)
};

// Liveness: every participant instance publishes a Heartbeat (plain publish, no reply) on
// "txc.heartbeat.<participant>" when it starts and then every interval_ms, and a last one with
// leaving=true when it stops gracefully. The coordinator subscribes to "txc.heartbeat.*".
inline constexpr std::string_view kHeartbeatSubjectPrefix = "txc.heartbeat.";
inline constexpr std::string_view kHeartbeatWildcardSubject = "txc.heartbeat.*";
std::string HeartbeatSubject(std::string_view participant);
inline constexpr size_t kMaxInstanceIdLength = 128;
inline constexpr int kMaxHeartbeatIntervalMs = 3'600'000;
// Instance ids: 1..128 characters of [A-Za-z0-9_.-] (the SDK uses "<name>-<16 hex digits>").
bool IsValidInstanceId(std::string_view id);

struct Heartbeat {
  std::string participant;
  std::string instance;    // unique per process start
  int interval_ms = 1000;  // the sender's heartbeat period, 1..kMaxHeartbeatIntervalMs
  bool leaving = false;    // the instance is stopping: forget it at once
};

std::string Encode(const BranchRequest& request);
std::string Encode(const BranchReply& reply);
std::string Encode(const StatusQuery& query);
std::string Encode(const StatusReply& reply);
std::string Encode(const PeerStateQuery& query);
std::string Encode(const PeerStateReply& reply);
std::string Encode(const Heartbeat& heartbeat);

Result<BranchRequest> DecodeBranchRequest(std::string_view data);
Result<BranchReply> DecodeBranchReply(std::string_view data);
Result<StatusQuery> DecodeStatusQuery(std::string_view data);
Result<StatusReply> DecodeStatusReply(std::string_view data);
Result<PeerStateQuery> DecodePeerStateQuery(std::string_view data);
Result<PeerStateReply> DecodePeerStateReply(std::string_view data);
Result<Heartbeat> DecodeHeartbeat(std::string_view data);

}  // namespace txc::wire
