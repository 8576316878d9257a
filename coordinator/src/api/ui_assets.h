// The admin web UI's static files (coordinator/ui/), compiled into the binary at build time like
// docs/openapi.yaml, so that an installed coordinator or its image needs no files beside it.
#pragma once

#include <string_view>

namespace txc::api {

struct UiAsset {
  std::string_view name;          // "app.js": the path under /ui/
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
};

// The file served at /ui/<name>, or nullptr. index.html is the page served at /ui/.
const UiAsset* FindUiAsset(std::string_view name);

}  // namespace txc::api
