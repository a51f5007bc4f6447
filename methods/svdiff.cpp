// SVDiff — Han et al., "SVDiff: Compact Parameter Space for Diffusion Fine-Tuning", arXiv 2303.11305.
//   Every weight matrix W (Linear, Embedding, Conv2d flattened to c_out × (c_in·kh·kw), as the
//   official utils_svd.py) is re-parameterized by its SVD, computed once at attach with U, σ, Vᵀ
//   frozen:  W' = U diag(relu(σ + δ)) Vᵀ, δ = 0 at init.
//   Implemented as W' = W + U diag(relu(σ + δ) − σ) Vᵀ: the same function, but exactly W while δ = 0
//   (the official code adds the SVD round-off residual back for the same reason).
//   1-D norm weights (GroupNorm / LayerNorm γ) are shifted directly: γ' = γ + δ (their own lr).
// Trainable count: Σ_matrices min(out, in·kh·kw) + Σ_norms C.
//   SD v1.5 UNet: 222,696 spectral shifts + 100,160 norm weights = 322,856.
//   Text encoder (CLIP-L): 12·6·768 projections + 768 token + 77 position embeddings + 19,200 LN = 75,341.
// On the meta device no SVD runs: δ gets the same length min(out, in·kh·kw) from
// spectral_length(), which the real path checks against the SVD it computed.
// Delta keys: unet.<layer>.svdiff.delta, text_encoder.<layer>.svdiff.delta.
#include "framework/config/access.hpp"
#include "framework/util/errors.hpp"
#include "methods/factorizations.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

const char* kSvdiffDefaults = R"(name: svdiff
targets: ["*"]          # every Linear / Conv2d (and Embedding) weight of the UNet
norm_targets: ["*"]     # every GroupNorm / LayerNorm weight (1-D shifts)
lr: 1.0e-3              # spectral shifts (mkshing/svdiff-pytorch; ~1000x the full fine-tune lr)
lr_1d: 1.0e-6           # 1-D norm-weight shifts (author's note, svdiff-pytorch issue #3)
weight_decay: 1.0e-2
text_encoder: false     # the paper also tunes the text encoder: set true for its 1.7 MB setting
)";

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


class Svdiff : public ParameterizedMethod {
 public:
  explicit Svdiff(const cfg::Node& user) : cfg_(section_with_defaults(user, kSvdiffDefaults, "svdiff")) {
    name_ = "svdiff";
    set_group_lr("spectral", optional_number(cfg_, "lr"));
    set_group_lr("norm_1d", optional_number(cfg_, "lr_1d"));
    set_weight_decay(cfg::get_double(cfg_, "weight_decay"));
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    attach_to(*target.pipeline.unet, kUnetPrefix);
    if (cfg::get_bool(cfg_, "text_encoder")) attach_to(text_encoder_or_throw(target.pipeline, cfg_, "text_encoder"), kTextPrefix);
  }

  std::string describe() const override {
    return "SVDiff: " + std::to_string(tracked_elements("spectral")) + " spectral shifts on " + std::to_string(matrices_) +
           " weights + " + std::to_string(tracked_elements("norm_1d")) + " norm-weight shifts";
  }

 private:
  void attach_to(torch::nn::Module& root, const std::string& prefix) {
    auto matrices = select_targets(root, cfg_, "targets", {"linear", "conv2d", "embedding"});
    matrices_ += attach_each(matrices, prefix, "svdiff", "spectral",
                             [](const nn::AdaptableRef& ref) { return std::make_shared<SpectralShift>(ref.weight()); });
    std::vector<nn::AdaptableRef> norms;
    for (const auto& ref : select_layers(root, string_list(cfg_, "norm_targets"), {"group_norm", "layer_norm"}))
      if (ref.weight().defined()) norms.push_back(ref);  // affine=false norms have nothing to shift
    attach_each(norms, prefix, "svdiff", "norm_1d",
                [](const nn::AdaptableRef& ref) { return std::make_shared<NormShift>(ref.weight()); });
  }

  cfg::Node cfg_;
  size_t matrices_ = 0;
};

}  // namespace

void register_svdiff(Registry<MethodEntry>& registry) {
  registry.add(EntryInfo{"svdiff", "SVDiff (arXiv 2303.11305): shifts of the singular values of every weight + 1-D norm shifts",
                         kSvdiffDefaults},
               MethodEntry{[](const cfg::Node& section) { return std::make_unique<Svdiff>(section); }});
}

}  // namespace pbench::peft
