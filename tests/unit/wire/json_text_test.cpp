#include "txc/json_text.h"

#include <gtest/gtest.h>

#include <random>

#include "txc/wire.h"

namespace txc {
namespace {

std::string NlohmannDump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Written(std::string_view s) {
  JsonText out;
  out.String(s);
  return out.Take();
}

TEST(JsonText, WritesNestedValuesAsNlohmannDumpsThem) {
  JsonText out;
  out.BeginObject()
      .Member("a", int64_t{-9223372036854775807 - 1})
      .Member("b", true)
      .Key("c")
      .BeginArray()
      .Int(0)
      .Null()
      .BeginObject()
      .EndObject()
      .BeginArray()
      .EndArray()
      .String("x")
      .EndArray()
      .Key("d")
      .Value({{"k", {1, 2.5, "v"}}})
      .Member("e", "text")
      .Member("f", false)
      .EndObject();
  const nlohmann::json expected = {
      {"a", INT64_MIN},
      {"b", true},
      {"c", {0, nullptr, nlohmann::json::object(), nlohmann::json::array(), "x"}},
      {"d", {{"k", {1, 2.5, "v"}}}},
      {"e", "text"},
      {"f", false}};
  EXPECT_EQ(out.str(), NlohmannDump(expected));
}

// The escaping must agree with nlohmann's (whose parser reads it back on the other side):
// quotes, backslashes, control characters, DEL, UTF-8, and invalid UTF-8 (replaced, not thrown).
TEST(JsonText, EscapesStringsExactlyAsNlohmannDoes) {
  const std::vector<std::string> cases = {"",
                                          "plain ascii 123",
                                          "quote \" and backslash \\",
                                          "tab\tnewline\ncr\rbell\x07 nul" + std::string(1, '\0'),
                                          "del \x7f",
                                          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                                          "lone \xff byte",
                                          "cut \xe2\x82",
                                          "overlong \xc0\xaf",
                                          "surrogate \xed\xa0\x80 half"};
  for (const std::string& s : cases) {
    EXPECT_EQ(Written(s), NlohmannDump(s)) << s;
    EXPECT_TRUE(nlohmann::json::accept(Written(s))) << s;
  }
}

TEST(JsonText, RandomBytesEscapeAsNlohmannEscapesThem) {
  std::mt19937 rng(20261124);
  std::uniform_int_distribution<int> len(0, 24);
  // Mostly printable ASCII, so that the fast path and the fallback are both exercised.
  std::uniform_int_distribution<int> byte(0, 511);
  for (int i = 0; i < 20000; ++i) {
    std::string s(static_cast<size_t>(len(rng)), ' ');
    for (char& c : s) {
      const int b = byte(rng);
      c = static_cast<char>(b < 256 ? b : 0x20 + b % 0x5f);
    }
    ASSERT_EQ(Written(s), NlohmannDump(s)) << "case " << i;
  }
}

TEST(JsonText, BranchMessagesAreTheBytesNlohmannWrote) {
  wire::BranchRequest r{
      "g1",         2, "inventory", "3pc", wire::Op::kPreCommit, 3, {{"sku", "a\"b"}}, {"a", "b"},
      "00-ab-cd-01"};
  const nlohmann::json request = {
      {"v", wire::kVersion},          {"gid", r.gid},           {"branch", r.branch},
      {"participant", r.participant}, {"protocol", r.protocol}, {"op", "pre_commit"},
      {"attempt", r.attempt},         {"payload", r.payload},   {"participants", r.participants},
      {"traceparent", r.traceparent}};
  EXPECT_EQ(wire::Encode(r), request.dump());

  wire::BranchReply reply{"g1", 0, wire::Op::kPrepare, wire::Outcome::kRefused, "out of stock"};
  const nlohmann::json expected = {{"v", wire::kVersion},  {"gid", "g1"},
                                   {"branch", 0},          {"op", "prepare"},
                                   {"outcome", "refused"}, {"message", "out of stock"}};
  EXPECT_EQ(wire::Encode(reply), expected.dump());

  // Without the optional members.
  wire::BranchRequest bare{"g2", 0, "order", "2pc", wire::Op::kPrepare, 1, nullptr, {}};
  EXPECT_EQ(wire::Encode(bare), nlohmann::json({{"v", wire::kVersion},
                                                {"gid", "g2"},
                                                {"branch", 0},
                                                {"participant", "order"},
                                                {"protocol", "2pc"},
                                                {"op", "prepare"},
                                                {"attempt", 1},
                                                {"payload", nullptr}})
                                    .dump());
  wire::BranchReply ok{"g2", 1, wire::Op::kCommit, wire::Outcome::kOk, ""};
  EXPECT_EQ(wire::Encode(ok), nlohmann::json({{"v", wire::kVersion},
                                              {"gid", "g2"},
                                              {"branch", 1},
                                              {"op", "commit"},
                                              {"outcome", "ok"}})
                                  .dump());
}

// A handler's error message is the service's text: invalid UTF-8 in it used to throw from the
// encoder; now the reply goes out with U+FFFD in its place.
TEST(JsonText, AReplyWithInvalidUtf8StillEncodes) {
  wire::BranchReply reply{"g1", 0, wire::Op::kPrepare, wire::Outcome::kError, "bad \xff byte"};
  auto back = wire::DecodeBranchReply(wire::Encode(reply));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->message, "bad \xef\xbf\xbd byte");
}

}  // namespace
}  // namespace txc
