// DreamBooth — Ruiz et al., "DreamBooth: Fine Tuning Text-to-Image Diffusion
// Models for Subject-Driven Generation", arXiv 2208.12242.
//
// Trains every UNet weight (optionally the text encoder too) on "a <token>
// <class>" captions, with the class-specific prior-preservation loss: the
// same denoising loss on images the frozen model generated from "a <class>",
// weighted by λ (prior_loss_weight). The engine generates and caches the class
// images (per model, class, count and seed) before attaching the method.
// Count: all UNet parameters (859,520,964 on SD v1.5) + the text encoder's
// 123,060,480 when train_text_encoder is on. Delta: the full state dicts.
// lr: 5e-6, diffusers' SD reference (null = train.lr); AdamW's weight decay is
// train.weight_decay (diffusers' adam_weight_decay, 1e-2).
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/class_image_options.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench {
namespace {

struct DreamBoothOptions {
  bool train_text_encoder = false;
  std::optional<double> lr = 5e-6;
  std::optional<double> text_encoder_lr;
  bool prior_preservation = true;
  ClassImageOptions class_images{200, "diffusers' README with prior: 200; the paper 100-1000"};

  template <class V>
  void fields(V& v) {
    v("train_text_encoder", train_text_encoder, "also fine-tune the whole text encoder");
    v("lr", lr, "learning rate of the UNet (diffusers' SD reference); null = train.lr", cfg::learning_rate());
    v("text_encoder_lr", text_encoder_lr, "learning rate of the text encoder; null = lr", cfg::learning_rate());
    v("prior_preservation", prior_preservation, "add the class-specific prior-preservation loss");
    class_images.fields(v);
  }
};

class DreamBooth : public Method {
 public:
  DreamBooth(const DreamBoothOptions& o, const cfg::Node&) : opt_(o) {}

  void attach(MethodTarget& target) override {
    // Freeze first, as every method: the VAE and (unless trained) the text encoder must not train
    // whoever calls attach (the contract test found it relied on the engine's freeze).
    freeze_pipeline(target.pipeline);
    unet_ = target.pipeline.unet.ptr();
    text_ = target.pipeline.text_encoder.ptr();
    for (auto& p : unet_->parameters()) p.set_requires_grad(true);
    if (opt_.train_text_encoder)
      for (auto& p : text_->parameters()) p.set_requires_grad(true);
  }

  std::vector<ParamGroup> parameter_groups(double base_lr) override {
    double lr = opt_.lr.value_or(base_lr);
    // Weight decay: train.weight_decay (diffusers' adam_weight_decay), as the reference script.
    std::vector<ParamGroup> groups = {ParamGroup{"unet", unet_->parameters(), lr, std::nullopt}};
    if (opt_.train_text_encoder)
      groups.push_back(
          ParamGroup{"text_encoder", text_->parameters(), opt_.text_encoder_lr.value_or(lr), std::nullopt});
    return groups;
  }

  TensorMap delta() override {
    TensorMap out;
    peft::add_module_parameters(out, peft::kUnetPrefix, *unet_);
    if (opt_.train_text_encoder) peft::add_module_parameters(out, peft::kTextPrefix, *text_);
    return out;
  }

  void load_delta(const TensorMap& delta) override { peft::copy_checked_delta(delta, this->delta(), "dreambooth"); }

  std::string describe() const override {
    return std::string("DreamBooth: full UNet") + (opt_.train_text_encoder ? " + text encoder" : "") +
           (opt_.prior_preservation ? ", prior preservation" : "");
  }
  std::optional<RegularizationSet> regularization_set(const SubjectData& subject) const override {
    if (!opt_.prior_preservation) return std::nullopt;
    return opt_.class_images.for_subject(subject);
  }

 private:
  DreamBoothOptions opt_;
  std::shared_ptr<torch::nn::Module> unet_, text_;
};

}  // namespace

void register_dreambooth(Registry<MethodEntry>& registry) {
  register_method<DreamBooth, DreamBoothOptions>(
      registry, "dreambooth", "DreamBooth (arXiv 2208.12242): full UNet fine-tuning with prior preservation",
      MethodBudget{800, 1, std::nullopt, std::nullopt, "diffusers DreamBooth example with prior preservation: 800 steps, batch 1"});
}

}  // namespace pbench
