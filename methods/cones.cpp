// Cones — Liu et al., "Cones: Concept Neurons in Diffusion Models for Customized Generation",
// arXiv 2303.05125 (ICML 2023). No official code (Johanan528/Cones and ali-vilab/Cones: "Coming
// Soon"): a re-implementation from the paper (wave2-methods.md §4), every default below chosen
// where the paper gives none, and marked so.
//
// Mechanism. The candidate "neurons" are the scalar entries of the K and V projections of the
// UNet's cross-attentions (`targets`; the unofficial Gothos/Cones also takes attn1's). Each is given
// an activation scale s (W' = W ⊙ s, s = 1: the model unchanged). The concept-implanting loss
// (ε-MSE on "a sks dog" + the prior term on class images, weight 1) is differentiated w.r.t. s:
// at s = 1, ∂L/∂s_i = θ_i · ∂L/∂θ_i, the first-order change of the loss when θ_i is scaled, and
// −θ_i · ∂L/∂θ_i its change when θ_i is shut. So a neuron whose score is positive lowers the loss
// when it is shut: a concept neuron. Each step adds the step's scores to a running sum, and every
// neuron whose sum exceeds the threshold τ is shut (s_i = 0) for good; the next steps score the
// model with those shut (the paper's iterative Algorithm 1). Nothing is updated by gradient
// descent: the scales are scored, never stepped (ParamGroup::stepped false: no optimizer, no
// gradient clipping), and only the shutting changes them.
// Chosen: τ = 7e-3 (Gothos/Cones' README; below ~1e-4 it "destroys the layer"), accumulated over
// steps as Gothos does; 1000 steps (its README: "researchers use 1000"), batch 1, 20 class images.
// The threshold depends on the loss's scale and the model: the paper sweeps it, so should you.
// Storage: the shut neurons' flat indices per layer (int32: 4 bytes a neuron, the paper's "90% less
// storage"), not the scales. Delta keys unet.<layer>.cones.closed [N_layer] int32. The count of
// `pbench params` is the candidate pool (the scales that are scored): attn2 K/V on SD v1.5 =
// 19,169,280 scalars; the delta's size is 4 × the neurons shut, known after training.
// Multi-concept: the union of the concepts' neuron sets (merge_deltas, `pbench merge-delta`).
#include <set>
#include <sstream>

#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/class_image_options.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

struct ConesOptions {
  std::vector<std::string> targets{"attn2.to_k", "attn2.to_v"};
  double threshold = 7e-3;
  bool prior_preservation = true;
  ClassImageOptions class_images{20, "chosen, Gothos/Cones: 20"};

  template <class V>
  void fields(V& v) {
    v("targets", targets, "layers whose weight entries are candidate neurons (the paper: cross-attention K and V)");
    v("threshold", threshold,
      "tau: a neuron is shut once its summed score theta*dL/dtheta exceeds it (chosen: Gothos/Cones' 7e-3; sweep it)",
      cfg::at_least(0));
    v("prior_preservation", prior_preservation, "the concept-implanting loss's prior term on class images");
    class_images.fields(v);
  }
};

// W' = W ⊙ s: s is scored, never stepped.
class NeuronScales : public nn::Parameterization {
 public:
  explicit NeuronScales(const torch::Tensor& w) {
    scale = register_parameter("scale", torch::ones(w.sizes(), w.options().requires_grad(false)));
  }
  torch::Tensor weight(const torch::Tensor& base) override { return base * scale; }
  bool rewrites_weight() const override { return true; }
  torch::Tensor scale;
};

class Cones : public Method {
 public:
  Cones(const ConesOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {}

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    for (const nn::AdaptableRef& ref :
         select_or_throw(*target.pipeline.unet, opt_.targets, {"linear"}, cfg_, "targets")) {
      auto scales = std::make_shared<NeuronScales>(ref.weight());
      ref.layer->attach("cones", scales);
      scales->scale.set_requires_grad(true);
      layers_.push_back(Layer{kUnetPrefix + ref.name + ".cones.closed", scales, {}});
    }
  }

  // The scales get gradients (the scores) but no optimizer (and no clipping: the scores are the
  // raw dL/ds); the learning rate 0 keeps them still where a caller steps every group anyway.
  std::vector<ParamGroup> parameter_groups(double) override {
    std::vector<torch::Tensor> scales;
    for (const Layer& l : layers_) scales.push_back(l.scales->scale);
    ParamGroup scores{"neuron_scales", scales, 0.0, 0.0};
    scores.stepped = false;
    return {scores};
  }

  void after_step(int64_t) override {
    torch::NoGradGuard no_grad;
    for (Layer& l : layers_) {
      const torch::Tensor& grad = l.scales->scale.grad();
      if (!grad.defined()) continue;
      l.score_sum = l.score_sum.defined() ? l.score_sum + grad : grad.clone();
      l.scales->scale.masked_fill_(l.score_sum > opt_.threshold, 0.0);
    }
  }

  TensorMap delta() override {
    TensorMap out;
    for (const Layer& l : layers_) {
      const torch::Tensor& s = l.scales->scale;
      out[l.key] = s.device().type() == torch::kMeta
                       ? torch::empty({0}, torch::kInt32)
                       : torch::nonzero(s.detach().reshape({-1}) == 0).reshape({-1}).to(torch::kInt32).cpu();
    }
    return out;
  }

  // Exactly the layers' keys, each a 1-D integer tensor of distinct in-range indices, checked
  // before any scale is touched.
  void load_delta(const TensorMap& delta) override {
    std::set<std::string> expected;
    for (const Layer& l : layers_) expected.insert(l.key);
    for (const auto& [key, t] : delta)
      if (!expected.count(key)) throw InputError("cones delta: unexpected tensor '" + key + "' (another method's delta?)");
    for (const Layer& l : layers_) {
      auto it = delta.find(l.key);
      if (it == delta.end()) throw InputError("cones delta: missing tensor '" + l.key + "'");
      const torch::Tensor& idx = it->second;
      const int64_t n = l.scales->scale.numel();
      if (idx.dim() != 1 || idx.is_floating_point() || idx.scalar_type() == torch::kBool ||
          (idx.numel() > 0 && (idx.min().item<int64_t>() < 0 || idx.max().item<int64_t>() >= n)))
        throw InputError("cones delta: '" + l.key + "' must hold 1-D integer neuron indices in [0, " +
                         std::to_string(n) + ")");
    }
    torch::NoGradGuard no_grad;
    for (Layer& l : layers_) {
      l.scales->scale.fill_(1.0);
      const torch::Tensor idx = delta.at(l.key).to(torch::kInt64).to(l.scales->scale.device());
      l.scales->scale.view({-1}).index_fill_(0, idx, 0.0);
      l.score_sum = torch::Tensor();
    }
  }

  std::string describe() const override {
    int64_t pool = 0, closed = 0;
    for (const Layer& l : layers_) {
      pool += l.scales->scale.numel();
      if (l.scales->scale.device().type() != torch::kMeta) closed += (l.scales->scale == 0).sum().item<int64_t>();
    }
    std::ostringstream out;
    out << "Cones: " << closed << " concept neurons shut of " << pool << " in " << layers_.size()
        << " K/V layers (tau " << opt_.threshold << ")";
    return out.str();
  }

  // Multi-concept Cones (the paper's): the union of the concepts' shut neurons, layer by layer.
  MergedDelta merge_deltas(const std::vector<TensorMap>& deltas, const MergeContext& context) const override {
    require_unit_weights(context.weights, "cones", "the union of neuron sets");
    MergedDelta out;
    for (const auto& [key, first] : deltas.front()) {
      std::vector<torch::Tensor> sets;
      for (size_t k = 0; k < deltas.size(); ++k) {
        const auto it = deltas[k].find(key);
        if (it == deltas[k].end())
          throw InputError("cones merge: delta " + std::to_string(k + 1) + " has no '" + key + "'");
        sets.push_back(it->second.to(torch::kInt64));
      }
      out.tensors[key] = std::get<0>(torch::_unique(torch::cat(sets), /*sorted=*/true)).to(torch::kInt32);
    }
    for (size_t k = 0; k < deltas.size(); ++k)
      if (deltas[k].size() != out.tensors.size())
        throw InputError("cones merge: delta " + std::to_string(k + 1) + " holds other layers than delta 1");
    return out;
  }

  std::optional<RegularizationSet> regularization_set(const SubjectData& subject) const override {
    if (!opt_.prior_preservation) return std::nullopt;
    return opt_.class_images.for_subject(subject);
  }

 private:
  struct Layer {
    std::string key;
    std::shared_ptr<NeuronScales> scales;
    torch::Tensor score_sum;  // Σ over steps of ∂L/∂s
  };
  ConesOptions opt_;
  cfg::Node cfg_;
  std::vector<Layer> layers_;
};

}  // namespace

void register_cones(Registry<MethodEntry>& registry) {
  register_method<Cones, ConesOptions>(
      registry, "cones",
      "Cones (arXiv 2303.05125; re-implemented from the paper, no official code): shut the K/V weight entries whose "
      "first-order score theta*dL/dtheta on the concept loss passes a threshold; the delta is their indices",
      MethodBudget{1000, 1, std::nullopt, std::nullopt,
                   "chosen: Gothos/Cones' README (\"researchers use 1000\" passes), batch 1; no official code"});
}

}  // namespace pbench::peft
