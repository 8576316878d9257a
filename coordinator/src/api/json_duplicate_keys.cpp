#include "api/json_duplicate_keys.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

#include <nlohmann/json.hpp>

namespace txc::api {
namespace {

struct Key {
  std::string_view name;  // decoded
  size_t at;              // where it starts in the text: the order of appearance
};

// Of one object's keys, the position of the earliest second appearance of a name (SIZE_MAX if
// none), and that name. Sorting instead of a set per key: an object with 100,000 keys costs
// n log n, not n².
std::pair<size_t, std::string_view> EarliestRepeat(std::vector<Key>::iterator begin,
                                                   std::vector<Key>::iterator end) {
  std::sort(begin, end, [](const Key& a, const Key& b) {
    return a.name != b.name ? a.name < b.name : a.at < b.at;
  });
  std::pair<size_t, std::string_view> best{SIZE_MAX, {}};
  // `end - it`, not `it + 1 < end`: no iterator steps past an empty range's end.
  for (auto it = begin; end - it > 1; ++it) {
    if (it->name == (it + 1)->name && (it + 1)->at < best.first) {
      best = {(it + 1)->at, it->name};
    }
  }
  return best;
}

}  // namespace

std::optional<std::string> FirstDuplicateKey(std::string_view text) {
  constexpr size_t kArray = SIZE_MAX;
  std::vector<Key> keys;     // the keys of the objects open at this point, outermost first
  std::vector<size_t> open;  // per open container: an object's first index in `keys`, or kArray
  std::deque<std::string> decoded;  // names that had escapes (a deque: views into it stay valid)
  std::pair<size_t, std::string_view> best{SIZE_MAX, {}};
  bool expect_key = false;  // right after '{', or after a ',' inside an object
  // The bounds are checked although the text is valid JSON: no input can make this read past it.
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      const size_t start = i;
      bool escaped = false;
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') {
          escaped = true;
          ++i;  // the escaped character, which may be a quote
        }
      }
      if (!expect_key || i >= text.size()) continue;
      expect_key = false;
      std::string_view name = text.substr(start + 1, i - start - 1);
      if (escaped) {
        const auto parsed = nlohmann::json::parse(text.substr(start, i - start + 1), nullptr,
                                                  /*allow_exceptions=*/false);
        if (parsed.is_string()) name = decoded.emplace_back(parsed.get<std::string>());
      }
      keys.push_back(Key{name, start});
    } else if (c == '{') {
      open.push_back(keys.size());
      expect_key = true;
    } else if (c == '[') {
      open.push_back(kArray);
    } else if (c == '}' && !open.empty() && open.back() != kArray) {
      const auto first = keys.begin() + static_cast<std::ptrdiff_t>(open.back());
      open.pop_back();
      best = std::min(best, EarliestRepeat(first, keys.end()));
      keys.erase(first, keys.end());
    } else if (c == ']' && !open.empty()) {
      open.pop_back();
    } else if (c == ',') {
      expect_key = !open.empty() && open.back() != kArray;
    } else if (c == '\0') {
      break;  // nlohmann's parser takes a NUL between tokens for the end of the text
    }
  }
  if (best.first == SIZE_MAX) return std::nullopt;
  return std::string(best.second);
}

}  // namespace txc::api
