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
#include "framework/train/method_options.hpp"
#include "methods/layer_adapter_method.hpp"
#include "methods/methods.hpp"

namespace pbench::peft {
namespace {

struct Ia3Options {
  std::vector<std::string> output_targets{"to_k", "to_v"};
  std::vector<std::string> input_targets{"ff.net.2"};
  std::optional<double> lr = 5e-3;
  double weight_decay = 0.0;
  bool text_encoder = false;
  std::vector<std::string> text_output_targets{"k_proj", "v_proj"};
  std::vector<std::string> text_input_targets{"mlp.fc2"};
  std::optional<double> text_lr;

  template <class V>
  void fields(V& v) {
    v("output_targets", output_targets, "layers whose outputs are rescaled: y' = l * y");
    v("input_targets", input_targets, "layers whose input features are rescaled: W' = W diag(l)");
    v("lr", lr, "learning rate (LyCORIS: (IA)3 needs 5e-3 .. 1e-2); null = train.lr", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay; 0 since decay would pull the scales to 0, not 1",
      cfg::at_least(0));
    v("text_encoder", text_encoder, "also rescale the text encoder");
    v("text_output_targets", text_output_targets, "text-encoder layers with rescaled outputs");
    v("text_input_targets", text_input_targets, "text-encoder layers with rescaled inputs");
    v("text_lr", text_lr, "learning rate of the text-encoder scales; null = lr", cfg::learning_rate());
  }
};

class OutputScale : public nn::Parameterization {
 public:
  explicit OutputScale(const torch::Tensor& w) {
    scale = register_parameter("scale", torch::ones({w.size(0)}, w.options().requires_grad(false)));
  }
  torch::Tensor output(const torch::Tensor&, const torch::Tensor& out) override { return out * scale; }
  bool rewrites_output() const override { return true; }
  bool output_is_affine() const override { return true; }
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


class Ia3 : public LayerAdapterMethod<Ia3Options> {
 public:
  Ia3(const Ia3Options& o, const cfg::Node& section) : LayerAdapterMethod("ia3", o, section) {}

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    scale(target, Component::unet, "output_targets", opt_.output_targets, "input_targets", opt_.input_targets);
    if (opt_.text_encoder)
      scale(target, Component::text_encoder, "text_output_targets", opt_.text_output_targets, "text_input_targets",
            opt_.text_input_targets);
  }

  std::string describe() const override {
    return "(IA)3: " + std::to_string(unet_layers_ + text_layers_) + " scaling vectors, " +
           std::to_string(tracked_elements()) + " scales";
  }

 private:
  void scale(MethodTarget& target, Component component, const std::string& out_key,
             const std::vector<std::string>& outputs, const std::string& in_key, const std::vector<std::string>& inputs) {
    adapt(target, component, outputs, out_key, {"linear"}, "ia3",
          [](const nn::AdaptableRef& r) { return std::make_shared<OutputScale>(r.weight()); });
    adapt(target, component, inputs, in_key, {"linear"}, "ia3",
          [](const nn::AdaptableRef& r) { return std::make_shared<InputScale>(r.weight()); });
  }
};

}  // namespace

void register_ia3(Registry<MethodEntry>& registry) {
  register_method<Ia3, Ia3Options>(
      registry, "ia3", "(IA)3 (arXiv 2205.05638): unit-initialised rescaling of keys, values and the FFN inner activation",
      MethodBudget{500, 1, std::nullopt, std::nullopt, "chosen: LoRA's (no SD reference code)"});
}

}  // namespace pbench::peft
