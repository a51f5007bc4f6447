// LoRA — Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", arXiv 2106.09685.
//   y = W x + (alpha / r) · B A x,   A: [r, in] kaiming-uniform (PEFT's lora_A), B: [out, r] zeros.
// Targets (diffusers' train_dreambooth_lora.py): to_q, to_k, to_v, to_out.0 of every UNet
// attention; optionally the text encoder's q_proj, k_proj, v_proj, out_proj with their own lr.
// Trainable count: Σ over adapted layers of r · (in + out)  (convs: in = c_in·kh·kw).
//   SD v1.5 UNet, attn1+attn2 q,k,v,out: 199,296 · r  (r = 1/4/8: 199,296 / 797,184 / 1,594,368);
//   text encoder (12 layers × 4 projections 768→768): 73,728 · r.
// Delta keys: unet.<layer>.lora.down / .lora.up (PEFT's lora_A / lora_B), text_encoder.<layer>.lora.*.
#include "framework/config/access.hpp"
#include "framework/util/errors.hpp"
#include "methods/low_rank_parameterization.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

const char* kLoraDefaults = R"(name: lora
rank: 4
alpha: 4.0               # lora_alpha = rank in diffusers' script, i.e. scale 1
targets: [to_q, to_k, to_v, to_out.0]
lr: 1.0e-4             # null = train.lr
weight_decay: 1.0e-2   # AdamW default of the diffusers scripts
text_encoder: false
text_targets: [q_proj, k_proj, v_proj, out_proj]
text_lr: null          # null = the UNet lr
)";

class Lora : public ParameterizedMethod {
 public:
  explicit Lora(const cfg::Node& user) : cfg_(section_with_defaults(user, kLoraDefaults, "lora")) {
    name_ = "lora";
    rank_ = positive_int(cfg_, "rank");
    alpha_ = cfg::get_double(cfg_, "alpha");
    set_group_lr("unet", optional_number(cfg_, "lr"));
    auto text_lr = optional_number(cfg_, "text_lr");
    set_group_lr("text_encoder", text_lr ? text_lr : optional_number(cfg_, "lr"));
    set_weight_decay(cfg::get_double(cfg_, "weight_decay"));
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    const std::vector<std::string> kinds{"linear", "conv2d"};
    auto make = [this](const nn::AdaptableRef& ref) -> std::shared_ptr<nn::Parameterization> {
      bool linear = std::string(ref.layer->layer_kind()) == "linear";
      const auto& w = ref.weight();
      return std::make_shared<LowRankParameterization>(w, linear, rank_, alpha_);
    };
    layers_ = attach_each(select_targets(*target.pipeline.unet, cfg_, "targets", kinds),
                          kUnetPrefix, "lora", "unet", make);
    if (cfg::get_bool(cfg_, "text_encoder"))
      text_layers_ = attach_each(select_targets(text_encoder_or_throw(target.pipeline, cfg_, "text_encoder"), cfg_, "text_targets", kinds),
                                 kTextPrefix, "lora", "text_encoder", make);
  }

  std::string describe() const override {
    std::string s = "LoRA r=" + std::to_string(rank_) + " on " + std::to_string(layers_) + " UNet layers";
    if (text_layers_) s += " + " + std::to_string(text_layers_) + " text-encoder layers";
    return s;
  }

 private:
  cfg::Node cfg_;
  int64_t rank_ = 4;
  double alpha_ = 4;
  size_t layers_ = 0, text_layers_ = 0;
};

}  // namespace

void register_lora(Registry<MethodEntry>& registry) {
  registry.add(EntryInfo{"lora", "LoRA (arXiv 2106.09685): low-rank B·A updates of the UNet attention projections", kLoraDefaults},
               MethodEntry{[](const cfg::Node& section) { return std::make_unique<Lora>(section); }});
}

}  // namespace pbench::peft
