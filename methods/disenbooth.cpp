// DisenBooth — Chen et al., "DisenBooth: Identity-Preserving Disentangled Tuning for Subject-Driven
// Text-to-Image Generation", arXiv 2305.03374 (ICLR 2024). Official code: forchchch/DisenBooth
// (train_disenbooth.py, disen_net.py; SD 2.1-base with OpenCLIP ViT-H/14), read for the facts below.
//
// What trains: LoRA (rank 4) on to_q, to_k, to_v, to_out.0 of every UNet attention (the shipped
// script's LoRA attention processors), and the image adapter of the identity-irrelevant branch:
//   f  = E_img(x)                      the frozen CLIP image embedding of the training image
//   f' = MLP(σ(m) ⊙ f) + σ(m) ⊙ f      m ∈ R^D initialised to 0 (σ = 0.5), MLP = Linear(D, D) → ReLU → Linear(D, D)
// f' is broadcast-added to every token of the text states: c_img = c_text + f' (so D must be the
// UNet's cross_attention_dim). E_img sees the training pixels as the VAE does, in [-1, 1], only
// bilinearly resized, without CLIP's mean/std: the reference's transform (`normalize_image` opts out).
// Each step takes two UNet passes on the same noisy latents:
//   L = MSE(ε̂(c_text + f'), ε) + λ_weak · MSE(ε̂(c_text), ε) + λ_cos · cos(mean_T(c_text), f')
// λ_weak = 0.01 (the "weak denoising" term: the text alone must still denoise), λ_cos = 0.001, and
// the cosine is *added*, i.e. minimised, as in the reference code: it pushes the identity-preserving
// text embedding and the image's identity-irrelevant embedding apart. The text encoder stays frozen
// (its LoRA is off in the shipped script), so that term trains the adapter only.
// Inference drops the image branch: sampling, the evaluation and DVAR's objective condition on the
// text alone, as the paper generates the subject.
// Budget (train_disenbooth.sh): 2000 steps of batch 1, lr 1e-4 for the LoRA and the adapter,
// constant, AdamW weight decay 1e-2. Prompt: the subject's ("a sks dog"); the shipped script's
// identifier is the literal string "dog</w>" (chosen: pbench's token, as every method, so runs compare).
// SD v1.5 port: the image embedding must be 768-d to add to CLIP-L's states, so `image_encoder`
// names CLIP ViT-L/14's vision tower with its projection (openai/clip-vit-large-patch14). Count on
// SD v1.5: LoRA r=4 on 128 layers 797,184 + adapter D + 2·(D² + D) = 1,181,952 at D = 768 → 1,979,136.
// On builtin:mini the image encoder is the vision tower trained beside its text encoder
// (builtin_mini/image_encoder/, docs/mini_world.md), never the metric CLIP.
// Delta keys: unet.<layer>.lora.{down,up} (LoRA's), image_adapter.mask [D],
// image_adapter.mlp.{0,2}.{weight,bias} (the branch is kept with the delta though sampling drops it:
// adding f' of a reference image brings back its identity-irrelevant content, the paper's Fig. 6).
#include <cmath>

#include "framework/models/sd/image_encoder.hpp"
#include "framework/train/method_options.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/errors.hpp"
#include "methods/factorizations.hpp"
#include "methods/layer_adapter_method.hpp"
#include "methods/low_rank_parameterization.hpp"
#include "methods/methods.hpp"

namespace pbench::peft {
namespace {

struct DisenBoothOptions {
  int64_t rank = 4;
  double alpha = 4.0;
  std::vector<std::string> targets{"to_q", "to_k", "to_v", "to_out.0"};
  std::optional<double> lr = 1e-4;
  std::optional<double> adapter_lr;
  double weight_decay = 1e-2;
  double weak_denoise_weight = 0.01;
  double disentangle_weight = 0.001;
  std::string image_encoder = models::kPipelineImageEncoder;
  bool normalize_image = false;

  template <class V>
  void fields(V& v) {
    v("rank", rank, "rank r of the UNet LoRA (the shipped script: 4)", layer_width());
    v("alpha", alpha, "scale alpha/r of B·A (diffusers' LoRA layer: scale 1)");
    v("targets", targets, "UNet layers with a LoRA (the script: every attention's q, k, v, out)");
    v("lr", lr, "learning rate of the LoRA factors (the script: 1e-4); null = train.lr", cfg::learning_rate());
    v("adapter_lr", adapter_lr, "learning rate of the image adapter; null = lr (the script: the same 1e-4)",
      cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay (the script: 1e-2)", cfg::at_least(0));
    v("weak_denoise_weight", weak_denoise_weight, "weight of the text-only denoising term (the paper: 0.01)",
      cfg::at_least(0));
    v("disentangle_weight", disentangle_weight,
      "weight of cos(mean text state, adapted image embedding), minimised (the paper: 0.001)", cfg::at_least(0));
    v("image_encoder", image_encoder,
      "frozen CLIP image encoder whose projection width is the UNet's cross_attention_dim: 'pipeline' (its "
      "image_encoder/ folder), builtin:mini-clip, builtin:tiny-clip or a CLIP folder");
    v("normalize_image", normalize_image,
      "apply CLIP's mean/std to the encoder's input (the reference feeds [-1, 1] pixels: false)");
  }
};

// The identity-irrelevant branch: f' = MLP(σ(m) ⊙ f) + σ(m) ⊙ f.
struct ImageAdapter {
  torch::Tensor mask, w1, b1, w2, b2;

  ImageAdapter(int64_t width, const torch::TensorOptions& like, torch::Generator& gen) {
    const auto options = like.requires_grad(false);
    mask = torch::zeros({width}, options);  // σ(0) = 0.5: half of every channel passes at the start
    w1 = torch::empty({width, width}, options);
    w2 = torch::empty({width, width}, options);
    b1 = torch::empty({width}, options);
    b2 = torch::empty({width}, options);
    if (like.device().type() == torch::kMeta) return;
    // torch.nn.Linear's default init (the reference's nn.Linear): weights kaiming-uniform(a = √5),
    // biases U(±1/√fan_in).
    torch::NoGradGuard no_grad;
    const double bound = 1.0 / std::sqrt(double(width));
    kaiming_uniform_init(w1, gen);
    b1.uniform_(-bound, bound, gen);
    kaiming_uniform_init(w2, gen);
    b2.uniform_(-bound, bound, gen);
  }

  torch::Tensor forward(const torch::Tensor& f) const {
    namespace F = torch::nn::functional;
    const torch::Tensor gated = torch::sigmoid(mask) * f;
    return F::linear(torch::relu(F::linear(gated, w1, b1)), w2, b2) + gated;
  }
};

class DisenBooth : public LayerAdapterMethod<DisenBoothOptions> {
 public:
  DisenBooth(const DisenBoothOptions& o, const cfg::Node& section) : LayerAdapterMethod("disenbooth", o, section) {
    set_group_lr("image_adapter", opt_.adapter_lr ? opt_.adapter_lr : opt_.lr);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    adapt(target, Component::unet, opt_.targets, "targets", kLinearAndConv, "lora",
          [this, &target](const nn::AdaptableRef& ref) -> std::shared_ptr<nn::Parameterization> {
            return make_low_rank(ref, opt_.rank, opt_.alpha, target.generator);
          });
    const torch::Tensor probe = target.pipeline.unet->parameters().front();
    const int64_t width = target.pipeline.unet->config().cross_attention_dim.front();
    adapter_.emplace(width, probe.options(), target.generator);
    track("image_adapter.mask", adapter_->mask, "image_adapter");
    track("image_adapter.mlp.0.weight", adapter_->w1, "image_adapter");
    track("image_adapter.mlp.0.bias", adapter_->b1, "image_adapter");
    track("image_adapter.mlp.2.weight", adapter_->w2, "image_adapter");
    track("image_adapter.mlp.2.bias", adapter_->b2, "image_adapter");
    if (target.subject && !target.subject->images.empty()) encode_subject(target, width, probe.options());
  }

  torch::Tensor batch_loss(const torch::Tensor& context, const BatchImages& images,
                           const DenoisingLossOf& loss) override {
    if (!features_.defined()) throw std::logic_error("disenbooth: trained without the subject's images at attach");
    if (context.dim() != 3) throw std::logic_error("disenbooth: expects one text context [B, T, D]");
    const torch::Tensor f = torch::where(images.flipped.to(features_.device()).view({-1, 1}),
                                         mirrored_features_.index_select(0, images.index),
                                         features_.index_select(0, images.index));
    const torch::Tensor adapted = adapter_->forward(f);  // [B, D]
    const torch::Tensor with_image = loss(context + adapted.unsqueeze(1));
    const torch::Tensor text_only = loss(context);
    namespace F = torch::nn::functional;
    const torch::Tensor cosine =
        F::cosine_similarity(context.mean(1), adapted, F::CosineSimilarityFuncOptions().dim(1).eps(1e-6)).mean();
    return with_image + opt_.weak_denoise_weight * text_only + opt_.disentangle_weight * cosine;
  }

  int64_t unet_passes_per_image() const override { return 2; }

  std::string describe() const override {
    std::string what = on_layers("DisenBooth: LoRA r=" + std::to_string(opt_.rank)) + " + image adapter (D=" +
                       std::to_string(adapter_ ? adapter_->mask.size(0) : 0) + ")";
    return encoder_source_.empty() ? what : what + ", image encoder " + encoder_source_;
  }

 private:
  // The frozen image embeddings of every subject image and of its mirror image (train.flip),
  // computed once: the encoder is never trained and the images are fixed.
  void encode_subject(const MethodTarget& target, int64_t width, const torch::TensorOptions& options) {
    const models::ImageEncoder encoder = models::load_image_encoder(opt_.image_encoder, target.pipeline);
    encoder_source_ = encoder.source;
    if (encoder.embed_dim() != width)
      throw InputError(cfg_.find("image_encoder")->origin().describe() + ": method.image_encoder: " + encoder.source + " embeds in " +
                       std::to_string(encoder.embed_dim()) + " dimensions, but DisenBooth adds its embedding to " +
                       "the UNet's " + std::to_string(width) + "-d text states (cross_attention_dim); name a CLIP " +
                       "image encoder whose projection_dim is " + std::to_string(width));
    const torch::Tensor pixels = images_to_tensor(target.subject->images);
    features_ = encoder.encode(pixels, opt_.normalize_image).to(options.requires_grad(false));
    mirrored_features_ = encoder.encode(pixels.flip({3}), opt_.normalize_image).to(options.requires_grad(false));
  }

  std::optional<ImageAdapter> adapter_;
  torch::Tensor features_, mirrored_features_;  // [N, D]
  std::string encoder_source_;  // empty until the subject's images are encoded (counting attaches none)
};

}  // namespace

void register_disenbooth(Registry<MethodEntry>& registry) {
  register_method<DisenBooth, DisenBoothOptions>(
      registry, "disenbooth",
      "DisenBooth (arXiv 2305.03374): UNet LoRA + an image-conditioned adapter branch, dropped at inference",
      MethodBudget{2000, 1, std::nullopt, std::nullopt,
                   "forchchch/DisenBooth train_disenbooth.sh: 2000 steps, batch 1 (README: ~1000 for dogs and cats)"});
}

}  // namespace pbench::peft
