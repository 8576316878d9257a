// The REST API's OpenAPI 3 document, docs/openapi.yaml, compiled into the binary at build time so
// that GET /openapi.yaml serves exactly what the repository documents.
#pragma once

#include <string_view>

namespace txc::api {

std::string_view OpenApiYaml();

}  // namespace txc::api
