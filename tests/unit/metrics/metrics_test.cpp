#include "metrics/metrics.h"

#include <gtest/gtest.h>

namespace txc::metrics {
namespace {

bool Has(const std::string& page, const std::string& line) {
  return page.find(line + "\n") != std::string::npos;
}

TEST(Metrics, CountersAreLabelledAndHistogramsCumulative) {
  Metrics m;
  m.TransactionStarted("2pc");
  m.TransactionStarted("2pc");
  m.TransactionStarted("saga");
  m.TransactionFinished("2pc", "committed", 0.003);
  m.TransactionFinished("2pc", "aborted", -1);  // recovered: no duration
  m.PhaseReply("prepare", std::chrono::microseconds(300));
  m.PhaseReply("prepare", std::chrono::microseconds(40'000'000));  // beyond every bound
  m.Retry("commit");
  m.LogCommit(3, std::chrono::microseconds(200));
  m.LogPurged(7);
  m.AddGauge({"txc_example", "An example.", "gauge", [] { return 42.0; }});
  const std::string page = m.Render();

  EXPECT_TRUE(Has(page, "# TYPE txc_transactions_started_total counter")) << page;
  EXPECT_TRUE(Has(page, R"(txc_transactions_started_total{protocol="2pc"} 2)")) << page;
  EXPECT_TRUE(Has(page, R"(txc_transactions_started_total{protocol="saga"} 1)"));
  EXPECT_TRUE(Has(page, R"(txc_transactions_finished_total{protocol="2pc",outcome="aborted"} 1)"));
  EXPECT_TRUE(Has(page, R"(txc_transaction_duration_seconds_count{protocol="2pc"} 1)"));
  EXPECT_TRUE(
      Has(page, R"(txc_transaction_duration_seconds_bucket{protocol="2pc",le="0.0025"} 0)"));
  EXPECT_TRUE(Has(page, R"(txc_transaction_duration_seconds_bucket{protocol="2pc",le="0.005"} 1)"));
  EXPECT_TRUE(Has(page, R"(txc_phase_reply_seconds_bucket{op="prepare",le="0.0005"} 1)"));
  EXPECT_TRUE(Has(page, R"(txc_phase_reply_seconds_bucket{op="prepare",le="30"} 1)"));
  EXPECT_TRUE(Has(page, R"(txc_phase_reply_seconds_bucket{op="prepare",le="+Inf"} 2)"));
  EXPECT_TRUE(Has(page, R"(txc_phase_reply_seconds_sum{op="prepare"} 40.0003)"));
  EXPECT_TRUE(Has(page, R"(txc_retries_total{op="commit"} 1)"));
  EXPECT_TRUE(Has(page, R"(txc_log_commit_records_bucket{le="2"} 0)"));
  EXPECT_TRUE(Has(page, R"(txc_log_commit_records_bucket{le="4"} 1)"));
  EXPECT_TRUE(Has(page, "txc_log_commit_seconds_count 1"));
  EXPECT_TRUE(Has(page, "txc_log_purged_total 7"));
  EXPECT_TRUE(Has(page, "# TYPE txc_example gauge"));
  EXPECT_TRUE(Has(page, "txc_example 42"));
}

TEST(Metrics, LabeledGaugesRenderOneLinePerLabelValue) {
  Metrics m;
  std::map<std::string, double> live = {{"inventory", 2}, {"order", 0}};
  m.AddLabeledGauge({"txc_participant_live_instances", "Live instances.", "gauge", "participant",
                     [&live] { return live; }});
  std::string page = m.Render();
  EXPECT_NE(page.find("# TYPE txc_participant_live_instances gauge"), std::string::npos) << page;
  EXPECT_NE(page.find("txc_participant_live_instances{participant=\"inventory\"} 2\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("txc_participant_live_instances{participant=\"order\"} 0\n"),
            std::string::npos);
  live.erase("order");  // read at render time
  page = m.Render();
  EXPECT_EQ(page.find("participant=\"order\""), std::string::npos) << page;
}

}  // namespace
}  // namespace txc::metrics
