#include "api/begin_request.h"

#include <algorithm>

namespace txc::api {

Result<BeginCommand> ParseBeginCommand(const BeginRequest& request, const ParseLimits& limits,
                                       core::Duration max_wait) {
  TXC_ASSIGN_OR_RETURN(BeginCommand cmd, ParseBeginRequest(request.body, limits));
  if (request.idempotency_key) {
    if (!IsValidIdempotencyKey(*request.idempotency_key)) {
      return Status::InvalidArgument("Idempotency-Key must be 1 to 128 printable ASCII characters");
    }
    cmd.idempotency_key = *request.idempotency_key;
    cmd.request_hash = RequestFingerprint(request.body);
  }
  if (IsValidTraceparent(request.traceparent)) cmd.traceparent = request.traceparent;
  const std::string& wait = request.wait;
  if (wait == "true" || wait == "1" || wait == "decision") {
    cmd.wait = std::min(max_wait, cmd.timeout + core::Duration(30000));
    cmd.wait_for_decision = wait == "decision";
  } else if (!wait.empty() && wait != "false" && wait != "0") {
    return Status::InvalidArgument("wait must be true, 1, decision, false or 0; got '" +
                                   wait.substr(0, 64) + "'");
  }
  return cmd;
}

}  // namespace txc::api
