#pragma once
// New tokens whose embedding rows train (Textual Inversion, P+, prompt
// tuning): names added to the tokenizer with consecutive ids past the text
// encoder's table, resolved by an AddedTokenRows output rewrite on the token
// embedding, so the frozen table itself never changes.
#include <memory>
#include <string>
#include <vector>

#include "framework/models/sd/pipeline.hpp"
#include "framework/tensor/added_token_rows.hpp"
#include "framework/train/method.hpp"

namespace pbench {

struct AddedTokens {
  int64_t first_id = 0;  // ids first_id .. first_id + names - 1
  std::shared_ptr<nn::AddedTokenRows> rows;  // trainable [names, hidden], zero-initialised
};

// Adds `names` to the tokenizer and attaches their rows under `tag`; InputError
// naming `key` when a name is already a token of the frozen vocabulary.
AddedTokens add_trainable_tokens(models::Pipeline& pipeline, const std::vector<std::string>& names,
                                 const std::string& tag, const std::string& key);

// The frozen embedding table [vocab, hidden] of the text encoder.
const torch::Tensor& token_embedding_table(models::Pipeline& pipeline);

// Mean of the table rows of `word`'s tokens, [hidden]; InputError naming `key`
// when the word has no tokens.
torch::Tensor word_embedding(models::Pipeline& pipeline, const std::string& word, const std::string& key);

// The word token rows start from: `init_word` when set, else the subject's class noun ("" if neither).
std::string init_word_or_class(const std::string& init_word, const MethodTarget& target);
// Sets every row of `rows` to `word`'s embedding (word_embedding); nothing for an empty word or a
// shapes-only pipeline.
void init_rows_from_word(models::Pipeline& pipeline, nn::AddedTokenRows& rows, const std::string& word);

// Rows of `shape` drawn from N(0, σ²) with σ the std of the frozen table: random embeddings at
// the scale of real ones (prompt tuning's random init, C-LoRA's "completely random" token).
torch::Tensor random_table_rows(models::Pipeline& pipeline, at::IntArrayRef shape, torch::Generator& generator);

// True when the pipeline only has shapes (meta device): nothing to initialise from.
bool shapes_only(models::Pipeline& pipeline);

}  // namespace pbench
