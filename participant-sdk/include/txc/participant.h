// txc participant SDK: the library a service embeds to take part in txc transactions (2PC, 3PC
// and sagas) over NATS.
//
// A Participant answers the coordinator's requests for one participant name
// ("txc.participant.<name>.*", queue group <name>, so several instances of a service share the
// load). For every branch it keeps a durable record in the service's own SQLite database (table
// txc_branches), written in the same local transaction as the service's business writes, so:
//   - a vote (prepare, can_commit) or a saga action runs its handler once, and its result is on
//     disk before the reply is sent;
//   - duplicates are answered from the record without calling the handler again;
//   - an abort that arrives before its prepare is recorded (null rollback), and a compensation
//     that arrives before its action (null compensation); the late prepare or action is then
//     refused, so nothing hangs;
//   - a branch left prepared or pre-committed (no outcome heard for Options::in_doubt_after, or
//     found when Start() runs) is resolved by asking the coordinator (wire::kStatusSubject). The
//     participant never decides alone after voting yes; for 3PC, when the coordinator is down,
//     it runs the termination protocol with its peers (docs/protocol.md).
//
// Liveness: from Start() to Stop() the instance publishes a heartbeat (wire::Heartbeat, on
// "txc.heartbeat.<name>") every Options::heartbeat_interval, and a last one saying it is leaving
// when Stop() has answered its in-flight requests. The coordinator lists live instances and may
// refuse transactions naming a participant with none (docs/protocol.md). Each process start is
// one instance, with its own instance_id().
//
// Group commit: requests are queued by the thread that reads NATS and applied by one applier
// thread in batches, each batch in one local transaction (a savepoint per request) with one
// fsync; replies leave only after that commit. A busy participant therefore pays one fsync for
// many requests, and a quiet one waits for nobody.
//
// Threading: handlers run one at a time per Participant, on the applier thread or on the
// in-doubt resolver thread, always with the SDK's database lock held; a slow handler delays the
// requests queued behind it. A handler must not call Stop(), destroy the Participant or call
// WithDb (that deadlocks). Heartbeats are published from the thread that flushes replies, never
// from a handler's thread, so a slow handler does not make the instance look dead. All public
// methods are thread-safe. Failures come back as
// Status/Result; the only exceptions that leave the SDK are the ones a WithDb function throws.
//
// Record states: 'prepared', 'precommitted', 'committed', 'aborted' (2PC/3PC); 'done', 'failed',
// 'compensated' (saga); updated_at is wall-clock milliseconds since the Unix epoch. Instances
// sharing one participant name must share one database file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "txc/nats_security.h"
#include "txc/status.h"
#include "txc/wire.h"

struct sqlite3;

namespace txc {

// What a handler gets for one branch operation. Valid only during the handler call.
struct BranchContext {
  std::string gid;
  int branch = 0;
  std::string participant;
  std::string protocol;
  wire::Op op = wire::Op::kPrepare;
  // 1 for the coordinator's first send of this op, +1 per re-send; 0 when the SDK applies a
  // decision by itself (in-doubt resolution after asking the coordinator).
  int attempt = 1;
  // The branch's business payload. For commit/abort it is the payload of the request, or, when
  // the SDK resolves in doubt, the payload stored with the prepare.
  nlohmann::json payload;
  // The service's own database, inside the local transaction the SDK opened (BEGIN IMMEDIATE).
  // Business writes made through it commit atomically with the SDK's branch record, or roll back
  // with it. BEGIN, COMMIT and ROLLBACK are refused to the handler (SQLITE_AUTH): the SDK's
  // transaction may hold other requests of the same batch. SAVEPOINTs of its own are fine (names
  // starting with "txc_" are the SDK's). Do not keep the pointer.
  sqlite3* db = nullptr;
  // The W3C traceparent of the request that started the transaction ("" if none, and when the
  // SDK resolves in doubt by itself): continue the trace from it.
  std::string traceparent = {};
};

// A handler's verdict.
//   Ok:     the work is done (prepare/can_commit: resources held, vote yes; action: step done).
//   Refuse: definitive no. Only meaningful for prepare, can_commit and action; for any other op
//           it is treated as Retry (a decided outcome cannot be refused).
//   Retry:  transient failure; the SDK rolls back and answers `error` so the coordinator retries.
struct HandlerResult {
  wire::Outcome outcome = wire::Outcome::kOk;
  std::string message;  // shown in the coordinator's branch history

  static HandlerResult Ok() { return {wire::Outcome::kOk, ""}; }
  static HandlerResult Refuse(std::string why) { return {wire::Outcome::kRefused, std::move(why)}; }
  static HandlerResult Retry(std::string why) { return {wire::Outcome::kError, std::move(why)}; }
};

// A handler may throw: the SDK catches everything, rolls back and answers `error`.
using Handler = std::function<HandlerResult(const BranchContext&)>;

class Participant {
 public:
  struct Options {
    std::string nats_url = "nats://127.0.0.1:4222";
    NatsSecurity nats_security{};  // credentials and TLS, if the server asks for them
    std::string name;              // must satisfy wire::IsValidParticipantName
    std::string db_path;  // the service's SQLite database (the SDK adds a txc_branches table)
    // A branch prepared or pre-committed with no outcome for this long is resolved by asking the
    // coordinator (3PC: and, if it is down, the peers).
    std::chrono::milliseconds in_doubt_after{2000};
    std::chrono::milliseconds resolve_interval{500};  // how often the resolver looks
    std::chrono::milliseconds status_timeout{1000};   // per status query or peer question
    std::chrono::milliseconds reconnect_wait{250};    // between NATS reconnect attempts
    std::chrono::milliseconds busy_timeout{5000};     // SQLite lock wait (instances share a file)
    std::chrono::milliseconds drain_timeout{5000};    // Stop(): finish in-flight requests
    // How often this instance announces itself (1 ms .. 1 h). The coordinator counts it live
    // for 3 intervals after each heartbeat; after its own restart it waits 3 s before refusing
    // anything, so keep this at most 1 s where it refuses transactions for dead participants.
    std::chrono::milliseconds heartbeat_interval{1000};

    // Fault injection for whole-system tests; all off by default. The work is done and recorded
    // as usual, then its reply is lost or sent twice, as an unreliable network would.
    struct Faults {
      double drop_reply = 0;       // probability that a reply is not sent
      double duplicate_reply = 0;  // probability that a reply is sent twice
    };
    Faults faults{};
  };

  // Snapshot of monotonically increasing counters (for tests and metrics).
  struct Counters {
    uint64_t prepare_calls = 0;  // handler invocations: prepare and can_commit
    uint64_t pre_commit_calls = 0;
    uint64_t commit_calls = 0;  // commit and do_commit
    uint64_t abort_calls = 0;
    uint64_t action_calls = 0;
    uint64_t compensate_calls = 0;
    uint64_t requests = 0;      // messages received on the participant subjects
    uint64_t bad_requests = 0;  // undecodable or misaddressed
    uint64_t replies_sent = 0;
    uint64_t status_queries = 0;         // questions asked to the coordinator
    uint64_t in_doubt_resolved = 0;      // in-doubt branches committed/aborted by the SDK itself
    uint64_t peer_queries = 0;           // 3PC termination: states asked of peers
    uint64_t peer_queries_answered = 0;  // 3PC termination: peers' questions answered
    uint64_t terminated = 0;  // 3PC transactions this participant finished without the coordinator
    // Requests and peers' queries dropped unanswered because the applier's queue was full (they
    // are asked again): the handlers cannot keep up.
    uint64_t requests_dropped = 0;
  };

  // Validates the options and opens the database (WAL, synchronous=FULL, temp_store=MEMORY: the
  // handlers' temporary tables and sorts on this connection stay in memory), creating
  // txc_branches if needed or upgrading an older one (once; schema 3 rebuilds the table, about
  // 3 s per million rows). Does not touch NATS. Errors: kInvalidArgument (options),
  // kUnavailable (database), kFailedPrecondition (a table of a newer SDK).
  static Result<std::unique_ptr<Participant>> Create(Options options);

  ~Participant();  // calls Stop()
  Participant(const Participant&) = delete;
  Participant& operator=(const Participant&) = delete;

  // Register handlers; call before Start() (later calls are ignored and logged).
  // 2PC: prepare (vote), commit, abort. Without a prepare handler prepare votes yes; without a
  //   commit/abort handler the SDK only records the new state.
  // 3PC: can_commit (vote), pre_commit, do_commit, abort. can_commit falls back to the prepare
  //   handler and do_commit to the commit handler, so a 2PC service takes part in 3PC unchanged;
  //   without a pre_commit handler the SDK only records it.
  // Saga: action, compensate. Without an action handler actions are refused (the service takes
  //   no saga steps); without a compensate handler the SDK only records it. The compensate
  //   handler runs only for a step whose action is done; null compensations and late actions
  //   are the SDK's business.
  void OnPrepare(Handler h);
  void OnCommit(Handler h);
  void OnAbort(Handler h);
  void OnCanCommit(Handler h);
  void OnPreCommit(Handler h);
  void OnDoCommit(Handler h);
  void OnAction(Handler h);
  void OnCompensate(Handler h);

  // Connects to NATS, subscribes, and starts the in-doubt resolver (which first looks at every
  // prepared branch left from a previous run). Succeeds even if the server is not up yet: the
  // connection keeps retrying forever. Errors: kFailedPrecondition if already started or
  // stopped, kUnavailable/kInvalidArgument for NATS setup failures.
  Status Start();

  // Stops the resolver, drains the subscription (in-flight requests are answered, up to
  // drain_timeout), closes the connection. When it returns no handler or NATS callback is
  // running or will run. Idempotent; a stopped Participant cannot be started again.
  void Stop();

  // Runs fn with the SDK's database connection under the SDK's lock, for the service's own
  // reads/writes outside transactions (autocommit). fn must not leave a transaction open (the
  // SDK rolls it back and logs). Exceptions from fn propagate to the caller. Returns fn's result.
  template <typename F>
  std::invoke_result_t<F&, sqlite3*> WithDb(F&& fn) {
    using R = std::invoke_result_t<F&, sqlite3*>;
    if constexpr (std::is_void_v<R>) {
      RunWithDb([&fn](sqlite3* db) { fn(db); });
    } else {
      std::optional<R> out;
      RunWithDb([&fn, &out](sqlite3* db) { out.emplace(fn(db)); });
      return std::move(*out);
    }
  }
  void RunWithDb(const std::function<void(sqlite3*)>& fn);

  // The durable state of a branch (see "Record states" above), or nullopt if there is no
  // record. Errors: kUnavailable (database).
  Result<std::optional<std::string>> BranchState(const std::string& gid, int branch);

  // True while started and connected to NATS: requests reach this instance (from a round trip
  // after the connection, when the server has its re-sent subscription). What a service's
  // readiness check should report. False before Start, while (re)connecting, and while stopping
  // or stopped.
  bool Connected() const;

  Counters counters() const;
  const Options& options() const;
  // This instance's id in its heartbeats: "<name>-<16 hex digits>", random per Participant.
  const std::string& instance_id() const;

 private:
  struct Impl;
  explicit Participant(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace txc
