// SINE — Zhang et al., "SINE: SINgle Image Editing with Text-to-Image Diffusion Models",
// arXiv 2212.04489 (CVPR 2023). Official code: zhang-zx/SINE (main.py, configs/stable-diffusion/
// v1-finetune_picture.yaml and v1-finetune_patch_picture.yaml, ldm/data/personalized.py,
// ldm/models/diffusion/guidance_ddim.py), read for the facts below.
//
// Fine-tuning (this file): every UNet weight trains on ONE image of the subject (image_index) with
// its prompt ("a sks dog"; the README's "picture of a sks castle"), DreamBooth-style, with no prior
// term (reg_weight 0). Budget (v1-finetune_picture.yaml): 800 steps of batch 1, model_lr 1e-6,
// AdamW (the engine's train.weight_decay), no flips (flip_p 0: set train.flip false to match).
// The configs also carry Textual Inversion's embedding manager ("*" from "sculpture"), but the
// README's prompts never write "*", so nothing of it is read or trained: pbench leaves it out.
// Patch-based training (`patch: true`, v1-finetune_patch_picture.yaml, `UNetModelPatch`): each draw
// is a random rectangle of the image (sides U[0.1, 1.0] of the latent grid per axis) resized to the
// model's side (framework/train/patch_crop.hpp), and a fixed sinusoidal encoding of the rectangle's
// place in the image is added after conv_in (methods/patch_position_encoding.hpp; center_shift
// 100). Sampling adds the whole grid, so the model can be drawn at any size. The reference's
// patch config runs 10,000 steps (set train.steps; the budget below is the picture config's).
// Chosen here: the patches are cut from the image at the model's resolution, not a 2x render.
// Editing (the paper's second half) is model-based classifier-free guidance: the frozen model on
// the edit prompt mixed with this fine-tuned model on the source prompt for the early steps —
// framework/sample/model_guidance.hpp, the edit workload's `editor: model_guidance` with this
// run's delta (docs/editing.md).
// Count: the whole UNet (859,520,964 on SD v1.5, the reference's 859.5M); the encoding has no
// parameters. Delta: unet.<parameter> for every UNet parameter, as DreamBooth's.
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"
#include "methods/patch_position_encoding.hpp"

namespace pbench {
namespace {

struct SineOptions {
  std::optional<double> lr = 1e-6;
  int64_t image_index = 0;
  bool patch = false;
  double min_crop_frac = 0.1;
  double max_crop_frac = 1.0;
  int64_t center_shift = 100;

  template <class V>
  void fields(V& v) {
    v("lr", lr, "learning rate of the UNet (the reference's model_lr: 1e-6); null = train.lr", cfg::learning_rate());
    v("image_index", image_index, "the one subject image SINE learns (sorted by file name)", cfg::at_least(0));
    v("patch", patch, "patch-based training with the patch's position encoded after conv_in (UNetModelPatch)");
    v("min_crop_frac", min_crop_frac, "smallest patch side, as a fraction of the image's (the reference: 0.1)",
      cfg::described(cfg::between(0.01, 1), "a number in [0.01, 1]"));
    v("max_crop_frac", max_crop_frac, "largest patch side, as a fraction of the image's (the reference: 1.0)",
      cfg::described(cfg::between(0.01, 1), "a number in [0.01, 1]"));
    v("center_shift", center_shift, "position of the grid's centre in the sinusoidal encoding (the reference: 100)",
      cfg::at_least(0));
  }
  void check(const cfg::Node& section) const {
    if (min_crop_frac > max_crop_frac) {
      const cfg::Node* at = section.find("min_crop_frac");
      throw InputError((at ? at->origin().describe() : section.origin().describe()) +
                       ": method.min_crop_frac: " + std::to_string(min_crop_frac) + " is above max_crop_frac (" +
                       std::to_string(max_crop_frac) + "); set min_crop_frac <= max_crop_frac");
    }
  }
};

class Sine : public Method {
 public:
  Sine(const SineOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {}

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    unet_ = target.pipeline.unet.ptr();
    for (auto& p : unet_->parameters()) p.set_requires_grad(true);
    if (target.subject && opt_.image_index >= int64_t(target.subject->images.size())) {
      const cfg::Node* at = cfg_.find("image_index");
      throw InputError((at ? at->origin().describe() : cfg_.origin().describe()) + ": method.image_index: " +
                       std::to_string(opt_.image_index) + ", but subject '" + target.subject->subject + "' has " +
                       std::to_string(target.subject->images.size()) + " images (0 … " +
                       std::to_string(int64_t(target.subject->images.size()) - 1) + ")");
    }
    if (opt_.patch) {
      auto layers = select_layers(*target.pipeline.unet, {"conv_in"}, {"conv2d"});
      if (layers.size() != 1) throw std::logic_error("sine: the UNet has no single conv_in");
      auto& conv = dynamic_cast<nn::Conv2dImpl&>(*layers.front().module);
      encoding_ = std::make_shared<peft::PatchPositionEncoding>(
          conv.options.out_channels(), target.pipeline.unet->config().sample_size, opt_.center_shift);
      if (conv.weight.device().type() != torch::kMeta) encoding_->to(conv.weight.device(), conv.weight.scalar_type());
      conv.attach("patch_position", encoding_);
    }
  }

  std::vector<ParamGroup> parameter_groups(double base_lr) override {
    return {ParamGroup{"unet", unet_->parameters(), opt_.lr.value_or(base_lr), std::nullopt}};
  }

  TensorMap delta() override {
    TensorMap out;
    peft::add_module_parameters(out, peft::kUnetPrefix, *unet_);
    return out;
  }

  void load_delta(const TensorMap& delta) override { peft::copy_checked_delta(delta, this->delta(), "sine"); }

  std::string describe() const override {
    return "SINE: full UNet on image " + std::to_string(opt_.image_index) +
           (opt_.patch ? ", patches with their position encoded" : "");
  }

  std::vector<int64_t> training_images(const SubjectData&) const override { return {opt_.image_index}; }
  InstanceAugmentation instance_augmentation() const override {
    return opt_.patch ? InstanceAugmentation::patch_crop : InstanceAugmentation::none;
  }
  PatchCropRange patch_crop_range() const override { return {opt_.min_crop_frac, opt_.max_crop_frac}; }

  // Each row's patch goes to the encoding for this pass only; DVAR's objective and sampling
  // (which do not come through here) see the whole image's grid.
  torch::Tensor batch_loss(const torch::Tensor& context, const BatchImages& images,
                           const DenoisingLossOf& loss) override {
    if (!encoding_) return loss(context);
    struct BoxesForThisPass {
      peft::PatchPositionEncoding& encoding;
      ~BoxesForThisPass() { encoding.set_boxes({}); }  // also when the pass throws
    } scope{*encoding_};
    encoding_->set_boxes(images.boxes);
    return loss(context);
  }

 private:
  SineOptions opt_;
  cfg::Node cfg_;
  std::shared_ptr<torch::nn::Module> unet_;
  std::shared_ptr<peft::PatchPositionEncoding> encoding_;
};

}  // namespace

void register_sine(Registry<MethodEntry>& registry) {
  register_method<Sine, SineOptions>(
      registry, "sine",
      "SINE (arXiv 2212.04489): full UNet fine-tuned on one image (optionally patch by patch with the patch's "
      "position encoded); edit with model-based guidance (edit workload, editor: model_guidance)",
      MethodBudget{800, 1, std::nullopt, std::nullopt, "zhang-zx/SINE v1-finetune_picture.yaml: max_steps 800, batch 1"});
}

}  // namespace pbench
