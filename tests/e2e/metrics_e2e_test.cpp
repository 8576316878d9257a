// GET /metrics against the API document, both as the running coordinator serves them: every
// metric it exposes (including the gauges main.cpp registers) is listed under /metrics in
// docs/openapi.yaml, and every metric listed there is exposed.
#include <regex>
#include <set>
#include <sstream>

#include "e2e_fixture.h"

namespace txc::testing {
namespace {

class MetricsE2eTest : public E2eTest {};

TEST_F(MetricsE2eTest, ExposesExactlyTheMetricsItsApiDocumentLists) {
  StartCoordinator();
  auto metrics = Client().Get("/metrics");
  ASSERT_TRUE(metrics);
  ASSERT_EQ(metrics->status, 200) << metrics->body;
  std::set<std::string> exposed;
  const std::regex type_line(R"(^# TYPE (\S+) (counter|gauge|histogram)$)");
  std::istringstream lines(metrics->body);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, type_line)) exposed.insert(m[1]);
  }

  auto doc = Client().Get("/openapi.yaml");
  ASSERT_TRUE(doc);
  ASSERT_EQ(doc->status, 200);
  // The /metrics operation: from its path key to the next one.
  const size_t from = doc->body.find("\n  /metrics:\n");
  ASSERT_NE(from, std::string::npos);
  const std::string section = doc->body.substr(from, doc->body.find("\n  /", from + 1) - from);
  std::set<std::string> documented;
  const std::regex name(R"(`(txc_[a-z_]+)[`{])");
  for (std::sregex_iterator it(section.begin(), section.end(), name), end; it != end; ++it) {
    documented.insert((*it)[1].str());
  }

  EXPECT_GE(exposed.size(), 15u) << metrics->body;
  EXPECT_EQ(documented, exposed) << "docs/openapi.yaml's /metrics list and GET /metrics differ";
}

}  // namespace
}  // namespace txc::testing
