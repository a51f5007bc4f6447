#pragma once
// Text normalisation and pre-tokenisation of the reference CLIP tokenizer
// (openai/CLIP simple_tokenizer.py), before byte-level BPE:
//   html.unescape twice -> collapse whitespace runs to ' ' and strip ->
//   lower-case the whole string -> split with the CLIP regex.
// ICU does the Unicode work (letter/number classes, full lower-case mapping
// with context such as Greek final sigma); it stays out of this header.
#include <memory>
#include <string>
#include <vector>

namespace pbench::text {

// Python str.isspace(): White_Space plus U+001C..U+001F (what `re`'s \s and
// str.strip() use in the reference).
bool is_python_space(char32_t cp);

// Everything before the regex: unescape, whitespace clean-up, lower-case.
std::string normalize_clip_text(const std::string& utf8);

class ClipPreTokenizer {
 public:
  ClipPreTokenizer();  // compiles the regex once; matching is thread-safe
  ~ClipPreTokenizer();
  ClipPreTokenizer(const ClipPreTokenizer&) = delete;
  ClipPreTokenizer& operator=(const ClipPreTokenizer&) = delete;

  // The words BPE sees, as UTF-8 (not yet mapped to the byte alphabet).
  std::vector<std::string> words(const std::string& utf8) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pbench::text
