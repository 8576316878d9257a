// The live counters behind Participant::counters(): atomics bumped by the delivery and resolver
// threads, read as a snapshot.
#pragma once

#include <atomic>
#include <cstdint>

#include "txc/participant.h"

namespace txc::sdk {

struct CounterSet {
  std::atomic<uint64_t> prepare_calls{0};
  std::atomic<uint64_t> commit_calls{0};
  std::atomic<uint64_t> abort_calls{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> bad_requests{0};
  std::atomic<uint64_t> replies_sent{0};
  std::atomic<uint64_t> status_queries{0};
  std::atomic<uint64_t> in_doubt_resolved{0};

  Participant::Counters Snapshot() const {
    Participant::Counters c;
    c.prepare_calls = prepare_calls.load();
    c.commit_calls = commit_calls.load();
    c.abort_calls = abort_calls.load();
    c.requests = requests.load();
    c.bad_requests = bad_requests.load();
    c.replies_sent = replies_sent.load();
    c.status_queries = status_queries.load();
    c.in_doubt_resolved = in_doubt_resolved.load();
    return c;
  }
};

}  // namespace txc::sdk
