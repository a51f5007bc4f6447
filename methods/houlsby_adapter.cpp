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

#include "framework/config/access.hpp"
#include "framework/util/errors.hpp"
#include "methods/bottleneck_adapter.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

const char* kHoulsbyDefaults = R"(name: houlsby_adapter
targets: [attn1.to_out.0, attn2.to_out.0, ff.net.2]   # adapter on each layer's output
bottleneck: 64         # paper sweeps 8..256
activation: gelu       # adapter-bert's nonlinearity
scale: 1.0
train_norms: true      # the paper also tunes the layer norms of adapted blocks
lr: 1.0e-4             # paper: 1e-4 .. 1e-3
weight_decay: 0.0
)";

class HoulsbyAdapter : public ParameterizedMethod {
 public:
  explicit HoulsbyAdapter(const cfg::Node& user) : cfg_(section_with_defaults(user, kHoulsbyDefaults, "houlsby_adapter")) {
    name_ = "houlsby_adapter";
    bottleneck_ = positive_int(cfg_, "bottleneck");
    act_ = adapter_activation(cfg::get_string(cfg_, "activation"),
                              cfg_.find("activation")->origin().describe() + ": method.activation");
    scale_ = cfg::get_double(cfg_, "scale");
    set_group_lr("unet", optional_number(cfg_, "lr"));
    set_weight_decay(cfg::get_double(cfg_, "weight_decay"));
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    auto layers = select_targets(*target.pipeline.unet, cfg_, "targets", {"linear"});
    adapters_ = attach_each(layers, kUnetPrefix, "houlsby", "unet", [this](const nn::AdaptableRef& ref) {
      const torch::Tensor w = ref.weight();
      return std::make_shared<SequentialAdapter>(w.size(0), bottleneck_, act_, scale_, w.options());
    });
    if (cfg::get_bool(cfg_, "train_norms")) track_block_norms(*target.pipeline.unet, layers);
  }

  std::string describe() const override {
    return "Houlsby adapters m=" + std::to_string(bottleneck_) + " on " + std::to_string(adapters_) + " sublayers" +
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

  cfg::Node cfg_;
  int64_t bottleneck_ = 64;
  AdapterActivation act_ = AdapterActivation::kGelu;
  double scale_ = 1.0;
  size_t adapters_ = 0, norms_ = 0;
};

}  // namespace

void register_houlsby_adapter(Registry<MethodEntry>& registry) {
  registry.add(EntryInfo{"houlsby_adapter",
                         "Houlsby adapters (arXiv 1902.00751): zero-initialised bottleneck after each transformer sublayer",
                         kHoulsbyDefaults},
               MethodEntry{[](const cfg::Node& section) { return std::make_unique<HoulsbyAdapter>(section); }});
}

}  // namespace pbench::peft
