#include "api/json_duplicate_keys.h"

#include <gtest/gtest.h>

#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "duplicate_key_oracle.h"

namespace txc::api {
namespace {

using nlohmann::json;

using test::DuplicateKeyByCallback;

TEST(FirstDuplicateKey, FindsTheFirstRepeatInItsOwnObject) {
  EXPECT_EQ(FirstDuplicateKey(R"({"a":1,"b":2})"), std::nullopt);
  EXPECT_EQ(FirstDuplicateKey(R"({"a":1,"a":2})"), "a");
  EXPECT_EQ(FirstDuplicateKey(R"({"a":{"a":1},"b":[{"a":1},{"a":2}]})"), std::nullopt)
      << "the same key in different objects is fine";
  EXPECT_EQ(FirstDuplicateKey(R"({"b":1,"a":{"x":1,"x":2},"b":2})"), "x")
      << "the nested repeat comes first in the text";
  EXPECT_EQ(FirstDuplicateKey(R"({"b":1,"b":2,"a":{"x":1,"x":2}})"), "b");
  EXPECT_EQ(FirstDuplicateKey(R"({"z":1,"y":1,"y":2,"z":2})"), "y")
      << "the repeat that appears first, not the name that sorts first";
  EXPECT_EQ(FirstDuplicateKey(R"({"a":1,"\u0061":2})"), "a") << "names compare decoded";
  EXPECT_EQ(FirstDuplicateKey(R"({"q\"":1,"q\u0022":2})"), "q\"");
  EXPECT_EQ(FirstDuplicateKey(R"({"a":"a","b":"{\"a\":1,","c":["a","a"]})"), std::nullopt)
      << "values, and braces and commas inside strings, are not keys";
  EXPECT_EQ(FirstDuplicateKey(R"([{"a":1},{"a":1,"a":2}])"), "a");
  EXPECT_EQ(FirstDuplicateKey(R"("a")"), std::nullopt);
  EXPECT_EQ(FirstDuplicateKey("{}"), std::nullopt);
  EXPECT_EQ(FirstDuplicateKey("[{}]"), std::nullopt);
  EXPECT_EQ(FirstDuplicateKey(R"({"":1,"":2,"a":1,"a":2})"), "")
      << "the empty key too (the old check missed it)";
  const std::string after_nul = std::string(R"({"a":1})") + '\0' + R"({"b":1,"b":2})";
  ASSERT_TRUE(json::accept(after_nul)) << "nlohmann ends the text at the NUL";
  EXPECT_EQ(FirstDuplicateKey(after_nul), std::nullopt);
}

TEST(FirstDuplicateKey, AnObjectWithManyKeysIsNotQuadratic) {
  std::string text = "{";
  for (int i = 0; i < 200000; ++i) text += "\"k" + std::to_string(i) + "\":0,";
  text += "\"k199999\":1}";
  EXPECT_EQ(FirstDuplicateKey(text), "k199999");
}

// Random documents built to repeat keys often (few names, escaped spellings, nesting, strings
// holding JSON punctuation): the answer must be nlohmann's callback's, on every one.
TEST(FirstDuplicateKey, AgreesWithNlohmannsCallbackOnRandomDocuments) {
  std::mt19937 rng(20261124);
  const std::vector<std::string> names = {"\"a\"",        "\"b\"",   "\"\\u0061\"", "\"a\\\"\"",
                                          "\"a\\u0022\"", "\"{,}\"", "\"\\\\\"",    "\"\""};
  const std::vector<std::string> scalars = {"1",     "-2.5e3", "true",     "null",
                                            "\"a\"", "\"[,\"", "\"\\\"}\""};
  std::function<std::string(int)> value = [&](int depth) -> std::string {
    const int kind = depth > 3 ? 0 : static_cast<int>(rng() % 4);
    if (kind == 0 || kind == 1) return scalars[rng() % scalars.size()];
    const int n = static_cast<int>(rng() % 4);
    std::string out = kind == 2 ? "{" : "[";
    for (int i = 0; i < n; ++i) {
      if (i > 0) out += rng() % 2 ? "," : " ,\n ";
      if (kind == 2) out += names[rng() % names.size()] + (rng() % 2 ? ":" : " : ");
      out += value(depth + 1);
    }
    return out + (kind == 2 ? "}" : "]");
  };
  int with_duplicates = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string text = value(0);
    ASSERT_TRUE(json::accept(text)) << text;
    const auto expected = DuplicateKeyByCallback(text);
    ASSERT_EQ(FirstDuplicateKey(text), expected) << text;
    if (expected) ++with_duplicates;
  }
  EXPECT_GT(with_duplicates, 1000) << "the documents must exercise both answers";
}

}  // namespace
}  // namespace txc::api
