#include "framework/text/html_unescape.hpp"

#include <unordered_map>

#include "framework/text/byte_unicode.hpp"

namespace pbench::text {
namespace {

// Names of U+00A0..U+00FF in order; all of them also work without ';'.
const char* const kLatin1Names[96] = {
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",
    "uml",    "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",
    "deg",    "plusmn", "sup2",   "sup3",   "acute",  "micro",  "para",   "middot",
    "cedil",  "sup1",   "ordm",   "raquo",  "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc",  "Atilde", "Auml",   "Aring",  "AElig",  "Ccedil",
    "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave", "Iacute", "Icirc",  "Iuml",
    "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde", "Ouml",   "times",
    "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",  "szlig",
    "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
    "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",
    "eth",    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide",
    "oslash", "ugrave", "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};

struct NamedRef {
  const char* name;
  char32_t cp;
  bool legacy;  // also recognised without the trailing ';'
};

const NamedRef kOtherNames[] = {
    {"amp", U'&', true},       {"AMP", U'&', true},       {"lt", U'<', true},
    {"LT", U'<', true},        {"gt", U'>', true},        {"GT", U'>', true},
    {"quot", U'"', true},      {"QUOT", U'"', true},      {"COPY", 0xA9, true},
    {"REG", 0xAE, true},       {"apos", U'\'', false},    {"OElig", 0x152, false},
    {"oelig", 0x153, false},   {"Scaron", 0x160, false},  {"scaron", 0x161, false},
    {"Yuml", 0x178, false},    {"fnof", 0x192, false},    {"circ", 0x2C6, false},
    {"tilde", 0x2DC, false},   {"ensp", 0x2002, false},   {"emsp", 0x2003, false},
    {"thinsp", 0x2009, false}, {"zwnj", 0x200C, false},   {"zwj", 0x200D, false},
    {"lrm", 0x200E, false},    {"rlm", 0x200F, false},    {"ndash", 0x2013, false},
    {"mdash", 0x2014, false},  {"lsquo", 0x2018, false},  {"rsquo", 0x2019, false},
    {"sbquo", 0x201A, false},  {"ldquo", 0x201C, false},  {"rdquo", 0x201D, false},
    {"bdquo", 0x201E, false},  {"dagger", 0x2020, false}, {"Dagger", 0x2021, false},
    {"bull", 0x2022, false},   {"hellip", 0x2026, false}, {"permil", 0x2030, false},
    {"prime", 0x2032, false},  {"Prime", 0x2033, false},  {"lsaquo", 0x2039, false},
    {"rsaquo", 0x203A, false}, {"oline", 0x203E, false},  {"frasl", 0x2044, false},
    {"euro", 0x20AC, false},   {"trade", 0x2122, false},  {"larr", 0x2190, false},
    {"uarr", 0x2191, false},   {"rarr", 0x2192, false},   {"darr", 0x2193, false},
    {"harr", 0x2194, false},   {"minus", 0x2212, false},  {"infin", 0x221E, false},
    {"ne", 0x2260, false},     {"le", 0x2264, false},     {"ge", 0x2265, false},
    {"spades", 0x2660, false}, {"clubs", 0x2663, false},  {"hearts", 0x2665, false},
    {"diams", 0x2666, false}};

// Greek letters: Alpha..Omega and alpha..omega in code point order (the gap
// at U+03A2 has no name; final sigma is U+03C2).
const char* const kGreekUpper[] = {"Alpha", "Beta",  "Gamma",   "Delta", "Epsilon", "Zeta",
                                   "Eta",   "Theta", "Iota",    "Kappa", "Lambda",  "Mu",
                                   "Nu",    "Xi",    "Omicron", "Pi",    "Rho",     nullptr,
                                   "Sigma", "Tau",   "Upsilon", "Phi",   "Chi",     "Psi",
                                   "Omega"};
const char* const kGreekLower[] = {"alpha", "beta",  "gamma",   "delta", "epsilon", "zeta",
                                   "eta",   "theta", "iota",    "kappa", "lambda",  "mu",
                                   "nu",    "xi",    "omicron", "pi",    "rho",     "sigmaf",
                                   "sigma", "tau",   "upsilon", "phi",   "chi",     "psi",
                                   "omega"};

// Keys as Python's html5 dict spells them: "amp;" always, "amp" for legacy names.
std::unordered_map<std::string, std::string> build_named_table() {
  std::unordered_map<std::string, std::string> table;
  auto add = [&](const std::string& name, char32_t cp, bool legacy) {
    table[name + ";"] = utf8_encode(cp);
    if (legacy) table[name] = utf8_encode(cp);
  };
  for (int i = 0; i < 96; ++i) add(kLatin1Names[i], static_cast<char32_t>(0xA0 + i), true);
  for (const auto& ref : kOtherNames) add(ref.name, ref.cp, ref.legacy);
  for (int i = 0; i < 25; ++i) {
    if (kGreekUpper[i]) add(kGreekUpper[i], static_cast<char32_t>(0x391 + i), false);
    add(kGreekLower[i], static_cast<char32_t>(0x3B1 + i), false);
  }
  return table;
}

const std::unordered_map<std::string, std::string>& named_table() {
  static const auto table = build_named_table();
  return table;
}

// Python's _invalid_charrefs for 0x80..0x9F: the Windows-1252 reading of the
// byte (five undefined positions keep their C1 code point).
const char32_t kCp1252[32] = {0x20AC, 0x81,   0x201A, 0x192,  0x201E, 0x2026, 0x2020, 0x2021,
                              0x2C6,  0x2030, 0x160,  0x2039, 0x152,  0x8D,   0x17D,  0x8F,
                              0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                              0x2DC,  0x2122, 0x161,  0x203A, 0x153,  0x9D,   0x17E,  0x178};

std::string numeric_replacement(unsigned long long num) {
  if (num == 0) return utf8_encode(0xFFFD);
  if (num == 0x0D) return "\r";
  if (num >= 0x80 && num <= 0x9F) return utf8_encode(kCp1252[num - 0x80]);
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return utf8_encode(0xFFFD);
  const bool invalid = (num >= 0x1 && num <= 0x8) || num == 0xB || (num >= 0xE && num <= 0x1F) ||
                       (num >= 0x7F && num <= 0x9F) || (num >= 0xFDD0 && num <= 0xFDEF) ||
                       (num & 0xFFFE) == 0xFFFE;
  if (invalid) return "";
  return utf8_encode(static_cast<char32_t>(num));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}

// Tries a numeric reference at s[amp] == '&'. On success appends the
// replacement, sets `end` past the reference and returns true.
bool numeric_reference(const std::string& s, size_t amp, std::string& out, size_t& end) {
  size_t i = amp + 1;
  if (i >= s.size() || s[i] != '#') return false;
  ++i;
  const bool hex = i < s.size() && (s[i] == 'x' || s[i] == 'X');
  size_t digits = hex ? i + 1 : i;
  size_t j = digits;
  unsigned long long num = 0;
  constexpr unsigned long long kSaturate = 0x110000ULL;  // anything above is U+FFFD
  while (j < s.size() && (hex ? is_hex_digit(s[j]) : is_digit(s[j]))) {
    num = num * (hex ? 16 : 10) + static_cast<unsigned long long>(hex ? hex_value(s[j]) : s[j] - '0');
    if (num > kSaturate) num = kSaturate;
    ++j;
  }
  if (j == digits) return false;
  if (j < s.size() && s[j] == ';') ++j;
  out += numeric_replacement(num);
  end = j;
  return true;
}

bool is_name_char(char c) {
  return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' &&
         c != ';';
}

bool named_reference(const std::string& s, size_t amp, std::string& out, size_t& end) {
  // Up to 32 code points of name characters, then an optional ';'.
  size_t j = amp + 1;
  int code_points = 0;
  while (j < s.size() && is_name_char(s[j])) {
    const bool starts_code_point = (static_cast<unsigned char>(s[j]) & 0xC0) != 0x80;
    if (starts_code_point && ++code_points > 32) break;
    ++j;
  }
  if (j == amp + 1) return false;
  if (j < s.size() && s[j] == ';') ++j;
  const std::string name = s.substr(amp + 1, j - amp - 1);
  const auto& table = named_table();
  end = j;
  if (auto it = table.find(name); it != table.end()) {
    out += it->second;
    return true;
  }
  // Longest known prefix of at least two characters; the rest stays literal.
  for (size_t len = name.size() - 1; len >= 2 && len < name.size(); --len) {
    if (auto it = table.find(name.substr(0, len)); it != table.end()) {
      out += it->second;
      out += name.substr(len);
      return true;
    }
  }
  out += '&';
  out += name;
  return true;
}

}  // namespace

std::string html_unescape(const std::string& s) {
  if (s.find('&') == std::string::npos) return s;
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '&') {
      out += s[i++];
      continue;
    }
    size_t end = i + 1;
    if (numeric_reference(s, i, out, end) || named_reference(s, i, out, end)) {
      i = end;
    } else {
      out += s[i++];
    }
  }
  return out;
}

}  // namespace pbench::text
