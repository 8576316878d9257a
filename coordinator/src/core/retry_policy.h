// How long to wait for a reply and how to back off between re-sends. Capped exponential
// back-off: a participant that is down for an hour is retried every `backoff_cap`, not every
// hour (DTM's uncapped doubling) nor in a tight loop.
#pragma once

#include <algorithm>

#include "core/transaction.h"

namespace txc::core {

struct RetryPolicy {
  Duration reply_timeout{3000};  // wait this long for a reply before counting the attempt lost
  Duration backoff_base{100};    // delay before the 2nd attempt
  Duration backoff_cap{10000};   // never wait longer than this between attempts

  // Delay before attempt `next_attempt` (2, 3, ...).
  Duration BackoffBefore(int next_attempt) const {
    Duration d = backoff_base;
    for (int i = 2; i < next_attempt && d < backoff_cap; ++i) d *= 2;
    return std::min(d, backoff_cap);
  }
};

}  // namespace txc::core
