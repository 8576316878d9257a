// The reply subject of a branch request, "<inbox>.<gid>.<branch>.<op>.<attempt>.<sent_us>": it
// carries everything needed to route the reply (or the server's "no responders" status) and to
// time its round trip, so the transport keeps no table of pending requests and one wildcard
// subscription on "<inbox>.>" receives every reply.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "transport/transport.h"
#include "txc/status.h"
#include "txc/wire.h"

namespace txc::transport {

// Gids become one token of the subject: kInvalidArgument for an empty one, or one containing
// '.', '*', '>', whitespace or a control character.
Status ValidateGid(std::string_view gid);

// The reply subject for `request` (whose gid passed ValidateGid), sent at `sent_us` (steady
// clock, microseconds).
std::string ReplySubject(std::string_view inbox, const wire::BranchRequest& request,
                         int64_t sent_us);

// Fills the gid, branch, op and attempt of `reply`, and `sent_us`, from a subject ReplySubject
// made under `inbox`. False for any other subject (a reply cannot be routed without them).
bool ParseReplySubject(std::string_view subject, std::string_view inbox, InboundReply* reply,
                       int64_t* sent_us);

// Whether the reply subject of a request to the coordinator's API (api/nats_api.h) may be
// answered: the coordinator would publish there with its own permissions, so not on the
// protocol's subjects ("txc."), not under its own reply inbox (an answer there would be taken for
// a participant's reply), not on system or JetStream subjects ("$..."), and not on a wildcard.
bool IsAnswerableReplySubject(std::string_view reply, std::string_view inbox);

}  // namespace txc::transport
