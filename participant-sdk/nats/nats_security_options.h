// Applies a txc::NatsSecurity to nats.c connection options (coordinator and SDK).
#pragma once

#include <nats/nats.h>

#include "txc/nats_security.h"

namespace txc {

// Validates `security` and sets it on `opts`. kInvalidArgument names what is wrong (a file that
// cannot be read, a TLS library missing); nats.c's own text is kept.
Status ApplyNatsSecurity(natsOptions* opts, const NatsSecurity& security);

}  // namespace txc
