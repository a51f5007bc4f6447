// libFuzzer target: the CLIP tokenizer (framework/text) on arbitrary bytes as a prompt,
// with the shipped vocabulary. Invalid UTF-8 must be handled (replaced or refused with
// InputError); every id must be in the vocabulary and the encoding 77 tokens long.
#include <cstddef>
#include <cstdint>
#include <string>

#include "framework/text/clip_tokenizer.hpp"
#include "framework/util/assets.hpp"
#include "framework/util/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const pbench::ClipTokenizer tokenizer =
      pbench::ClipTokenizer::from_folder(pbench::asset_path("clip_tokenizer"));
  try {
    auto encoded = tokenizer.encode(std::string(reinterpret_cast<const char*>(data), size));
    if (encoded.input_ids.size() != 77) __builtin_trap();
    for (int64_t id : encoded.input_ids)
      if (id < 0 || id >= tokenizer.vocab_size()) __builtin_trap();
  } catch (const pbench::InputError&) {
  }
  return 0;
}
