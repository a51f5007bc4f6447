// LoRA — Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", arXiv 2106.09685.
//   y = W x + (alpha / r) · B A x,   A: [r, in] kaiming-uniform (PEFT's lora_A), B: [out, r] zeros.
// Targets (diffusers' train_dreambooth_lora.py): to_q, to_k, to_v, to_out.0 of every UNet
// attention; optionally the text encoder's q_proj, k_proj, v_proj, out_proj with their own lr.
// Trainable count: Σ over adapted layers of r · (in + out)  (convs: in = c_in·kh·kw).
//   SD v1.5 UNet, attn1+attn2 q,k,v,out: 199,296 · r  (r = 1/4/8: 199,296 / 797,184 / 1,594,368);
//   text encoder (12 layers × 4 projections 768→768): 73,728 · r.
// Delta keys: unet.<layer>.lora.down / .lora.up (PEFT's lora_A / lora_B), text_encoder.<layer>.lora.*.
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/low_rank_parameterization.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

// Defaults of diffusers' train_dreambooth_lora.py.
struct LoraOptions {
  int64_t rank = 4;
  double alpha = 4.0;
  std::vector<std::string> targets{"to_q", "to_k", "to_v", "to_out.0"};
  std::optional<double> lr = 1e-4;
  double weight_decay = 1e-2;
  bool text_encoder = false;
  std::vector<std::string> text_targets{"q_proj", "k_proj", "v_proj", "out_proj"};
  std::optional<double> text_lr;

  template <class V>
  void fields(V& v) {
    v("rank", rank, "rank r of the update B·A", cfg::at_least(1));
    v("alpha", alpha, "scale alpha/r of B·A; diffusers' lora_alpha = rank, i.e. scale 1");
    v("targets", targets, "UNet layers adapted (name patterns; linear and conv)");
    v("lr", lr, "learning rate of the factors; null = train.lr", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay (the diffusers scripts' default)", cfg::at_least(0));
    v("text_encoder", text_encoder, "also adapt the text encoder");
    v("text_targets", text_targets, "text-encoder layers adapted when text_encoder is true");
    v("text_lr", text_lr, "learning rate of the text-encoder factors; null = lr", cfg::learning_rate());
  }
};

class Lora : public ParameterizedMethod {
 public:
  Lora(const LoraOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {
    name_ = "lora";
    set_group_lr("unet", opt_.lr);
    set_group_lr("text_encoder", opt_.text_lr ? opt_.text_lr : opt_.lr);
    set_weight_decay(opt_.weight_decay);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    const std::vector<std::string> kinds{"linear", "conv2d"};
    auto make = [this, &target](const nn::AdaptableRef& ref) -> std::shared_ptr<nn::Parameterization> {
      bool linear = std::string(ref.layer->layer_kind()) == "linear";
      const auto& w = ref.weight();
      return std::make_shared<LowRankParameterization>(w, linear, opt_.rank, opt_.alpha, target.generator);
    };
    layers_ = attach_each(select_or_throw(*target.pipeline.unet, opt_.targets, kinds, cfg_, "targets"),
                          kUnetPrefix, "lora", "unet", make);
    if (opt_.text_encoder)
      text_layers_ = attach_each(select_or_throw(text_encoder_or_throw(target.pipeline, cfg_, "text_encoder"), opt_.text_targets, kinds, cfg_, "text_targets"),
                                 kTextPrefix, "lora", "text_encoder", make);
  }

  std::string describe() const override {
    std::string s = "LoRA r=" + std::to_string(opt_.rank) + " on " + std::to_string(layers_) + " UNet layers";
    if (text_layers_) s += " + " + std::to_string(text_layers_) + " text-encoder layers";
    return s;
  }

 private:
  LoraOptions opt_;
  cfg::Node cfg_;  // the section, for the file:line of target patterns
  size_t layers_ = 0, text_layers_ = 0;
};

}  // namespace

void register_lora(Registry<MethodEntry>& registry) {
  register_method<Lora, LoraOptions>(registry, "lora",
                                     "LoRA (arXiv 2106.09685): low-rank B·A updates of the UNet attention projections",
      MethodBudget{500, 1, 440, 0.4, "diffusers train_dreambooth_lora.py README: 500 steps, batch 1; DVAR README (DreamBooth-LoRA): window 440, threshold 0.4"});
}

}  // namespace pbench::peft
