// Participant: wires the pieces together. BranchStore (the service DB and branch records),
// Dispatcher (the barrier that runs handlers), NatsEndpoint (requests in, replies out, questions
// to the coordinator and to peers) and InDoubtResolver (resolves branches left in doubt).
#include "txc/participant.h"

#include <cstdio>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <utility>

#include "branch_store.h"
#include "counters.h"
#include "dispatcher.h"
#include "in_doubt_resolver.h"
#include "log.h"
#include "nats_endpoint.h"
#include "request_batcher.h"

namespace txc {
namespace {

// For a request that failed to decode: keep whatever identifies it, so the coordinator can match
// the error to its branch if it can.
wire::BranchReply BadRequestReply(std::string_view data, const Status& why) {
  wire::BranchReply reply{"", 0, wire::Op::kPrepare, wire::Outcome::kError,
                          "bad request: " + why.message()};
  const auto doc = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return reply;
  if (auto it = doc.find("gid"); it != doc.end() && it->is_string()) {
    reply.gid = it->get<std::string>();
  }
  if (auto it = doc.find("branch"); it != doc.end() && it->is_number_integer()) {
    const int64_t branch = it->get<int64_t>();
    if (branch >= 0 && branch <= INT32_MAX) reply.branch = static_cast<int>(branch);
  }
  if (auto it = doc.find("op"); it != doc.end() && it->is_string()) {
    if (auto op = wire::ParseOp(it->get<std::string>())) reply.op = *op;
  }
  return reply;
}

// Unique per process start with overwhelming probability: 64 random bits.
std::string NewInstanceId(const std::string& name) {
  std::random_device rd;
  const uint64_t bits = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(bits));
  return name + "-" + hex;
}

}  // namespace

struct Participant::Impl {
  enum class Phase { kCreated, kStarted, kStopped };

  Options options;
  std::string instance_id;
  std::unique_ptr<sdk::BranchStore> store;
  sdk::CounterSet counters;

  std::shared_mutex lifecycle_mu;  // shared only by Connected(), which must not wait
  Phase phase = Phase::kCreated;   // guarded by lifecycle_mu
  sdk::Handlers handlers;          // guarded by lifecycle_mu; copied into the dispatcher at Start
  // Created by Start, destroyed by Stop (callbacks only run in between).
  std::unique_ptr<sdk::Dispatcher> dispatcher;
  std::unique_ptr<sdk::RequestBatcher> batcher;
  std::unique_ptr<sdk::NatsEndpoint> endpoint;
  std::unique_ptr<sdk::InDoubtResolver> resolver;

  // The thread that reads NATS: a request is checked and queued for the applier (group commit);
  // anything that needs no database is answered at once.
  void OnMessage(std::string_view subject, std::string_view data, const std::string& reply_to) {
    const std::string_view last = subject.substr(subject.rfind('.') + 1);
    if (last == wire::kPeerStateOp) return OnPeerQuery(data, reply_to);
    auto request = wire::DecodeBranchRequest(data);
    if (request.ok() && last != wire::OpName(request->op)) {
      // Subject permissions are per op; the body must not claim another one.
      request = Status::InvalidArgument("op '" + std::string(wire::OpName(request->op)) +
                                        "' arrived on subject " + std::string(subject));
    }
    if (request.ok() && reply_to.empty()) {
      request = Status::InvalidArgument("request without a reply subject");
    }
    if (!request.ok()) {
      counters.bad_requests++;
      sdk::LogLine(options.name, "bad request: " + request.status().message());
      endpoint->Reply(reply_to, wire::Encode(BadRequestReply(data, request.status())));
      endpoint->Flush();
      return;
    }
    NoteDropped(batcher->Submit(std::move(request).value(), reply_to));
  }

  // A request or query the applier's queue refused because it is full: counted, and logged now
  // and then (a line per request would only make an overload worse). The coordinator, or the
  // peer, asks again.
  void NoteDropped(sdk::RequestBatcher::Queued queued) {
    if (queued != sdk::RequestBatcher::Queued::kFull) return;  // kStopped: we are leaving
    if (const uint64_t dropped = ++counters.requests_dropped; dropped % 10000 == 1) {
      sdk::LogLine(options.name, "request dropped (" + std::to_string(dropped) +
                                     " so far): the applier's queue is full");
    }
  }

  // A peer running the 3PC termination protocol asks what we hold of a transaction.
  void OnPeerQuery(std::string_view data, const std::string& reply_to) {
    auto query = wire::DecodePeerStateQuery(data);
    if (!query.ok() || reply_to.empty()) {
      counters.bad_requests++;
      sdk::LogLine(options.name, "bad peer state query: " +
                                     (query.ok() ? "no reply subject" : query.status().message()));
      return;
    }
    // The database lock may be held for a whole batch: answered from the applier's thread.
    NoteDropped(batcher->SubmitTask([this, query = std::move(query).value(), reply_to] {
      auto reply = dispatcher->PeerState(query);
      if (!reply.ok()) {
        // Silence is the honest answer: the peer keeps asking rather than conclude from it.
        sdk::LogLine(options.name,
                     "peer state query for " + query.gid + " failed: " + reply.status().ToString());
        return;
      }
      counters.peer_queries_answered++;
      endpoint->Reply(reply_to, wire::Encode(*reply));
    }));
  }

  // Resolver thread: what did the coordinator decide for gid?
  sdk::CoordinatorAnswer AskCoordinator(const std::string& gid) {
    auto body = endpoint->Request(wire::kStatusSubject, wire::Encode(wire::StatusQuery{gid}),
                                  options.status_timeout);
    // No answer is normal while in doubt: ask again next round, without filling the log. Only
    // "no responders" proves that no coordinator is running.
    if (!body.ok()) {
      return {body.status().code() == StatusCode::kNotFound
                  ? sdk::CoordinatorAnswer::Kind::kDown
                  : sdk::CoordinatorAnswer::Kind::kUnknown};
    }
    auto reply = wire::DecodeStatusReply(*body);
    if (!reply.ok() || reply->gid != gid) {
      sdk::LogLine(options.name,
                   "bad status reply when asking about " + gid + ": " +
                       (reply.ok() ? "it names " + reply->gid : reply.status().message()));
      return {};
    }
    return {sdk::CoordinatorAnswer::Kind::kDecision, reply->decision};
  }

  std::optional<wire::PeerStateReply> AskPeer(const std::string& peer, const std::string& gid) {
    auto body = endpoint->Request(wire::PeerStateSubject(peer),
                                  wire::Encode(wire::PeerStateQuery{gid, options.name}),
                                  options.status_timeout);
    if (!body.ok()) return std::nullopt;
    auto reply = wire::DecodePeerStateReply(*body);
    if (!reply.ok()) return std::nullopt;
    return std::move(reply).value();
  }

  std::optional<wire::BranchReply> SendToPeer(const wire::BranchRequest& request) {
    auto body = endpoint->Request(wire::ParticipantSubject(request.participant, request.op),
                                  wire::Encode(request), options.status_timeout);
    if (!body.ok()) return std::nullopt;
    auto reply = wire::DecodeBranchReply(*body);
    if (!reply.ok() || reply->gid != request.gid || reply->branch != request.branch) {
      return std::nullopt;
    }
    return std::move(reply).value();
  }

  void SetHandler(Handler sdk::Handlers::*slot, Handler h, const char* what) {
    std::lock_guard lock(lifecycle_mu);
    if (phase != Phase::kCreated) {
      sdk::LogLine(options.name, std::string(what) + " handler registered after Start; ignored");
      return;
    }
    handlers.*slot = std::move(h);
  }
};

Participant::Participant(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Participant::~Participant() { Stop(); }

Result<std::unique_ptr<Participant>> Participant::Create(Options options) {
  if (!wire::IsValidParticipantName(options.name)) {
    return Status::InvalidArgument("participant name '" + options.name +
                                   "' must be 1..64 characters of [A-Za-z0-9_-]");
  }
  if (options.db_path.empty()) return Status::InvalidArgument("db_path is empty");
  for (double p : {options.faults.drop_reply, options.faults.duplicate_reply}) {
    if (!(p >= 0 && p <= 1))
      return Status::InvalidArgument("fault probabilities must be in [0, 1]");
  }
  if (options.nats_url.empty()) return Status::InvalidArgument("nats_url is empty");
  TXC_RETURN_IF_ERROR(options.nats_security.Validate());
  using std::chrono::milliseconds;
  if (options.in_doubt_after < milliseconds(0) || options.resolve_interval <= milliseconds(0) ||
      options.status_timeout <= milliseconds(0) || options.reconnect_wait <= milliseconds(0) ||
      options.busy_timeout < milliseconds(0) || options.drain_timeout <= milliseconds(0) ||
      options.heartbeat_interval <= milliseconds(0)) {
    return Status::InvalidArgument(
        "durations must be positive (in_doubt_after and busy_timeout may be 0)");
  }
  if (options.heartbeat_interval > milliseconds(wire::kMaxHeartbeatIntervalMs)) {
    return Status::InvalidArgument("heartbeat_interval must be at most an hour");
  }
  auto impl = std::make_unique<Impl>();
  auto store = sdk::BranchStore::Open(options.db_path, options.busy_timeout);
  if (!store.ok()) return store.status().WithContext("participant " + options.name);
  impl->store = std::move(store).value();
  impl->instance_id = NewInstanceId(options.name);
  impl->options = std::move(options);
  return std::unique_ptr<Participant>(new Participant(std::move(impl)));
}

void Participant::OnPrepare(Handler h) {
  impl_->SetHandler(&sdk::Handlers::prepare, std::move(h), "prepare");
}
void Participant::OnCommit(Handler h) {
  impl_->SetHandler(&sdk::Handlers::commit, std::move(h), "commit");
}
void Participant::OnAbort(Handler h) {
  impl_->SetHandler(&sdk::Handlers::abort, std::move(h), "abort");
}
void Participant::OnCanCommit(Handler h) {
  impl_->SetHandler(&sdk::Handlers::can_commit, std::move(h), "can_commit");
}
void Participant::OnPreCommit(Handler h) {
  impl_->SetHandler(&sdk::Handlers::pre_commit, std::move(h), "pre_commit");
}
void Participant::OnDoCommit(Handler h) {
  impl_->SetHandler(&sdk::Handlers::do_commit, std::move(h), "do_commit");
}
void Participant::OnAction(Handler h) {
  impl_->SetHandler(&sdk::Handlers::action, std::move(h), "action");
}
void Participant::OnCompensate(Handler h) {
  impl_->SetHandler(&sdk::Handlers::compensate, std::move(h), "compensate");
}

Status Participant::Start() {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.lifecycle_mu);
  if (impl.phase != Impl::Phase::kCreated) {
    return Status::FailedPrecondition("participant " + impl.options.name +
                                      " was already started (a stopped one cannot restart)");
  }
  const Options& o = impl.options;
  impl.dispatcher =
      std::make_unique<sdk::Dispatcher>(o.name, impl.store.get(), impl.handlers, &impl.counters);
  impl.batcher = std::make_unique<sdk::RequestBatcher>(
      impl.dispatcher.get(),
      [&impl](const std::string& reply_to, const std::string& body) {
        impl.endpoint->Reply(reply_to, body);
      },
      [&impl] { impl.endpoint->Flush(); });
  impl.batcher->Start();
  wire::Heartbeat heartbeat{o.name, impl.instance_id,
                            static_cast<int>(o.heartbeat_interval.count()), false};
  sdk::NatsEndpoint::Options endpoint_options{o.nats_url,
                                              o.nats_security,
                                              o.name,
                                              wire::ParticipantWildcardSubject(o.name),
                                              o.reconnect_wait,
                                              o.drain_timeout,
                                              o.faults.drop_reply,
                                              o.faults.duplicate_reply,
                                              wire::HeartbeatSubject(o.name),
                                              wire::Encode(heartbeat),
                                              "",
                                              o.heartbeat_interval};
  heartbeat.leaving = true;
  endpoint_options.leaving = wire::Encode(heartbeat);
  // Held before it connects: a request or a peer's query can arrive while Connect still waits
  // for its round trip, and is answered through impl.endpoint (it used to be null then).
  impl.endpoint = std::make_unique<sdk::NatsEndpoint>(
      std::move(endpoint_options),
      [&impl](std::string_view subject, std::string_view data, const std::string& reply_to) {
        impl.OnMessage(subject, data, reply_to);
      },
      &impl.counters);
  if (Status connected = impl.endpoint->Connect(); !connected.ok()) {
    impl.batcher->Stop();    // what was queued is answered while the endpoint still exists
    impl.endpoint->Close();  // no callback runs after this (and none sees a null endpoint)
    impl.endpoint.reset();
    impl.batcher.reset();
    impl.dispatcher.reset();
    return connected.WithContext("participant " + o.name);
  }
  impl.resolver = std::make_unique<sdk::InDoubtResolver>(
      sdk::InDoubtResolver::Options{o.name, o.in_doubt_after, o.resolve_interval}, impl.store.get(),
      impl.dispatcher.get(),
      sdk::ResolverLink{
          [&impl](const std::string& gid) { return impl.AskCoordinator(gid); },
          [&impl](const std::string& peer, const std::string& gid) {
            return impl.AskPeer(peer, gid);
          },
          [&impl](const wire::BranchRequest& request) { return impl.SendToPeer(request); }},
      &impl.counters);
  impl.resolver->Start();
  impl.phase = Impl::Phase::kStarted;
  return Status::Ok();
}

void Participant::Stop() {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.lifecycle_mu);
  if (impl.phase == Impl::Phase::kStarted) {
    // Resolver first: it uses the connection. Then let in-flight requests finish and be
    // answered, then close and wait for nats.c's last callbacks.
    impl.resolver->Stop();
    impl.endpoint->StopReceiving();
    impl.batcher->Stop();  // what was received is applied and answered
    impl.endpoint->Close();
    impl.resolver.reset();
    impl.endpoint.reset();
    impl.batcher.reset();
    impl.dispatcher.reset();
  }
  impl.phase = Impl::Phase::kStopped;
}

void Participant::RunWithDb(const std::function<void(sqlite3*)>& fn) {
  sdk::BranchStore& store = *impl_->store;
  auto lock = store.Lock();
  // The next branch operation must start from a clean connection, even if fn throws.
  struct TransactionGuard {
    sdk::BranchStore& store;
    const std::string& name;
    ~TransactionGuard() {
      if (!store.InTransaction()) return;
      sdk::LogLine(name, "WithDb left a transaction open; rolled back");
      store.Rollback();
    }
  } guard{store, impl_->options.name};
  fn(store.db());
}

Result<std::optional<std::string>> Participant::BranchState(const std::string& gid, int branch) {
  auto lock = impl_->store->Lock();
  auto record = impl_->store->Find(gid, branch);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return std::optional<std::string>();
  return std::optional<std::string>(sdk::BranchStateName((*record)->state));
}

bool Participant::Connected() const {
  Impl& impl = *impl_;
  // Not while Start or Stop runs (Stop holds the lock for a whole drain): a health check must
  // not wait for it, and neither state is ready. Concurrent checks do not exclude each other.
  std::shared_lock lock(impl.lifecycle_mu, std::try_to_lock);
  return lock.owns_lock() && impl.phase == Impl::Phase::kStarted && impl.endpoint->Connected();
}

Participant::Counters Participant::counters() const { return impl_->counters.Snapshot(); }

const Participant::Options& Participant::options() const { return impl_->options; }

const std::string& Participant::instance_id() const { return impl_->instance_id; }

}  // namespace txc
