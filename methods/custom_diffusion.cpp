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
//   text_encoder.text_model.embeddings.token_embedding.custom_diffusion.new_tokens [tokens, d].
// Multi-concept (merge_deltas: the compose workload, `pbench merge-delta`): the paper's merge by
//   constrained optimization (methods/constrained_merge.hpp) of separately trained concepts,
//   composenW.py's procedure: concept k's token is renamed <newk>; its target phrases are
//   "<newk> class" and "a photo of <newk> class" ("painting in the style of <newk> class" for an
//   "art" class), rows from the token to EOT; every K/V weight is solved so that each concept's
//   rows map as under its own weights while the first 200 regularization captions (rows 1 to
//   EOT; MergeContext::captions, the merge's setting as composenW.py's --regularization_prompt)
//   move least. The merged delta holds every token (modifier_token: "<new1>+<new2>"). Chosen
//   here: the captions default to the mini world's (the reference reads the retrieved images'
//   captions, data/regularization_captions.txt: give such a file for SD v1.5); every
//   regularization caption's rows start at 1 (composenW.py also cuts "a photo of" off those, a
//   heuristic meant for its targets); a ridge of 1e-6 x tr/d (kMergeRidge; composenW.py has none).
#include "framework/train/method_options.hpp"
#include "framework/tensor/added_token_rows.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"
#include "methods/class_image_options.hpp"
#include "methods/constrained_merge.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"
#include "methods/text_covariance.hpp"

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
    v("modifier_token", modifier_token,
      "the new token V* that replaces the subject's unique token in prompts; a merged delta's several tokens are "
      "'+'-separated (<new1>+<new2>: prompts of this section name the first)");
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

// Ridge of the merge's C_regᵀ C_reg, relative to its mean eigenvalue (chosen; composenW.py: none):
// a text encoder's final LayerNorm leaves it nearly singular (methods/text_covariance.hpp).
constexpr double kMergeRidge = 1e-6;

std::string token_key() { return kTextPrefix + "text_model.embeddings.token_embedding.custom_diffusion.new_tokens"; }

// The base model's text encoder with `rows` [k, d] as the embeddings of `tokens`, for as long as
// it lives: a copy of the tokenizer learns the tokens, the rows attach to the shared embedding
// layer and detach again, so the base model is left as it was found.
class ConceptTokenScope {
 public:
  ConceptTokenScope(models::Pipeline& base, const std::vector<std::string>& tokens, const torch::Tensor& rows)
      : view_(base) {
    if (!base.text_encoder || !base.tokenizer) throw InputError(base.source + ": no text encoder and tokenizer to merge with");
    table_ = base.text_encoder->text_model->embeddings->token_embedding.get();
    view_.tokenizer = std::make_shared<ClipTokenizer>(*base.tokenizer);
    const int64_t first = table_->weight.size(0);
    for (size_t k = 0; k < tokens.size(); ++k)
      if (view_.tokenizer->add_token(tokens[k]) != first + int64_t(k))
        throw InputError(base.source + ": the base model's tokenizer and token table disagree (tokens added before?)");
    table_->attach(kTag, std::make_shared<nn::AddedTokenRows>(rows.to(table_->weight.options()), first));
  }
  ~ConceptTokenScope() { table_->detach(kTag); }
  ConceptTokenScope(const ConceptTokenScope&) = delete;
  ConceptTokenScope& operator=(const ConceptTokenScope&) = delete;

  // Rows `first` .. EOT (inclusive) of each caption's last hidden state, float64 on the CPU, stacked.
  torch::Tensor features(const std::vector<std::string>& captions, int64_t first) const {
    torch::NoGradGuard no_grad;
    const torch::Tensor ids = models::prompt_token_ids(view_, captions);
    const torch::Tensor hidden = models::encode_token_ids(view_, ids).to(torch::kCPU, torch::kFloat64);
    const torch::Tensor ids_cpu = ids.cpu();
    std::vector<torch::Tensor> rows;
    for (int64_t i = 0; i < ids_cpu.size(0); ++i) {
      const torch::Tensor row = ids_cpu[i].contiguous();
      const std::vector<int64_t> v(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
      const int64_t eot = ClipTokenizer::first_eot_position(v, view_.tokenizer->eos_id());
      if (eot < first) throw InputError("custom_diffusion merge: caption '" + captions[size_t(i)] + "' is cut before its phrase");
      rows.push_back(hidden[i].slice(0, first, eot + 1));
    }
    return torch::cat(rows);
  }
  // Tokens of `text` without SOT/EOT.
  int64_t token_count(const std::string& text) const { return int64_t(view_.tokenizer->tokenize_ids(text).size()); }

 private:
  static constexpr const char* kTag = "custom_diffusion_merge";
  models::Pipeline view_;
  nn::EmbeddingImpl* table_ = nullptr;
};

class CustomDiffusion : public ParameterizedMethod {
 public:
  CustomDiffusion(const CustomDiffusionOptions& o, const cfg::Node& section)
      : opt_(o), cfg_(section), tokens_(split_nonempty(o.modifier_token, '+')) {
    name_ = "custom_diffusion";
    if (tokens_.empty())
      throw InputError(cfg_.find("modifier_token")->origin().describe() + ": method.modifier_token: no token in '" +
                       opt_.modifier_token + "'");
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

  MergedDelta merge_deltas(const std::vector<TensorMap>& deltas, const MergeContext& context) const override {
    require_unit_weights(context.weights, "custom_diffusion", "constrained least squares, its paper's merge");
    if (opt_.freeze_model != "crossattn_kv")
      throw InputError(cfg_.find("freeze_model")->origin().describe() +
                       ": custom_diffusion merge: the constrained merge solves attn2 K/V only (freeze_model: "
                       "crossattn_kv); these deltas train every attn2 weight");
    if (!context.base_model || !context.class_noun)
      throw InputError("custom_diffusion merge: the constrained merge encodes each concept's phrases with the base "
                       "model: give run files (<id>.h5), which name the model and the subject, not bare deltas");
    models::Pipeline& base = context.base_model();
    // Concept k becomes <newk> (composenW.py's names), with its own trained row.
    MergedDelta out;
    std::vector<std::string> tokens;
    std::vector<torch::Tensor> rows;
    for (size_t k = 0; k < deltas.size(); ++k) {
      const auto row = deltas[k].find(token_key());
      if (row == deltas[k].end() || row->second.dim() != 2 || row->second.size(0) != 1)
        throw InputError("custom_diffusion merge: delta " + std::to_string(k + 1) + " holds " +
                         (row == deltas[k].end() ? std::string("no modifier token") : "several modifier tokens (a merged delta?)") +
                         ": merge the concepts' own deltas, one token each");
      tokens.push_back("<new" + std::to_string(k + 1) + ">");
      rows.push_back(row->second);
      out.concept_options.push_back({{"modifier_token", "\"" + tokens.back() + "\""}});
    }
    const ConceptTokenScope scope(base, tokens, torch::cat(rows));

    const torch::Tensor gram_inverse =
        regularization_gram_inverse(scope.features(merge_captions(context.captions), 1), kMergeRidge);
    std::vector<torch::Tensor> targets;  // per concept, its phrases' rows
    for (size_t k = 0; k < deltas.size(); ++k) {
      const std::string noun = context.class_noun(k);  // merge-delta loads the run's subject for it
      const std::string phrase = tokens[k] + " " + noun;
      const std::string prefix = noun == "art" ? "painting in the style of" : "a photo of";
      targets.push_back(torch::cat({scope.features({phrase}, 1),
                                    scope.features({prefix + " " + phrase}, 1 + scope.token_count(prefix))}));
    }
    const torch::Tensor all_targets = torch::cat(targets);
    const std::vector<int64_t> kept = distinct_rows(all_targets);
    const torch::Tensor keep = torch::tensor(kept, torch::kInt64);

    auto base_weights = base.unet->named_parameters();
    for (const auto& [key, first] : deltas.front()) {
      if (key == token_key()) continue;
      const torch::Tensor* w0 = starts_with(key, kUnetPrefix) ? base_weights.find(key.substr(kUnetPrefix.size())) : nullptr;
      if (!w0) throw InputError("custom_diffusion merge: delta 1's '" + key + "' is no weight of " + base.source);
      std::vector<torch::Tensor> values;  // concept k's rows under concept k's weight
      for (size_t k = 0; k < deltas.size(); ++k) {
        const auto w = deltas[k].find(key);
        if (w == deltas[k].end())
          throw InputError("custom_diffusion merge: delta " + std::to_string(k + 1) + " has no '" + key + "'");
        values.push_back(targets[k].matmul(w->second.to(torch::kCPU, torch::kFloat64).t()));
      }
      out.tensors[key] = constrained_merge(*w0, all_targets.index_select(0, keep), torch::cat(values).index_select(0, keep),
                                           gram_inverse)
                             .to(first.options());
    }
    for (size_t k = 0; k < deltas.size(); ++k)
      if (deltas[k].size() != out.tensors.size() + 1)
        throw InputError("custom_diffusion merge: delta " + std::to_string(k + 1) + " holds other layers than delta 1");
    out.tensors[token_key()] = torch::cat(rows);
    out.load_options = {{"modifier_token", "\"" + join(tokens, "+") + "\""}};
    return out;
  }

 private:
  void add_modifier_token(MethodTarget& target) {
    auto& text = text_encoder_or_throw(target.pipeline, cfg_, "modifier_token");
    auto* table_layer = dynamic_cast<nn::EmbeddingImpl*>(text.named_modules()["text_model.embeddings.token_embedding"].get());
    if (!table_layer) throw InputError(target.pipeline.source + ": text encoder has no text_model.embeddings.token_embedding");
    const torch::Tensor& table = table_layer->weight;
    const auto count = int64_t(tokens_.size());
    auto added = std::make_shared<nn::AddedTokenRows>(torch::zeros({count, table.size(1)}, table.options()), table.size(0),
                                                      "new_tokens");
    table_layer->attach("custom_diffusion", added);
    track(token_key(), added->rows, "token");
    auto& tokenizer = target.pipeline.tokenizer;
    if (!tokenizer) return;  // counting on a bare architecture: shapes only
    for (int64_t k = 0; k < count; ++k) {
      const int64_t id = tokenizer->add_token(tokens_[size_t(k)]);
      if (id != table.size(0) + k)
        throw InputError(cfg_.find("modifier_token")->origin().describe() + ": method.modifier_token: tokenizer gave '" +
                         tokens_[size_t(k)] + "' id " + std::to_string(id) + " but the text encoder's table has " +
                         std::to_string(table.size(0) + k) + " rows (they must grow together)");
    }
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
      added->rows.copy_(table[ids[0]].expand_as(added->rows));
    }
  }

  // composenW.py's regularization set: the first 200 captions.
  static std::vector<std::string> merge_captions(const std::string& source) {
    constexpr size_t kCount = 200;
    std::vector<std::string> captions =
        source == "mini_world" ? mini_world_captions(int64_t(kCount)) : caption_file(source, "merge captions");
    if (captions.size() > kCount) captions.resize(kCount);
    return captions;
  }

  std::string with_modifier(const std::string& prompt, const SubjectData& subject) const {
    if (subject.unique_token.empty()) return prompt;
    std::string out = prompt;
    for (size_t at = out.find(subject.unique_token); at != std::string::npos;
         at = out.find(subject.unique_token, at + tokens_.front().size()))
      out.replace(at, subject.unique_token.size(), tokens_.front());
    return out;
  }

  CustomDiffusionOptions opt_;
  cfg::Node cfg_;  // the section, for the file:line of keys
  std::vector<std::string> tokens_;  // modifier_token's tokens
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
