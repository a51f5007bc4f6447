#pragma once
// Textual Inversion's mechanism (arXiv 2208.01618; methods/textual_inversion.cpp): new token
// embeddings, the only trainable tensors, trained on captions around the placeholder. Shared by
// the methods that are Textual Inversion plus something around it (COTI's active data
// selection, methods/coti.cpp).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framework/tensor/added_token_rows.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench {

class TextualInversion : public peft::ParameterizedMethod {
 public:
  // `num_vectors` tokens: `placeholder`, `placeholder`_1, …, each row from `init_word`'s embedding
  // ("" = the subject's class noun); `lr` of the token group (unset = train.lr); `name` the
  // registry name (messages, the tokens' module tag).
  TextualInversion(std::string placeholder, std::string init_word, int64_t num_vectors, std::optional<double> lr,
                   std::string name);

  void attach(MethodTarget& target) override;
  std::string describe() const override;
  std::vector<std::string> train_prompts(const SubjectData&) const override;
  std::string train_prompt(const SubjectData&) const override;
  std::string eval_prompt(const std::string& prompt, const SubjectData& s) const override;

 protected:
  int64_t num_vectors() const { return num_vectors_; }

 private:
  // "<sks> <sks>_1 …": what prompts say in place of the subject.
  std::string phrase() const;
  std::string token_name(int64_t i) const;

  std::string placeholder_, init_word_;  // init_word_ "" = the class noun
  int64_t num_vectors_;
  std::shared_ptr<nn::AddedTokenRows> rows_;
};

}  // namespace pbench
