#include "bank_workload.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

namespace txc::fault {
namespace {

using nlohmann::json;

const char* const kProtocols[] = {"2pc", "3pc", "saga"};

}  // namespace

void BankWorkload::Run() {
  start_ = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int i = 0; i < options_.clients; ++i) clients.emplace_back([this, i] { Client(i); });
  for (auto& c : clients) c.join();
  seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void BankWorkload::Client(int index) {
  std::mt19937_64 rng(options_.seed * 1000 + static_cast<uint64_t>(index));
  httplib::Client http("127.0.0.1", options_.api_port);
  http.set_keep_alive(true);
  http.set_tcp_nodelay(true);
  http.set_connection_timeout(1);
  http.set_read_timeout(15);
  while (!stop_) {
    const int64_t n = next_++;
    if (options_.max_transactions > 0 && n >= options_.max_transactions) return;
    const auto now = std::chrono::steady_clock::now();
    if (options_.duration.count() > 0 && now - start_ >= options_.duration) return;
    if (options_.rate > 0) {
      // Open loop: transfer n is due at n / rate seconds into the run.
      std::this_thread::sleep_until(start_ +
                                    std::chrono::microseconds(n * 1'000'000 / options_.rate));
    }
    Submit(n, rng, http);
  }
}

void BankWorkload::Submit(int64_t n, std::mt19937_64& rng, httplib::Client& http) {
  auto pick = [&rng](int bound) { return static_cast<int>(rng() % static_cast<uint64_t>(bound)); };
  const std::string protocol = kProtocols[pick(3)];
  const int from = pick(options_.participants);
  const int to = (from + 1 + pick(options_.participants - 1)) % options_.participants;
  const int64_t amount = 1 + pick(20);
  auto leg = [&](int participant, int64_t delta) {
    return json{{"participant", "bank" + std::to_string(participant)},
                {"payload",
                 {{"account", "a" + std::to_string(pick(options_.accounts))}, {"amount", delta}}}};
  };
  // Debit first: a saga then never credits money it could not take.
  const json body = {{"protocol", protocol},
                     {"timeout_ms", options_.timeout_ms},
                     {"branches", {leg(from, -amount), leg(to, amount)}}};
  const std::string text = body.dump();
  const httplib::Headers headers = {
      {"Idempotency-Key", "fault-" + std::to_string(options_.seed) + "-" + std::to_string(n)}};
  for (int attempt = 0; !stop_; ++attempt) {
    if (attempt > 0) {
      retries_++;
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50 * attempt, 500)));
    }
    auto res = http.Post("/v1/transactions", headers, text, "application/json");
    if (!res) continue;  // the coordinator is down or restarting: same key again
    if (res->status == 201 || res->status == 200) {
      const json answer = json::parse(res->body, nullptr, false);
      std::lock_guard lock(mu_);
      if (answer.is_object() && answer.contains("id")) {
        accepted_.push_back({answer["id"].get<std::string>(), protocol});
      } else {
        errors_.push_back("acknowledged without an id: " + res->body);
      }
      return;
    }
    if (res->status >= 500) continue;  // e.g. 503 while NATS or the log is unavailable
    // A participant being restarted may have no live instance for a moment: refused before
    // anything was logged, so sending it again under the same key is right.
    if (res->status == 409 && res->body.find("no live instance") != std::string::npos) continue;
    std::lock_guard lock(mu_);
    errors_.push_back("HTTP " + std::to_string(res->status) +
                      " for a valid transfer: " + res->body);
    return;
  }
}

std::vector<Accepted> BankWorkload::accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

std::vector<std::string> BankWorkload::errors() const {
  std::lock_guard lock(mu_);
  return errors_;
}

}  // namespace txc::fault
