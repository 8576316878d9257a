// The live counters behind Participant::counters(): atomics bumped by the NATS-reading and resolver
// threads, read as a snapshot.
#pragma once

#include <atomic>
#include <cstdint>

#include "txc/participant.h"

namespace txc::sdk {

struct CounterSet {
  std::atomic<uint64_t> prepare_calls{0};
  std::atomic<uint64_t> pre_commit_calls{0};
  std::atomic<uint64_t> commit_calls{0};
  std::atomic<uint64_t> abort_calls{0};
  std::atomic<uint64_t> action_calls{0};
  std::atomic<uint64_t> compensate_calls{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> bad_requests{0};
  std::atomic<uint64_t> requests_dropped{0};
  std::atomic<uint64_t> replies_sent{0};
  std::atomic<uint64_t> status_queries{0};
  std::atomic<uint64_t> in_doubt_resolved{0};
  std::atomic<uint64_t> peer_queries{0};
  std::atomic<uint64_t> peer_queries_answered{0};
  std::atomic<uint64_t> terminated{0};

  Participant::Counters Snapshot() const {
    Participant::Counters c;
    c.prepare_calls = prepare_calls.load();
    c.pre_commit_calls = pre_commit_calls.load();
    c.commit_calls = commit_calls.load();
    c.abort_calls = abort_calls.load();
    c.action_calls = action_calls.load();
    c.compensate_calls = compensate_calls.load();
    c.requests = requests.load();
    c.bad_requests = bad_requests.load();
    c.requests_dropped = requests_dropped.load();
    c.replies_sent = replies_sent.load();
    c.status_queries = status_queries.load();
    c.in_doubt_resolved = in_doubt_resolved.load();
    c.peer_queries = peer_queries.load();
    c.peer_queries_answered = peer_queries_answered.load();
    c.terminated = terminated.load();
    return c;
  }
};

}  // namespace txc::sdk
