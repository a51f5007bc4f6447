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
#include "framework/config/access.hpp"
#include "methods/methods.hpp"

namespace pbench {
namespace {

class DreamBooth : public Method {
 public:
  explicit DreamBooth(const cfg::Node& s)
      : train_text_(cfg::get_bool(s, "train_text_encoder")),
        lr_(cfg::get_double(s, "lr", -1.0)),
        text_lr_(cfg::get_double(s, "text_encoder_lr", -1.0)),
        prior_(cfg::get_bool(s, "prior_preservation")),
        num_class_images_(positive_int(s, "num_class_images")),
        prior_loss_weight_(cfg::get_double(s, "prior_loss_weight")),
        class_prompt_(cfg::require(s, "class_prompt").is_null() ? "" : cfg::get_string(s, "class_prompt")) {}

  void attach(MethodTarget& target) override {
    unet_ = target.pipeline.unet.ptr();
    text_ = target.pipeline.text_encoder.ptr();
    for (auto& p : unet_->parameters()) p.set_requires_grad(true);
    if (train_text_)
      for (auto& p : text_->parameters()) p.set_requires_grad(true);
  }

  std::vector<ParamGroup> parameter_groups(double base_lr) override {
    double lr = lr_ > 0 ? lr_ : base_lr;
    std::vector<ParamGroup> groups = {ParamGroup{"unet", unet_->parameters(), lr}};
    if (train_text_) groups.push_back(ParamGroup{"text_encoder", text_->parameters(), text_lr_ > 0 ? text_lr_ : lr});
    return groups;
  }

  TensorMap delta() override {
    TensorMap out;
    for (const auto& p : unet_->named_parameters()) out["unet." + p.key()] = p.value();
    if (train_text_)
      for (const auto& p : text_->named_parameters()) out["text_encoder." + p.key()] = p.value();
    return out;
  }

  void load_delta(const TensorMap& delta) override {
    torch::NoGradGuard no_grad;
    for (const auto& p : unet_->named_parameters()) {
      auto it = delta.find("unet." + p.key());
      if (it != delta.end()) p.value().copy_(it->second);
    }
    if (train_text_)
      for (const auto& p : text_->named_parameters()) {
        auto it = delta.find("text_encoder." + p.key());
        if (it != delta.end()) p.value().copy_(it->second);
      }
  }

  std::string describe() const override {
    return std::string("DreamBooth: full UNet") + (train_text_ ? " + text encoder" : "") +
           (prior_ ? ", prior preservation" : "");
  }
  std::optional<RegularizationSet> regularization_set(const SubjectData& subject) const override {
    if (!prior_) return std::nullopt;
    // class_prompt null = the subject's ("a dog"), as the paper's "a [class noun]".
    return RegularizationSet{class_prompt_.empty() ? subject.class_prompt : class_prompt_, num_class_images_,
                             prior_loss_weight_};
  }

 private:
  bool train_text_;
  double lr_, text_lr_;
  bool prior_;
  int64_t num_class_images_;
  double prior_loss_weight_;
  std::string class_prompt_;  // "" = the subject's class prompt
  std::shared_ptr<torch::nn::Module> unet_, text_;
};

}  // namespace

void register_dreambooth(Registry<MethodEntry>& registry) {
  registry.add(EntryInfo{"dreambooth", "DreamBooth (arXiv 2208.12242): full UNet fine-tuning with prior preservation",
                         "name: dreambooth\ntrain_text_encoder: false\nlr: 5.0e-6\ntext_encoder_lr: null\n"
                         "prior_preservation: true\nprior_loss_weight: 1.0\nnum_class_images: 8\nclass_prompt: null\n"},
               MethodEntry{[](const cfg::Node& s) { return std::make_unique<DreamBooth>(s); }});
}

}  // namespace pbench
