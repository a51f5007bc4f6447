// LoKr — Kronecker-product update as LyCORIS implements it (KronA, Edalati et al., arXiv 2212.10650).
//   ΔW = s · W1 ⊗ W2 in the matrix view [out, in·kh·kw], W1: [a, b] small and full,
//   W2: [c, d·kh·kw] either full or low rank B·A (rank r), with out = a·c, in = b·d.
// Factor choice (documented, LyCORIS' factorization()): out and in are each split as m·n, m <= n;
//   factor > 0 dividing the dimension: m = factor (or dim/factor if smaller); otherwise the most
//   balanced split with m <= factor (factor = -1: no bound, m is the largest divisor <= sqrt(dim)).
//   W1 takes the small parts (a, b), W2 the large ones; the conv kernel stays in W2, so W1 ⊗ W2 is
//   exactly the flattened kernel layout. W2 is stored full when r >= max(c, d·kh·kw)/2 (low rank
//   would not save parameters) and then alpha is ignored (s = 1); otherwise s = alpha / r.
//   Init: W1 kaiming-uniform; low rank: A kaiming-uniform, B = 0; full W2 = 0 — ΔW = 0 at the start.
// Trainable count: Σ over adapted layers of a·b + (full ? c·d·kh·kw : r·(c + d·kh·kw)).
//   SD v1.5 UNet, attention q,k,v,out, factor -1, r = 8 (splits 320 = 16·20, 640 = 20·32,
//   1280 = 32·40, 768 = 24·32; every W2 low rank since 8 < max(c, d)/2):
//     C×C layers (6 per block): 320: 256 + 8·40 = 576, 640: 400 + 8·64 = 912, 1280: 1024 + 8·80 = 1664
//     attn2 to_k/to_v (768 -> C): 320: 384 + 8·52 = 800, 640: 480 + 8·64 = 992, 1280: 768 + 8·72 = 1344
//     blocks: 5·(6·576 + 2·800) + 5·(6·912 + 2·992) + 6·(6·1664 + 2·1344) = 25,280 + 37,280 + 76,032
//     = 138,592.
// Delta keys: unet.<layer>.lokr.w1, .lokr.w2 (full) or .lokr.w2_up / .lokr.w2_down.
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/factorizations.hpp"
#include "methods/layer_adapter_method.hpp"
#include "methods/methods.hpp"

namespace pbench::peft {
namespace {

struct LokrOptions {
  int64_t factor = -1;
  int64_t rank = 8;
  double alpha = 8.0;
  std::vector<std::string> targets{"to_q", "to_k", "to_v", "to_out.0"};
  std::optional<double> lr = 2e-4;
  double weight_decay = 1e-2;

  template <class V>
  void fields(V& v) {
    v("factor", factor, "size of W1's side; -1 = the most balanced split (LyCORIS' small LoKr)");
    v("rank", rank, "rank of W2 when it is stored low rank", layer_width());
    v("alpha", alpha, "scale alpha/r of a low-rank W2");
    v("targets", targets, "UNet layers adapted (name patterns; linear and conv)");
    v("lr", lr, "learning rate; null = train.lr", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay", cfg::at_least(0));
  }
};

class KroneckerUpdate : public nn::Parameterization {
 public:
  KroneckerUpdate(const torch::Tensor& w, int64_t factor, int64_t rank, double alpha, torch::Generator& gen)
      : shapes_(kronecker_shapes(w, factor, rank)), scale_(shapes_.w2_full ? 1.0 : alpha / double(rank)) {
    auto o = w.options().requires_grad(false);
    w1 = register_parameter("w1", torch::empty({shapes_.w1_rows, shapes_.w1_cols}, o));
    kaiming_uniform_init(w1, gen);
    if (shapes_.w2_full) {
      w2 = register_parameter("w2", torch::zeros({shapes_.w2_rows, shapes_.w2_cols}, o));
    } else {
      w2_up = register_parameter("w2_up", torch::zeros({shapes_.w2_rows, rank}, o));
      w2_down = register_parameter("w2_down", torch::empty({rank, shapes_.w2_cols}, o));
      kaiming_uniform_init(w2_down, gen);
    }
  }
  torch::Tensor weight(const torch::Tensor& base) override {
    torch::Tensor second = shapes_.w2_full ? w2 : w2_up.matmul(w2_down);
    return base + to_weight_shape(kronecker(w1, second), base) * scale_;
  }
  bool rewrites_weight() const override { return true; }
  torch::Tensor w1, w2, w2_up, w2_down;

 private:
  KroneckerShapes shapes_;
  double scale_;
};

class Lokr : public LayerAdapterMethod<LokrOptions> {
 public:
  Lokr(const LokrOptions& o, const cfg::Node& section) : LayerAdapterMethod("lokr", o, section) {}
  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    adapt(target, Component::unet, opt_.targets, "targets", kLinearAndConv, "lokr", [this, &target](const nn::AdaptableRef& r) {
      return std::make_shared<KroneckerUpdate>(r.weight(), opt_.factor, opt_.rank, opt_.alpha, target.generator);
    });
  }
  std::string describe() const override {
    return on_layers("LoKr factor=" + std::to_string(opt_.factor) + " r=" + std::to_string(opt_.rank));
  }
};

}  // namespace

void register_lokr(Registry<MethodEntry>& registry) {
  register_method<Lokr, LokrOptions>(
      registry, "lokr", "LoKr (LyCORIS; KronA arXiv 2212.10650): Kronecker product of a small and a low-rank factor",
      MethodBudget{500, 1, std::nullopt, std::nullopt, "chosen: LoRA's (LyCORIS gives no fixed budget)"});
}

}  // namespace pbench::peft
