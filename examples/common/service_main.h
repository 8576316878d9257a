// What every example service shares: flags, a read-only HTTP endpoint, the participant's
// lifecycle, and a clean stop on SIGINT/SIGTERM.
#pragma once

#include <sqlite3.h>

#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "txc/participant.h"

namespace txc::examples {

struct ServiceFlags {
  std::string name;
  std::string db_path;
  std::string nats_url = "nats://127.0.0.1:4222";
  std::string http_addr;                     // empty: no HTTP endpoint
  std::map<std::string, std::string> extra;  // service-specific flags (--stock ...)
};

// Parses --name, --db, --nats-url (or TXC_NATS_URL), --http-addr and the flags named in
// `extra_flags`. Exits with a usage message on anything else.
ServiceFlags ParseFlags(int argc, char** argv, const std::string& default_name,
                        const std::vector<std::string>& extra_flags);

// Runs one SQL statement (schema set-up); false and a message on stderr on failure.
bool Exec(sqlite3* db, const std::string& sql);

// Rows of a query as JSON objects (column name -> value), for the read-only endpoints.
nlohmann::json QueryJson(sqlite3* db, const std::string& sql, const std::string& bind = "");

// Starts the participant, serves GET routes (path -> JSON producer) if --http-addr is set, and
// blocks until SIGINT/SIGTERM; then stops everything. Returns the process exit code.
int RunService(
    Participant& participant, const ServiceFlags& flags,
    const std::map<std::string, std::function<nlohmann::json(const std::string&)>>& routes);

}  // namespace txc::examples
