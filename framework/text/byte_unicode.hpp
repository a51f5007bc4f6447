#pragma once
// GPT-2 / CLIP byte-level alphabet: every byte 0..255 is mapped to one
// printable Unicode character, so that BPE symbols never contain whitespace or
// control characters and any UTF-8 input (even a lone continuation byte) can
// be spelled with the 256 base symbols of vocab.json.
#include <array>
#include <string>

namespace pbench::text {

// byte_symbols()[b] is the UTF-8 spelling of the character that byte b maps to.
const std::array<std::string, 256>& byte_symbols();

// Appends the byte-level spelling of every byte of `utf8` to `out`.
void append_byte_level(const std::string& utf8, std::string& out);

// Encodes one code point as UTF-8 (no validation beyond the 4-byte range).
std::string utf8_encode(char32_t cp);

}  // namespace pbench::text
