#pragma once
// CLIP byte-level BPE tokenizer at exact parity with openai/CLIP's
// simple_tokenizer.py (and the HF CLIPTokenizer that Stable Diffusion v1
// loads, with ftfy installed). Torch-free: ids are plain int64 vectors.
//
// Folder layout (Hugging Face "tokenizer/"): vocab.json, merges.txt and, when
// present, tokenizer_config.json / special_tokens_map.json (model_max_length,
// bos/eos/pad/unk tokens) and added_tokens.json (Textual Inversion tokens
// saved by transformers). Missing configs fall back to the SD v1 values:
// 77, <|startoftext|>, <|endoftext|>, pad = unk = <|endoftext|>.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pbench {

struct TokenizedText {
  std::vector<int64_t> input_ids;       // max_length ids: SOT, BPE ids, EOT, padding
  std::vector<int64_t> attention_mask;  // 1 for SOT..EOT, 0 for padding
};

class ClipTokenizer {
 public:
  // InputError naming the file (and key or line) on bad input.
  static ClipTokenizer from_folder(const std::filesystem::path& folder);

  // SOT + BPE ids truncated to max_length - 2 + EOT, padded with pad_id().
  TokenizedText encode(const std::string& text) const;
  // BPE ids without SOT/EOT/padding and without truncation.
  std::vector<int64_t> tokenize_ids(const std::string& text) const;

  // Textual Inversion placeholder: gets the next free id (49408, 49409, ...
  // for SD v1) and is matched case-sensitively in the raw text before any
  // clean-up, as HF's added-token split does, so it is always one id. Adding
  // it again returns the same id; a string already in vocab.json is refused.
  int64_t add_token(const std::string& token);
  int64_t token_id(const std::string& token) const;  // InputError if unknown
  int64_t vocab_size() const;                        // including added tokens
  // Tokens added past vocab.json (a saved folder's added_tokens.json, then add_token), in id order.
  const std::vector<std::pair<std::string, int64_t>>& added_tokens() const { return added_tokens_; }

  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t pad_id() const { return pad_id_; }
  int64_t unk_id() const { return unk_id_; }
  int64_t max_length() const { return max_length_; }

  // Index of the first eos_id in `ids` (CLIP pooling position). Unlike the
  // reference's argmax(ids) it stays right once added ids exceed EOT's.
  // InputError when `ids` holds no eos_id.
  static int64_t first_eot_position(const std::vector<int64_t>& ids, int64_t eos_id);

  struct Model;     // vocab + merge ranks + pre-tokenizer, immutable, shared by copies
  struct BpeCache;  // word -> ids, guarded by a mutex, shared by copies

 private:
  ClipTokenizer() = default;
  void append_word_ids(const std::string& word, std::vector<int64_t>& out) const;
  void append_chunk_ids(const std::string& chunk, std::vector<int64_t>& out) const;

  std::shared_ptr<const Model> model_;
  std::shared_ptr<BpeCache> cache_;
  std::vector<std::pair<std::string, int64_t>> added_tokens_;
  int64_t bos_id_ = 0, eos_id_ = 0, pad_id_ = 0, unk_id_ = 0, max_length_ = 0;
};

}  // namespace pbench
