#include "config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/retry_budget_limits.h"

namespace txc {
namespace {

std::map<std::string, std::string> g_env;
const char* FakeEnv(const char* name) {
  auto it = g_env.find(name);
  return it == g_env.end() ? nullptr : it->second.c_str();
}

TEST(Config, DefaultsMatchTheDocumentedOnes) {
  g_env.clear();
  auto c = ParseConfig({}, FakeEnv);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->nats_url, "nats://127.0.0.1:4222");
  EXPECT_EQ(c->http_host, "127.0.0.1");
  EXPECT_EQ(c->http_port, 8080);
  EXPECT_EQ(c->db_path, "./txc.db");
  EXPECT_EQ(c->synchronous, "FULL");
  EXPECT_EQ(c->retention, std::chrono::hours(24 * 7));
  EXPECT_EQ(c->retry_budget.max_attempts, 20);
  EXPECT_EQ(c->retry_budget.deadline, std::chrono::minutes(10));
}

TEST(Config, NatsCredentialsAndTls) {
  g_env = {{"TXC_NATS_USER", "txc"}, {"TXC_NATS_PASSWORD", "pw"}};
  auto c = ParseConfig({"--nats-tls-ca", "/ca.pem"}, FakeEnv);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->nats_security.user, "txc");
  EXPECT_EQ(c->nats_security.password, "pw");
  EXPECT_EQ(c->nats_security.tls_ca_file, "/ca.pem");
  EXPECT_TRUE(c->nats_security.UsesTls());
  g_env.clear();
  EXPECT_FALSE(ParseConfig({}, FakeEnv)->nats_security.UsesTls());
  EXPECT_TRUE(ParseConfig({"--nats-tls", "true"}, FakeEnv)->nats_security.UsesTls());
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"--nats-user", "txc"},                             // no password
           {"--nats-token", "t", "--nats-creds", "/x.creds"},  // two ways to authenticate
           {"--nats-tls-cert", "/c.pem"},                      // no key
           {"--nats-tls", "maybe"}}) {
    EXPECT_FALSE(ParseConfig(bad, FakeEnv).ok()) << bad[0];
  }
}

TEST(Config, RetryBudgetDefaults) {
  g_env = {{"TXC_RETRY_DEADLINE", "1h"}};
  auto c = ParseConfig({"--retry-max-attempts", "0"}, FakeEnv);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->retry_budget.max_attempts, 0);
  EXPECT_EQ(c->retry_budget.deadline, std::chrono::hours(1));
  g_env.clear();
  EXPECT_FALSE(ParseConfig({"--retry-max-attempts", "-1"}, FakeEnv).ok());
  auto bad = ParseConfig({"--retry-deadline", "10"}, FakeEnv);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--retry-deadline must be 0 (no deadline)"),
            std::string::npos)
      << bad.status().message();
}

TEST(Config, RetentionTakesAUnitOrZeroForForever) {
  g_env = {{"TXC_RETENTION", "12h"}};
  auto c = ParseConfig({}, FakeEnv);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->retention, std::chrono::hours(12));
  g_env.clear();
  for (auto [text, expected] : std::vector<std::pair<std::string, std::chrono::milliseconds>>{
           {"0", std::chrono::milliseconds(0)},
           {"90s", std::chrono::seconds(90)},
           {"30m", std::chrono::minutes(30)},
           {"7d", std::chrono::hours(168)}}) {
    auto r = ParseConfig({"--retention", text}, FakeEnv);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    EXPECT_EQ(r->retention, expected) << text;
  }
  for (const char* text : {"", "d", "10", "10w", "-1h", "0s", "1.5h"}) {
    auto r = ParseConfig({"--retention", text}, FakeEnv);
    EXPECT_FALSE(r.ok()) << "'" << text << "'";
  }
}

TEST(Config, FlagsOverrideEnvironmentWhichOverridesDefaults) {
  g_env = {{"TXC_NATS_URL", "nats://env:1"}, {"TXC_DB_PATH", "/env.db"}};
  auto c = ParseConfig({"--db-path", "/flag.db", "--http-addr=0.0.0.0:9000"}, FakeEnv);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->nats_url, "nats://env:1");
  EXPECT_EQ(c->db_path, "/flag.db");
  EXPECT_EQ(c->http_host, "0.0.0.0");
  EXPECT_EQ(c->http_port, 9000);
}

TEST(Config, RejectsBadValuesWithAClearMessage) {
  g_env.clear();
  for (auto args : std::vector<std::vector<std::string>>{{"--http-addr", "nope"},
                                                         {"--http-addr", "h:70000"},
                                                         {"--reply-timeout-ms", "0"},
                                                         {"--reply-timeout-ms", "12x"},
                                                         {"--synchronous", "OFF"},
                                                         {"--bogus"},
                                                         {"--db-path"}}) {
    auto c = ParseConfig(args, FakeEnv);
    EXPECT_FALSE(c.ok()) << args[0];
    EXPECT_FALSE(c.status().message().empty());
  }
  g_env = {{"TXC_BACKOFF_CAP_MS", "50"}};
  EXPECT_FALSE(ParseConfig({}, FakeEnv).ok()) << "base 100 ms above a 50 ms cap";
}

TEST(Config, HelpListsEveryVariable) {
  const std::string help = ConfigHelp();
  for (const char* v : {"TXC_NATS_URL", "TXC_HTTP_ADDR", "TXC_DB_PATH", "TXC_REPLY_TIMEOUT_MS",
                        "TXC_API_TOKEN", "TXC_RETENTION"}) {
    EXPECT_NE(help.find(v), std::string::npos) << v;
  }
}

TEST(Config, TheApiOverNatsIsOffUnlessTurnedOn) {
  g_env.clear();
  auto c = ParseConfig({}, FakeEnv);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->nats_api);
}

TEST(Config, RequireLiveParticipantsIsOnUnlessTurnedOff) {
  g_env.clear();
  auto c = ParseConfig({}, FakeEnv);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->require_live_participants);
  g_env = {{"TXC_REQUIRE_LIVE_PARTICIPANTS", "false"}};
  c = ParseConfig({}, FakeEnv);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->require_live_participants);
  c = ParseConfig({"--require-live-participants=true"}, FakeEnv);  // the flag wins
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->require_live_participants);
  g_env.clear();
  auto bad = ParseConfig({"--require-live-participants", "maybe"}, FakeEnv);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("true or false"), std::string::npos);
}

// Every on/off setting reads its value the same way (txc/bool_setting.h), flag or variable.
TEST(Config, OnOffSettingsAcceptTrueFalseYesNoOneZero) {
  struct OnOff {
    const char* flag;
    const char* env;
    bool (*get)(const Config&);
  };
  const OnOff settings[] = {
      {"--nats-tls", "TXC_NATS_TLS", [](const Config& c) { return c.nats_security.tls; }},
      {"--require-live-participants", "TXC_REQUIRE_LIVE_PARTICIPANTS",
       [](const Config& c) { return c.require_live_participants; }},
      {"--nats-api", "TXC_NATS_API", [](const Config& c) { return c.nats_api; }},
  };
  for (const OnOff& s : settings) {
    for (auto [text, want] : std::vector<std::pair<std::string, bool>>{{"true", true},
                                                                       {"yes", true},
                                                                       {"1", true},
                                                                       {"TRUE", true},
                                                                       {"false", false},
                                                                       {"no", false},
                                                                       {"0", false},
                                                                       {"No", false}}) {
      g_env.clear();
      auto flag = ParseConfig({std::string(s.flag) + "=" + text}, FakeEnv);
      ASSERT_TRUE(flag.ok()) << s.flag << "=" << text << ": " << flag.status().ToString();
      EXPECT_EQ(s.get(*flag), want) << s.flag << "=" << text;
      g_env = {{s.env, text}};
      auto env = ParseConfig({}, FakeEnv);
      ASSERT_TRUE(env.ok()) << s.env << "=" << text << ": " << env.status().ToString();
      EXPECT_EQ(s.get(*env), want) << s.env << "=" << text;
    }
    g_env.clear();
    auto bad_flag = ParseConfig({s.flag, "maybe"}, FakeEnv);
    ASSERT_FALSE(bad_flag.ok()) << s.flag;
    EXPECT_EQ(bad_flag.status().message(),
              std::string(s.flag) + " must be true or false (or yes/no, 1/0), got 'maybe'");
    g_env = {{s.env, "on"}};
    auto bad_env = ParseConfig({}, FakeEnv);
    ASSERT_FALSE(bad_env.ok()) << s.env;
    EXPECT_EQ(bad_env.status().message(), std::string(s.env) + ": " + s.flag +
                                              " must be true or false (or yes/no, 1/0), got 'on'");
  }
  g_env.clear();
}

// The defaults for transactions that set no retry budget are held to the limits a POST body's
// retry_budget is (core/retry_budget_limits.h): a default is never a budget the API refuses.
TEST(Config, RetryBudgetDefaultsHaveTheApisLimits) {
  g_env.clear();
  const int64_t max_days = core::kMaxRetryBudgetDeadlineMs / (24LL * 3600 * 1000);
  ASSERT_EQ(max_days, 30);
  for (const std::string ok : {"30d", "720h", "43200m"}) {
    auto c = ParseConfig({"--retry-deadline", ok}, FakeEnv);
    ASSERT_TRUE(c.ok()) << ok << ": " << c.status().ToString();
    EXPECT_EQ(c->retry_budget.deadline.count(), core::kMaxRetryBudgetDeadlineMs) << ok;
  }
  for (const std::string over : {"31d", "721h", "43201m", "100000d"}) {
    auto c = ParseConfig({"--retry-deadline", over}, FakeEnv);
    ASSERT_FALSE(c.ok()) << over;
    EXPECT_EQ(c.status().message(),
              "--retry-deadline must be at most 30d (the longest retry_budget.deadline_ms a "
              "transaction may set), got '" +
                  over + "'");
  }
  const std::string max_attempts = std::to_string(core::kMaxRetryBudgetAttempts);
  auto c = ParseConfig({"--retry-max-attempts", max_attempts}, FakeEnv);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->retry_budget.max_attempts, core::kMaxRetryBudgetAttempts);
  EXPECT_FALSE(
      ParseConfig({"--retry-max-attempts", std::to_string(core::kMaxRetryBudgetAttempts + 1)},
                  FakeEnv)
          .ok());
}

}  // namespace
}  // namespace txc
