// Config: the coordinator's settings, from flags and matching TXC_* environment variables
// (a flag wins over its variable, a variable over the default).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "applog/applog.h"
#include "core/retry_policy.h"
#include "txc/nats_security.h"
#include "txc/status.h"

namespace txc {

struct Config {
  std::string nats_url = "nats://127.0.0.1:4222";
  NatsSecurity nats_security{};
  std::string http_host = "127.0.0.1";
  int http_port = 8080;
  std::string db_path = "./txc.db";
  std::string synchronous = "FULL";  // FULL: every decision is fsynced before it is sent
  core::RetryPolicy retry;
  core::RetryBudget retry_budget{20, std::chrono::minutes(10)};  // unless a transaction sets one
  int max_branches = 64;
  size_t max_body_bytes = 1 << 20;
  int http_threads = 64;
  double rate_limit = 0;  // requests per second per client address; 0: no limit
  int rate_burst = 100;
  std::string api_token;  // empty: the API is open (bind it to localhost or a private network)
  applog::Level log_level = applog::Level::kInfo;
  // Finished transactions older than this are purged from the log; zero keeps them forever.
  std::chrono::milliseconds retention = std::chrono::hours(24 * 7);
  // Refuse a transaction naming a participant with no live instance (no heartbeat), before
  // anything is logged. On by default: every participant that follows docs/protocol.md
  // heartbeats, and the check waits out a grace period after (re)connecting to NATS.
  bool require_live_participants = true;
  bool nats_api = false;  // serve POST /v1/transactions over NATS too (api/nats_api.h)
  bool help = false;
};

// Parses `args` (argv without the program name) over the environment read by `getenv`.
Result<Config> ParseConfig(const std::vector<std::string>& args,
                           const char* (*getenv_fn)(const char*));
std::string ConfigHelp();

}  // namespace txc
