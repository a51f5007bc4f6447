// C-LoRA — Smith et al., "Continual Diffusion: Continual Customization of Text-to-Image Diffusion
// with C-LoRA", arXiv 2304.06027 (TMLR 2024). No official code exists (project page only): this is
// implemented from the paper, and every default the paper does not give is marked "chosen".
//
// Task t trains a LoRA ΔW_t = (alpha / r) · up_t · down_t on the key and value projections of every
// cross-attention layer (attn2.to_k, attn2.to_v) over the frozen updates of the earlier tasks:
//     W_t = W_0 + Σ_{t'<t} ΔW_t' + ΔW_t                                   (the paper's Eq. 2)
// and adds the self-regularization, which pushes the new update to zero where the past ones are large:
//     L_forget = Σ_{K,V matrices} ‖ |Σ_{t'<t} ΔW_t'| ⊙ ΔW_t ‖²_F,   loss = ε-MSE + λ · L_forget   (Eq. 1, 3)
// (chosen: summed over the adapted matrices; the paper writes one W^{K,V}). Without an earlier task
// the penalty is zero and C-LoRA is LoRA on K/V plus a token.
// The concept's word: a new token (`placeholder`) whose embedding starts "completely random" (the
// paper; chosen: N(0, σ²) with σ the std of the frozen table, so the row has the scale of real
// rows) and trains with the LoRA; prompts drop the class word: training on "a photo of <c_lora>",
// evaluation prompts rewritten ("a sks dog on the beach" -> "a <c_lora> on the beach").
// Earlier tasks: `past` lists their C-LoRA delta files, oldest first. Each one's factors join the
// frozen sum Σ ΔW_t' (read with this run's rank and alpha: one C-LoRA config per sequence), and each
// one's token joins the tokenizer with its learned row, frozen, so earlier concepts stay promptable.
// Count per task on SD v1.5: r · Σ_{16 attn2} 2 · (768 + C) = 49,536 · r (r = 16: 792,576) + 768 for the
// token; the past sums are frozen and not counted.
// Delta keys: unet.<layer>.c_lora.down [r, 768] / .up [C, r] (LoRA's layout) and <placeholder> [1, hidden].
#include <cmath>

#include "framework/tensor/safetensors_torch.hpp"
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/added_tokens.hpp"
#include "methods/factorizations.hpp"
#include "methods/layer_adapter_method.hpp"
#include "methods/low_rank_parameterization.hpp"
#include "methods/methods.hpp"
#include "methods/token_prompts.hpp"

namespace pbench::peft {
namespace {

// "<c_lora>" -> "<c_lora_2>", "zwx" -> "zwx_2": a token per task that keeps the user's spelling.
std::string numbered_token(const std::string& token, int64_t number) {
  const std::string suffix = "_" + std::to_string(number);
  if (token.size() > 1 && token.back() == '>') return token.substr(0, token.size() - 1) + suffix + ">";
  return token + suffix;
}

struct CLoraOptions {
  int64_t rank = 16;
  double alpha = 16.0;
  std::vector<std::string> targets{"attn2.to_k", "attn2.to_v"};
  double self_regularization = 1.0;
  std::string placeholder = "<c_lora>";
  std::vector<std::string> past;
  std::optional<double> lr = 1e-4;
  std::optional<double> token_lr = 5e-3;
  double weight_decay = 1e-2;

  template <class V>
  void fields(V& v) {
    v("rank", rank, "rank r of each task's update (chosen: the top of the r 4-16 LoRA range)", layer_width());
    v("alpha", alpha, "scale alpha/r (chosen: alpha = r, scale 1, diffusers' LoRA default)");
    v("targets", targets, "layers adapted: the cross-attention keys and values (the paper)");
    v("self_regularization", self_regularization,
      "lambda of L_forget (chosen: not public; summed over SD v1.5's 19 M K/V entries, an update as large as "
      "the past ones gives L_forget ~ 0.05, half the denoising loss)",
      cfg::at_least(0));
    v("placeholder", placeholder, "the concept's new token, randomly initialised (a new name per task)");
    v("past", past, "C-LoRA delta files of the earlier tasks, oldest first (empty: the first task)");
    v("lr", lr, "learning rate of the LoRA factors (chosen: diffusers' LoRA 1e-4); null = train.lr",
      cfg::learning_rate());
    v("token_lr", token_lr, "learning rate of the token row (chosen: Textual Inversion's 5e-3); null = train.lr",
      cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay (diffusers' default)", cfg::at_least(0));
  }
};

// LoRA on a linear layer with the earlier tasks' frozen updates added: y = W0 x + P x + ΔW_t x.
class ContinualLowRank : public LowRankParameterization {
 public:
  ContinualLowRank(const torch::Tensor& weight, int64_t rank, double alpha, torch::Generator& gen)
      : LowRankParameterization(weight, /*linear=*/true, rank, alpha, gen) {}
  torch::Tensor output(const torch::Tensor& input, const torch::Tensor& out) override {
    torch::Tensor y = LowRankParameterization::output(input, out);
    return past.defined() ? y + torch::linear(input, past) : y;
  }
  // Adds an earlier task's factors (this task's rank and alpha) to the frozen sum; the sum is
  // made at the first earlier task, so a first task carries no [out, in] matrix per layer.
  void add_past(const torch::Tensor& past_up, const torch::Tensor& past_down) {
    torch::NoGradGuard no_grad;
    const torch::Tensor delta = (low_rank_product(past_up, past_down) * scale()).to(down.options());
    if (past.defined())
      past.add_(delta);
    else
      past = register_buffer("past", delta);
  }
  // ‖ |P| ⊙ ΔW_t ‖²_F of this layer; undefined without a past task.
  torch::Tensor forget_loss() const {
    if (!past.defined()) return {};
    return (past.abs() * update()).pow(2).sum();
  }
  torch::Tensor past;  // Σ_{t'<t} ΔW_t' [out, in], a buffer: frozen, not in the delta; undefined for task 1
};

class CLora : public LayerAdapterMethod<CLoraOptions> {
 public:
  CLora(const CLoraOptions& o, const cfg::Node& section) : LayerAdapterMethod("c_lora", o, section) {
    set_group_lr("token", opt_.token_lr);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    adapt(target, Component::unet, opt_.targets, "targets", {"linear"}, "c_lora",
          [this, &target](const nn::AdaptableRef& r) {
            auto p = std::make_shared<ContinualLowRank>(r.weight(), opt_.rank, opt_.alpha, target.generator);
            layers_.emplace_back(kUnetPrefix + r.name + ".c_lora", p);
            return p;
          });
    for (const std::string& file : opt_.past) add_past_task(target.pipeline, file);
    token_ = add_trainable_tokens(target.pipeline, {opt_.placeholder}, "c_lora", "method.placeholder").rows;
    init_random_row(target);
    track(opt_.placeholder, token_->rows, "token");
  }

  torch::Tensor extra_loss() override {
    torch::Tensor total;
    for (const auto& [key, p] : layers_) {
      torch::Tensor l = p->forget_loss();
      if (l.defined()) total = total.defined() ? total + l : l;
    }
    return total.defined() ? total * opt_.self_regularization : total;
  }

  // "A photo of V*": the concept's token alone, no class word (the paper's customization prompt).
  std::string train_prompt(const SubjectData&) const override { return "a photo of " + opt_.placeholder; }
  std::string eval_prompt(const std::string& prompt, const SubjectData& s) const override {
    return replace_subject(prompt, s, opt_.placeholder);  // the class word dropped, as the paper's prompts
  }

  // The continual workload's sequence: task t gets its own token (the placeholder numbered,
  // "<c_lora>" -> "<c_lora_2>") and the earlier tasks' deltas as its frozen past.
  ContinualTask continual_task(int64_t task, const std::vector<std::string>& earlier_deltas) const override {
    cfg::Node past = cfg::Node::list();
    for (const std::string& file : opt_.past) past.push_back(cfg::Node::string(file));
    for (const std::string& file : earlier_deltas) past.push_back(cfg::Node::string(file));
    return {{{"placeholder", cfg::Node::string(numbered_token(opt_.placeholder, task + 1))}, {"past", past}},
            /*load_previous_delta=*/false};
  }

  std::string describe() const override {
    return on_layers("C-LoRA r=" + std::to_string(opt_.rank) + " task " + std::to_string(past_tasks_ + 1)) +
           " + token " + opt_.placeholder;
  }

 private:
  // One earlier task: its factors into each layer's frozen sum, its token(s) frozen in the tokenizer.
  void add_past_task(models::Pipeline& pipeline, const std::string& file) {
    const std::string where = cfg_.find("past")->origin().describe() + ": method.past: " + file;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec))
      throw InputError(where + ": no such delta file (a c_lora run writes results/<sweep>/runs/<id>.delta.safetensors)");
    const int64_t task = past_tasks_++;
    // Counting on another architecture (a run's /params/sd15: shapes only): the past sums are
    // frozen and not counted, and the file's shapes are the run model's, not these.
    if (shapes_only(pipeline)) return;
    const TensorMap delta = load_safetensors(file);
    for (const auto& [key, p] : layers_) {
      auto down = delta.find(key + ".down"), up = delta.find(key + ".up");
      if (down == delta.end() || up == delta.end())
        throw InputError(where + ": no " + key + ".down/.up; expected a c_lora delta of the same targets");
      if (!down->second.sizes().equals(p->down.sizes()) || !up->second.sizes().equals(p->up.sizes()))
        throw InputError(where + ": " + key + " has another shape; every task of a sequence uses one rank");
      p->add_past(up->second.to(torch::kFloat), down->second.to(torch::kFloat));
    }
    std::vector<std::string> names;
    std::vector<torch::Tensor> rows;
    for (const auto& [key, t] : delta) {
      if (key.rfind(kUnetPrefix, 0) == 0) continue;
      if (key == opt_.placeholder)
        throw InputError(where + ": its token is " + key + ", this task's method.placeholder; give each task its own");
      names.push_back(key);
      rows.push_back(t.reshape({1, -1}));
    }
    if (!names.empty()) {
      auto past = add_trainable_tokens(pipeline, names, "c_lora_past_" + std::to_string(task), "method.past").rows;
      torch::NoGradGuard no_grad;
      past->rows.copy_(torch::cat(rows).to(past->rows.options()));
      past->rows.set_requires_grad(false);
    }
  }

  void init_random_row(MethodTarget& target) {
    if (shapes_only(target.pipeline)) return;
    torch::NoGradGuard no_grad;
    token_->rows.copy_(random_table_rows(target.pipeline, token_->rows.sizes(), target.generator));
  }

  std::vector<std::pair<std::string, std::shared_ptr<ContinualLowRank>>> layers_;
  std::shared_ptr<nn::AddedTokenRows> token_;
  int64_t past_tasks_ = 0;
};

}  // namespace

void register_c_lora(Registry<MethodEntry>& registry) {
  register_method<CLora, CLoraOptions>(
      registry, "c_lora",
      "C-LoRA (arXiv 2304.06027): continual LoRA on cross-attention K/V, self-regularized against earlier tasks",
      MethodBudget{500, 1, std::nullopt, std::nullopt, "chosen: LoRA's per task (no official code; the paper's budget is not public)"});
}

}  // namespace pbench::peft
