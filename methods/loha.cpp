// LoHa — FedPara, Hyeon-Woo et al., "FedPara: Low-Rank Hadamard Product for Communication-
// Efficient Federated Learning", arXiv 2108.06098 (as LyCORIS applies it to SD).
//   ΔW = (alpha / r) · (B1 A1) ⊙ (B2 A2)   in the matrix view [out, in·kh·kw]; rank(ΔW) <= r².
//   Init (LyCORIS' choice): A1, A2 ~ N(0, 1), B1 ~ N(0, 0.1), B2 = 0, so ΔW = 0 at the start and
//   B2 receives the first gradient. Linear and Conv2d layers (weight rewrite W' = W + ΔW).
// Trainable count: Σ over adapted layers of 2 · r · (out + in·kh·kw).
//   SD v1.5 UNet, attention q,k,v,out: 2 · 199,296 · r -> r=4: 1,594,368.
// Delta keys: unet.<layer>.loha.{up1,down1,up2,down2}.
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/factorizations.hpp"
#include "methods/layer_adapter_method.hpp"
#include "methods/methods.hpp"

namespace pbench::peft {
namespace {

struct LohaOptions {
  int64_t rank = 4;
  double alpha = 2.0;
  std::vector<std::string> targets{"to_q", "to_k", "to_v", "to_out.0"};
  std::optional<double> lr = 2e-4;
  double weight_decay = 1e-2;

  template <class V>
  void fields(V& v) {
    v("rank", rank, "rank r of each factor pair (LyCORIS maintainers: dim 2-8, issue #29)", layer_width());
    v("alpha", alpha, "scale alpha/r (LyCORIS: alpha 1 .. dim/2)");
    v("targets", targets, "UNet layers adapted (add conv1, conv2, proj_in, ... for LoCon-style convs)");
    v("lr", lr, "learning rate (LyCORIS issue #29: 1e-4 .. 5e-4); null = train.lr", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay", cfg::at_least(0));
  }
};

class HadamardLowRank : public nn::Parameterization {
 public:
  HadamardLowRank(const torch::Tensor& w, int64_t rank, double alpha, torch::Generator& gen)
      : scale_(alpha / double(rank)) {
    auto [rows, cols] = matrix_shape(w);
    auto o = w.options().requires_grad(false);
    up1 = register_parameter("up1", torch::empty({rows, rank}, o));
    down1 = register_parameter("down1", torch::empty({rank, cols}, o));
    up2 = register_parameter("up2", torch::zeros({rows, rank}, o));
    down2 = register_parameter("down2", torch::empty({rank, cols}, o));
    normal_init(up1, 0.1, gen);
    normal_init(down1, 1.0, gen);
    normal_init(down2, 1.0, gen);
  }
  torch::Tensor weight(const torch::Tensor& base) override {
    return base + to_weight_shape(hadamard_low_rank(up1, down1, up2, down2), base) * scale_;
  }
  bool rewrites_weight() const override { return true; }
  torch::Tensor up1, down1, up2, down2;

 private:
  double scale_;
};

class Loha : public LayerAdapterMethod<LohaOptions> {
 public:
  Loha(const LohaOptions& o, const cfg::Node& section) : LayerAdapterMethod("loha", o, section) {}
  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    adapt(target, Component::unet, opt_.targets, "targets", kLinearAndConv, "loha", [this, &target](const nn::AdaptableRef& r) {
      return std::make_shared<HadamardLowRank>(r.weight(), opt_.rank, opt_.alpha, target.generator);
    });
  }
  std::string describe() const override { return on_layers("LoHa r=" + std::to_string(opt_.rank)); }
};

}  // namespace

void register_loha(Registry<MethodEntry>& registry) {
  register_method<Loha, LohaOptions>(registry, "loha",
                                     "LoHa / FedPara (arXiv 2108.06098): Hadamard product of two low-rank updates",
      MethodBudget{500, 1, std::nullopt, std::nullopt, "chosen: LoRA's (LyCORIS gives no fixed budget)"});
}

}  // namespace pbench::peft
