// Perfusion — Tewel, Gal, Chechik, Atzmon, "Key-Locked Rank One Editing for Text-to-Image
// Personalization", arXiv 2305.01644 (SIGGRAPH 2023). No official code: re-implemented from the
// paper and its two public re-implementations (ChenDarYen's, lucidrains'; wave2-methods.md §1),
// with the traps they hold avoided and every default chosen here marked so.
//
// Mechanism (methods/key_locked_edit.hpp): every cross-attention K and V projection gets a gated
// rank-one edit W_eff(e) = W (e - s(e) i*) + sigmoid((s(e) - β)/τ) o*, s(e) = eᵀC⁻¹i* / i*ᵀC⁻¹i*.
//   - Keys are locked: o*_K = W_K i_super, the K projection of the superclass word's encoding,
//     computed once and never trained (lucidrains' parameters() trains the keys and not the values
//     by an inverted condition: not so here).
//   - Trained: the value targets o*_V of every layer (lr 3e-2) and the concept token's embedding
//     (lr 6e-3), AdamW with torch's default weight decay 0.01 (ChenDarYen's config).
//   - i* is an EMA (0.99) of the concept token's encoding, started from the superclass word's
//     encoding at the same place; each step it takes the mean encoding of the token over the
//     training captions (ChenDarYen takes the batch's rows; lucidrains adds a straight-through term
//     that is left out here). i_super and i* are taken at the word's last BPE token (chosen:
//     ChenDarYen assumes one token per word).
//   - C is the uncentred covariance of the text encodings over a caption set
//     (methods/text_covariance.hpp), shared by all concepts, cached, never in a delta. The paper
//     used ~100k LAION captions; here the default is 2000 captions of the mini world (what
//     builtin:mini learnt from); give real captions with covariance_captions: <file> for SD v1.5.
//   - The gate trains at β 0.75 / τ 0.1 and samples at β 0.7 / τ 0.15 (the paper's).
//   - Loss: ε-MSE weighted by the subject's soft object mask, mean((m (pred - target))²), m each
//     image's mask over its maximum (lucidrains'). The paper used CLIPSeg masks; this build has no
//     segmenter: the mini world's renderer gives exact coverage masks, DreamBooth has none, so
//     `mask: auto` (chosen default) trains masked where the dataset has masks and unmasked
//     otherwise. No prior-preservation term (the paper's).
//   - Captions: the object templates "a photo of a {}" with the concept token alone (the paper's
//     form; ChenDarYen's 9 templates, here Textual Inversion's 27, methods/token_prompts.hpp).
//   - Budget: 400 steps, batch 16 (ChenDarYen: batch 4 x accumulation 4).
// Storage per concept: o*_V and o*_K (Σ C over the cross-attentions each), i* and the token
// embedding (d each): SD v1.5 2·12,480 + 2·768 = 26,496 floats = 105,984 bytes, the paper's
// "100KB" (o*_K is recomputable from the superclass word; it is stored, as the paper counts it).
// Trainable: o*_V + the embedding = 13,248 on SD v1.5.
// Delta keys, per concept token T (so several concepts' deltas merge by union):
//   perfusion.T.input [d], perfusion.T.embedding [d], unet.<layer>.perfusion.T.target [C].
// Multi-concept: a delta holding several concepts' keys loads them all (the method's own
// concept_token must be one of them); prompts then name each concept by its token and every edited
// layer applies the paper's multi-concept form (key_locked_edit.hpp).
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"
#include "methods/added_tokens.hpp"
#include "methods/key_locked_edit.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"
#include "methods/text_covariance.hpp"
#include "methods/token_prompts.hpp"

namespace pbench::peft {
namespace {

struct PerfusionOptions {
  std::string concept_token = "<perfusion>";
  std::optional<std::string> superclass;
  double embedding_lr = 6e-3;
  double value_lr = 3e-2;
  double weight_decay = 1e-2;
  double train_beta = 0.75, train_tau = 0.1, eval_beta = 0.7, eval_tau = 0.15;
  double input_ema = 0.99;
  std::vector<double> eval_beta_variants{0.6, 0.75};
  std::string mask = "auto";
  std::string captions = "templates";
  std::string covariance_captions = "mini_world";
  int64_t covariance_caption_count = 2000;

  template <class V>
  void fields(V& v) {
    v("concept_token", concept_token, "the new token that names the concept in prompts (its embedding trains)");
    v("superclass", superclass, "the word whose encoding locks the keys and starts i* and the embedding; null = the subject's class noun");
    v("embedding_lr", embedding_lr, "learning rate of the concept token's embedding (ChenDarYen: 6e-3)", cfg::learning_rate());
    v("value_lr", value_lr, "learning rate of the value targets o*_V (ChenDarYen: 3e-2, not scaled)", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay (torch's default 0.01, as the reference)", cfg::at_least(0));
    v("train_beta", train_beta, "the gate's bias while training (the paper: 0.75)");
    v("train_tau", train_tau, "the gate's temperature while training (the paper: 0.1)", cfg::greater_than(0));
    v("eval_beta", eval_beta, "the gate's bias when sampling (the paper: 0.7; 0.6-0.75 trades fidelity for alignment)");
    v("eval_tau", eval_tau, "the gate's temperature when sampling (the paper: 0.15)", cfg::greater_than(0));
    v("eval_beta_variants", eval_beta_variants,
      "extra sampling biases scored after the final point as evaluation variants beta_<b> (the paper's "
      "fidelity/alignment front from one model; its range 0.6-0.75)");
    v("input_ema", input_ema, "decay of the EMA that tracks i*, the concept token's encoding (0.99)", cfg::between(0, 1));
    v("mask", mask,
      "loss weighting by the subject's soft object masks: object (required), none, or auto = where the dataset has "
      "them (chosen; the paper used CLIPSeg masks)",
      cfg::one_of({"auto", "object", "none"}));
    v("captions", captions,
      "training captions: templates (\"a photo of a {}\", ..., the paper's form) or instance (the subject's own "
      "prompt with the concept token for its unique token and class: \"a <perfusion>\"; for a text encoder that never saw "
      "the templates' words: on the mini world it did not help, docs/methods.md)",
      cfg::one_of({"templates", "instance"}));
    v("covariance_captions", covariance_captions,
      "captions of the text covariance C: mini_world (chosen default) or a text file, one caption per line (the paper: "
      "~100k LAION captions)");
    v("covariance_caption_count", covariance_caption_count, "how many mini_world captions", cfg::at_least(1));
  }
};

class Perfusion : public Method {
 public:
  Perfusion(const PerfusionOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {
    inputs_ = std::make_shared<ConceptInputs>();
    inputs_->train_gate = {opt_.train_beta, opt_.train_tau};
    inputs_->eval_gate = {opt_.eval_beta, opt_.eval_tau};
  }

  void attach(MethodTarget& target) override {
    pipeline_ = &target.pipeline;
    freeze_pipeline(target.pipeline);
    const torch::Tensor& table = token_embedding_table(target.pipeline);
    const int64_t d = table.size(1);
    const bool meta = shapes_only(target.pipeline);
    inputs_->set_inverse_covariance(meta ? torch::empty({d, d}, table.options()) : inverse_covariance(target));
    superclass_ = opt_.superclass.value_or(target.subject ? target.subject->class_noun : "");
    // The caption set i* is taken over; the instance form needs the subject's prompt.
    captions_ = opt_.captions == "instance" && target.subject
                    ? std::vector<std::string>{replace_subject(target.subject->instance_prompt, *target.subject, "{}")}
                    : object_caption_templates();
    if (captions_.front().find("{}") == std::string::npos)
      throw InputError(cfg_.find("captions")->origin().describe() + ": method.captions: instance: the subject's prompt '" +
                       target.subject->instance_prompt + "' does not hold its unique token '" +
                       target.subject->unique_token + "'");
    mask_ = opt_.mask == "object" || (opt_.mask == "auto" && target.subject && !target.subject->object_coverage.empty());

    AddedTokens added = add_trainable_tokens(target.pipeline, {opt_.concept_token}, "perfusion", "method.concept_token");
    concepts_.push_back(Concept{opt_.concept_token, added.first_id, added.rows});
    // i_super: the superclass word's encoding; zeros (values come from a delta) without a word.
    torch::Tensor super_input = torch::zeros({d}, table.options());
    if (!meta && !superclass_.empty()) {
      init_rows_from_word(target.pipeline, *added.rows, superclass_);
      super_input = mean_encoding(superclass_, last_token_id(superclass_));
    }
    inputs_->set_inputs(super_input.unsqueeze(0));
    for (const nn::AdaptableRef& ref :
         select_or_throw(*target.pipeline.unet, {"attn2.to_k", "attn2.to_v"}, {"linear"}, cfg_, "concept_token")) {
      const torch::Tensor w = ref.weight();
      auto edit = std::make_shared<KeyLockedEdit>(inputs_, w);
      const bool is_value = layer_pattern_matches("attn2.to_v", ref.name);
      torch::Tensor o;
      {
        torch::NoGradGuard no_grad;
        o = meta ? torch::empty({w.size(0)}, w.options()) : torch::nn::functional::linear(super_input, w);
      }
      edit->add_target(o, /*trained=*/is_value);
      ref.layer->attach("perfusion", edit);
      layers_.push_back(Layer{ref.name, is_value, edit});
    }
  }

  std::vector<ParamGroup> parameter_groups(double) override {
    std::vector<torch::Tensor> values;
    for (const Layer& l : layers_)
      if (l.is_value) values.push_back(l.edit->targets()[0]);
    ParamGroup token{"token", {concepts_[0].rows->rows}, opt_.embedding_lr, opt_.weight_decay};
    ParamGroup value{"value_targets", values, opt_.value_lr, opt_.weight_decay};
    return {token, value};
  }

  // i* ← ema·i* + (1 − ema)·(the concept token's mean encoding over the training captions).
  void before_step(int64_t, torch::Generator&) override {
    if (superclass_.empty())
      throw InputError("method.superclass: Perfusion locks its keys to a superclass word; set it, or train on a subject "
                       "with a class noun");
    torch::NoGradGuard no_grad;
    const torch::Tensor now = mean_encoding(concepts_[0].token, concepts_[0].id);
    inputs_->set_input(0, inputs_->inputs()[0] * opt_.input_ema + now * (1.0 - opt_.input_ema));
  }

  std::vector<std::string> train_prompts(const SubjectData&) const override { return captions_with(captions_, opt_.concept_token); }
  std::string train_prompt(const SubjectData&) const override { return captions_with(captions_, opt_.concept_token).front(); }
  std::string eval_prompt(const std::string& prompt, const SubjectData& s) const override {
    return replace_subject(prompt, s, opt_.concept_token);
  }
  bool weights_loss_by_object_mask() const override { return mask_; }

  // One trained model sampled at several gate biases: the paper's fidelity/alignment trade-off.
  std::vector<std::string> eval_variants() const override {
    std::vector<std::string> names;
    for (double beta : opt_.eval_beta_variants) names.push_back(variant_name(beta));
    return names;
  }
  void select_eval_variant(const std::string& variant) override {
    double beta = opt_.eval_beta;
    if (!variant.empty()) {
      const auto names = eval_variants();
      const auto it = std::find(names.begin(), names.end(), variant);
      if (it == names.end())
        throw std::invalid_argument("perfusion: no evaluation variant '" + variant + "' (method.eval_beta_variants)");
      beta = opt_.eval_beta_variants[size_t(it - names.begin())];
    }
    inputs_->eval_gate.beta = beta;
  }

  TensorMap delta() override {
    TensorMap out;
    for (size_t k = 0; k < concepts_.size(); ++k) {
      const std::string& t = concepts_[k].token;
      out["perfusion." + t + ".input"] = inputs_->inputs()[int64_t(k)].detach().clone();
      out["perfusion." + t + ".embedding"] = concepts_[k].rows->rows[0].detach().clone();
      for (const Layer& l : layers_) out[target_key(l, t)] = l.edit->targets()[k].detach().clone();
    }
    return out;
  }

  // Every concept in `delta` (keys perfusion.<token>.*), checked in full before anything is
  // copied; the method's own concept_token must be one of them, the others are added as frozen
  // concepts (multi-concept inference).
  void load_delta(const TensorMap& delta) override {
    std::set<std::string> tokens;
    const std::string prefix = "perfusion.", suffix = ".input";
    for (const auto& [key, t] : delta)
      if (starts_with(key, prefix) && ends_with(key, suffix) && key.size() > prefix.size() + suffix.size())
        tokens.insert(key.substr(prefix.size(), key.size() - prefix.size() - suffix.size()));
    if (!tokens.count(opt_.concept_token)) {
      std::string found;
      for (const auto& t : tokens) found += (found.empty() ? "" : ", ") + t;
      throw InputError("perfusion delta: no concept '" + opt_.concept_token + "' (missing perfusion." +
                       opt_.concept_token + ".input); it holds: " + (found.empty() ? "none" : found) +
                       " (set method.concept_token to one of them)");
    }
    TensorMap expected;
    for (const std::string& t : tokens) {  // every concept has the trained one's shapes
      expected["perfusion." + t + ".input"] = inputs_->inputs()[0];
      expected["perfusion." + t + ".embedding"] = concepts_[0].rows->rows[0];
      for (const Layer& l : layers_) expected[target_key(l, t)] = l.edit->targets()[0];
    }
    check_delta(delta, expected, "perfusion");

    torch::NoGradGuard no_grad;
    for (const std::string& t : tokens)
      if (concept_index(t) < 0) add_frozen_concept(t);
    std::vector<torch::Tensor> inputs(concepts_.size());
    for (size_t k = 0; k < concepts_.size(); ++k) {
      const std::string& t = concepts_[k].token;
      const auto found = delta.find("perfusion." + t + ".input");
      if (found == delta.end()) {  // a concept loaded before and absent now keeps its values
        inputs[k] = inputs_->inputs()[int64_t(k)].clone();
        continue;
      }
      inputs[k] = found->second.to(inputs_->inputs().options());
      concepts_[k].rows->rows[0].copy_(delta.at("perfusion." + t + ".embedding"));
      for (const Layer& l : layers_) l.edit->targets()[k].copy_(delta.at(target_key(l, t)));
    }
    inputs_->set_inputs(torch::stack(inputs));
  }

  // The paper's multi-concept Perfusion: every concept's keys side by side (each concept has its
  // own token); loading the result applies them all at once.
  MergedDelta merge_deltas(const std::vector<TensorMap>& deltas, const MergeContext& context) const override {
    require_unit_weights(context.weights, "perfusion", "summing the concepts' gated edits");
    MergedDelta out;
    for (size_t k = 0; k < deltas.size(); ++k)
      for (const auto& [key, t] : deltas[k])
        if (!out.tensors.emplace(key, t).second)
          throw InputError("perfusion merge: delta " + std::to_string(k + 1) + " repeats '" + key +
                           "': two concepts with one concept_token (train each with its own, e.g. <dog1>, <cat1>)");
    return out;
  }

  std::string describe() const override {
    std::ostringstream out;
    out << "Perfusion: key-locked rank-1 edits of " << layers_.size() << " cross-attention K/V layers, concept "
        << opt_.concept_token << (superclass_.empty() ? "" : " (superclass " + superclass_ + ")");
    if (concepts_.size() > 1) out << " + " << concepts_.size() - 1 << " more concept(s)";
    out << (mask_ ? ", object-masked loss" : "");
    return out.str();
  }

 private:
  struct Concept {
    std::string token;
    int64_t id = 0;
    std::shared_ptr<nn::AddedTokenRows> rows;
  };
  struct Layer {
    std::string name;
    bool is_value = false;
    std::shared_ptr<KeyLockedEdit> edit;
  };

  // 0.75 -> "beta_0_75", -0.1 -> "beta_m0_1" (lower snake case: an HDF5 path part).
  static std::string variant_name(double beta) {
    std::ostringstream text;
    text << std::abs(beta);
    std::string digits = text.str();
    std::replace(digits.begin(), digits.end(), '.', '_');
    return std::string("beta_") + (beta < 0 ? "m" : "") + digits;
  }
  static std::string target_key(const Layer& l, const std::string& token) {
    return kUnetPrefix + l.name + ".perfusion." + token + ".target";
  }
  int64_t concept_index(const std::string& token) const {
    for (size_t k = 0; k < concepts_.size(); ++k)
      if (concepts_[k].token == token) return int64_t(k);
    return -1;
  }

  torch::Tensor inverse_covariance(MethodTarget& target) const {
    const std::vector<std::string> captions =
        opt_.covariance_captions == "mini_world"
            ? mini_world_captions(opt_.covariance_caption_count)
            : caption_file(opt_.covariance_captions, cfg_.find("covariance_captions")->origin().describe() +
                                                         ": method.covariance_captions");
    return inverse_text_covariance(target.pipeline, captions, target.cache_dir);
  }

  int64_t last_token_id(const std::string& word) const {
    const std::vector<int64_t> ids = pipeline_->tokenizer->tokenize_ids(word);
    if (ids.empty()) throw InputError("method.superclass: '" + word + "' has no tokens");
    return ids.back();
  }

  // The mean over the training templates filled with `word` of the encoding at token `id`.
  torch::Tensor mean_encoding(const std::string& word, int64_t id) const {
    torch::NoGradGuard no_grad;
    const std::vector<std::string> captions = captions_with(captions_, word);
    const torch::Tensor ids = models::prompt_token_ids(*pipeline_, captions);
    const torch::Tensor context = models::encode_token_ids(*pipeline_, ids);
    const torch::Tensor at = (ids == id).to(context.scalar_type()).unsqueeze(-1);  // every place the token is
    return (context * at).sum(at::IntArrayRef{0, 1}) / at.sum().clamp_min(1.0);
  }

  // A concept from a delta, beside the trained one: its token and rows added, a locked target per layer.
  void add_frozen_concept(const std::string& token) {
    const std::string tag = "perfusion_" + std::to_string(concepts_.size());
    AddedTokens added = add_trainable_tokens(*pipeline_, {token}, tag, "perfusion delta");
    added.rows->rows.set_requires_grad(false);
    concepts_.push_back(Concept{token, added.first_id, added.rows});
    for (const Layer& l : layers_) l.edit->add_target(torch::zeros_like(l.edit->targets()[0]), /*trained=*/false);
    // Its input comes with the others' at the end of load_delta.
  }

  PerfusionOptions opt_;
  cfg::Node cfg_;
  models::Pipeline* pipeline_ = nullptr;
  std::shared_ptr<ConceptInputs> inputs_;
  std::vector<Concept> concepts_;  // [0] = the trained one
  std::vector<Layer> layers_;
  std::string superclass_;
  std::vector<std::string> captions_ = object_caption_templates();  // with "{}" for the concept
  bool mask_ = false;
};

}  // namespace

void register_perfusion(Registry<MethodEntry>& registry) {
  register_method<Perfusion, PerfusionOptions>(
      registry, "perfusion",
      "Perfusion (arXiv 2305.01644; re-implemented, no official code): gated rank-1 edits of every cross-attention "
      "K/V, keys locked to the superclass, value targets and the concept embedding trained",
      MethodBudget{400, 16, std::nullopt, std::nullopt,
                   "ChenDarYen configs/perfusion_teddy.yaml: 400 steps, batch 4 x grad-accum 4 (here one batch of 16)"});
}

}  // namespace pbench::peft
