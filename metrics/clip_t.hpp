#pragma once
#include <string>

namespace pbench::metrics {

// The text CLIP-T compares an image with: the generation prompt without the
// subject's unique token ("a sks dog in the snow" -> "a dog in the snow").
// Whole whitespace-separated words equal to the token are dropped and the
// rest is joined by single spaces; an empty token changes only whitespace.
std::string clip_t_prompt(const std::string& prompt, const std::string& unique_token);

}  // namespace pbench::metrics
