// txc-coordinator: wires the SQLite log, the NATS transport, the engine and the REST API
// together, and shuts them down in the order that loses nothing.
#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "api/http_api.h"
#include "config.h"
#include "engine/clock.h"
#include "engine/engine.h"
#include "engine/engine_service.h"
#include "log/sqlite_tx_log.h"
#include "transport/nats_transport.h"

namespace {

int Run(const txc::Config& config) {
  // Block the shutdown signals in every thread; the main thread waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto log = txc::log::SqliteTxLog::Open(
      {.path = config.db_path, .synchronous = config.synchronous, .retention = config.retention});
  if (!log.ok()) {
    std::cerr << "txc: cannot open the transaction log " << config.db_path << ": "
              << log.status().ToString() << "\n";
    return 1;
  }
  auto transport = txc::transport::NatsTransport::Connect({.url = config.nats_url});
  if (!transport.ok()) {
    std::cerr << "txc: cannot set up NATS at " << config.nats_url << ": "
              << transport.status().ToString() << "\n";
    return 1;
  }
  txc::engine::SystemClock clock;
  auto engine = std::make_unique<txc::engine::Engine>(**log, **transport, clock,
                                                      txc::engine::EngineOptions{config.retry});
  if (auto s = engine->Start(); !s.ok()) {
    std::cerr << "txc: cannot start: " << s.ToString() << "\n";
    return 1;
  }
  txc::engine::EngineService service(*engine, **log, **transport);
  txc::api::HttpApi::Options api_options;
  api_options.host = config.http_host;
  api_options.port = config.http_port;
  api_options.max_body_bytes = config.max_body_bytes;
  api_options.max_branches = static_cast<size_t>(config.max_branches);
  api_options.threads = config.http_threads;
  api_options.api_token = config.api_token;
  txc::api::HttpApi api(service, api_options);
  if (auto s = api.Start(); !s.ok()) {
    std::cerr << "txc: cannot serve HTTP on " << config.http_host << ":" << config.http_port << ": "
              << s.ToString() << "\n";
    return 1;
  }
  std::cerr << "txc: coordinator ready: http://" << config.http_host << ":" << api.port()
            << " nats=" << config.nats_url << " log=" << config.db_path
            << " recovered=" << engine->live_count() << "\n";

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cerr << "txc: signal " << signal_number << ", shutting down\n";
  // Stop taking requests, stop deciding, then close NATS (no reply handler runs after that) and
  // the log (queued appends are written first). Unfinished work resumes from the log next start.
  api.Stop();
  engine->Stop();
  transport->reset();
  engine.reset();
  (*log)->Close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto config =
      txc::ParseConfig(args, [](const char* name) -> const char* { return std::getenv(name); });
  if (!config.ok()) {
    std::cerr << "txc: " << config.status().message() << "\n";
    return 2;
  }
  if (config->help) {
    std::cout << txc::ConfigHelp();
    return 0;
  }
  return Run(*config);
}
