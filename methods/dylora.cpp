// DyLoRA — Valipour et al., "DyLoRA: Parameter-Efficient Tuning of Pre-trained Models using
// Dynamic Search-Free Low-Rank Adaptation", arXiv 2210.07558.
//   LoRA with ordered components: each training step samples b ~ U{1..r} (before_step, from the
//   engine's generator) and uses only the first b rows of A and columns of B:
//     y = W x + (alpha / b) · B[:, :b] A[:b, :] x
//   so every prefix of the components is a working adapter and one run can be evaluated at
//   several ranks. Outside training steps the adapter runs at `eval_rank` (null = r): evaluate
//   one saved delta at ranks 1, 2, 4, … by attaching with different eval_rank and load_delta().
// The update (the paper's Algorithm 1; LyCORIS dylora.py, kohya-ss networks/dylora.py): a step at
//   rank b trains only component b, row b of A and column b of B; components 1..b-1 run detached
//   and b+1..r not at all. Each component is its own tensor (DyloraParameterization), so that in
//   that step AdamW moves component b alone — no weight decay or momentum on the others (the
//   engine clears gradients to undefined, clear_gradients) — where rows of one shared tensor
//   would all be decayed and pushed along their running averages. The delta keeps LoRA's layout.
// Several ranks from one run: `eval_ranks` (null = 1, 2, 4, … < r, then r; [] = none) are the
//   method's evaluation variants "rank_<b>" (Method::eval_variants). The personalize workload
//   trains once, then scores each as the point final_rank_<b> (samples, metrics and DVAR's
//   deterministic objective at rank b, all from the one trained delta) and returns to eval_rank.
// Trainable count: as LoRA at r_max: Σ r·(in + out); SD v1.5 attention q,k,v,out: 199,296 · r.
// Trained tensors: unet.<layer>.dylora.down_<i> [1, in] and .up_<i> [out, 1], i < r.
// Delta keys: unet.<layer>.dylora.down [r, in] / .dylora.up [out, r] (all r components, row / column
//   i = component i + 1; truncate to evaluate).
#include <algorithm>

#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/low_rank_parameterization.hpp"
#include "methods/layer_adapter_method.hpp"
#include "methods/methods.hpp"

namespace pbench::peft {
namespace {

struct DyloraOptions {
  int64_t rank = 16;
  double alpha = 16.0;
  std::vector<std::string> targets{"to_q", "to_k", "to_v", "to_out.0"};
  std::optional<int64_t> eval_rank;
  std::optional<std::vector<int64_t>> eval_ranks;
  std::optional<double> lr = 1e-4;
  double weight_decay = 1e-2;

  template <class V>
  void fields(V& v) {
    v("rank", rank, "r_max; every prefix 1..r is trained", layer_width());
    v("alpha", alpha, "scale alpha/b for the rank b sampled each step");
    v("targets", targets, "UNet layers adapted (name patterns; linear and conv)");
    v("eval_rank", eval_rank, "rank used outside training steps (sampling, metrics); null = rank", layer_width());
    v("eval_ranks", eval_ranks,
      "ranks the run is also scored at after training (final_rank_<b>); null = 1, 2, 4, ... < rank, and rank",
      cfg::at_least(1));
    v("lr", lr, "learning rate; null = train.lr", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay", cfg::at_least(0));
  }

  // Both evaluation ranks are prefixes of the r_max trained components.
  void check(const cfg::Node& section) const {
    if (eval_rank && *eval_rank > rank)
      throw InputError(section.find("eval_rank")->origin().describe() + ": method.eval_rank: expected 1.." +
                       std::to_string(rank) + ", got " + std::to_string(*eval_rank));
    for (int64_t b : eval_ranks.value_or(std::vector<int64_t>{}))
      if (b > rank)
        throw InputError(section.find("eval_ranks")->origin().describe() + ": method.eval_ranks: expected integers in 1.." +
                         std::to_string(rank) + " (method.rank), got " + std::to_string(b));
  }
};

// `eval_ranks`: null = powers of two below `rank`, then `rank`; else the ranks given (in 1..rank,
// DyloraOptions::check), sorted, duplicates dropped.
std::vector<int64_t> resolve_eval_ranks(const DyloraOptions& o) {
  std::vector<int64_t> ranks;
  if (!o.eval_ranks) {
    for (int64_t b = 1; b < o.rank; b *= 2) ranks.push_back(b);
    ranks.push_back(o.rank);
    return ranks;
  }
  ranks = *o.eval_ranks;
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  return ranks;
}

class Dylora : public LayerAdapterMethod<DyloraOptions> {
 public:
  Dylora(const DyloraOptions& o, const cfg::Node& section) : LayerAdapterMethod("dylora", o, section) {
    eval_rank_ = o.eval_rank.value_or(opt_.rank);
    configured_eval_rank_ = eval_rank_;
    eval_ranks_ = resolve_eval_ranks(o);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    adapt(target, Component::unet, opt_.targets, "targets", kLinearAndConv, "dylora", [this, &target](const nn::AdaptableRef& r) {
      auto p = std::make_shared<DyloraParameterization>(r.weight(), std::string(r.layer->layer_kind()) == "linear",
                                                        opt_.rank, opt_.alpha, target.generator);
      adapters_.emplace_back(kUnetPrefix + r.name + ".dylora", p);
      return p;
    });
    set_eval_rank(eval_rank_);
  }

  // LoRA's layout: every component in one down / up pair per layer.
  TensorMap delta() override {
    TensorMap out;
    for (const auto& [key, p] : adapters_) {
      out[key + ".down"] = p->down().detach();
      out[key + ".up"] = p->up().detach();
    }
    return out;
  }
  void load_delta(const TensorMap& delta) override {
    check_delta(delta, this->delta(), name_);
    for (const auto& [key, p] : adapters_) p->load(delta.at(key + ".down"), delta.at(key + ".up"));
  }

  void before_step(int64_t, torch::Generator& generator) override {
    int64_t b = 1 + torch::randint(opt_.rank, {1}, generator, torch::kLong).item<int64_t>();
    for (const auto& entry : adapters_) entry.second->set_step_rank(b);
  }
  void after_step(int64_t) override {
    for (const auto& entry : adapters_) entry.second->set_step_rank(0);
  }

  std::vector<std::string> eval_variants() const override {
    std::vector<std::string> names;
    for (int64_t b : eval_ranks_) names.push_back("rank_" + std::to_string(b));
    return names;
  }
  void select_eval_variant(const std::string& variant) override {
    int64_t b = configured_eval_rank_;
    if (!variant.empty()) {
      auto names = eval_variants();
      auto it = std::find(names.begin(), names.end(), variant);
      if (it == names.end())
        throw std::invalid_argument("dylora: no evaluation variant '" + variant + "' (method.eval_ranks)");
      b = eval_ranks_[size_t(it - names.begin())];
    }
    eval_rank_ = b;
    set_eval_rank(b);
  }

  std::string describe() const override {
    return on_layers("DyLoRA r_max=" + std::to_string(opt_.rank) + " (eval rank " + std::to_string(eval_rank_) + ")");
  }

 private:
  void set_eval_rank(int64_t b) {
    for (const auto& entry : adapters_) entry.second->set_eval_rank(b);
  }

  // eval_rank_ is what runs outside steps now; configured_eval_rank_ the config's (variant "").
  int64_t eval_rank_ = 16, configured_eval_rank_ = 16;
  std::vector<int64_t> eval_ranks_;
  // Each adapted layer's delta key prefix ("unet.<layer>.dylora") and its parameterization.
  std::vector<std::pair<std::string, std::shared_ptr<DyloraParameterization>>> adapters_;
};

}  // namespace

void register_dylora(Registry<MethodEntry>& registry) {
  register_method<Dylora, DyloraOptions>(
      registry, "dylora", "DyLoRA (arXiv 2210.07558): LoRA trained at a rank sampled per step, usable at every rank",
      MethodBudget{1000, 1, std::nullopt, std::nullopt, "chosen: twice LoRA's (LyCORIS: DyLoRA needs more steps, batch 1)"});
}

}  // namespace pbench::peft
