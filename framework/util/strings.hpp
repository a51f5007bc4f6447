#pragma once
// Prefix and suffix tests on std::string (C++17 has no starts_with / ends_with), and the
// separated lists config values hold ("<new1>+<new2>").
#include <sstream>
#include <string>
#include <vector>

namespace pbench {

inline bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The non-empty items of `text` between `separator`s: "a+b+" -> {"a", "b"}.
inline std::vector<std::string> split_nonempty(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, separator);)
    if (!item.empty()) out.push_back(item);
  return out;
}

// `items` with `separator` between them: {"a", "b"} -> "a+b".
inline std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

}  // namespace pbench
