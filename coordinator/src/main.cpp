// txc-coordinator: wires the SQLite log, the NATS transport, the engine and the REST API
// together, and shuts them down in the order that loses nothing.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_api.h"
#include "api/nats_api.h"
#include "applog/applog.h"
#include "config.h"
#include "engine/clock.h"
#include "engine/engine.h"
#include "engine/engine_service.h"
#include "liveness/admission.h"
#include "liveness/participant_registry.h"
#include "log/sqlite_tx_log.h"
#include "metrics/metrics.h"
#include "transport/nats_transport.h"

namespace {

using txc::applog::Level;
using txc::applog::Write;

int Run(const txc::Config& config) {
  txc::applog::SetLevel(config.log_level);
  txc::log::DisableSqliteMemoryStatistics();
  // Block the shutdown signals in every thread; the main thread waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);  // raised when NATS closes the connection for good
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // Declared first: the log's and the engine's threads record into it until they are stopped.
  txc::metrics::Metrics metrics;
  txc::engine::SystemClock clock;
  // Which participant instances are up, from their heartbeats (docs/protocol.md). Declared
  // before the transport, whose heartbeat thread feeds it until the transport is gone.
  txc::liveness::ParticipantRegistry::Options liveness_options;
  liveness_options.on_full = [](const txc::liveness::ParticipantRegistry::Overflow& o) {
    // Heartbeats are unauthenticated: a registry full of live instances means a flood (or a
    // fleet larger than the limit). NATS permissions on txc.heartbeat.> are the cure (README).
    Write(Level::kWarn, "liveness.full",
          {{"max_instances", o.max_instances},
           {"dropped", o.dropped},
           {"participant", o.participant},
           {"instance", o.instance},
           {"error",
            "participant heartbeats of new instances are ignored: every tracked "
            "instance is live; restrict who may publish on txc.heartbeat.>"}});
  };
  txc::liveness::ParticipantRegistry participants(clock, liveness_options);
  auto log =
      txc::log::SqliteTxLog::Open({.path = config.db_path,
                                   .synchronous = config.synchronous,
                                   .retention = config.retention,
                                   .on_commit =
                                       [&metrics](size_t records, std::chrono::microseconds took) {
                                         metrics.LogCommit(records, took);
                                       },
                                   .on_purge = [&metrics](size_t n) { metrics.LogPurged(n); }});
  if (!log.ok()) {
    Write(Level::kError, "startup.failed",
          {{"step", "open the transaction log"},
           {"path", config.db_path},
           {"error", log.status().ToString()}});
    return 1;
  }
  auto transport = txc::transport::NatsTransport::Connect(
      {.url = config.nats_url,
       .security = config.nats_security,
       .on_closed = [&config](const std::string& reason) {
         // nats.c gives up only when the server refused us; nothing can be decided without it.
         Write(Level::kError, "nats.closed",
               {{"url", config.nats_url},
                {"error", "NATS closed the connection (" + reason +
                              "): check the NATS credentials and TLS settings"}});
         kill(getpid(), SIGUSR1);
       }});
  if (!transport.ok()) {
    Write(Level::kError, "startup.failed",
          {{"step", "set up NATS"},
           {"url", config.nats_url},
           {"error", transport.status().ToString()}});
    return 1;
  }
  (*transport)
      ->SetLivenessHandlers(
          {[&participants](const txc::wire::Heartbeat& h) { participants.Heard(h); },
           [&participants](bool up) { participants.ConnectionChanged(up); }});
  if ((*transport)->Connected()) participants.ConnectionChanged(true);
  auto engine = std::make_unique<txc::engine::Engine>(
      **log, **transport, clock,
      txc::engine::EngineOptions{
          .retry = config.retry, .retry_budget = config.retry_budget, .metrics = &metrics});
  if (auto s = engine->Start(); !s.ok()) {
    Write(Level::kError, "startup.failed", {{"step", "recover"}, {"error", s.ToString()}});
    return 1;
  }
  txc::engine::EngineService service(*engine, **log, **transport);
  txc::engine::Engine* engine_ptr = engine.get();
  txc::transport::NatsTransport* nats = transport->get();
  metrics.AddGauge({"txc_transactions_in_flight", "Transactions not yet terminal.", "gauge",
                    [engine_ptr] { return static_cast<double>(engine_ptr->live_count()); }});
  metrics.AddGauge({"txc_transactions_needing_attention",
                    "Transactions with a branch that exhausted its retry budget (still retried).",
                    "gauge",
                    [engine_ptr] { return static_cast<double>(engine_ptr->attention_count()); }});
  metrics.AddGauge({"txc_nats_reconnects_total", "Reconnections to NATS since start.", "counter",
                    [nats] { return static_cast<double>(nats->reconnects()); }});
  metrics.AddGauge({"txc_nats_connected", "1 while connected to NATS.", "gauge",
                    [nats] { return nats->Connected() ? 1.0 : 0.0; }});
  metrics.AddGauge({"txc_log_healthy", "1 while the log accepts writes (0: poisoned).", "gauge",
                    [engine_ptr] { return engine_ptr->Health().ok() ? 1.0 : 0.0; }});
  metrics.AddLabeledGauge({"txc_participant_live_instances",
                           "Instances of each participant heard from within its liveness window.",
                           "gauge", "participant", [&participants] {
                             std::map<std::string, double> out;
                             for (const auto& [name, n] : participants.LiveInstances()) {
                               out[name] = n;
                             }
                             return out;
                           }});
  txc::api::HttpApi::Options api_options;
  api_options.host = config.http_host;
  api_options.port = config.http_port;
  api_options.max_body_bytes = config.max_body_bytes;
  api_options.max_branches = static_cast<size_t>(config.max_branches);
  api_options.threads = config.http_threads;
  api_options.rate_limit_per_s = config.rate_limit;
  api_options.rate_limit_burst = config.rate_burst;
  api_options.api_token = config.api_token;
  api_options.metrics = [&metrics] { return metrics.Render(); };
  api_options.participants = &participants;
  if (config.require_live_participants) {
    api_options.admit = [&participants, &log](const txc::api::BeginCommand& command) {
      std::vector<std::string> names;
      for (const auto& branch : command.branches) names.push_back(branch.participant);
      return txc::liveness::AdmitTransaction(participants, **log, names, command.idempotency_key);
    };
  }
  txc::api::HttpApi api(service, api_options);
  // Answers through the transport: NatsApi flushes the errors it answers itself, the service
  // what it answers.
  txc::api::NatsApi nats_api(
      service,
      {.max_body_bytes = api_options.max_body_bytes,
       .limits = {api_options.max_branches, api_options.max_json_depth, api_options.max_timeout},
       .max_wait = api_options.max_wait,
       .api_token = config.api_token,
       .admit = api_options.admit,
       .respond = [nats](const std::string& reply, const txc::api::NatsApi::Headers& headers,
                         std::string_view body) { return nats->Respond(reply, headers, body); },
       .flush = [nats] { (void)nats->Flush(); }});
  metrics.AddGauge({"txc_api_waiting_clients",
                    "Clients (HTTP or NATS) waiting for the answer to a transaction's start.",
                    "gauge", [&service] { return static_cast<double>(service.waiting()); }});
  metrics.AddGauge({"txc_http_rate_limited_total", "Requests refused with 429 (--rate-limit).",
                    "counter", [&api] { return static_cast<double>(api.rate_limited()); }});
  // Every exit from here on: stop taking requests, let the starts already accepted be logged (or
  // refused), stop deciding, answer what clients still wait for from the log, then close the log
  // (its callbacks post to the engine, which must outlive the last of them) and NATS (no reply
  // handler runs after that). Unfinished work resumes from the log at the next start.
  auto stop_everything = [&] {
    service.Shutdown();
    nats->StopServingApi();
    api.Stop();
    service.FinishStarts();
    engine->Stop();
    service.Stop();
    (*log)->Close();
    transport->reset();
    engine.reset();
  };
  // Before HTTP: once /readyz answers, the start subject is registered with the server too.
  if (config.nats_api) {
    auto served = nats->ServeApi(
        std::string(txc::wire::kBeginSubject),
        [&nats_api](std::string reply, std::string body, txc::api::NatsApi::Headers headers) {
          nats_api.Handle(reply, body, headers);
        });
    if (!served.ok()) {
      Write(Level::kError, "startup.failed",
            {{"step", "serve the API over NATS"}, {"error", served.ToString()}});
      stop_everything();
      return 1;
    }
  }
  if (auto s = api.Start(); !s.ok()) {
    Write(Level::kError, "startup.failed",
          {{"step", "serve HTTP"},
           {"addr", config.http_host + ":" + std::to_string(config.http_port)},
           {"error", s.ToString()}});
    stop_everything();
    return 1;
  }
  Write(Level::kInfo, "coordinator.ready",
        {{"http", "http://" + config.http_host + ":" + std::to_string(api.port())},
         {"nats", config.nats_url},
         {"nats_tls", config.nats_security.UsesTls()},
         {"log", config.db_path},
         {"recovered", engine->live_count()},
         {"auth", config.api_token.empty() ? "none" : "bearer token"},
         {"nats_api", config.nats_api ? std::string(txc::wire::kBeginSubject) : "off"},
         {"require_live_participants", config.require_live_participants}});

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  // New transactions are refused before the "stopping" line: no request arriving after it
  // starts one.
  service.Shutdown();
  Write(Level::kInfo, "coordinator.stopping", {{"signal", signal_number}});
  stop_everything();
  Write(Level::kInfo, "coordinator.stopped");
  return signal_number == SIGUSR1 ? 1 : 0;  // NATS gave up on us: not a clean stop
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
