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
#include "framework/config/access.hpp"
#include "framework/util/errors.hpp"
#include "methods/added_tokens.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"
#include "methods/token_prompts.hpp"

namespace pbench {
namespace {

const char* kTextualInversionDefaults = R"(name: textual_inversion
placeholder: <sks>
init_word: null        # null = the subject's class noun
num_vectors: 1
lr: 5.0e-3
)";

class TextualInversion : public peft::ParameterizedMethod {
 public:
  explicit TextualInversion(const cfg::Node& user)
      : cfg_(peft::section_with_defaults(user, kTextualInversionDefaults, "textual_inversion")),
        placeholder_(cfg::get_string(cfg_, "placeholder")),
        init_word_(cfg::get_string(cfg_, "init_word", "")),
        num_vectors_(positive_int(cfg_, "num_vectors")) {
    name_ = "textual_inversion";
    set_group_lr("token", peft::optional_number(cfg_, "lr"));
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    std::vector<std::string> names;
    for (int64_t i = 0; i < num_vectors_; ++i) names.push_back(token_name(i));
    rows_ = add_trainable_tokens(target.pipeline, names, "textual_inversion", "method.placeholder").rows;
    init_rows_from_word(target.pipeline, *rows_, init_word_or_class(init_word_, target));
    track(placeholder_, rows_->rows, "token");
  }

  std::string describe() const override {
    return "Textual Inversion: " + std::to_string(num_vectors_) + " token embedding(s) for " + placeholder_;
  }

  std::vector<std::string> train_prompts(const SubjectData&) const override { return captions_with(phrase()); }
  std::string train_prompt(const SubjectData&) const override { return captions_with(phrase()).front(); }

  std::string eval_prompt(const std::string& prompt, const SubjectData& s) const override {
    return replace_subject(prompt, s, phrase());
  }

 private:
  std::string token_name(int64_t i) const { return i == 0 ? placeholder_ : placeholder_ + "_" + std::to_string(i); }
  std::string phrase() const {
    std::string p;
    for (int64_t i = 0; i < num_vectors_; ++i) p += (i ? " " : "") + token_name(i);
    return p;
  }

  cfg::Node cfg_;
  std::string placeholder_, init_word_;
  int64_t num_vectors_;
  std::shared_ptr<nn::AddedTokenRows> rows_;
};

}  // namespace

void register_textual_inversion(Registry<MethodEntry>& registry) {
  registry.add(EntryInfo{"textual_inversion", "Textual Inversion (arXiv 2208.01618): one new token embedding",
                         kTextualInversionDefaults},
               MethodEntry{[](const cfg::Node& s) { return std::make_unique<TextualInversion>(s); }});
}

}  // namespace pbench
