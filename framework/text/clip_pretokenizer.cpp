#include "framework/text/clip_pretokenizer.hpp"

#include <unicode/locid.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>

#include "framework/text/html_unescape.hpp"
#include "framework/util/errors.hpp"

namespace pbench::text {

bool is_python_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

namespace {

// basic_clean + whitespace_clean + lower(). The whole string is lower-cased at
// once because the mapping is context dependent and may change the length:
// U+0130 'İ' becomes "i" + U+0307 and a word-final 'Σ' becomes 'ς', as in
// Python's str.lower(). The root locale avoids Turkish/Lithuanian tailoring.
icu::UnicodeString normalize(const std::string& utf8) {
  const std::string unescaped = html_unescape(html_unescape(utf8));
  const icu::UnicodeString input = icu::UnicodeString::fromUTF8(unescaped);
  icu::UnicodeString collapsed;
  bool pending_space = false;
  for (int32_t i = 0; i < input.length(); i = input.moveIndex32(i, 1)) {
    const UChar32 cp = input.char32At(i);
    if (is_python_space(static_cast<char32_t>(cp))) {
      pending_space = !collapsed.isEmpty();  // leading whitespace is dropped
      continue;
    }
    if (pending_space) collapsed.append(static_cast<UChar>(' '));
    pending_space = false;  // trailing whitespace is never flushed
    collapsed.append(cp);
  }
  collapsed.toLower(icu::Locale::getRoot());
  return collapsed;
}

// The CLIP pattern. Python's \s is spelled out as the str.isspace() set (ICU's
// \s lacks U+000B, U+001C..U+001F and U+0085); after the clean-up only ' '
// can remain anyway. The reference compiles it with IGNORECASE.
const char16_t kClipPattern[] =
    u"<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|"
    u"[^\\t-\\r\\x{1C}-\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    u"\\x{202F}\\x{205F}\\x{3000}\\p{L}\\p{N}]+";

}  // namespace

std::string normalize_clip_text(const std::string& utf8) {
  std::string out;
  normalize(utf8).toUTF8String(out);
  return out;
}

struct ClipPreTokenizer::Impl {
  std::unique_ptr<icu::RegexPattern> pattern;
};

ClipPreTokenizer::ClipPreTokenizer() : impl_(std::make_unique<Impl>()) {
  UErrorCode status = U_ZERO_ERROR;
  UParseError parse_error;
  impl_->pattern.reset(icu::RegexPattern::compile(icu::UnicodeString(kClipPattern),
                                                  UREGEX_CASE_INSENSITIVE, parse_error, status));
  if (U_FAILURE(status)) {
    throw RunFailure(std::string("CLIP pre-tokenizer: ICU rejected the built-in regex: ") +
                     u_errorName(status));
  }
}

ClipPreTokenizer::~ClipPreTokenizer() = default;

std::vector<std::string> ClipPreTokenizer::words(const std::string& utf8) const {
  const icu::UnicodeString text = normalize(utf8);
  std::vector<std::string> out;
  if (text.isEmpty()) return out;
  UErrorCode status = U_ZERO_ERROR;
  // A matcher per call: RegexPattern is immutable and shareable, matchers are not.
  std::unique_ptr<icu::RegexMatcher> matcher(impl_->pattern->matcher(text, status));
  while (U_SUCCESS(status) && matcher->find(status)) {
    std::string word;
    matcher->group(status).toUTF8String(word);
    out.push_back(std::move(word));
  }
  if (U_FAILURE(status)) {
    throw RunFailure(std::string("CLIP pre-tokenizer: ICU regex matching failed: ") +
                     u_errorName(status));
  }
  return out;
}

}  // namespace pbench::text
