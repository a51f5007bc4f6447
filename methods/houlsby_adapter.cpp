// Houlsby adapters — Houlsby et al., "Parameter-Efficient Transfer Learning for NLP", arXiv 1902.00751.
// A bottleneck adapter after each sublayer of every transformer block, before the residual add:
//   y' = y + up(act(down(y))),  down: C -> m, up: m -> C zero-initialised (exact identity at init).
// The paper adds two per layer (after attention and after the FFN); an SD transformer block has three
// sublayers, so the default targets are the output projections of all three: attn1.to_out.0,
// attn2.to_out.0, ff.net.2 (the layer whose output the block adds to its residual stream).
// The paper also trains the layer norms: `train_norms` trains norm1/norm2/norm3 of those blocks.
// Trainable count: Σ adapters (2·m·C + m + C) [+ Σ norms 2·C each].
//   SD v1.5, m = 64, three adapters per block, ΣC = 12,480 over 16 blocks:
//   3·(129·12,480 + 16·64) = 4,832,832; + norms 3·2·12,480 = 74,880 -> 4,907,712.
// Delta keys: unet.<layer>.houlsby.adapter.{down,up}_{weight,bias}, unet.<block>.normK.{weight,bias}.
#include <algorithm>

#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "methods/bottleneck_adapter.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

struct HoulsbyOptions {
  std::vector<std::string> targets{"attn1.to_out.0", "attn2.to_out.0", "ff.net.2"};
  int64_t bottleneck = 64;
  std::string activation = "gelu";
  double scale = 1.0;
  bool train_norms = true;
  std::optional<double> lr = 1e-4;
  double weight_decay = 0.0;

  template <class V>
  void fields(V& v) {
    v("targets", targets, "layers followed by an adapter on their output");
    v("bottleneck", bottleneck, "adapter width m (the paper sweeps 8..256)", layer_width());
    v("activation", activation, "adapter nonlinearity (adapter-bert: gelu)", cfg::one_of(kAdapterActivationNames));
    v("scale", scale, "multiplier of the adapter's output");
    v("train_norms", train_norms, "also tune the layer norms of adapted blocks, as the paper does");
    v("lr", lr, "learning rate (paper: 1e-4 .. 1e-3); null = train.lr", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay", cfg::at_least(0));
  }
};

class HoulsbyAdapter : public ParameterizedMethod {
 public:
  HoulsbyAdapter(const HoulsbyOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {
    name_ = "houlsby_adapter";
    act_ = adapter_activation(opt_.activation, cfg_.find("activation")->origin().describe() + ": method.activation");
    set_group_lr("unet", opt_.lr);
    set_weight_decay(opt_.weight_decay);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    auto layers = select_or_throw(*target.pipeline.unet, opt_.targets, {"linear"}, cfg_, "targets");
    adapters_ = attach_each(layers, kUnetPrefix, "houlsby", "unet", [this, &target](const nn::AdaptableRef& ref) {
      const torch::Tensor w = ref.weight();
      return std::make_shared<SequentialAdapter>(w.size(0), opt_.bottleneck, act_, opt_.scale, w.options(), target.generator);
    });
    if (opt_.train_norms) track_block_norms(*target.pipeline.unet, layers);
  }

  std::string describe() const override {
    return "Houlsby adapters m=" + std::to_string(opt_.bottleneck) + " on " + std::to_string(adapters_) + " sublayers" +
           (norms_ ? " + " + std::to_string(norms_) + " layer norms" : std::string()) + ", " +
           std::to_string(tracked_elements()) + " parameters";
  }

 private:
  // The LayerNorms (norm1..norm3) of every transformer block holding an adapted layer.
  void track_block_norms(torch::nn::Module& unet, const std::vector<nn::AdaptableRef>& adapted) {
    std::vector<std::string> blocks;
    for (const auto& ref : adapted) {
      size_t at = ref.name.find(".attn");
      if (at == std::string::npos) at = ref.name.find(".ff.");
      if (at == std::string::npos) continue;  // a layer outside a transformer block: no block norms
      std::string block = ref.name.substr(0, at);
      if (std::find(blocks.begin(), blocks.end(), block) == blocks.end()) blocks.push_back(block);
    }
    auto modules = unet.named_modules();
    for (const auto& block : blocks)
      for (const char* norm : {"norm1", "norm2", "norm3"}) {
        const std::string name = block + "." + norm;
        if (!modules.contains(name)) continue;
        for (const auto& item : modules[name]->named_parameters(false))
          track(kUnetPrefix + name + "." + item.key(), item.value(), "unet");
        ++norms_;
      }
  }

  HoulsbyOptions opt_;
  cfg::Node cfg_;  // the section, for the file:line of keys
  AdapterActivation act_ = AdapterActivation::kGelu;
  size_t adapters_ = 0, norms_ = 0;
};

}  // namespace

void register_houlsby_adapter(Registry<MethodEntry>& registry) {
  register_method<HoulsbyAdapter, HoulsbyOptions>(
      registry, "houlsby_adapter",
      "Houlsby adapters (arXiv 1902.00751): zero-initialised bottleneck after each transformer sublayer",
      MethodBudget{500, 1, std::nullopt, std::nullopt, "chosen: LoRA's (no SD reference code)"});
}

}  // namespace pbench::peft
