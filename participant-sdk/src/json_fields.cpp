#include "json_fields.h"

#include <locale.h>
#include <stdlib.h>

#include <cmath>
#include <limits>

namespace txc::wire {
namespace {

// What nlohmann reads as an integer: no fraction or exponent, and within 64 bits.
std::optional<uint64_t> Magnitude(std::string_view number, bool* negative) {
  *negative = !number.empty() && number[0] == '-';
  if (*negative) number.remove_prefix(1);
  if (number.find_first_of(".eE") != std::string_view::npos) return std::nullopt;
  uint64_t v = 0;
  for (char c : number) {
    const auto d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (*negative && v > uint64_t{1} << 63) return std::nullopt;
  return v;
}

// Everything else nlohmann parses as a double, and refuses if it is not finite ("1e999").
// strtod in the C locale, whatever the process's: nlohmann swaps in the locale's decimal point.
bool FiniteAsDouble(std::string_view number) {
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", nullptr);
  const std::string text(number);
  return std::isfinite(strtod_l(text.c_str(), nullptr, c_locale));
}

constexpr auto kIgnoreItem = [](std::string_view, JsonFields::Kind, std::string_view) {};

// One pass over the text; every Scan* returns false at the first byte nlohmann would reject.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : s_(text) {}

  size_t pos() const { return pos_; }
  bool AtEnd() const { return pos_ == s_.size(); }
  // nlohmann's lexer takes a NUL byte between tokens for the end of the input, whatever follows.
  bool AtTextEnd() const { return AtEnd() || s_[pos_] == '\0'; }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }
  std::string_view Slice(size_t from, size_t to) const { return s_.substr(from, to - from); }

  void SkipBom() {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
  }

  void SkipSpace() {
    while (!AtEnd()) {
      const char c = s_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  bool Eat(char c) {
    if (AtEnd() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  // After the opening quote; stops after the closing one.
  bool ScanString() {
    while (!AtEnd()) {
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (!ScanEscape()) return false;
      } else if (c < 0x80) {
        ++pos_;
      } else if (!ScanUtf8()) {
        return false;
      }
    }
    return false;
  }

  bool ScanNumber() {
    const size_t from = pos_;
    if (!ScanNumberGrammar()) return false;
    bool negative = false;
    const std::string_view number = s_.substr(from, pos_ - from);
    return Magnitude(number, &negative) || FiniteAsDouble(number);
  }

  bool ScanNumberGrammar() {
    Eat('-');
    if (Eat('0')) {
      // no further integer digits after a leading zero
    } else if (!ScanDigits()) {
      return false;
    }
    if (Eat('.') && !ScanDigits()) return false;
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (!Eat('+')) Eat('-');
      if (!ScanDigits()) return false;
    }
    return true;
  }

  bool ScanLiteral(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // Any value, nested ones included; `kind` says which.
  bool ScanValue(JsonFields::Kind* kind) {
    switch (Peek()) {
      case '"': {
        ++pos_;
        *kind = JsonFields::Kind::kString;
        return ScanString();
      }
      case '{':
        *kind = JsonFields::Kind::kObject;
        return ScanContainer('}', kIgnoreItem);
      case '[':
        *kind = JsonFields::Kind::kArray;
        return ScanContainer(']', kIgnoreItem);
      case 't':
        *kind = JsonFields::Kind::kBool;
        return ScanLiteral("true");
      case 'f':
        *kind = JsonFields::Kind::kBool;
        return ScanLiteral("false");
      case 'n':
        *kind = JsonFields::Kind::kNull;
        return ScanLiteral("null");
      default:
        *kind = JsonFields::Kind::kNumber;
        return (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) && ScanNumber();
    }
  }

  // At the opening bracket; stops after the closing one. Calls on_item(key, kind, value) for each
  // member or element: the key's and the value's text as they stand (strings with their quotes;
  // the key empty for an array's elements).
  template <typename OnItem>
  bool ScanContainer(char close, const OnItem& on_item) {
    ++pos_;
    SkipSpace();
    if (Eat(close)) return true;
    while (true) {
      std::string_view key;
      if (close == '}') {
        const size_t key_from = pos_;
        if (!Eat('"') || !ScanString()) return false;
        key = Slice(key_from, pos_);
        SkipSpace();
        if (!Eat(':')) return false;
        SkipSpace();
      }
      const size_t value_from = pos_;
      JsonFields::Kind kind;
      if (!ScanValue(&kind)) return false;
      on_item(key, kind, Slice(value_from, pos_));
      SkipSpace();
      if (Eat(close)) return true;
      if (!Eat(',')) return false;
      SkipSpace();
    }
  }

 private:
  bool ScanDigits() {
    const size_t from = pos_;
    while (!AtEnd() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > from;
  }

  bool ScanHex4(unsigned* out) {
    if (s_.size() - pos_ < 4) return false;
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    *out = v;
    return true;
  }

  // At the backslash. A high surrogate must be followed by an escaped low one, and a low one
  // must not stand alone.
  bool ScanEscape() {
    ++pos_;
    if (AtEnd()) return false;
    const char c = s_[pos_++];
    switch (c) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        return true;
      case 'u': {
        unsigned cp = 0;
        if (!ScanHex4(&cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;
        if (cp < 0xD800 || cp > 0xDBFF) return true;
        unsigned low = 0;
        return Eat('\\') && Eat('u') && ScanHex4(&low) && low >= 0xDC00 && low <= 0xDFFF;
      }
      default:
        return false;
    }
  }

  // RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
  bool ScanUtf8() {
    const auto b0 = static_cast<unsigned char>(s_[pos_]);
    int n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      n = 1;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      n = 2;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      n = 3;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (s_.size() - pos_ <= static_cast<size_t>(n)) return false;
    for (int i = 1; i <= n; ++i) {
      const auto b = static_cast<unsigned char>(s_[pos_ + static_cast<size_t>(i)]);
      if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
    }
    pos_ += static_cast<size_t>(n) + 1;
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

void AppendUtf8(unsigned cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

unsigned Hex4(std::string_view s) {
  unsigned v = 0;
  for (char c : s.substr(0, 4)) {
    v = (v << 4) | static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  return v;
}

}  // namespace

JsonFields::Parsed JsonFields::Read(std::string_view text) {
  members_.clear();
  Scanner in(text);
  in.SkipBom();
  in.SkipSpace();
  const bool object = in.Peek() == '{';
  bool valid = false;
  if (object) {
    valid = in.ScanContainer('}', [this](std::string_view key, Kind kind, std::string_view value) {
      members_.push_back({DecodeString(key), kind, value});
    });
  } else {
    Kind kind;
    valid = in.ScanValue(&kind);
  }
  in.SkipSpace();
  if (!valid || !in.AtTextEnd()) {
    members_.clear();
    return Parsed::kInvalid;
  }
  return object ? Parsed::kObject : Parsed::kNotObject;
}

const JsonFields::Member* JsonFields::Find(std::string_view key) const {
  for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
    if (it->key == key) return &*it;
  }
  return nullptr;
}

std::vector<JsonFields::Member> JsonFields::Elements(std::string_view array) {
  std::vector<Member> out;
  Scanner in(array);
  if (in.Peek() != '[') return out;
  in.ScanContainer(']', [&out](std::string_view, Kind kind, std::string_view value) {
    out.push_back({"", kind, value});
  });
  return out;
}

std::string JsonFields::DecodeString(std::string_view quoted) {
  const std::string_view escaped = quoted.substr(1, quoted.size() - 2);
  if (escaped.find('\\') == std::string_view::npos) return std::string(escaped);
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    const char e = escaped[++i];
    static constexpr std::string_view kLetters = "bfnrt", kControls = "\b\f\n\r\t";
    if (const size_t k = kLetters.find(e); k != std::string_view::npos) {
      out.push_back(kControls[k]);
    } else if (e == 'u') {
      unsigned cp = Hex4(escaped.substr(i + 1));
      i += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {  // validated: "\uDC00".."\uDFFF" follows
        cp = 0x10000 + ((cp - 0xD800) << 10) + (Hex4(escaped.substr(i + 3)) - 0xDC00);
        i += 6;
      }
      AppendUtf8(cp, &out);
    } else {  // '"', '\\', '/'
      out.push_back(e);
    }
  }
  return out;
}

std::optional<int64_t> JsonFields::AsInteger(std::string_view number) {
  bool negative = false;
  const std::optional<uint64_t> v = Magnitude(number, &negative);
  if (!v) return std::nullopt;
  if (!negative) return static_cast<int64_t>(*v);  // number_unsigned; get<int64_t> casts
  return *v == uint64_t{1} << 63 ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(*v);
}

}  // namespace txc::wire
