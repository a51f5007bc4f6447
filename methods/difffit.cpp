// DiffFit — Xie et al., "DiffFit: Unlocking Transferability of Large Diffusion Models via Simple
// Parameter-Efficient Fine-Tuning", arXiv 2304.06648; SD placement as mkshing/DiffFit-pytorch:
//   trainable = every bias, every norm affine parameter (GroupNorm / LayerNorm weight and bias)
//   and new scale vectors γ (init 1, width C) multiplying the outputs of attn1, attn2 and ff of
//   each BasicTransformerBlock before the residual add. γ multiplies the branch output, which is
//   the output of attn1.to_out.0 / attn2.to_out.0 / ff.net.2 (the dropout between is identity),
//   so γ is an output parameterization of those three Linears.
// Trainable count: Σ biases (conv, linear) + Σ norm (weight + bias) + 3·ΣC over transformer blocks.
//   SD v1.5 UNet: 481,284 (methods.md §0.3; 3·12,480 = 37,440 of them are γ) — checked in the test.
//   Text encoder (optional): its biases and LayerNorm affine parameters (CLIP has no γ placement).
// Delta keys: unet.<layer>.bias / .weight (norms), unet.<…>.to_out.0.difffit.gamma, ….ff.net.2.difffit.gamma.
#include "framework/train/method_options.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

struct DifffitOptions {
  std::vector<std::string> gamma_targets{"attn1.to_out.0", "attn2.to_out.0", "ff.net.2"};
  std::optional<double> lr = 1e-3;
  double weight_decay = 0.0;
  bool text_encoder = false;

  template <class V>
  void fields(V& v) {
    v("gamma_targets", gamma_targets, "layers whose branch output gets a unit-initialised scale gamma");
    v("lr", lr, "learning rate (mkshing/DiffFit-pytorch; paper: 10x the pre-training lr); null = train.lr",
      cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay; 0: decay towards 0 is not what the paper trains",
      cfg::at_least(0));
    v("text_encoder", text_encoder, "also train the text encoder's biases and LayerNorm affine parameters");
  }
};

class BranchScale : public nn::Parameterization {
 public:
  explicit BranchScale(const torch::Tensor& w) {
    gamma = register_parameter("gamma", torch::ones({w.size(0)}, w.options().requires_grad(false)));
  }
  torch::Tensor output(const torch::Tensor&, const torch::Tensor& out) override { return out * gamma; }
  bool rewrites_output() const override { return true; }
  bool output_is_affine() const override { return true; }
  torch::Tensor gamma;
};

class Difffit : public ParameterizedMethod {
 public:
  Difffit(const DifffitOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {
    name_ = "difffit";
    set_group_lr("unet", opt_.lr);
    set_group_lr("text_encoder", opt_.lr);
    set_weight_decay(opt_.weight_decay);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    track_bias_and_norms(*target.pipeline.unet, kUnetPrefix);
    gammas_ = attach_each(select_or_throw(*target.pipeline.unet, opt_.gamma_targets, {"linear"}, cfg_, "gamma_targets"),
                          kUnetPrefix, "difffit", "unet", [](const nn::AdaptableRef& r) {
                            return std::make_shared<BranchScale>(r.weight());
                          });
    if (opt_.text_encoder)
      track_bias_and_norms(text_encoder_or_throw(target.pipeline, cfg_, "text_encoder"), kTextPrefix);
  }

  std::string describe() const override {
    return "DiffFit: biases + norms + " + std::to_string(gammas_) + " gamma vectors, " +
           std::to_string(tracked_elements()) + " parameters";
  }

 private:
  void track_bias_and_norms(torch::nn::Module& root, const std::string& prefix) {
    for (const auto& ref : nn::adaptable_layers(root)) {
      std::string kind = ref.layer->layer_kind();
      bool norm = kind == "group_norm" || kind == "layer_norm";
      for (const auto& item : ref.module->named_parameters(/*recurse=*/false))
        if (item.key() == "bias" || (norm && item.key() == "weight"))
          track(prefix + ref.name + "." + item.key(), item.value(), prefix == kUnetPrefix ? "unet" : "text_encoder");
    }
  }

  DifffitOptions opt_;
  cfg::Node cfg_;  // the section, for the file:line of keys
  size_t gammas_ = 0;
};

}  // namespace

void register_difffit(Registry<MethodEntry>& registry) {
  register_method<Difffit, DifffitOptions>(
      registry, "difffit", "DiffFit (arXiv 2304.06648): biases, norm affine parameters and unit-initialised branch scales",
      MethodBudget{500, 1, std::nullopt, std::nullopt, "mkshing/DiffFit-pytorch: 500 steps, batch 1"});
}

}  // namespace pbench::peft
