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

#include "framework/config/access.hpp"
#include "framework/util/errors.hpp"
#include "methods/low_rank_parameterization.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

const char* kDyloraDefaults = R"(name: dylora
rank: 16              # r_max; every prefix 1..r is trained
alpha: 16.0             # scale alpha / b for the sampled b
targets: [to_q, to_k, to_v, to_out.0]
eval_rank: null       # rank used outside training steps (sampling, metrics); null = rank
eval_ranks: null      # ranks the run is also scored at after training (final_rank_<b>); null = 1, 2, 4, … < rank, and rank
lr: 1.0e-4
weight_decay: 1.0e-2
)";

// `eval_ranks`: null = powers of two below `rank`, then `rank`; else a list of ranks in 1..rank
// (sorted, duplicates dropped).
std::vector<int64_t> read_eval_ranks(const cfg::Node& section, int64_t rank) {
  const cfg::Node& n = cfg::require(section, "eval_ranks");
  std::vector<int64_t> ranks;
  if (n.is_null()) {
    for (int64_t b = 1; b < rank; b *= 2) ranks.push_back(b);
    ranks.push_back(rank);
    return ranks;
  }
  if (!n.is_list())
    throw InputError(n.origin().describe() + ": method.eval_ranks: expected null or a list of ranks, got " + n.describe_value());
  for (const auto& item : n.items()) {
    if (item.kind() != cfg::Node::Kind::Int || item.as_int() < 1 || item.as_int() > rank)
      throw InputError(item.origin().describe() + ": method.eval_ranks: expected integers in 1.." + std::to_string(rank) +
                       " (method.rank), got " + item.describe_value());
    ranks.push_back(item.as_int());
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  return ranks;
}

class Dylora : public ParameterizedMethod {
 public:
  explicit Dylora(const cfg::Node& user) : cfg_(section_with_defaults(user, kDyloraDefaults, "dylora")) {
    name_ = "dylora";
    rank_ = positive_int(cfg_, "rank");
    alpha_ = cfg::get_double(cfg_, "alpha");
    eval_rank_ = cfg_.find("eval_rank")->is_null() ? rank_ : cfg::get_int(cfg_, "eval_rank");
    configured_eval_rank_ = eval_rank_;
    if (eval_rank_ < 1 || eval_rank_ > rank_)
      throw InputError(cfg_.find("eval_rank")->origin().describe() + ": method.eval_rank: expected 1.." +
                       std::to_string(rank_) + ", got " + std::to_string(eval_rank_));
    eval_ranks_ = read_eval_ranks(cfg_, rank_);
    set_group_lr("unet", optional_number(cfg_, "lr"));
    set_weight_decay(cfg::get_double(cfg_, "weight_decay"));
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    auto layers =
        select_targets(*target.pipeline.unet, cfg_, "targets", {"linear", "conv2d"});
    attach_each(layers, kUnetPrefix, "dylora", "unet", [this](const nn::AdaptableRef& r) {
      auto p = std::make_shared<DyloraParameterization>(r.weight(), std::string(r.layer->layer_kind()) == "linear",
                                                        rank_, alpha_);
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
    check_delta(delta, this->delta());
    for (const auto& [key, p] : adapters_) p->load(delta.at(key + ".down"), delta.at(key + ".up"));
  }

  void before_step(int64_t, torch::Generator& generator) override {
    int64_t b = 1 + torch::randint(rank_, {1}, generator, torch::kLong).item<int64_t>();
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
    return "DyLoRA r_max=" + std::to_string(rank_) + " (eval rank " + std::to_string(eval_rank_) + ") on " +
           std::to_string(adapters_.size()) + " UNet layers";
  }

 private:
  void set_eval_rank(int64_t b) {
    for (const auto& entry : adapters_) entry.second->set_eval_rank(b);
  }

  cfg::Node cfg_;
  // eval_rank_ is what runs outside steps now; configured_eval_rank_ the config's (variant "").
  int64_t rank_ = 16, eval_rank_ = 16, configured_eval_rank_ = 16;
  std::vector<int64_t> eval_ranks_;
  double alpha_ = 16;
  // Each adapted layer's delta key prefix ("unet.<layer>.dylora") and its parameterization.
  std::vector<std::pair<std::string, std::shared_ptr<DyloraParameterization>>> adapters_;
};

}  // namespace

void register_dylora(Registry<MethodEntry>& registry) {
  registry.add(EntryInfo{"dylora", "DyLoRA (arXiv 2210.07558): LoRA trained at a rank sampled per step, usable at every rank",
                         kDyloraDefaults},
               MethodEntry{[](const cfg::Node& section) { return std::make_unique<Dylora>(section); }});
}

}  // namespace pbench::peft
