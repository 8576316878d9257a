// JsonText: JSON written straight into a string, for the messages and responses sent on every
// transaction. Building a nlohmann::json tree first costs a map node per key and a copy of every
// payload, then a second walk to dump it: about a tenth of the coordinator's CPU per transaction.
//
// Strings are escaped exactly as nlohmann's dump(-1, ' ', false, replace) does (invalid UTF-8
// becomes U+FFFD rather than an exception), so a value reads back the same either way. The
// caller writes well-formed sequences (a key before each member's value); nothing checks them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json_fwd.hpp>

namespace txc {

class JsonText {
 public:
  JsonText& BeginObject() { return Open('{'); }
  JsonText& EndObject() { return Close('}'); }
  JsonText& BeginArray() { return Open('['); }
  JsonText& EndArray() { return Close(']'); }
  JsonText& Key(std::string_view key);

  JsonText& String(std::string_view s);
  JsonText& Int(int64_t v);
  JsonText& Bool(bool v);
  JsonText& Null();
  // A value held as a tree (a client's payload), dumped in place.
  JsonText& Value(const nlohmann::json& v);

  // Key(key) then the value.
  JsonText& Member(std::string_view key, std::string_view s) { return Key(key).String(s); }
  JsonText& Member(std::string_view key, const char* s) { return Key(key).String(s); }
  JsonText& Member(std::string_view key, int64_t v) { return Key(key).Int(v); }
  JsonText& Member(std::string_view key, int v) { return Key(key).Int(v); }
  JsonText& Member(std::string_view key, bool v) { return Key(key).Bool(v); }

  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  JsonText& Open(char bracket);
  JsonText& Close(char bracket);
  void BeforeValue();
  void AppendString(std::string_view s);

  std::string out_;
  bool comma_ = false;  // the next value or key follows another in the same object or array
};

}  // namespace txc
