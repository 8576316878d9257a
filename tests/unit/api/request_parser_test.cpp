#include "api/request_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "core/retry_budget_limits.h"

namespace txc::api {
namespace {

ParseLimits Limits() { return ParseLimits{3, 32, core::Duration(60000)}; }

std::string ErrorOf(const std::string& body) {
  auto r = ParseBeginRequest(body, Limits());
  EXPECT_FALSE(r.ok()) << body;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(RequestParser, ParsesAValidRequest) {
  auto r = ParseBeginRequest(
      R"({"protocol":"2pc","timeout_ms":1500,"branches":[{"participant":"inventory","payload":{"sku":"a"}},{"participant":"order-2"}]})",
      Limits());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->protocol, core::Protocol::kTwoPhase);
  EXPECT_EQ(r->timeout, core::Duration(1500));
  ASSERT_EQ(r->branches.size(), 2u);
  EXPECT_EQ(r->branches[0].payload["sku"], "a");
  EXPECT_TRUE(r->branches[1].payload.is_object()) << "payload defaults to {}";
  EXPECT_TRUE(r->branches[1].after.empty());
}

TEST(RequestParser, SagaStepsRunInOrderUnlessTheyNameTheirDependencies) {
  auto r = ParseBeginRequest(
      R"({"protocol":"saga","branches":[{"participant":"a"},{"participant":"b"},{"participant":"c","after":[]},{"participant":"d","after":[0,2]}]})",
      Limits());
  ASSERT_FALSE(r.ok()) << "four steps exceed the limit of three";
  ParseLimits wide = Limits();
  wide.max_branches = 8;
  r = ParseBeginRequest(
      R"({"protocol":"saga","branches":[{"participant":"a"},{"participant":"b"},{"participant":"c","after":[]},{"participant":"d","after":[0,2]}]})",
      wide);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->branches[0].after, std::vector<int>{});
  EXPECT_EQ(r->branches[1].after, std::vector<int>{0});
  EXPECT_EQ(r->branches[2].after, std::vector<int>{});
  EXPECT_EQ(r->branches[3].after, (std::vector<int>{0, 2}));
  EXPECT_NE(ErrorOf(R"({"protocol":"saga","branches":[{"participant":"a","after":[0]}]})")
                .find("earlier steps"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(
          R"({"protocol":"saga","branches":[{"participant":"a"},{"participant":"b","after":[0,0]}]})")
          .find("twice"),
      std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc","branches":[{"participant":"a","after":[]}]})")
                .find("only allowed in a saga"),
            std::string::npos);
}

TEST(RequestParser, RejectsMalformedBodiesWithMessagesThatNameTheField) {
  EXPECT_NE(ErrorOf("").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf("{\"protocol\":").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf("[1]").find("JSON object"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"branches":[{"participant":"a"}]})").find("protocol is missing"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":7,"branches":[]})").find("protocol must be a string"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"4pc","branches":[{"participant":"a"}]})").find("4pc"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc"})").find("branches is missing"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc","branches":{}})").find("must be an array"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc","branches":[]})").find("branches is empty"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc","branches":[{},{},{},{}]})").find("at most 3"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc","branches":[{"participant":"a"},{"payload":1}]})")
                .find("branches[1].participant is missing"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc","branches":[{"participant":""}]})")
                .find("branches[0].participant is empty"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(R"({"protocol":"2pc","branches":[{"participant":1}]})").find("must be a string"),
      std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc","branches":[{"participant":"a","x":1}]})")
                .find("unknown field 'x'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc","extra":1,"branches":[{"participant":"a"}]})")
                .find("unknown field 'extra'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc","branches":["a"]})").find("branches[0] must be an object"),
            std::string::npos);
  EXPECT_NE(ErrorOf(R"({"protocol":"2pc","protocol":"3pc","branches":[{"participant":"a"}]})")
                .find("'protocol' appears twice"),
            std::string::npos);
  EXPECT_NE(
      ErrorOf(R"({"protocol":"2pc","branches":[{"participant":"a","payload":{"x":1,"x":2}}]})")
          .find("'x' appears twice"),
      std::string::npos);
  // The same key in different objects is fine.
  EXPECT_TRUE(
      ParseBeginRequest(
          R"({"protocol":"2pc","branches":[{"participant":"a"},{"participant":"b"}]})", Limits())
          .ok());
}

TEST(RequestParser, ParticipantNamesThatCouldAddressOtherSubjectsAreRefused) {
  for (const char* name :
       {"a.b", "a*", ">", "a b", "a\\nb", "a\\tb", "inventory.>", "\\u00e4", "a\\u0000"}) {
    const std::string body =
        std::string(R"({"protocol":"2pc","branches":[{"participant":")") + name + "\"}]}";
    EXPECT_NE(ErrorOf(body).find("NATS subject"), std::string::npos) << name;
  }
  EXPECT_NE(
      ErrorOf(R"({"protocol":"2pc","branches":[{"participant":")" + std::string(65, 'a') + "\"}]}")
          .find("NATS subject"),
      std::string::npos);
}

TEST(RequestParser, TimeoutMustBeAPositiveIntegerWithinTheLimit) {
  for (const char* t :
       {"0", "-5", "60001", "1.5", "\"100\"", "1e999", "null", "18446744073709551616"}) {
    const std::string body =
        std::string(R"({"protocol":"2pc","branches":[{"participant":"a"}],"timeout_ms":)") + t +
        "}";
    auto r = ParseBeginRequest(body, Limits());
    EXPECT_FALSE(r.ok()) << t;
  }
}

TEST(RequestParser, RetryBudgetPartsAreOptionalAndBounded) {
  const std::string head = R"({"protocol":"2pc","branches":[{"participant":"a"}])";
  auto none = ParseBeginRequest(head + "}", Limits());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->retry_max_attempts.has_value());
  EXPECT_FALSE(none->retry_deadline.has_value());

  auto both = ParseBeginRequest(head + R"(,"retry_budget":{"max_attempts":3,"deadline_ms":60000}})",
                                Limits());
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->retry_max_attempts, 3);
  EXPECT_EQ(both->retry_deadline, core::Duration(60000));

  auto one = ParseBeginRequest(head + R"(,"retry_budget":{"max_attempts":0}})", Limits());
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->retry_max_attempts, 0);  // 0: no limit
  EXPECT_FALSE(one->retry_deadline.has_value());

  // The limits --retry-max-attempts and --retry-deadline share (core/retry_budget_limits.h).
  auto most = ParseBeginRequest(
      head + R"(,"retry_budget":{"max_attempts":)" + std::to_string(core::kMaxRetryBudgetAttempts) +
          R"(,"deadline_ms":)" + std::to_string(core::kMaxRetryBudgetDeadlineMs) + "}}",
      Limits());
  ASSERT_TRUE(most.ok()) << most.status().ToString();
  EXPECT_EQ(most->retry_deadline, core::Duration(core::kMaxRetryBudgetDeadlineMs));

  for (const char* bad :
       {R"("x")", R"({"max_attempts":-1})", R"({"max_attempts":1000001})",
        R"({"max_attempts":2.5})", R"({"deadline_ms":2592000001})", R"({"attempts":3})"}) {
    auto r = ParseBeginRequest(head + R"(,"retry_budget":)" + bad + "}", Limits());
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("retry_budget"), std::string::npos) << r.status().message();
  }
}

TEST(RequestParser, AbortBodyIsEmptyOrAReason) {
  EXPECT_EQ(ParseAbortRequest("").value(), "");
  EXPECT_EQ(ParseAbortRequest("{}").value(), "");
  EXPECT_EQ(ParseAbortRequest(R"({"reason":"stuck since the outage"})").value(),
            "stuck since the outage");
  for (const std::string& bad :
       {std::string("nope"), std::string("[]"), std::string(R"({"reason":5})"),
        std::string(R"({"why":"x"})"), R"({"reason":")" + std::string(1001, 'x') + R"("})"}) {
    EXPECT_FALSE(ParseAbortRequest(bad).ok()) << bad.substr(0, 40);
  }
}

TEST(RequestParser, DeeplyNestedJsonIsRefusedWithoutRecursing) {
  std::string deep = R"({"protocol":"2pc","branches":[{"participant":"a","payload":)";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}]}";
  EXPECT_NE(ErrorOf(deep).find("nested deeper"), std::string::npos);
  // Brackets inside strings do not count.
  auto ok = ParseBeginRequest(
      R"({"protocol":"2pc","branches":[{"participant":"a","payload":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]})",
      Limits());
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(RequestParser, ListQueries) {
  auto f = ParseListQuery({{"state", "aborted"},
                           {"protocol", "saga"},
                           {"limit", "7"},
                           {"cursor", "c9"},
                           {"needs_attention", "true"}});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->needs_attention, true);
  EXPECT_EQ(ParseListQuery({{"needs_attention", "false"}})->needs_attention, false);
  EXPECT_FALSE(ParseListQuery({})->needs_attention.has_value());
  EXPECT_EQ(f->state, core::TxState::kAborted);
  EXPECT_EQ(f->protocol, core::Protocol::kSaga);
  EXPECT_EQ(f->limit, 7);
  EXPECT_EQ(f->cursor, "c9");
  for (auto bad :
       std::vector<std::multimap<std::string, std::string>>{{{"state", "done"}},
                                                            {{"protocol", "4pc"}},
                                                            {{"limit", "0"}},
                                                            {{"limit", "1001"}},
                                                            {{"limit", "5x"}},
                                                            {{"sort", "asc"}},
                                                            {{"needs_attention", "1"}}}) {
    EXPECT_FALSE(ParseListQuery(bad).ok()) << bad.begin()->first << "=" << bad.begin()->second;
  }
}

TEST(RequestParser, IdsKeysAndFingerprints) {
  EXPECT_TRUE(IsValidTransactionId("01a205911f4dfe21a7df7a9b283374c6"));
  EXPECT_FALSE(IsValidTransactionId("../etc"));
  EXPECT_FALSE(IsValidTransactionId(std::string(65, 'a')));
  EXPECT_TRUE(IsValidIdempotencyKey("order-1 retry"));
  EXPECT_FALSE(IsValidIdempotencyKey(""));
  EXPECT_FALSE(IsValidIdempotencyKey("a\nb"));
  EXPECT_FALSE(IsValidIdempotencyKey(std::string(129, 'k')));
  // Same JSON, different spacing and key order: same fingerprint; different content: not.
  EXPECT_EQ(RequestFingerprint(R"({"a":1,"b":[1,2]})"),
            RequestFingerprint(R"({ "b":[1, 2], "a":1 })"));
  EXPECT_NE(RequestFingerprint(R"({"a":1})"), RequestFingerprint(R"({"a":2})"));
}

}  // namespace
}  // namespace txc::api
