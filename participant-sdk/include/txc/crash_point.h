// Crash points: named places where a fault test can make a process die as if by kill -9, to
// prove that recovery handles a crash at exactly that step. Shared by the coordinator and the
// participant SDK.
//
// Armed only through the environment: TXC_CRASH_AT=<point>[@<n>] kills the process the n-th time
// (default: first) execution passes <point>. Unset, a crash point costs one predictable branch.
// Coordinator points (engine.cpp):
//   before_append          a batch of log records is about to be appended
//   after_append           a batch is durable; none of its messages has been sent
//   after_send:<op>        one <op> message (e.g. after_send:pre_commit) has reached the NATS
//                          server; the rest of its batch has not been sent
//   after_reply:<op>       a reply to <op> arrived and has not been acted on
// Participant points (the SDK):
//   participant_after_commit  a batch of requests is durably applied; no reply has been sent
#pragma once

#include <functional>
#include <string_view>

namespace txc {

// True when TXC_CRASH_AT names some point (so callers can skip building point names).
bool CrashPointsArmed();

// Dies with SIGKILL if `point` is the armed one and its count is reached. `before` runs first
// (e.g. to push a sent message onto the wire so that it survives the crash).
void CrashPoint(std::string_view point, const std::function<void()>& before = nullptr);

}  // namespace txc
