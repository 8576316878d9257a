// applog: the coordinator's own log (not the transaction log): one JSON object per line on
// stderr, {"ts": ..., "level": ..., "event": ..., then the event's fields}. Every line about a
// transaction carries its id as "tx", so `grep '"tx":"<id>"'` shows its whole story.
//
// Thread safety: every function may be called from any thread; a line is written whole.
#pragma once

#include <functional>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace txc::applog {

enum class Level { kDebug, kInfo, kWarn, kError };

// "debug", "info", "warn" or "error"; nullopt for anything else.
std::optional<Level> ParseLevel(std::string_view name);
void SetLevel(Level level);  // lines below it are dropped (default kInfo)
bool Enabled(Level level);

using Fields = std::initializer_list<std::pair<const char*, nlohmann::json>>;
// Writes one line if `level` is enabled. Never throws (a value that is not valid UTF-8 is
// replaced, a failure to format drops the line).
void Write(Level level, std::string_view event, Fields fields = {});

// Where lines go instead of stderr (tests); an empty function restores stderr.
void SetSink(std::function<void(const std::string& line)> sink);

}  // namespace txc::applog
