#include "applog/applog.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "core/transaction.h"

namespace txc::applog {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;
std::function<void(const std::string&)> g_sink;  // guarded by g_mu

const char* Name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string Timestamp() {
  return core::ToIso8601(
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
}

}  // namespace

std::optional<Level> ParseLevel(std::string_view name) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (name == Name(l)) return l;
  }
  return std::nullopt;
}

void SetLevel(Level level) { g_level.store(static_cast<int>(level)); }

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void Write(Level level, std::string_view event, Fields fields) {
  if (!Enabled(level)) return;
  try {
    // Built by hand, not as a json object, so that the fixed keys come first and in this order.
    std::string line = "{\"ts\":\"" + Timestamp() + "\",\"level\":\"" + Name(level) +
                       "\",\"event\":" + nlohmann::json(event).dump();
    for (const auto& [key, value] : fields) {
      line += ",\"";
      line += key;
      line += "\":";
      line += value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    line += "}\n";
    std::lock_guard lock(g_mu);
    if (g_sink) {
      g_sink(line);
    } else {
      std::fwrite(line.data(), 1, line.size(), stderr);
    }
  } catch (...) {  // a log line is never worth an exception across a module boundary
  }
}

void SetSink(std::function<void(const std::string& line)> sink) {
  std::lock_guard lock(g_mu);
  g_sink = std::move(sink);
}

}  // namespace txc::applog
