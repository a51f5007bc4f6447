// Textual Inversion — Gal et al., "An Image is Worth One Word: Personalizing
// Text-to-Image Generation using Textual Inversion", arXiv 2208.01618.
//
// Trains only new token embeddings: `num_vectors` placeholder tokens are
// added to the tokenizer (ids 49408, 49409, …) and their embedding rows,
// initialised from an init word (default: the subject's class noun), are the
// only trainable tensors. Everything else is frozen.
// Count: num_vectors × hidden size of the text encoder (768 per token on SD v1.5).
// Training captions: the placeholder in object templates ("a photo of a {}",
// as the reference's imagenet_templates_small); evaluation prompts replace
// "<unique token> <class>" with the placeholder.
// Delta: {placeholder: [num_vectors, hidden]} as diffusers' learned_embeds.
// lr: 5e-3, the official base rate (rinongal/textual_inversion; batch scaling not applied); null = train.lr.
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/added_tokens.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"
#include "methods/textual_inversion.hpp"
#include "methods/token_prompts.hpp"

namespace pbench {
namespace {

struct TextualInversionOptions {
  std::string placeholder = "<sks>";
  std::optional<std::string> init_word;
  int64_t num_vectors = 1;
  std::optional<double> lr = 5e-3;

  template <class V>
  void fields(V& v) {
    v("placeholder", placeholder, "the new token S* (more vectors add <sks>_1, <sks>_2, ...)");
    v("init_word", init_word, "word whose embedding the new rows start from; null = the subject's class noun");
    v("num_vectors", num_vectors, "embedding vectors per placeholder", prompt_token_count());
    v("lr", lr, "learning rate (rinongal/textual_inversion's base rate, unscaled); null = train.lr",
      cfg::learning_rate());
  }
};

}  // namespace

TextualInversion::TextualInversion(std::string placeholder, std::string init_word, int64_t num_vectors,
                                   std::optional<double> lr, std::string name)
    : placeholder_(std::move(placeholder)), init_word_(std::move(init_word)), num_vectors_(num_vectors) {
  name_ = std::move(name);
  set_group_lr("token", lr);
}

void TextualInversion::attach(MethodTarget& target) {
  freeze_pipeline(target.pipeline);
  std::vector<std::string> names;
  for (int64_t i = 0; i < num_vectors_; ++i) names.push_back(token_name(i));
  rows_ = add_trainable_tokens(target.pipeline, names, name_, "method.placeholder").rows;
  init_rows_from_word(target.pipeline, *rows_, init_word_or_class(init_word_, target));
  track(placeholder_, rows_->rows, "token");
}

std::string TextualInversion::describe() const {
  return "Textual Inversion: " + std::to_string(num_vectors_) + " token embedding(s) for " + placeholder_;
}

std::vector<std::string> TextualInversion::train_prompts(const SubjectData&) const { return captions_with(phrase()); }
std::string TextualInversion::train_prompt(const SubjectData&) const { return captions_with(phrase()).front(); }
std::string TextualInversion::eval_prompt(const std::string& prompt, const SubjectData& s) const {
  return replace_subject(prompt, s, phrase());
}

std::string TextualInversion::token_name(int64_t i) const {
  return i == 0 ? placeholder_ : placeholder_ + "_" + std::to_string(i);
}
std::string TextualInversion::phrase() const {
  std::string p;
  for (int64_t i = 0; i < num_vectors_; ++i) p += (i ? " " : "") + token_name(i);
  return p;
}

namespace {

// The registered method: TextualInversion built from its typed options.
class TextualInversionMethod : public TextualInversion {
 public:
  TextualInversionMethod(const TextualInversionOptions& o, const cfg::Node&)
      : TextualInversion(o.placeholder, o.init_word.value_or(""), o.num_vectors, o.lr, "textual_inversion") {}
};

}  // namespace

void register_textual_inversion(Registry<MethodEntry>& registry) {
  register_method<TextualInversionMethod, TextualInversionOptions>(
      registry, "textual_inversion", "Textual Inversion (arXiv 2208.01618): one new token embedding",
      MethodBudget{6100, 2, 310, 0.15, "rinongal/textual_inversion SD config: max_steps 6100, batch 2 (its lr scaling by GPUs x batch is not applied); DVAR README: window 310, threshold 0.15"});
}

}  // namespace pbench
