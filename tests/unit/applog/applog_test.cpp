#include "applog/applog.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace txc::applog {
namespace {

class AppLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetSink([this](const std::string& line) { lines_.push_back(line); });
  }
  void TearDown() override {
    SetSink(nullptr);
    SetLevel(Level::kInfo);
  }
  std::vector<std::string> lines_;
};

TEST_F(AppLogTest, WritesOneJsonObjectPerLineWithTheFixedKeysFirst) {
  Write(Level::kWarn, "tx.retry", {{"tx", "abc"}, {"attempt", 2}, {"bad", std::string("\xff")}});
  ASSERT_EQ(lines_.size(), 1u);
  const std::string& line = lines_[0];
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.rfind("{\"ts\":\"", 0), 0u) << line;
  const nlohmann::json j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["event"], "tx.retry");
  EXPECT_EQ(j["tx"], "abc");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_TRUE(j["bad"].is_string()) << "invalid UTF-8 is replaced, not thrown";
  EXPECT_EQ(j["ts"].get<std::string>().size(), 24u) << j["ts"];  // 2026-11-23T10:58:10.628Z
}

TEST_F(AppLogTest, DropsLinesBelowTheLevel) {
  SetLevel(Level::kWarn);
  Write(Level::kDebug, "a");
  Write(Level::kInfo, "b");
  Write(Level::kWarn, "c");
  Write(Level::kError, "d");
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines_[0])["event"], "c");
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kError));
}

TEST(AppLogLevel, ParsesTheFourNamesOnly) {
  EXPECT_EQ(ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(ParseLevel("error"), Level::kError);
  EXPECT_EQ(ParseLevel("INFO"), std::nullopt);
  EXPECT_EQ(ParseLevel("verbose"), std::nullopt);
}

}  // namespace
}  // namespace txc::applog
