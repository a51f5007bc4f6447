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
#include <sstream>

#include "framework/config/access.hpp"
#include "framework/tensor/added_token_rows.hpp"
#include "framework/util/errors.hpp"
#include "methods/methods.hpp"

namespace pbench {
namespace {

const std::vector<std::string>& caption_templates() {
  // The first four are the captions of DVAR's evaluation batch for TI.
  static const std::vector<std::string> t = {
      "a photo of a {}",       "a rendering of a {}",   "a cropped photo of the {}", "the photo of a {}",
      "a photo of a clean {}", "a photo of a dirty {}", "a dark photo of the {}",    "a photo of my {}",
      "a photo of the cool {}", "a close-up photo of a {}", "a bright photo of the {}", "a cropped photo of a {}"};
  return t;
}

class TextualInversion : public Method {
 public:
  explicit TextualInversion(const cfg::Node& s)
      : placeholder_(cfg::get_string(s, "placeholder")),
        init_word_(cfg::get_string(s, "init_word", "")),
        num_vectors_(positive_int(s, "num_vectors")),
        lr_(cfg::get_double(s, "lr", -1.0)) {}

  void attach(MethodTarget& target) override {
    auto& tok = *target.pipeline.tokenizer;
    auto& embedding = target.pipeline.text_encoder->text_model->embeddings->token_embedding;
    torch::Tensor table = embedding->weight;
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < num_vectors_; ++i) ids.push_back(tok.add_token(token_name(i)));
    for (size_t i = 1; i < ids.size(); ++i)
      if (ids[i] != ids[0] + int64_t(i)) throw std::logic_error("placeholder ids are not consecutive");
    if (ids[0] < table.size(0))
      throw InputError("method.placeholder: '" + placeholder_ + "' got id " + std::to_string(ids[0]) +
                       ", inside the text encoder's table; choose a new token such as <sks>");
    torch::Tensor init;
    {
      torch::NoGradGuard no_grad;
      std::string word = !init_word_.empty() ? init_word_ : target.subject ? target.subject->class_noun : "";
      if (word.empty() || table.device().type() == torch::kMeta) {
        init = torch::zeros({num_vectors_, table.size(1)}, table.options());
      } else {
        // A multi-token init word starts from the mean of its tokens' rows.
        std::vector<int64_t> word_ids = tok.tokenize_ids(word);
        if (word_ids.empty()) throw InputError("method.init_word: '" + word + "' has no tokens");
        torch::Tensor row = table.index_select(0, torch::tensor(word_ids)).mean(0, true);
        init = row.repeat({num_vectors_, 1}).clone();
      }
    }
    rows_ = std::make_shared<nn::AddedTokenRows>(init, ids[0]);
    embedding->attach("textual_inversion", rows_);
    rows_->rows.set_requires_grad(true);
  }

  std::vector<ParamGroup> parameter_groups(double base_lr) override {
    return {ParamGroup{"token", {rows_->rows}, lr_ > 0 ? lr_ : base_lr, 0.0}};
  }

  TensorMap delta() override { return {{placeholder_, rows_->rows}}; }

  void load_delta(const TensorMap& delta) override {
    auto it = delta.find(placeholder_);
    if (it == delta.end()) throw InputError("textual inversion delta: no tensor named '" + placeholder_ + "'");
    if (it->second.sizes() != rows_->rows.sizes())
      throw InputError("textual inversion delta: '" + placeholder_ + "' has the wrong shape");
    torch::NoGradGuard no_grad;
    rows_->rows.copy_(it->second);
  }

  std::string describe() const override {
    return "Textual Inversion: " + std::to_string(num_vectors_) + " token embedding(s) for " + placeholder_;
  }

  std::vector<std::string> train_prompts(const SubjectData&) const override {
    std::vector<std::string> out;
    for (const auto& t : caption_templates()) out.push_back(fill(t));
    return out;
  }
  std::string train_prompt(const SubjectData&) const override { return fill(caption_templates()[0]); }

  std::string eval_prompt(const std::string& prompt, const SubjectData& s) const override {
    std::string out = prompt;
    for (const std::string& needle : {s.unique_token + " " + s.class_noun, s.unique_token}) {
      size_t at = out.find(needle);
      if (at != std::string::npos) return out.replace(at, needle.size(), phrase());
    }
    return out;
  }

 private:
  std::string token_name(int64_t i) const { return i == 0 ? placeholder_ : placeholder_ + "_" + std::to_string(i); }
  std::string phrase() const {
    std::string p;
    for (int64_t i = 0; i < num_vectors_; ++i) p += (i ? " " : "") + token_name(i);
    return p;
  }
  std::string fill(const std::string& templ) const {
    std::string out = templ;
    return out.replace(out.find("{}"), 2, phrase());
  }

  std::string placeholder_, init_word_;
  int64_t num_vectors_;
  double lr_;
  std::shared_ptr<nn::AddedTokenRows> rows_;
};

}  // namespace

void register_textual_inversion(Registry<MethodEntry>& registry) {
  registry.add(EntryInfo{"textual_inversion", "Textual Inversion (arXiv 2208.01618): one new token embedding",
                         "name: textual_inversion\nplaceholder: <sks>\ninit_word: null\nnum_vectors: 1\nlr: null\n"},
               MethodEntry{[](const cfg::Node& s) { return std::make_unique<TextualInversion>(s); }});
}

}  // namespace pbench
