#include "config.h"

#include <charconv>
#include <functional>
#include <sstream>

#include "core/retry_budget_limits.h"
#include "txc/bool_setting.h"

namespace txc {
namespace {

struct Setting {
  const char* flag;  // "--nats-url"
  const char* env;   // "TXC_NATS_URL"
  const char* help;
  std::function<Status(Config&, const std::string&)> apply;
};

Status ParseInt(const std::string& text, long min, long max, const char* what, long* out) {
  long v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < min || v > max) {
    return Status::InvalidArgument(std::string(what) + " must be an integer from " +
                                   std::to_string(min) + " to " + std::to_string(max) + ", got '" +
                                   text + "'");
  }
  *out = v;
  return Status::Ok();
}

Status ParseAddr(Config& c, const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("--http-addr must be HOST:PORT, got '" + text + "'");
  }
  long port = 0;
  TXC_RETURN_IF_ERROR(ParseInt(text.substr(colon + 1), 0, 65535, "--http-addr port", &port));
  c.http_host = text.substr(0, colon);
  c.http_port = static_cast<int>(port);
  return Status::Ok();
}

auto MillisSetting(core::Duration core::RetryPolicy::*field, const char* what) {
  return [field, what](Config& c, const std::string& v) {
    long ms = 0;
    TXC_RETURN_IF_ERROR(ParseInt(v, 1, 86'400'000, what, &ms));
    c.retry.*field = core::Duration(ms);
    return Status::Ok();
  };
}

auto StringSetting(std::string NatsSecurity::*field) {
  return [field](Config& c, const std::string& v) {
    c.nats_security.*field = v;
    return Status::Ok();
  };
}

// "0" or a count with a unit: 90s, 30m, 12h, 7d. `zero_means` says what 0 does, for the error.
Status ParseSpan(const std::string& text, const char* flag, const char* zero_means,
                 std::chrono::milliseconds* out) {
  const Status bad =
      Status::InvalidArgument(std::string(flag) + " must be 0 (" + zero_means +
                              ") or a number followed by s, m, h or d, got '" + text + "'");
  if (text == "0") {
    *out = std::chrono::milliseconds(0);
    return Status::Ok();
  }
  if (text.size() < 2) return bad;
  long n = 0;
  if (!ParseInt(text.substr(0, text.size() - 1), 1, 100'000, flag, &n).ok()) return bad;
  switch (text.back()) {
    case 's':
      *out = std::chrono::seconds(n);
      break;
    case 'm':
      *out = std::chrono::minutes(n);
      break;
    case 'h':
      *out = std::chrono::hours(n);
      break;
    case 'd':
      *out = std::chrono::hours(24 * n);
      break;
    default:
      return bad;
  }
  return Status::Ok();
}

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
static_assert(core::kMaxRetryBudgetDeadlineMs == 30 * kDayMs, "update --retry-deadline's help");

const std::vector<Setting>& Settings() {
  static const std::vector<Setting> kSettings = {
      {"--nats-url", "TXC_NATS_URL", "NATS server URL (default nats://127.0.0.1:4222)",
       [](Config& c, const std::string& v) {
         c.nats_url = v;
         return Status::Ok();
       }},
      {"--nats-user", "TXC_NATS_USER", "NATS user (with --nats-password)",
       StringSetting(&NatsSecurity::user)},
      {"--nats-password", "TXC_NATS_PASSWORD", "NATS password (prefer the variable)",
       StringSetting(&NatsSecurity::password)},
      {"--nats-token", "TXC_NATS_TOKEN", "NATS token (prefer the variable)",
       StringSetting(&NatsSecurity::token)},
      {"--nats-creds", "TXC_NATS_CREDS", "NATS credentials file (user JWT and nkey seed)",
       StringSetting(&NatsSecurity::creds_file)},
      {"--nats-tls", "TXC_NATS_TLS",
       "true (or yes, 1): connect to NATS over TLS (also implied by tls:// or any --nats-tls-* "
       "file)",
       [](Config& c, const std::string& v) {
         TXC_ASSIGN_OR_RETURN(c.nats_security.tls, ParseBoolSetting(v, "--nats-tls"));
         return Status::Ok();
       }},
      {"--nats-tls-ca", "TXC_NATS_TLS_CA",
       "PEM file of the CAs that sign the NATS server's "
       "certificate (default: the system's)",
       StringSetting(&NatsSecurity::tls_ca_file)},
      {"--nats-tls-cert", "TXC_NATS_TLS_CERT", "PEM client certificate for NATS (mutual TLS)",
       StringSetting(&NatsSecurity::tls_cert_file)},
      {"--nats-tls-key", "TXC_NATS_TLS_KEY", "the key of --nats-tls-cert",
       StringSetting(&NatsSecurity::tls_key_file)},
      {"--nats-tls-hostname", "TXC_NATS_TLS_HOSTNAME",
       "the name the NATS server's certificate must carry, if not the URL's host",
       StringSetting(&NatsSecurity::tls_hostname)},
      {"--http-addr", "TXC_HTTP_ADDR", "REST API listen address HOST:PORT (default 127.0.0.1:8080)",
       ParseAddr},
      {"--db-path", "TXC_DB_PATH", "SQLite transaction log file (default ./txc.db)",
       [](Config& c, const std::string& v) {
         if (v.empty()) return Status::InvalidArgument("--db-path is empty");
         c.db_path = v;
         return Status::Ok();
       }},
      {"--synchronous", "TXC_SYNCHRONOUS",
       "FULL (default: every decision fsynced before it is sent) or NORMAL (faster; a power "
       "loss may lose recent decisions)",
       [](Config& c, const std::string& v) {
         if (v != "FULL" && v != "NORMAL") {
           return Status::InvalidArgument("--synchronous must be FULL or NORMAL");
         }
         c.synchronous = v;
         return Status::Ok();
       }},
      {"--reply-timeout-ms", "TXC_REPLY_TIMEOUT_MS",
       "how long to wait for a participant's reply before re-sending (default 3000)",
       MillisSetting(&core::RetryPolicy::reply_timeout, "--reply-timeout-ms")},
      {"--backoff-base-ms", "TXC_BACKOFF_BASE_MS", "first retry delay (default 100)",
       MillisSetting(&core::RetryPolicy::backoff_base, "--backoff-base-ms")},
      {"--backoff-cap-ms", "TXC_BACKOFF_CAP_MS", "longest retry delay (default 10000)",
       MillisSetting(&core::RetryPolicy::backoff_cap, "--backoff-cap-ms")},
      {"--max-branches", "TXC_MAX_BRANCHES", "most branches one transaction may have (default 64)",
       [](Config& c, const std::string& v) {
         long n = 0;
         TXC_RETURN_IF_ERROR(ParseInt(v, 1, 10000, "--max-branches", &n));
         c.max_branches = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--http-threads", "TXC_HTTP_THREADS",
       "HTTP connections served at once; a ?wait=true request holds one (default 64)",
       [](Config& c, const std::string& v) {
         long n = 0;
         TXC_RETURN_IF_ERROR(ParseInt(v, 1, 4096, "--http-threads", &n));
         c.http_threads = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--max-body-bytes", "TXC_MAX_BODY_BYTES", "largest request body accepted (default 1048576)",
       [](Config& c, const std::string& v) {
         long n = 0;
         TXC_RETURN_IF_ERROR(ParseInt(v, 1024, 64L << 20, "--max-body-bytes", &n));
         c.max_body_bytes = static_cast<size_t>(n);
         return Status::Ok();
       }},
      {"--rate-limit", "TXC_RATE_LIMIT",
       "requests per second each client address may make on average; beyond it 429 with "
       "Retry-After (default 0: no limit; health checks and the admin UI's files are never "
       "limited)",
       [](Config& c, const std::string& v) {
         long n = 0;
         TXC_RETURN_IF_ERROR(ParseInt(v, 0, 10'000'000, "--rate-limit", &n));
         c.rate_limit = static_cast<double>(n);
         return Status::Ok();
       }},
      {"--rate-burst", "TXC_RATE_BURST",
       "requests a client may make at once before --rate-limit applies (default 100)",
       [](Config& c, const std::string& v) {
         long n = 0;
         TXC_RETURN_IF_ERROR(ParseInt(v, 1, 10'000'000, "--rate-burst", &n));
         c.rate_burst = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--api-token", "TXC_API_TOKEN",
       "when set, every API call but /healthz, /readyz and the admin UI's files needs "
       "'Authorization: Bearer <token>' (prefer the variable: a flag shows in the process list)",
       [](Config& c, const std::string& v) {
         c.api_token = v;
         return Status::Ok();
       }},
      {"--log-level", "TXC_LOG_LEVEL",
       "debug, info, warn or error (default info: one line per finished transaction; debug adds "
       "every logged step)",
       [](Config& c, const std::string& v) {
         auto level = applog::ParseLevel(v);
         if (!level) {
           return Status::InvalidArgument("--log-level must be debug, info, warn or error, got '" +
                                          v + "'");
         }
         c.log_level = *level;
         return Status::Ok();
       }},
      {"--retention", "TXC_RETENTION",
       "how long finished transactions stay in the log, e.g. 90s, 30m, 12h, 7d; 0 keeps them "
       "forever (default 7d). A purged transaction's Idempotency-Key is forgotten too",
       [](Config& c, const std::string& v) {
         return ParseSpan(v, "--retention", "keep forever", &c.retention);
       }},
      {"--retry-max-attempts", "TXC_RETRY_MAX_ATTEMPTS",
       "retry budget: sends of a message applying a decided outcome (commit, abort, 3PC "
       "pre_commit/do_commit, compensation) before its transaction is flagged needs_attention "
       "(retrying goes on); 0: no limit (default 20; a transaction may set its own)",
       [](Config& c, const std::string& v) {
         long n = 0;
         TXC_RETURN_IF_ERROR(
             ParseInt(v, 0, core::kMaxRetryBudgetAttempts, "--retry-max-attempts", &n));
         c.retry_budget.max_attempts = static_cast<int>(n);
         return Status::Ok();
       }},
      {"--retry-deadline", "TXC_RETRY_DEADLINE",
       "retry budget: a branch whose outcome message is still not acknowledged this long after "
       "its first send flags its transaction needs_attention, e.g. 90s, 10m, 1h, at most 30d; "
       "0: no deadline (default 10m)",
       [](Config& c, const std::string& v) {
         std::chrono::milliseconds span{};
         TXC_RETURN_IF_ERROR(ParseSpan(v, "--retry-deadline", "no deadline", &span));
         if (span.count() > core::kMaxRetryBudgetDeadlineMs) {
           return Status::InvalidArgument(
               "--retry-deadline must be at most " +
               std::to_string(core::kMaxRetryBudgetDeadlineMs / kDayMs) +
               "d (the longest retry_budget.deadline_ms a transaction may set), got '" + v + "'");
         }
         c.retry_budget.deadline = span;
         return Status::Ok();
       }},
      {"--require-live-participants", "TXC_REQUIRE_LIVE_PARTICIPANTS",
       "true (default) or false (or yes/no, 1/0): refuse a transaction naming a participant with "
       "no live instance "
       "(409 failed_precondition, before anything is logged). No refusal for 3 s after "
       "connecting to NATS; false for participants that do not heartbeat",
       [](Config& c, const std::string& v) {
         TXC_ASSIGN_OR_RETURN(c.require_live_participants,
                              ParseBoolSetting(v, "--require-live-participants"));
         return Status::Ok();
       }},
      {"--nats-api", "TXC_NATS_API",
       "true or false (default): also take POST /v1/transactions as NATS requests on "
       "txc.coordinator.begin (docs/protocol.md); the same --api-token applies. Anyone who may "
       "publish there may start transactions: restrict it with NATS permissions",
       [](Config& c, const std::string& v) {
         TXC_ASSIGN_OR_RETURN(c.nats_api, ParseBoolSetting(v, "--nats-api"));
         return Status::Ok();
       }},
  };
  return kSettings;
}

}  // namespace

Result<Config> ParseConfig(const std::vector<std::string>& args,
                           const char* (*getenv_fn)(const char*)) {
  Config config;
  for (const Setting& s : Settings()) {
    if (const char* v = getenv_fn(s.env); v != nullptr && *v != '\0') {
      TXC_RETURN_IF_ERROR(s.apply(config, v).WithContext(s.env));
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      config.help = true;
      continue;
    }
    std::string name = arg, value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const Setting* match = nullptr;
    for (const Setting& s : Settings()) {
      if (name == s.flag) match = &s;
    }
    if (match == nullptr) return Status::InvalidArgument("unknown flag '" + arg + "' (see --help)");
    if (!has_value) {
      if (i + 1 >= args.size()) return Status::InvalidArgument(name + " needs a value");
      value = args[++i];
    }
    TXC_RETURN_IF_ERROR(match->apply(config, value));
  }
  if (config.retry.backoff_base > config.retry.backoff_cap) {
    return Status::InvalidArgument("--backoff-base-ms must not exceed --backoff-cap-ms");
  }
  TXC_RETURN_IF_ERROR(config.nats_security.Validate());
  return config;
}

std::string ConfigHelp() {
  std::ostringstream out;
  out << "txc-coordinator: drives distributed transactions (2PC, 3PC, sagas) over NATS, logged in "
         "SQLite.\n\n"
         "Usage: txc-coordinator [FLAG VALUE | FLAG=VALUE]...\n\n"
         "Every flag can also be set by the environment variable shown.\n\n";
  for (const Setting& s : Settings()) {
    out << "  " << s.flag << " (" << s.env << ")\n      " << s.help << "\n";
  }
  out << "  --help\n      this text\n";
  return out.str();
}

}  // namespace txc
