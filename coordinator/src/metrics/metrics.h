// Metrics: the coordinator's counters and histograms, rendered in the Prometheus text format for
// GET /metrics. Values are atomics; a short lock only finds (or, the first time, creates) a label
// set's entry, so the engine and log writer threads can record on their hot paths.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace txc::metrics {

// Cumulative buckets with fixed upper bounds (seconds, or a count for batch sizes).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  // Appends `name_bucket{labels,le=...}`, `name_sum` and `name_count` lines.
  void Render(const std::string& name, const std::string& labels, std::string& out) const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound, then +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

class Metrics {
 public:
  Metrics();

  void TransactionStarted(const std::string& protocol);
  // `outcome` is the terminal state; `seconds` from start to terminal, when known (< 0: not).
  void TransactionFinished(const std::string& protocol, const std::string& outcome, double seconds);
  // One reply (or timeout) of a phase message: prepare, commit, can_commit, action, ...
  void PhaseReply(const std::string& op, std::chrono::microseconds latency);
  void Retry(const std::string& op);  // a message sent again (attempt > 1)
  void LogCommit(size_t records, std::chrono::microseconds latency);
  void LogPurged(uint64_t transactions);

  // Values read at render time (in-flight count, NATS reconnects, ...): name -> (help, value).
  struct Gauge {
    std::string name, help, type;  // type: "gauge" or "counter"
    std::function<double()> value;
  };
  void AddGauge(Gauge gauge);
  // The same with a label: `values` returns label value -> value, rendered as
  // name{label="value"} lines, e.g. txc_participant_live_instances{participant="inventory"} 2.
  // Label values must need no escaping (participant names do not).
  struct LabeledGauge {
    std::string name, help, type, label;
    std::function<std::map<std::string, double>()> values;
  };
  void AddLabeledGauge(LabeledGauge gauge);

  std::string Render() const;

 private:
  std::atomic<uint64_t>& CounterFor(std::map<std::string, std::atomic<uint64_t>>& family,
                                    const std::string& labels);
  Histogram& HistogramFor(std::map<std::string, Histogram>& family, const std::string& labels,
                          const std::vector<double>& bounds);

  mutable std::mutex mu_;  // guards the maps' shapes (inserting a label set), not the values
  std::map<std::string, std::atomic<uint64_t>> started_;   // labels -> count
  std::map<std::string, std::atomic<uint64_t>> finished_;  // labels -> count
  std::map<std::string, std::atomic<uint64_t>> retries_;   // labels -> count
  std::map<std::string, Histogram> tx_seconds_;            // labels -> histogram
  std::map<std::string, Histogram> phase_seconds_;         // labels -> histogram
  Histogram log_commit_seconds_;
  Histogram log_batch_records_;
  std::atomic<uint64_t> log_purged_{0};
  std::vector<Gauge> gauges_;
  std::vector<LabeledGauge> labeled_gauges_;
};

}  // namespace txc::metrics
