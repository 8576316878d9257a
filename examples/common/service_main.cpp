#include "service_main.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <thread>

namespace txc::examples {

ServiceFlags ParseFlags(int argc, char** argv, const std::string& default_name,
                        const std::vector<std::string>& extra_flags) {
  ServiceFlags f;
  f.name = default_name;
  f.db_path = "./" + default_name + ".db";
  if (const char* url = std::getenv("TXC_NATS_URL")) f.nats_url = url;
  auto usage = [&](const std::string& why) {
    std::cerr << argv[0] << ": " << why << "\nflags: --name N --db PATH --nats-url URL "
              << "--http-addr HOST:PORT";
    for (const auto& e : extra_flags) std::cerr << " --" << e << " VALUE";
    std::cerr << "\n";
    std::exit(2);
  };
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help") usage("an example txc participant");
    if (flag.rfind("--", 0) != 0 || i + 1 >= argc) usage("bad argument '" + flag + "'");
    std::string value = argv[++i];
    flag = flag.substr(2);
    if (flag == "name") {
      f.name = value;
    } else if (flag == "db") {
      f.db_path = value;
    } else if (flag == "nats-url") {
      f.nats_url = value;
    } else if (flag == "http-addr") {
      f.http_addr = value;
    } else if (std::find(extra_flags.begin(), extra_flags.end(), flag) != extra_flags.end()) {
      f.extra[flag] = value;
    } else {
      usage("unknown flag --" + flag);
    }
  }
  return f;
}

bool Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::cerr << "sqlite: " << (err ? err : "error") << " in: " << sql << "\n";
    sqlite3_free(err);
    return false;
  }
  return true;
}

nlohmann::json QueryJson(sqlite3* db, const std::string& sql, const std::string& bind) {
  nlohmann::json rows = nlohmann::json::array();
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return rows;
  if (!bind.empty()) sqlite3_bind_text(stmt, 1, bind.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    nlohmann::json row;
    for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
      const char* name = sqlite3_column_name(stmt, c);
      if (sqlite3_column_type(stmt, c) == SQLITE_INTEGER) {
        row[name] = sqlite3_column_int64(stmt, c);
      } else {
        const unsigned char* text = sqlite3_column_text(stmt, c);
        row[name] = text ? reinterpret_cast<const char*>(text) : "";
      }
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  return rows;
}

int RunService(
    Participant& participant, const ServiceFlags& flags,
    const std::map<std::string, std::function<nlohmann::json(const std::string&)>>& routes) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  if (Status s = participant.Start(); !s.ok()) {
    std::cerr << flags.name << ": cannot start: " << s.ToString() << "\n";
    return 1;
  }
  httplib::Server http;
  std::thread server;
  if (!flags.http_addr.empty()) {
    const auto colon = flags.http_addr.rfind(':');
    const std::string host = flags.http_addr.substr(0, colon);
    const int port = std::atoi(flags.http_addr.substr(colon + 1).c_str());
    http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"ok"})", "application/json");
    });
    // Ready once requests can reach this service: before its NATS connection is up (and its
    // subscription with it), a transaction sent to it would find no responders.
    http.Get("/readyz", [&participant](const httplib::Request&, httplib::Response& res) {
      if (participant.Connected()) {
        res.set_content(R"({"status":"ready"})", "application/json");
        return;
      }
      res.status = 503;
      res.set_content(R"({"status":"unavailable","reason":"not connected to NATS"})",
                      "application/json");
    });
    for (const auto& [path, produce] : routes) {
      http.Get(path, [produce](const httplib::Request& req, httplib::Response& res) {
        const std::string arg = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
        nlohmann::json body = produce(arg);
        if (body.is_null()) {
          res.status = 404;
          body = {{"error", {{"code", "not_found"}, {"message", "no such item"}}}};
        }
        res.set_content(body.dump(), "application/json");
      });
    }
    if (!http.bind_to_port(host, port)) {
      std::cerr << flags.name << ": cannot listen on " << flags.http_addr << "\n";
      participant.Stop();
      return 1;
    }
    server = std::thread([&http] { http.listen_after_bind(); });
  }
  std::cout << flags.name << ": ready (nats " << flags.nats_url << ", db " << flags.db_path
            << (flags.http_addr.empty() ? "" : ", http " + flags.http_addr) << ")" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  if (server.joinable()) {
    http.stop();
    server.join();
  }
  participant.Stop();
  std::cout << flags.name << ": stopped" << std::endl;
  return 0;
}

}  // namespace txc::examples
