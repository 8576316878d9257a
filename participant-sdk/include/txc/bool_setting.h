// ParseBoolSetting: how every on/off setting of txc reads its text — a coordinator flag, a
// coordinator TXC_* variable, or one read by a service through the SDK — so that one value means
// the same in every process (TXC_NATS_TLS is read by both).
#pragma once

#include <string_view>

#include "txc/status.h"

namespace txc {

// "true", "yes", "1" or "false", "no", "0", in any case. Anything else, the empty text included,
// is kInvalidArgument naming the setting:
//   --nats-tls must be true or false (or yes/no, 1/0), got 'maybe'
Result<bool> ParseBoolSetting(std::string_view text, std::string_view name);

}  // namespace txc
