// The one place that maps a Status to an HTTP answer: status code and JSON error body
// {"error": {"code": "invalid_argument", "message": "..."}}.
#pragma once

#include <string>

#include "txc/status.h"

namespace txc::api {

int HttpStatusFor(StatusCode code);
std::string ErrorBody(const Status& status);

}  // namespace txc::api
