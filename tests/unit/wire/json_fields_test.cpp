// JsonFields accepts and reads exactly what nlohmann::json::parse does (the cases where a
// hand-written JSON reader usually goes wrong), and the branch messages decode as before.
#include "json_fields.h"

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "json_fields_oracle.h"
#include "txc/wire.h"

namespace txc::wire::test {
namespace {

// The texts where a hand-written JSON reader usually goes wrong.
const std::vector<std::string>& Cases() {
  static const std::vector<std::string> cases = {
      // objects and members
      R"({})",
      R"( { } )",
      R"({"a":1})",
      "\xEF\xBB\xBF{\"a\":1}",
      "\xEF\xBB{}",
      R"({"a":1,"a":"two"})",
      R"({"a\u0062":true,"ab":false})",
      R"({"":null})",
      R"({"a":{"b":[1,{"c":"d"}],"e":{}},"f":[]})",
      R"({"a":[1,2,]})",
      R"({"a":1,})",
      R"({,})",
      R"({"a" 1})",
      R"({"a":})",
      R"({a:1})",
      R"({'a':1})",
      R"({"a":1}x)",
      R"({"a":1} )",
      R"({"a":1}{})",
      R"({"a":1)",
      "{\"a\":1}\n",
      "\t\r\n{}\t",
      "{\"a\":1}\v",
      "",
      // not objects
      "[]",
      "1",
      R"("s")",
      "null",
      "true",
      "[1,{\"a\":2}]",
      "[1 2]",
      // strings
      R"({"s":"\"\\\/\b\f\n\r\t"})",
      R"({"s":"\u0000x"})",
      R"({"s":"\u00e9\u20AC"})",
      R"({"s":"\ud83d\ude00"})",
      R"({"s":"\ud83d"})",
      R"({"s":"\ude00"})",
      R"({"s":"\ud83d\u0041"})",
      R"({"s":"\ud83dx"})",
      R"({"s":"\u12"})",
      R"({"s":"\u12g4"})",
      R"({"s":"\x"})",
      R"({"s":"\'"})",
      "{\"s\":\"a\tb\"}",
      "{\"s\":\"a\x01\"}",
      "{\"s\":\"a\x7f\"}",
      R"({"s":"abc)",
      R"({"s":"abc\)",
      // UTF-8: valid, overlong, surrogates, beyond U+10FFFF, truncated
      "{\"s\":\"caf\xC3\xA9\"}",
      "{\"s\":\"\xE2\x82\xAC\"}",
      "{\"s\":\"\xF0\x9F\x98\x80\"}",
      "{\"s\":\"\xC0\xAF\"}",
      "{\"s\":\"\xC1\xBF\"}",
      "{\"s\":\"\xE0\x80\xAF\"}",
      "{\"s\":\"\xED\xA0\x80\"}",
      "{\"s\":\"\xF4\x90\x80\x80\"}",
      "{\"s\":\"\xF5\x80\x80\x80\"}",
      "{\"s\":\"\xE2\x82\"}",
      "{\"s\":\"\xE2\x82",
      "{\"s\":\"\x80\"}",
      "{\"\xC3\xA9\":1}",
      "{\"s\":1}\xC3\xA9",
      std::string("{}\0x", 4),
      std::string("2 \0]", 4),
      std::string("{\"a\":\0}", 7),
      std::string("\0{}", 3),
      // numbers
      R"({"n":0})",
      R"({"n":-0})",
      R"({"n":01})",
      R"({"n":-})",
      R"({"n":1.})",
      R"({"n":.5})",
      R"({"n":1.5})",
      R"({"n":1e3})",
      R"({"n":1E+3})",
      R"({"n":1e-3})",
      R"({"n":1e})",
      R"({"n":+1})",
      R"({"n":2147483647})",
      R"({"n":2147483648})",
      R"({"n":9223372036854775807})",
      R"({"n":9223372036854775808})",
      R"({"n":18446744073709551615})",
      R"({"n":18446744073709551616})",
      R"({"n":-9223372036854775808})",
      R"({"n":-9223372036854775809})",
      R"({"n":1.0})",
      R"({"n":1e308})",
      R"({"n":1e309})",
      R"({"n":-1e309})",
      R"({"n":1e-400})",
      "{\"n\":1" + std::string(400, '0') + "}",
      "{\"n\":-1" + std::string(400, '0') + "}",
      R"({"n":NaN})",
      R"({"n":Infinity})",
      R"({"n":0x10})",
      // literals
      R"({"t":true,"f":false,"z":null})",
      R"({"t":tru})",
      R"({"t":trueee})",
      R"({"t":True})",
      R"({"z":nul})",
  };
  return cases;
}

TEST(JsonFieldsTest, AgreesWithNlohmannOnEveryCase) {
  for (const std::string& text : Cases()) {
    EXPECT_EQ(JsonFieldsDisagreement(text), "") << "text: " << text;
  }
}

TEST(JsonFieldsTest, AgreesWithNlohmannOnMutatedCases) {
  // Each case with bytes replaced, inserted or removed (the fuzz target goes further).
  std::mt19937 rng(42);
  const std::string alphabet = "{}[]\",:\\u0123456789abcdefABCDEF-+.eE tfnrul\x80\xC3\xED\xF4\xBF";
  int checked = 0;
  for (int round = 0; round < 1000; ++round) {
    for (std::string text : Cases()) {
      for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits) {
        const size_t at = text.empty() ? 0 : rng() % (text.size() + 1);
        const char c = alphabet[rng() % alphabet.size()];
        switch (rng() % 3) {
          case 0:
            if (at < text.size()) text[at] = c;
            break;
          case 1:
            text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
            break;
          default:
            if (at < text.size()) text.erase(at, 1);
        }
      }
      ASSERT_EQ(JsonFieldsDisagreement(text), "") << "text: " << text;
      ++checked;
    }
  }
  EXPECT_GT(checked, 100000);
}

TEST(JsonFieldsTest, ReadsWhatItAccepted) {
  JsonFields fields;
  ASSERT_EQ(fields.Read(R"({"a":"x"})"), JsonFields::Parsed::kObject);
  EXPECT_EQ(JsonFields::DecodeString(fields.Find("a")->value), "x");
  EXPECT_EQ(fields.Find("b"), nullptr);
  EXPECT_EQ(JsonFields::AsInteger("1.0"), std::nullopt);
  EXPECT_EQ(JsonFields::AsInteger("-5"), -5);
  EXPECT_EQ(JsonFields::AsInteger("18446744073709551615"), -1);  // nlohmann's cast, too
}

TEST(JsonFieldsTest, BranchMessagesDecodeWithTheSameErrors) {
  const char* base = R"({"v":1,"gid":"g","branch":1,"participant":"p","protocol":"2pc",)";
  auto request = [&](const std::string& rest) { return DecodeBranchRequest(base + rest); };
  auto ok = request(R"("op":"prepare","attempt":2,"payload":{"x":[1,"\u00e9"]},)"
                    R"("participants":["p","q"],"traceparent":"t"})");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->gid, "g");
  EXPECT_EQ(ok->branch, 1);
  EXPECT_EQ(ok->attempt, 2);
  EXPECT_EQ(ok->payload, nlohmann::json::parse(R"({"x":[1,"é"]})"));
  EXPECT_EQ(ok->participants, (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(ok->traceparent, "t");

  // Any JSON is a payload, strings included.
  for (const std::string payload :
       {R"("abc")", R"("")", R"("42")", "42", "null", "true", R"([1,"x"])", R"({"a":"\u00e9"})"}) {
    auto got = request(R"("op":"prepare","payload":)" + payload + "}");
    ASSERT_TRUE(got.ok()) << payload << ": " << got.status().ToString();
    EXPECT_EQ(got->payload, nlohmann::json::parse(payload)) << payload;
  }

  EXPECT_EQ(request(R"("op":"nope"})").status().message(), "op has unknown value 'nope'");
  EXPECT_EQ(request(R"("op":"prepare","attempt":1.0})").status().message(),
            "attempt must be an integer");
  EXPECT_EQ(request(R"("op":"prepare","attempt":-1})").status().message(), "attempt out of range");
  EXPECT_EQ(request(R"("op":"prepare","participants":{}})").status().message(),
            "participants must be an array");
  EXPECT_EQ(request(R"("op":"prepare","participants":[1]})").status().message(),
            "participants must hold strings");
  EXPECT_EQ(DecodeBranchRequest(R"({"gid":5})").status().message(), "gid must be a string");
  EXPECT_EQ(DecodeBranchRequest(R"({"gid":"g","gid":""})").status().message(), "branch is missing");
  EXPECT_EQ(DecodeBranchRequest("[]").status().message(), "message is not a JSON object");
  EXPECT_EQ(DecodeBranchRequest("{").status().message(), "message is not valid JSON");

  auto reply = DecodeBranchReply(R"({"gid":"g","branch":0,"op":"commit","outcome":"refused",)"
                                 R"("message":"out of \"stock\""})");
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  EXPECT_EQ(reply->outcome, Outcome::kRefused);
  EXPECT_EQ(reply->message, "out of \"stock\"");
  EXPECT_EQ(
      DecodeBranchReply(R"({"gid":"g","branch":0,"op":"commit","outcome":1})").status().message(),
      "outcome must be a string");
}

}  // namespace
}  // namespace txc::wire::test
