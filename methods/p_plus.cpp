// P+ / Extended Textual Inversion (XTI) — Voynov et al., "P+: Extended Textual Conditioning in
// Text-to-Image Generation", arXiv 2303.09522.
//
// Textual Inversion with one token embedding per UNet cross-attention layer: the prompt holds one
// placeholder; for cross-attention layer l it stands for its own learned row V_l, the prompt with
// V_l passes through the frozen text encoder, and that encoding conditions layer l only. The
// pipeline's context encoder (Pipeline::context_encoder) returns the L encodings as one
// [L, B, T, D] context; the UNet hands layer l its slice (UNet2DCondition::cross_attention_layers(),
// forward order: down, mid, up). Prompts without the placeholder encode once and are shared by
// every layer.
// Tokens: `<sks>` (layer 0) and `<sks>_l1` … `<sks>_l{L-1}`, consecutive ids; only `<sks>` is
// written in prompts. Init: every row from the init word (default: the subject's class noun), as TI.
// Training captions and evaluation prompts: as Textual Inversion (object templates; "sks dog" ->
// placeholder).
// Count: L × hidden = 16 × 768 = 12,288 on SD v1.5.
// Delta: {placeholder: [L, hidden]}, row l for cross-attention layer l.
// Paper defaults: ~500 steps at a TI-like learning rate (5e-3), i.e. 10× fewer than TI.
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/added_tokens.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"
#include "methods/token_prompts.hpp"

namespace pbench {
namespace {

struct PPlusOptions {
  std::string placeholder = "<sks>";
  std::optional<std::string> init_word;
  std::optional<double> lr = 5e-3;

  template <class V>
  void fields(V& v) {
    v("placeholder", placeholder, "the one token written in prompts (one embedding per cross-attention layer)");
    v("init_word", init_word, "word every layer's row starts from; null = the subject's class noun");
    v("lr", lr, "learning rate (the paper: TI-like); null = train.lr", cfg::learning_rate());
  }
};

// [L, B, T, D]: the prompts encoded once per cross-attention layer with the
// placeholder id replaced by that layer's own token.
torch::Tensor per_layer_context(models::ClipTextModel text, int64_t first_id, int64_t layers, const torch::Tensor& ids) {
  torch::Tensor holds = ids.eq(first_id);
  if (!holds.any().item<bool>()) {
    torch::Tensor shared = text->forward(ids).last_hidden_state;
    return shared.unsqueeze(0).expand({layers, shared.size(0), shared.size(1), shared.size(2)});
  }
  std::vector<torch::Tensor> variants;
  for (int64_t l = 0; l < layers; ++l) variants.push_back(torch::where(holds, ids + l, ids));
  torch::Tensor encoded = text->forward(torch::cat(variants)).last_hidden_state;
  return encoded.view({layers, ids.size(0), encoded.size(1), encoded.size(2)});
}

class PPlus : public peft::ParameterizedMethod {
 public:
  PPlus(const PPlusOptions& o, const cfg::Node&) : placeholder_(o.placeholder), init_word_(o.init_word.value_or("")) {
    name_ = "p_plus";
    set_group_lr("token", o.lr);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    models::Pipeline& p = target.pipeline;
    layers_ = p.unet->num_cross_attention_layers();
    if (layers_ < 1) throw InputError(p.source + ": p_plus needs a UNet with cross-attention layers");
    std::vector<std::string> names{placeholder_};
    for (int64_t l = 1; l < layers_; ++l) names.push_back(placeholder_ + "_l" + std::to_string(l));
    AddedTokens added = add_trainable_tokens(p, names, "p_plus", "method.placeholder");
    rows_ = added.rows;
    init_rows_from_word(p, *rows_, init_word_or_class(init_word_, target));
    track(placeholder_, rows_->rows, "token");
    p.context_encoder = [text = p.text_encoder, first = added.first_id, layers = layers_](const torch::Tensor& ids) {
      return per_layer_context(text, first, layers, ids);
    };
  }

  std::string describe() const override {
    return "P+: " + std::to_string(layers_) + " token embeddings for " + placeholder_ + ", one per cross-attention layer";
  }

  std::vector<std::string> train_prompts(const SubjectData&) const override { return captions_with(placeholder_); }
  std::string train_prompt(const SubjectData&) const override { return captions_with(placeholder_).front(); }
  std::string eval_prompt(const std::string& prompt, const SubjectData& s) const override {
    return replace_subject(prompt, s, placeholder_);
  }

 private:
  std::string placeholder_, init_word_;  // init_word_ "" = the class noun
  int64_t layers_ = 0;
  std::shared_ptr<nn::AddedTokenRows> rows_;
};

}  // namespace

void register_p_plus(Registry<MethodEntry>& registry) {
  register_method<PPlus, PPlusOptions>(
      registry, "p_plus", "P+ / XTI (arXiv 2303.09522): one token embedding per UNet cross-attention layer",
      MethodBudget{500, 1, std::nullopt, std::nullopt, "paper (unverified): ~500 steps; batch 1 chosen (no official code)"});
}

}  // namespace pbench
