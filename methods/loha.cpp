// LoHa — FedPara, Hyeon-Woo et al., "FedPara: Low-Rank Hadamard Product for Communication-
// Efficient Federated Learning", arXiv 2108.06098 (as LyCORIS applies it to SD).
//   ΔW = (alpha / r) · (B1 A1) ⊙ (B2 A2)   in the matrix view [out, in·kh·kw]; rank(ΔW) <= r².
//   Init (LyCORIS' choice): A1, A2 ~ N(0, 1), B1 ~ N(0, 0.1), B2 = 0, so ΔW = 0 at the start and
//   B2 receives the first gradient. Linear and Conv2d layers (weight rewrite W' = W + ΔW).
// Trainable count: Σ over adapted layers of 2 · r · (out + in·kh·kw).
//   SD v1.5 UNet, attention q,k,v,out: 2 · 199,296 · r -> r=4: 1,594,368.
// Delta keys: unet.<layer>.loha.{up1,down1,up2,down2}.
#include "framework/config/access.hpp"
#include "framework/util/errors.hpp"
#include "methods/factorizations.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

const char* kLohaDefaults = R"(name: loha
rank: 4               # LyCORIS maintainers: LoHa dim 2-8 (issue #29)
alpha: 2.0              # LyCORIS: alpha 1 .. dim/2
targets: [to_q, to_k, to_v, to_out.0]   # add conv names (conv1, conv2, proj_in, ...) for LoCon-style convs
lr: 2.0e-4            # LyCORIS issue #29: 1e-4 .. 5e-4
weight_decay: 1.0e-2
)";

class HadamardLowRank : public nn::Parameterization {
 public:
  HadamardLowRank(const torch::Tensor& w, int64_t rank, double alpha) : scale_(alpha / double(rank)) {
    auto [rows, cols] = matrix_shape(w);
    auto o = w.options().requires_grad(false);
    up1 = register_parameter("up1", torch::empty({rows, rank}, o));
    down1 = register_parameter("down1", torch::empty({rank, cols}, o));
    up2 = register_parameter("up2", torch::zeros({rows, rank}, o));
    down2 = register_parameter("down2", torch::empty({rank, cols}, o));
    normal_init(up1, 0.1);
    normal_init(down1, 1.0);
    normal_init(down2, 1.0);
  }
  torch::Tensor weight(const torch::Tensor& base) override {
    return base + to_weight_shape(hadamard_low_rank(up1, down1, up2, down2), base) * scale_;
  }
  bool rewrites_weight() const override { return true; }
  torch::Tensor up1, down1, up2, down2;

 private:
  double scale_;
};

class Loha : public ParameterizedMethod {
 public:
  explicit Loha(const cfg::Node& user) : cfg_(section_with_defaults(user, kLohaDefaults, "loha")) {
    name_ = "loha";
    rank_ = positive_int(cfg_, "rank");
    alpha_ = cfg::get_double(cfg_, "alpha");
    set_group_lr("unet", optional_number(cfg_, "lr"));
    set_weight_decay(cfg::get_double(cfg_, "weight_decay"));
  }
  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    layers_ = attach_each(
        select_targets(*target.pipeline.unet, cfg_, "targets", {"linear", "conv2d"}),
        kUnetPrefix, "loha", "unet", [this](const nn::AdaptableRef& r) {
          return std::make_shared<HadamardLowRank>(r.weight(), rank_, alpha_);
        });
  }
  std::string describe() const override {
    return "LoHa r=" + std::to_string(rank_) + " on " + std::to_string(layers_) + " UNet layers";
  }

 private:
  cfg::Node cfg_;
  int64_t rank_ = 4;
  double alpha_ = 2;
  size_t layers_ = 0;
};

}  // namespace

void register_loha(Registry<MethodEntry>& registry) {
  registry.add(EntryInfo{"loha", "LoHa / FedPara (arXiv 2108.06098): Hadamard product of two low-rank updates", kLohaDefaults},
               MethodEntry{[](const cfg::Node& section) { return std::make_unique<Loha>(section); }});
}

}  // namespace pbench::peft
