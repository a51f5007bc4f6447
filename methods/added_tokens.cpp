#include "methods/added_tokens.hpp"

#include "framework/util/errors.hpp"

namespace pbench {

const torch::Tensor& token_embedding_table(models::Pipeline& pipeline) {
  return pipeline.text_encoder->text_model->embeddings->token_embedding->weight;
}

bool shapes_only(models::Pipeline& pipeline) { return token_embedding_table(pipeline).device().type() == torch::kMeta; }

AddedTokens add_trainable_tokens(models::Pipeline& pipeline, const std::vector<std::string>& names,
                                 const std::string& tag, const std::string& key) {
  auto& tok = *pipeline.tokenizer;
  auto& embedding = pipeline.text_encoder->text_model->embeddings->token_embedding;
  const torch::Tensor& table = embedding->weight;
  std::vector<int64_t> ids;
  for (const auto& name : names) ids.push_back(tok.add_token(name));
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < table.size(0))
      throw InputError(key + ": '" + names[i] + "' got id " + std::to_string(ids[i]) +
                       ", inside the text encoder's table; choose a new token such as <sks>");
    if (ids[i] != ids[0] + int64_t(i)) throw std::logic_error("added token ids are not consecutive");
  }
  AddedTokens out;
  out.first_id = ids.front();
  out.rows = std::make_shared<nn::AddedTokenRows>(
      torch::zeros({int64_t(names.size()), table.size(1)}, table.options()), out.first_id);
  embedding->attach(tag, out.rows);
  out.rows->rows.set_requires_grad(true);
  return out;
}

torch::Tensor word_embedding(models::Pipeline& pipeline, const std::string& word, const std::string& key) {
  std::vector<int64_t> word_ids = pipeline.tokenizer->tokenize_ids(word);
  if (word_ids.empty()) throw InputError(key + ": '" + word + "' has no tokens");
  torch::NoGradGuard no_grad;
  return token_embedding_table(pipeline).index_select(0, torch::tensor(word_ids)).mean(0);
}

std::string init_word_or_class(const std::string& init_word, const MethodTarget& target) {
  if (!init_word.empty()) return init_word;
  return target.subject ? target.subject->class_noun : "";
}

torch::Tensor random_table_rows(models::Pipeline& pipeline, at::IntArrayRef shape, torch::Generator& generator) {
  torch::NoGradGuard no_grad;
  return torch::randn(shape, generator) * token_embedding_table(pipeline).std().item<double>();
}

void init_rows_from_word(models::Pipeline& pipeline, nn::AddedTokenRows& rows, const std::string& word) {
  if (word.empty() || shapes_only(pipeline)) return;
  // A multi-token word starts from the mean of its tokens' rows.
  torch::Tensor row = word_embedding(pipeline, word, "method.init_word");
  torch::NoGradGuard no_grad;
  rows.rows.copy_(row.expand_as(rows.rows));
}

}  // namespace pbench
