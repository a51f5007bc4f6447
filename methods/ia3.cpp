// (IA)³ — Liu et al., "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than
// In-Context Learning", arXiv 2205.05638. Learned vectors, initialised to 1, rescale
//   - the keys and values: the outputs of to_k and to_v (y' = l ⊙ y, a per-output-feature scale);
//   - the FFN's inner activation, i.e. the input of ff.net.2 (the GEGLU output, 4C wide).
// Choice for the FFN: a weight parameterization of ff.net.2 that scales W's columns,
// W' = W diag(l), which equals ff.net.2(l ⊙ h) exactly and needs no hook on the GEGLU.
// Text encoder (when enabled): k_proj, v_proj outputs and the mlp.fc2 input (LyCORIS' ia3 preset).
// Trainable count: Σ_output targets out + Σ_input targets in.
//   SD v1.5 UNet: to_k + to_v of attn1 and attn2 = 4·ΣC = 49,920, ff.net.2 input 4·ΣC = 49,920
//   -> 99,840 (ΣC = 12,480 over the 16 transformer blocks); text encoder 12·(768+768+3072) = 55,296.
// Delta keys: unet.<layer>.ia3.scale, text_encoder.<layer>.ia3.scale.
#include "framework/config/access.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

const char* kIa3Defaults = R"(name: ia3
output_targets: [to_k, to_v]   # y' = l * y
input_targets: [ff.net.2]      # W' = W diag(l)  (scales the layer's input features)
lr: 5.0e-3                     # LyCORIS: (IA)3 needs a much higher lr (5e-3 .. 1e-2)
weight_decay: 0.0              # decay would pull the unit scales towards 0, not towards 1
text_encoder: false
text_output_targets: [k_proj, v_proj]
text_input_targets: [mlp.fc2]
text_lr: null                  # null = lr
)";

class OutputScale : public nn::Parameterization {
 public:
  explicit OutputScale(const torch::Tensor& w) {
    scale = register_parameter("scale", torch::ones({w.size(0)}, w.options().requires_grad(false)));
  }
  torch::Tensor output(const torch::Tensor&, const torch::Tensor& out) override { return out * scale; }
  bool rewrites_output() const override { return true; }
  torch::Tensor scale;
};

class InputScale : public nn::Parameterization {
 public:
  explicit InputScale(const torch::Tensor& w) {
    scale = register_parameter("scale", torch::ones({w.size(1)}, w.options().requires_grad(false)));
  }
  torch::Tensor weight(const torch::Tensor& base) override { return base * scale.unsqueeze(0); }
  bool rewrites_weight() const override { return true; }
  torch::Tensor scale;
};


class Ia3 : public ParameterizedMethod {
 public:
  explicit Ia3(const cfg::Node& user) : cfg_(section_with_defaults(user, kIa3Defaults, "ia3")) {
    name_ = "ia3";
    set_group_lr("unet", optional_number(cfg_, "lr"));
    auto text_lr = optional_number(cfg_, "text_lr");
    set_group_lr("text_encoder", text_lr ? text_lr : optional_number(cfg_, "lr"));
    set_weight_decay(cfg::get_double(cfg_, "weight_decay"));
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    attach_to(*target.pipeline.unet, kUnetPrefix, "unet", "output_targets", "input_targets");
    if (cfg::get_bool(cfg_, "text_encoder"))
      attach_to(text_encoder_or_throw(target.pipeline, cfg_, "text_encoder"), kTextPrefix, "text_encoder",
                "text_output_targets", "text_input_targets");
  }

  std::string describe() const override {
    return "(IA)3: " + std::to_string(layers_) + " scaling vectors, " + std::to_string(tracked_elements()) + " scales";
  }

 private:
  void attach_to(torch::nn::Module& root, const std::string& prefix, const std::string& group,
                 const std::string& out_key, const std::string& in_key) {
    layers_ += attach_each(select_targets(root, cfg_, out_key, {"linear"}), prefix, "ia3",
                           group, [](const nn::AdaptableRef& r) { return std::make_shared<OutputScale>(r.weight()); });
    layers_ += attach_each(select_targets(root, cfg_, in_key, {"linear"}), prefix, "ia3",
                           group, [](const nn::AdaptableRef& r) { return std::make_shared<InputScale>(r.weight()); });
  }

  cfg::Node cfg_;
  size_t layers_ = 0;
};

}  // namespace

void register_ia3(Registry<MethodEntry>& registry) {
  registry.add(EntryInfo{"ia3", "(IA)3 (arXiv 2205.05638): unit-initialised rescaling of keys, values and the FFN inner activation",
                         kIa3Defaults},
               MethodEntry{[](const cfg::Node& section) { return std::make_unique<Ia3>(section); }});
}

}  // namespace pbench::peft
