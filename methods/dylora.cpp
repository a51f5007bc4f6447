// DyLoRA — Valipour et al., "DyLoRA: Parameter-Efficient Tuning of Pre-trained Models using
// Dynamic Search-Free Low-Rank Adaptation", arXiv 2210.07558.
//   LoRA with ordered components: each training step samples b ~ U{1..r} (before_step, from the
//   engine's generator) and uses only the first b rows of A and columns of B:
//     y = W x + (alpha / b) · B[:, :b] A[:b, :] x
//   so every prefix of the components is a working adapter and one run can be evaluated at
//   several ranks. Outside training steps the adapter runs at `eval_rank` (null = r): evaluate
//   one saved delta at ranks 1, 2, 4, … by attaching with different eval_rank and load_delta().
//   All first b components receive gradients (the nested-dropout form; LyCORIS instead updates
//   one block per step).
// Trainable count: as LoRA at r_max: Σ r·(in + out); SD v1.5 attention q,k,v,out: 199,296 · r.
// Delta keys: unet.<layer>.dylora.down / .dylora.up (all r components; truncate to evaluate).
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
lr: 1.0e-4
weight_decay: 1.0e-2
)";

class Dylora : public ParameterizedMethod {
 public:
  explicit Dylora(const cfg::Node& user) : cfg_(section_with_defaults(user, kDyloraDefaults, "dylora")) {
    name_ = "dylora";
    rank_ = positive_int(cfg_, "rank");
    alpha_ = cfg::get_double(cfg_, "alpha");
    eval_rank_ = cfg_.find("eval_rank")->is_null() ? rank_ : cfg::get_int(cfg_, "eval_rank");
    if (eval_rank_ < 1 || eval_rank_ > rank_)
      throw InputError(cfg_.find("eval_rank")->origin().describe() + ": method.eval_rank: expected 1.." +
                       std::to_string(rank_) + ", got " + std::to_string(eval_rank_));
    set_group_lr("unet", optional_number(cfg_, "lr"));
    set_weight_decay(cfg::get_double(cfg_, "weight_decay"));
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    auto layers =
        select_or_throw(*target.pipeline.unet, string_list(cfg_, "targets"), {"linear", "conv2d"}, cfg_, "targets");
    attach_each(layers, kUnetPrefix, "dylora", "unet", [this](const nn::AdaptableRef& r) {
      auto p = std::make_shared<LowRankParameterization>(r.module->named_parameters(false)["weight"],
                                                         std::string(r.layer->layer_kind()) == "linear", rank_, alpha_);
      adapters_.push_back(p);
      return p;
    });
    set_active_rank(eval_rank_);
  }

  void before_step(int64_t, torch::Generator& generator) override {
    int64_t b = 1 + torch::randint(rank_, {1}, generator, torch::kLong).item<int64_t>();
    last_sampled_ = b;
    set_active_rank(b);
  }
  void after_step(int64_t) override { set_active_rank(eval_rank_); }

  std::string describe() const override {
    return "DyLoRA r_max=" + std::to_string(rank_) + " (eval rank " + std::to_string(eval_rank_) + ") on " +
           std::to_string(adapters_.size()) + " UNet layers";
  }

  int64_t last_sampled_ = 0;

 private:
  void set_active_rank(int64_t b) {
    for (auto& p : adapters_) p->set_active_rank(b);
  }

  cfg::Node cfg_;
  int64_t rank_ = 16, eval_rank_ = 16;
  double alpha_ = 16;
  std::vector<std::shared_ptr<LowRankParameterization>> adapters_;
};

}  // namespace

void register_dylora(Registry<MethodEntry>& registry) {
  registry.add(EntryInfo{"dylora", "DyLoRA (arXiv 2210.07558): LoRA trained at a rank sampled per step, usable at every rank",
                         kDyloraDefaults},
               MethodEntry{[](const cfg::Node& section) { return std::make_unique<Dylora>(section); }});
}

}  // namespace pbench::peft
