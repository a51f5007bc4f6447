// Custom Diffusion — Kumari et al., "Multi-Concept Customization of Text-to-Image Diffusion",
// arXiv 2212.04488.
//   Trains the cross-attention key and value projections (attn2.to_k, attn2.to_v: 768 -> C) in full
//   (`freeze_model: crossattn` trains every attn2 parameter instead) and the embedding of a new
//   modifier token V* added to the tokenizer and to the text encoder's token embedding,
//   initialised from `initializer_token`: a rarely occurring token as the paper says (default
//   "pll", one of the diffusers script's "ktn+pll+ucd"; "ktn" itself is two tokens in the CLIP
//   vocabulary, and the reference refuses multi-token initializers), or "{class}" = the subject's
//   class noun. Prompts say "a V* dog" where the dataset says "a sks dog".
//   The token rows are added-token rows on the token embedding (framework/tensor/added_token_rows.hpp,
//   shared with Textual Inversion), so the base table stays frozen and only the new rows train.
//   Learning rate (reference scripts): 1e-5 per image, multiplied by the effective batch
//   (--scale_lr: GPUs x batch x accumulation; the README's 2 GPUs x batch 2 -> 4e-5). Here
//   scale_lr multiplies by train.batch_size x train.grad_accum, so the budget's batch 2 trains
//   at 2e-5 (one device).
//   Augmentation (augment, the reference's default; its --noaug turns it off): each drawn image
//   is rescaled at random, the loss masked to the cells it covers and the prompt prefixed
//   ("a far away ", "zoomed in ", ...): framework/train/random_scale.hpp for the distribution,
//   trainer.cpp for the masked loss and its reference arithmetic.
//   Regularization: the paper uses 200 real LAION images retrieved by caption similarity:
//   class_data_dir points at such a folder; without one the engine generates num_class_images
//   (200) with the frozen model. Weight prior_loss_weight (1.0, the reference's); the class
//   images are neither augmented nor masked (the reference's class_mask is all ones).
// Trainable count: Σ over cross-attentions of 2 · 768 · C (+ biases: none in SD) + 768 per token.
//   SD v1.5: 1536 · ΣC = 1536 · 12,480 = 19,169,280, + 768 · modifier tokens.
// Delta keys: unet.<…>.attn2.to_k.weight, unet.<…>.attn2.to_v.weight,
//   text_encoder.text_model.embeddings.token_embedding.custom_diffusion.new_tokens.
#include "framework/train/method_options.hpp"
#include "framework/tensor/added_token_rows.hpp"
#include "framework/util/errors.hpp"
#include "methods/class_image_options.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

struct CustomDiffusionOptions {
  std::string freeze_model = "crossattn_kv";
  std::string modifier_token = "<new1>";
  std::string initializer_token = "pll";
  std::optional<double> lr = 1e-5;
  bool scale_lr = true;
  double weight_decay = 1e-2;
  bool augment = true;
  ClassImageOptions class_images{200, "the paper: 200 retrieved real ones"};

  template <class V>
  void fields(V& v) {
    v("freeze_model", freeze_model, "what trains: crossattn_kv = attn2 K/V (the paper), crossattn = all attn2 weights",
      cfg::one_of({"crossattn_kv", "crossattn"}));
    v("modifier_token", modifier_token, "the new token V* that replaces the subject's unique token in prompts");
    v("initializer_token", initializer_token,
      "a single CLIP token the new row starts from (a rare one); \"{class}\" = the subject's class noun");
    v("lr", lr, "base learning rate of K/V and the token row (per image when scale_lr); null = train.lr",
      cfg::learning_rate());
    v("scale_lr", scale_lr,
      "multiply lr by the effective batch (train.batch_size x train.grad_accum), as the reference's --scale_lr");
    v("weight_decay", weight_decay, "AdamW weight decay", cfg::at_least(0));
    v("augment", augment,
      "the reference's random-scale augmentation: zoom in/out, loss masked to the image, \"a far away \"/\"zoomed in \" "
      "prompts (its --noaug = false)");
    class_images.fields(v);
  }
};

class CustomDiffusion : public ParameterizedMethod {
 public:
  CustomDiffusion(const CustomDiffusionOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {
    name_ = "custom_diffusion";
    targets_ = opt_.freeze_model == "crossattn_kv"
                   ? std::vector<std::string>{"attn2.to_k", "attn2.to_v"}
                   : std::vector<std::string>{"attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0"};
    set_group_lr("unet", opt_.lr);
    set_group_lr("token", opt_.lr);  // the reference optimizes K/V and the embedding with one lr
    set_lr_per_image(opt_.scale_lr);
    set_weight_decay(opt_.weight_decay);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    for (const auto& ref : select_or_throw(*target.pipeline.unet, targets_, {"linear"}, cfg_, "freeze_model"))
      for (const auto& item : ref.module->named_parameters(/*recurse=*/false))
        track(kUnetPrefix + ref.name + "." + item.key(), item.value(), "unet");
    add_modifier_token(target);
  }

  std::string train_prompt(const SubjectData& subject) const override { return with_modifier(subject.instance_prompt, subject); }
  std::string eval_prompt(const std::string& prompt, const SubjectData& subject) const override {
    return with_modifier(prompt, subject);
  }
  InstanceAugmentation instance_augmentation() const override {
    return opt_.augment ? InstanceAugmentation::random_scale : InstanceAugmentation::none;
  }
  // The paper retrieves 200 real LAION images (clip-retrieval, which needs the network): give
  // them as class_data_dir; without it the frozen model generates them from the class prompt.
  std::optional<RegularizationSet> regularization_set(const SubjectData& subject) const override {
    return opt_.class_images.for_subject(subject);
  }

  std::string describe() const override {
    return "Custom Diffusion: " + std::to_string(tracked_elements("unet")) + " cross-attention parameters + token " + opt_.modifier_token;
  }

 private:
  void add_modifier_token(MethodTarget& target) {
    auto& text = text_encoder_or_throw(target.pipeline, cfg_, "modifier_token");
    auto* table_layer = dynamic_cast<nn::EmbeddingImpl*>(text.named_modules()["text_model.embeddings.token_embedding"].get());
    if (!table_layer) throw InputError(target.pipeline.source + ": text encoder has no text_model.embeddings.token_embedding");
    const torch::Tensor& table = table_layer->weight;
    auto added = std::make_shared<nn::AddedTokenRows>(torch::zeros({1, table.size(1)}, table.options()), table.size(0),
                                                      "new_tokens");
    table_layer->attach("custom_diffusion", added);
    track(kTextPrefix + "text_model.embeddings.token_embedding.custom_diffusion.new_tokens", added->rows, "token");
    auto& tokenizer = target.pipeline.tokenizer;
    if (!tokenizer) return;  // counting on a bare architecture: shapes only
    int64_t id = tokenizer->add_token(opt_.modifier_token);
    if (id != table.size(0))
      throw InputError(cfg_.find("modifier_token")->origin().describe() + ": method.modifier_token: tokenizer gave id " +
                       std::to_string(id) + " but the text encoder's table has " + std::to_string(table.size(0)) +
                       " rows (they must grow together)");
    std::string word = opt_.initializer_token;
    const bool shapes_only = table.device().type() == torch::kMeta;
    if (word == "{class}") {
      if (!target.subject && shapes_only) return;  // counting: no subject, no values to copy
      if (!target.subject)
        throw InputError(cfg_.find("initializer_token")->origin().describe() +
                         ": method.initializer_token: '{class}' needs a subject with a class noun");
      word = target.subject->class_noun;
    }
    std::vector<int64_t> ids = tokenizer->tokenize_ids(word);
    if (ids.size() != 1)
      throw InputError(cfg_.find("initializer_token")->origin().describe() + ": method.initializer_token: '" + word +
                       "' is " + std::to_string(ids.size()) + " tokens; expected a single token");
    if (!shapes_only) {
      torch::NoGradGuard no_grad;
      added->rows[0].copy_(table[ids[0]]);
    }
  }

  std::string with_modifier(const std::string& prompt, const SubjectData& subject) const {
    if (subject.unique_token.empty()) return prompt;
    std::string out = prompt;
    for (size_t at = out.find(subject.unique_token); at != std::string::npos;
         at = out.find(subject.unique_token, at + opt_.modifier_token.size()))
      out.replace(at, subject.unique_token.size(), opt_.modifier_token);
    return out;
  }

  CustomDiffusionOptions opt_;
  cfg::Node cfg_;  // the section, for the file:line of keys
  std::vector<std::string> targets_;
};

}  // namespace

void register_custom_diffusion(Registry<MethodEntry>& registry) {
  register_method<CustomDiffusion, CustomDiffusionOptions>(
      registry, "custom_diffusion",
      "Custom Diffusion (arXiv 2212.04488): cross-attention K/V + a new modifier token, with class images",
      MethodBudget{500, 2, 180, 0.15, "DVAR v3 baseline: 500 steps, batch 2 (custom-diffusion README: 250 on 2 GPUs, 500 on 1); DVAR README: window 180, threshold 0.15"});
}

}  // namespace pbench::peft
