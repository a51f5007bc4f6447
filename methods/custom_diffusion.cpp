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
//   Learning rate (reference README): 1e-5 scaled by the effective batch (--scale_lr; 2 GPUs x
//   batch 2 -> 4e-5): lr x scale_lr_by when scale_lr is true.
//   Regularization: the paper uses 200 real LAION images retrieved by caption similarity:
//   class_data_dir points at such a folder; without one the engine generates num_class_images
//   (200) with the frozen model. Weight prior_loss_weight (1.0, the reference's).
//   Not yet: the reference's random-scale augmentation with its loss mask (issue 15, item 4).
// Trainable count: Σ over cross-attentions of 2 · 768 · C (+ biases: none in SD) + 768 per token.
//   SD v1.5: 1536 · ΣC = 1536 · 12,480 = 19,169,280, + 768 · modifier tokens.
// Delta keys: unet.<…>.attn2.to_k.weight, unet.<…>.attn2.to_v.weight,
//   text_encoder.text_model.embeddings.token_embedding.custom_diffusion.new_tokens.
#include "framework/train/method_options.hpp"
#include "framework/tensor/added_token_rows.hpp"
#include "framework/util/errors.hpp"
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
  double scale_lr_by = 4.0;
  double weight_decay = 1e-2;
  std::optional<std::string> class_prompt;
  int64_t num_class_images = 200;
  double prior_loss_weight = 1.0;
  std::optional<std::string> class_data_dir;

  template <class V>
  void fields(V& v) {
    v("freeze_model", freeze_model, "what trains: crossattn_kv = attn2 K/V (the paper), crossattn = all attn2 weights",
      cfg::one_of({"crossattn_kv", "crossattn"}));
    v("modifier_token", modifier_token, "the new token V* that replaces the subject's unique token in prompts");
    v("initializer_token", initializer_token,
      "a single CLIP token the new row starts from (a rare one); \"{class}\" = the subject's class noun");
    v("lr", lr, "base learning rate of K/V and the token row; null = train.lr", cfg::learning_rate());
    v("scale_lr", scale_lr, "multiply lr by scale_lr_by, as the reference recipe does");
    v("scale_lr_by", scale_lr_by, "the reference recipe's GPUs x batch (2 x 2)", cfg::greater_than(0));
    v("weight_decay", weight_decay, "AdamW weight decay", cfg::at_least(0));
    v("class_prompt", class_prompt, "prompt of the regularization images; null = the subject's (\"a dog\")");
    v("num_class_images", num_class_images,
      "regularization images (the paper: 200 retrieved real ones); train.num_class_images caps it", cfg::at_least(1));
    v("prior_loss_weight", prior_loss_weight, "weight of their loss (the reference's prior_loss_weight)",
      cfg::at_least(0));
    v("class_data_dir", class_data_dir,
      "a folder of real regularization images (e.g. retrieved LAION ones); null = the frozen model generates them");
  }
};

class CustomDiffusion : public ParameterizedMethod {
 public:
  CustomDiffusion(const CustomDiffusionOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {
    name_ = "custom_diffusion";
    targets_ = opt_.freeze_model == "crossattn_kv"
                   ? std::vector<std::string>{"attn2.to_k", "attn2.to_v"}
                   : std::vector<std::string>{"attn2.to_q", "attn2.to_k", "attn2.to_v", "attn2.to_out.0"};
    auto lr = opt_.lr;
    if (lr && opt_.scale_lr) *lr *= opt_.scale_lr_by;
    set_group_lr("unet", lr);
    set_group_lr("token", lr);  // the reference optimizes K/V and the embedding with one lr
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
  // The paper retrieves 200 real LAION images (clip-retrieval, which needs the network): give
  // them as class_data_dir; without it the frozen model generates them from the class prompt.
  std::optional<RegularizationSet> regularization_set(const SubjectData& subject) const override {
    return RegularizationSet{opt_.class_prompt.value_or(subject.class_prompt), opt_.num_class_images,
                             opt_.prior_loss_weight, opt_.class_data_dir.value_or("")};
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
