#include "framework/text/byte_unicode.hpp"

namespace pbench::text {

std::string utf8_encode(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

namespace {

// The printable bytes keep their own code point ('!'..'~', '¡'..'¬', '®'..'ÿ');
// the remaining 68 bytes (controls, space, DEL, NBSP, soft hyphen) are given
// the code points 256, 257, ... in increasing byte order.
std::array<std::string, 256> build_byte_symbols() {
  auto keeps_itself = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  std::array<std::string, 256> table;
  char32_t next_shifted = 256;
  for (int b = 0; b < 256; ++b) {
    table[b] = utf8_encode(keeps_itself(b) ? static_cast<char32_t>(b) : next_shifted++);
  }
  return table;
}

}  // namespace

const std::array<std::string, 256>& byte_symbols() {
  static const std::array<std::string, 256> table = build_byte_symbols();
  return table;
}

void append_byte_level(const std::string& utf8, std::string& out) {
  const auto& table = byte_symbols();
  for (unsigned char b : utf8) out += table[b];
}

}  // namespace pbench::text
