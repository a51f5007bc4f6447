// Closer-Look adapters — Xiang et al., "A Closer Look at Parameter-Efficient Tuning in Diffusion
// Models", arXiv 2303.18181. One bottleneck adapter per transformer block whose *input position*
// and *output position* are chosen separately; the paper's best (code config attn2o-ffni) reads the
// cross-attention output and adds into the FFN input, which the reference code
// (Xiang-cd/unet-finetune, ldm/modules/attention.py) realises on the block's residual stream:
//   h = attn2 output (the output of attn2.to_out.0, before the block's residual add),
//   x = residual stream after the cross-attention's add;  x' = x + s·up(relu(down(h)));
//   block output = ff(norm3(x')) + x'   — the update passes through norm3 and the FFN's skip path.
// Realisation: a parameter-free tap on `source` records h; `into: residual` (default) adds the adapter
// through the block's residual-stream seam (models::ResidualHook, before norm3). The other output
// positions act on a layer `target` of the block: `into: input` adds at its input (y' = W(x + a) + b,
// exact), `into: output` at its output (y' = y + a); source = target with `into: output` is the
// sequential (Houlsby-style) placement. up is zero-initialised: exact identity at init.
// Defaults (Xiang-cd/unet-finetune configs/sd-inject-dreambooth/attn2o-ffni.yaml): mid_dim 60, ReLU,
// scale 1.0, lr 1e-4.
// Trainable count: Σ over transformer blocks (2·m·C + m + C)
//   SD v1.5, m = 60, ΣC = 12,480 over 16 blocks: 121·12,480 + 16·60 = 1,511,040 (0.18% of the UNet).
// Delta keys: unet.<block>.closer_look.adapter.{down,up}_{weight,bias} (into: residual);
//   unet.<block>.<target>.closer_look.adapter.… (into: input / output).
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"
#include "methods/bottleneck_adapter.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

struct CloserLookOptions {
  std::string source = "attn2.to_out.0";
  std::string into = "residual";
  std::string target = "ff.net.0.proj";
  int64_t bottleneck = 60;
  std::string activation = "relu";
  double scale = 1.0;
  std::optional<double> lr = 1e-4;
  double weight_decay = 0.0;

  template <class V>
  void fields(V& v) {
    v("source", source, "input position: the layer of each transformer block that feeds the adapter");
    v("into", into,
      "output position: residual = the block's residual stream before norm3 (the paper's FFN_in); "
      "input / output = of `target`",
      cfg::one_of({"residual", "input", "output"}));
    v("target", target, "the layer for into: input / output (unused with residual)");
    v("bottleneck", bottleneck, "adapter width (mid_dim of the reference config)", layer_width());
    v("activation", activation, "adapter nonlinearity", cfg::one_of(kAdapterActivationNames));
    v("scale", scale, "multiplier of the adapter's output");
    v("lr", lr, "learning rate; null = train.lr", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay", cfg::at_least(0));
  }
};

class CloserLookAdapter : public ParameterizedMethod {
 public:
  CloserLookAdapter(const CloserLookOptions& o, const cfg::Node& section) : opt_(o), cfg_(section) {
    name_ = "closer_look_adapter";
    act_ = adapter_activation(opt_.activation, where("activation") + ": method.activation");
    residual_ = opt_.into == "residual";
    into_ = opt_.into == "input" ? AdapterInjection::Into::kInput : AdapterInjection::Into::kOutput;
    set_group_lr("unet", opt_.lr);
    set_weight_decay(opt_.weight_decay);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    torch::nn::Module& unet = *target.pipeline.unet;
    auto modules = unet.named_modules();
    // Every block holding the source layer gets one adapter, fed by its own source.
    for (const auto& src : nn::adaptable_layers(unet)) {
      if (!ends_with(src.name, "." + opt_.source) || std::string(src.layer->layer_kind()) != "linear") continue;
      const std::string block = src.name.substr(0, src.name.size() - opt_.source.size() - 1);
      if (residual_) {
        attach_to_residual_stream(modules, src, block, target.generator);
        continue;
      }
      const std::string dst_name = block + "." + opt_.target;
      auto* dst = modules.contains(dst_name) ? dynamic_cast<nn::LinearImpl*>(modules[dst_name].get()) : nullptr;
      if (!dst)
        throw InputError(where("target") + ": method.target: '" + dst_name + "' is not a Linear layer of the model");
      const int64_t source_width = src.weight().size(0);
      const int64_t at_width = into_ == AdapterInjection::Into::kInput ? dst->weight.size(1) : dst->weight.size(0);
      if (source_width != at_width)
        throw InputError(where("target") + ": method.target: '" + dst_name + "' has width " + std::to_string(at_width) +
                         " at its " + opt_.into + ", the source '" + src.name + "' outputs " +
                         std::to_string(source_width));
      auto tap = std::make_shared<AdapterTap>();
      src.layer->attach("closer_look_tap", tap);
      auto injection = std::make_shared<AdapterInjection>(tap, name_ + " at " + dst_name, into_, dst->weight,
                                                          opt_.bottleneck, act_, opt_.scale, target.generator);
      dst->attach("closer_look", injection);
      for (const auto& item : injection->named_parameters(true))
        track(kUnetPrefix + dst_name + ".closer_look." + item.key(), item.value(), "unet");
      ++adapters_;
    }
    if (adapters_ == 0)
      throw InputError(where("source") + ": method.source: no Linear layer named '*." + opt_.source + "' in the UNet");
  }

  std::string describe() const override {
    return "Closer-Look adapters m=" + std::to_string(opt_.bottleneck) + ", " + opt_.source + " -> " +
           (residual_ ? std::string("residual stream before norm3") : opt_.target + " " + opt_.into) + ", " + std::to_string(adapters_) + " blocks, " +
           std::to_string(tracked_elements()) + " parameters";
  }

 private:
  // into: residual — the adapter is a child of the transformer block, fed by the tap on `source`.
  void attach_to_residual_stream(torch::OrderedDict<std::string, std::shared_ptr<torch::nn::Module>>& modules,
                                 const nn::AdaptableRef& src, const std::string& block_name, torch::Generator& gen) {
    auto* block = modules.contains(block_name) ? dynamic_cast<models::BasicTransformerBlockImpl*>(modules[block_name].get())
                                               : nullptr;
    if (!block)
      throw InputError(where("source") + ": method.source: '" + src.name +
                       "' is not in a transformer block (into: residual needs one)");
    auto tap = std::make_shared<AdapterTap>();
    src.layer->attach("closer_look_tap", tap);
    const torch::Tensor& w = src.weight();
    auto injection = std::make_shared<ResidualInjection>(tap, name_ + " at " + block_name, w.size(0), opt_.bottleneck, act_,
                                                         opt_.scale, w.options(), gen);
    block->attach_before_feed_forward("closer_look", injection);
    for (const auto& item : injection->named_parameters(true))
      track(kUnetPrefix + block_name + ".closer_look." + item.key(), item.value(), "unet");
    ++adapters_;
  }

  std::string where(const std::string& key) const {
    const cfg::Node* n = cfg_.find(key);
    return (n ? n->origin() : cfg_.origin()).describe();
  }

  CloserLookOptions opt_;
  cfg::Node cfg_;  // the section, for the file:line of keys
  AdapterActivation act_ = AdapterActivation::kRelu;
  bool residual_ = true;
  AdapterInjection::Into into_ = AdapterInjection::Into::kInput;
  size_t adapters_ = 0;
};

}  // namespace

void register_closer_look_adapter(Registry<MethodEntry>& registry) {
  register_method<CloserLookAdapter, CloserLookOptions>(
      registry, "closer_look_adapter",
      "Closer-Look adapters (arXiv 2303.18181): bottleneck from the cross-attention output into the FFN input",
      MethodBudget{3000, 1, std::nullopt, std::nullopt, "Xiang-cd/unet-finetune attn2o-ffni.yaml: max_steps 3000, batch 1"});
}

}  // namespace pbench::peft
