#include "txc/json_text.h"

#include <charconv>

#include <nlohmann/json.hpp>

namespace txc {

void JsonText::BeforeValue() {
  if (comma_) out_.push_back(',');
  comma_ = true;
}

JsonText& JsonText::Open(char bracket) {
  BeforeValue();
  out_.push_back(bracket);
  comma_ = false;
  return *this;
}

JsonText& JsonText::Close(char bracket) {
  out_.push_back(bracket);
  comma_ = true;
  return *this;
}

JsonText& JsonText::Key(std::string_view key) {
  if (comma_) out_.push_back(',');
  AppendString(key);
  out_.push_back(':');
  comma_ = false;
  return *this;
}

JsonText& JsonText::String(std::string_view s) {
  BeforeValue();
  AppendString(s);
  return *this;
}

JsonText& JsonText::Int(int64_t v) {
  BeforeValue();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, r.ptr);
  return *this;
}

JsonText& JsonText::Bool(bool v) {
  BeforeValue();
  out_.append(v ? "true" : "false");
  return *this;
}

JsonText& JsonText::Null() {
  BeforeValue();
  out_.append("null");
  return *this;
}

JsonText& JsonText::Value(const nlohmann::json& v) {
  BeforeValue();
  out_.append(v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return *this;
}

void JsonText::AppendString(std::string_view s) {
  // Nearly every string here is printable ASCII without quotes or backslashes: copied as is.
  // Anything else (escapes, UTF-8, invalid bytes) takes nlohmann's own escaping, so the two
  // can never disagree.
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      out_.append(nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
  }
  out_.push_back('"');
  out_.append(s);
  out_.push_back('"');
}

}  // namespace txc
