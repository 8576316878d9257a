#include "metrics/metrics.h"

#include <cstdio>

namespace txc::metrics {
namespace {

// Latencies from 100 us to 30 s; batch sizes from 1 to 4096 records.
const std::vector<double> kSecondsBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                            1,      2.5,     5,      10,    30};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

// Label values here are our own names (protocols, states, ops): no escaping needed.
std::string Label(const std::string& name, const std::string& value) {
  return name + "=\"" + value + "\"";
}

void Header(std::string& out, const std::string& name, const std::string& type,
            const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void RenderCounters(std::string& out, const std::string& name, const std::string& help,
                    const std::map<std::string, std::atomic<uint64_t>>& family) {
  Header(out, name, "counter", help);
  for (const auto& [labels, value] : family) {
    out +=
        name + "{" + labels + "} " + std::to_string(value.load(std::memory_order_relaxed)) + "\n";
  }
}

void RenderHistograms(std::string& out, const std::string& name, const std::string& help,
                      const std::map<std::string, Histogram>& family) {
  Header(out, name, "histogram", help);
  for (const auto& [labels, h] : family) h.Render(name, labels, out);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string& out) const {
  const std::string sep = labels.empty() ? "" : labels + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    const std::string le = i < bounds_.size() ? Number(bounds_[i]) : "+Inf";
    out += name + "_bucket{" + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + Number(sum_.load(std::memory_order_relaxed)) + "\n";
  // The +Inf bucket, not count_, so that a scrape racing an Observe stays self-consistent.
  out += name + "_count" + braces + " " + std::to_string(cumulative) + "\n";
}

Metrics::Metrics() : log_commit_seconds_(kSecondsBounds), log_batch_records_(kBatchBounds) {}

std::atomic<uint64_t>& Metrics::CounterFor(std::map<std::string, std::atomic<uint64_t>>& family,
                                           const std::string& labels) {
  std::lock_guard lock(mu_);
  return family.try_emplace(labels).first->second;  // map nodes never move
}

Histogram& Metrics::HistogramFor(std::map<std::string, Histogram>& family,
                                 const std::string& labels, const std::vector<double>& bounds) {
  std::lock_guard lock(mu_);
  return family.try_emplace(labels, bounds).first->second;
}

void Metrics::TransactionStarted(const std::string& protocol) {
  CounterFor(started_, Label("protocol", protocol)).fetch_add(1, std::memory_order_relaxed);
}

void Metrics::TransactionFinished(const std::string& protocol, const std::string& outcome,
                                  double seconds) {
  CounterFor(finished_, Label("protocol", protocol) + "," + Label("outcome", outcome))
      .fetch_add(1, std::memory_order_relaxed);
  if (seconds >= 0) {
    HistogramFor(tx_seconds_, Label("protocol", protocol), kSecondsBounds).Observe(seconds);
  }
}

void Metrics::PhaseReply(const std::string& op, std::chrono::microseconds latency) {
  HistogramFor(phase_seconds_, Label("op", op), kSecondsBounds)
      .Observe(std::chrono::duration<double>(latency).count());
}

void Metrics::Retry(const std::string& op) {
  CounterFor(retries_, Label("op", op)).fetch_add(1, std::memory_order_relaxed);
}

void Metrics::LogCommit(size_t records, std::chrono::microseconds latency) {
  log_commit_seconds_.Observe(std::chrono::duration<double>(latency).count());
  log_batch_records_.Observe(static_cast<double>(records));
}

void Metrics::LogPurged(uint64_t transactions) {
  log_purged_.fetch_add(transactions, std::memory_order_relaxed);
}

void Metrics::AddGauge(Gauge gauge) {
  std::lock_guard lock(mu_);
  gauges_.push_back(std::move(gauge));
}

void Metrics::AddLabeledGauge(LabeledGauge gauge) {
  std::lock_guard lock(mu_);
  labeled_gauges_.push_back(std::move(gauge));
}

std::string Metrics::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  RenderCounters(out, "txc_transactions_started_total", "Transactions started, by protocol.",
                 started_);
  RenderCounters(out, "txc_transactions_finished_total",
                 "Transactions that reached a terminal state, by protocol and outcome.", finished_);
  RenderHistograms(out, "txc_transaction_duration_seconds",
                   "From start to terminal state, for transactions started by this process.",
                   tx_seconds_);
  RenderHistograms(out, "txc_phase_reply_seconds",
                   "Round trip of each phase message to a participant, by message.",
                   phase_seconds_);
  RenderCounters(out, "txc_retries_total", "Messages sent again after a timeout or error.",
                 retries_);
  Header(out, "txc_log_commit_seconds", "histogram",
         "Time to write and sync one group commit of the transaction log.");
  log_commit_seconds_.Render("txc_log_commit_seconds", "", out);
  Header(out, "txc_log_commit_records", "histogram", "Records per group commit.");
  log_batch_records_.Render("txc_log_commit_records", "", out);
  Header(out, "txc_log_purged_total", "counter",
         "Finished transactions deleted by the retention policy.");
  out += "txc_log_purged_total " + std::to_string(log_purged_.load()) + "\n";
  for (const Gauge& g : gauges_) {
    Header(out, g.name, g.type, g.help);
    out += g.name + " " + Number(g.value()) + "\n";
  }
  for (const LabeledGauge& g : labeled_gauges_) {
    Header(out, g.name, g.type, g.help);
    for (const auto& [value, v] : g.values()) {
      out += g.name + "{" + Label(g.label, value) + "} " + Number(v) + "\n";
    }
  }
  return out;
}

}  // namespace txc::metrics
