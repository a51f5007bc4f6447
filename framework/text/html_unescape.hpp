#pragma once
// Python's html.unescape, which the reference CLIP tokenizer applies twice in
// basic_clean() ("fish &amp; chips" -> "fish & chips"). Numeric references
// follow Python's rules exactly (Windows-1252 remapping of 0x80..0x9F, U+FFFD
// for surrogates / out of range, removal of non-characters). Named references
// cover the HTML 4 set (XML entities, Latin-1, common typography and Greek),
// including the HTML5 "legacy" forms that need no semicolon; other HTML5
// names are left as written (Python would replace them too).
#include <string>

namespace pbench::text {

std::string html_unescape(const std::string& utf8);

}  // namespace pbench::text
