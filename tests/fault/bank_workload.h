// BankWorkload: client threads that move money between accounts held by different participants,
// as 2PC, 3PC and saga transactions, through the coordinator's REST API. A client retries a POST
// with the same Idempotency-Key until the coordinator acknowledges it (201, or 200 for a
// retry), so every transfer the workload counts as accepted is durably in the coordinator's log
// whatever crashed meanwhile.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace httplib {
class Client;
}

namespace txc::fault {

struct WorkloadOptions {
  int api_port = 0;
  int clients = 16;
  int64_t max_transactions = 1000;   // 0: no limit
  std::chrono::seconds duration{0};  // 0: no limit
  int rate = 0;                      // transactions per second in all; 0: as fast as clients go
  uint64_t seed = 1;
  int participants = 4;
  int accounts = 8;
  int timeout_ms = 3000;  // each transaction's timeout_ms
};

struct Accepted {
  std::string id;
  std::string protocol;
};

class BankWorkload {
 public:
  explicit BankWorkload(WorkloadOptions options) : options_(std::move(options)) {}

  // Runs the clients until the limits are reached or Stop() is called; blocks.
  void Run();
  void Stop() { stop_ = true; }

  // After Run: what was accepted, and what went wrong on the client side.
  std::vector<Accepted> accepted() const;
  std::vector<std::string> errors() const;  // unexpected answers (a 4xx for a valid request...)
  int64_t retries() const { return retries_.load(); }
  double seconds() const { return seconds_; }

 private:
  void Client(int index);
  // POSTs transfer number n until acknowledged (or the run is stopped).
  void Submit(int64_t n, std::mt19937_64& rng, httplib::Client& http);

  const WorkloadOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> retries_{0};
  std::chrono::steady_clock::time_point start_;
  double seconds_ = 0;

  mutable std::mutex mu_;
  std::vector<Accepted> accepted_;   // guarded by mu_
  std::vector<std::string> errors_;  // guarded by mu_
};

}  // namespace txc::fault
