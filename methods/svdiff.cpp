// SVDiff — Han et al., "SVDiff: Compact Parameter Space for Diffusion Fine-Tuning", arXiv 2303.11305.
//   Every weight matrix W (Linear, Embedding, Conv2d flattened to c_out × (c_in·kh·kw), as the
//   official utils_svd.py) is re-parameterized by its SVD, computed once at attach with U, σ, Vᵀ
//   frozen:  W' = U diag(relu(σ + δ)) Vᵀ, δ = 0 at init.
//   Implemented as W' = W + U diag(relu(σ + δ) − σ) Vᵀ: the same function, but exactly W while δ = 0
//   (the official code adds the SVD round-off residual back for the same reason).
//   1-D norm weights (GroupNorm / LayerNorm γ) are shifted directly: γ' = γ + δ (their own lr).
//   The text encoder's weights shift too by default (text_encoder: true): the paper's 1.7 MB
//   checkpoint figure includes them, although svdiff-pytorch's --train_text_encoder is opt-in.
//   Prior preservation is opt-in, as svdiff-pytorch's --with_prior_preservation (100 class
//   images, weight 1.0 there).
// Trainable count: Σ_matrices min(out, in·kh·kw) + Σ_norms C.
//   SD v1.5 UNet: 222,696 spectral shifts + 100,160 norm weights = 322,856.
//   Text encoder (CLIP-L): 12·6·768 projections + 768 token + 77 position embeddings + 19,200 LN = 75,341.
//   Default (both): 398,197 (1.59 MB at fp32).
// On the meta device no SVD runs: δ gets the same length min(out, in·kh·kw) from
// spectral_length(), which the real path checks against the SVD it computed.
// Delta keys: unet.<layer>.svdiff.delta, text_encoder.<layer>.svdiff.delta.
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/class_image_options.hpp"
#include "methods/factorizations.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

struct SvdiffOptions {
  std::vector<std::string> targets{"*"};
  std::vector<std::string> norm_targets{"*"};
  std::optional<double> lr = 1e-3;
  std::optional<double> lr_1d = 1e-6;
  double weight_decay = 1e-2;
  bool text_encoder = true;
  bool prior_preservation = false;
  ClassImageOptions class_images{100, "svdiff-pytorch's train_svdiff.py: 100"};

  template <class V>
  void fields(V& v) {
    v("targets", targets, "weights whose singular values shift (Linear / Conv2d / Embedding; \"*\" = all)");
    v("norm_targets", norm_targets, "GroupNorm / LayerNorm weights given 1-D shifts");
    v("lr", lr, "learning rate of the spectral shifts (svdiff-pytorch; ~1000x a full fine-tune's); null = train.lr",
      cfg::learning_rate());
    v("lr_1d", lr_1d, "learning rate of the 1-D norm shifts (author's note, svdiff-pytorch issue #3)",
      cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay", cfg::at_least(0));
    v("text_encoder", text_encoder, "also shift the text encoder's weights (the paper's 1.7 MB setting)");
    v("prior_preservation", prior_preservation, "add DreamBooth's prior-preservation loss (svdiff-pytorch's opt-in flag)");
    class_images.fields(v);
  }
};

class SpectralShift : public nn::Parameterization {
 public:
  explicit SpectralShift(const torch::Tensor& w) {
    const int64_t k = spectral_length(w);
    delta = register_parameter("delta", torch::zeros({k}, w.options().requires_grad(false)));
    if (w.device().type() == torch::kMeta) return;  // counting only: shapes, no SVD
    torch::NoGradGuard no_grad;
    auto [u, s, vh] = torch::linalg_svd(as_matrix(w.detach()), /*full_matrices=*/false);
    if (s.size(0) != k)
      throw RunFailure("svdiff: SVD of a weight " + std::to_string(w.size(0)) + "x... gave " +
                       std::to_string(s.size(0)) + " singular values, expected " + std::to_string(k));
    u_ = register_buffer("u", u.contiguous());
    s_ = register_buffer("s", s.contiguous());
    vh_ = register_buffer("vh", vh.contiguous());
  }
  torch::Tensor weight(const torch::Tensor& base) override {
    torch::Tensor shift = torch::relu(s_ + delta) - s_;
    return base + to_weight_shape((u_ * shift.unsqueeze(0)).matmul(vh_), base);
  }
  bool rewrites_weight() const override { return true; }
  torch::Tensor delta;

 private:
  torch::Tensor u_, s_, vh_;
};

class NormShift : public nn::Parameterization {
 public:
  explicit NormShift(const torch::Tensor& gamma) {
    delta = register_parameter("delta", torch::zeros(gamma.sizes(), gamma.options().requires_grad(false)));
  }
  torch::Tensor weight(const torch::Tensor& base) override { return base + delta; }
  bool rewrites_weight() const override { return true; }
  torch::Tensor delta;
};


const std::vector<std::string> kMatrixKinds{"linear", "conv2d", "embedding"};

class Svdiff : public ParameterizedMethod {
 public:
  Svdiff(const SvdiffOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {
    name_ = "svdiff";
    set_group_lr("spectral", opt_.lr);
    set_group_lr("norm_1d", opt_.lr_1d);
    set_weight_decay(opt_.weight_decay);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    std::vector<torch::nn::Module*> roots{target.pipeline.unet.get()};
    if (opt_.text_encoder) roots.push_back(&text_encoder_or_throw(target.pipeline, cfg_, "text_encoder"));
    // The patterns apply to both modules: each must select a layer in one of them.
    require_patterns_match(roots, opt_.targets, kMatrixKinds, cfg_, "targets");
    attach_to(*roots[0], kUnetPrefix);
    if (opt_.text_encoder) attach_to(*roots[1], kTextPrefix);
  }

  std::optional<RegularizationSet> regularization_set(const SubjectData& subject) const override {
    if (!opt_.prior_preservation) return std::nullopt;
    return opt_.class_images.for_subject(subject);
  }

  std::string describe() const override {
    return "SVDiff: " + std::to_string(tracked_elements("spectral")) + " spectral shifts on " + std::to_string(matrices_) +
           " weights + " + std::to_string(tracked_elements("norm_1d")) + " norm-weight shifts";
  }

 private:
  void attach_to(torch::nn::Module& root, const std::string& prefix) {
    auto matrices = select_layers(root, opt_.targets, kMatrixKinds);
    matrices_ += attach_each(matrices, prefix, "svdiff", "spectral",
                             [](const nn::AdaptableRef& ref) { return std::make_shared<SpectralShift>(ref.weight()); });
    std::vector<nn::AdaptableRef> norms;
    for (const auto& ref : select_layers(root, opt_.norm_targets, {"group_norm", "layer_norm"}))
      if (ref.weight().defined()) norms.push_back(ref);  // affine=false norms have nothing to shift
    attach_each(norms, prefix, "svdiff", "norm_1d",
                [](const nn::AdaptableRef& ref) { return std::make_shared<NormShift>(ref.weight()); });
  }

  SvdiffOptions opt_;
  cfg::Node cfg_;  // the section, for the file:line of keys
  size_t matrices_ = 0;
};

}  // namespace

void register_svdiff(Registry<MethodEntry>& registry) {
  register_method<Svdiff, SvdiffOptions>(
      registry, "svdiff", "SVDiff (arXiv 2303.11305): shifts of the singular values of every weight + 1-D norm shifts",
      MethodBudget{500, 1, std::nullopt, std::nullopt, "mkshing/svdiff-pytorch: 500 steps, batch 1"});
}

}  // namespace pbench::peft
