// LoRA — Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models", arXiv 2106.09685.
//   y = W x + (alpha / r) · B A x,   A: [r, in] kaiming-uniform (PEFT's lora_A), B: [out, r] zeros.
// Targets (diffusers' train_dreambooth_lora.py): to_q, to_k, to_v, to_out.0 of every UNet
// attention; optionally the text encoder's q_proj, k_proj, v_proj, out_proj with their own lr.
// Trainable count: Σ over adapted layers of r · (in + out)  (convs: in = c_in·kh·kw).
//   SD v1.5 UNet, attn1+attn2 q,k,v,out: 199,296 · r  (r = 1/4/8: 199,296 / 797,184 / 1,594,368);
//   text encoder (12 layers × 4 projections 768→768): 73,728 · r.
// Delta keys: unet.<layer>.lora.down / .lora.up (PEFT's lora_A / lora_B), text_encoder.<layer>.lora.*.
#include "framework/train/method_options.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"
#include "methods/layer_adapter_method.hpp"
#include "methods/low_rank_parameterization.hpp"
#include "methods/methods.hpp"

namespace pbench::peft {
namespace {

// Defaults of diffusers' train_dreambooth_lora.py.
struct LoraOptions {
  int64_t rank = 4;
  double alpha = 4.0;
  std::vector<std::string> targets{"to_q", "to_k", "to_v", "to_out.0"};
  std::optional<double> lr = 1e-4;
  double weight_decay = 1e-2;
  bool text_encoder = false;
  std::vector<std::string> text_targets{"q_proj", "k_proj", "v_proj", "out_proj"};
  std::optional<double> text_lr;

  template <class V>
  void fields(V& v) {
    v("rank", rank, "rank r of the update B·A", layer_width());
    v("alpha", alpha, "scale alpha/r of B·A; diffusers' lora_alpha = rank, i.e. scale 1");
    v("targets", targets, "UNet layers adapted (name patterns; linear and conv)");
    v("lr", lr, "learning rate of the factors; null = train.lr", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay (the diffusers scripts' default)", cfg::at_least(0));
    v("text_encoder", text_encoder, "also adapt the text encoder");
    v("text_targets", text_targets, "text-encoder layers adapted when text_encoder is true");
    v("text_lr", text_lr, "learning rate of the text-encoder factors; null = lr", cfg::learning_rate());
  }
};

class Lora : public LayerAdapterMethod<LoraOptions> {
 public:
  Lora(const LoraOptions& o, const cfg::Node& section) : LayerAdapterMethod("lora", o, section) {}

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    auto make = [this, &target](const nn::AdaptableRef& ref) -> std::shared_ptr<nn::Parameterization> {
      return make_low_rank(ref, opt_.rank, opt_.alpha, target.generator);
    };
    adapt(target, Component::unet, opt_.targets, "targets", kLinearAndConv, "lora", make);
    if (opt_.text_encoder)
      adapt(target, Component::text_encoder, opt_.text_targets, "text_targets", kLinearAndConv, "lora", make);
  }

  std::string describe() const override { return on_layers("LoRA r=" + std::to_string(opt_.rank)); }

  // The weighted sum Σ_k w_k ΔW_k as one LoRA: the factors concatenated along the rank,
  // down = [down_1; down_2; …], up = [w_1 s_1 up_1, w_2 s_2 up_2, …] with s_k = alpha / r_k
  // (each delta's own rank, this instance's alpha), loaded with rank = alpha = Σ r_k (scale 1).
  MergedDelta merge_deltas(const std::vector<TensorMap>& deltas, const MergeContext& context) const override {
    const std::vector<double>& weights = context.weights;
    MergedDelta out;
    int64_t total_rank = -1;
    for (const auto& [key, first_tensor] : deltas.front()) {
      const std::string suffix = ".lora.down";
      if (!ends_with(key, suffix)) continue;
      const std::string up_key = key.substr(0, key.size() - suffix.size()) + ".lora.up";
      std::vector<torch::Tensor> downs, ups;
      for (size_t k = 0; k < deltas.size(); ++k) {
        const auto down = deltas[k].find(key), up = deltas[k].find(up_key);
        if (down == deltas[k].end() || up == deltas[k].end())
          throw InputError("lora merge: delta " + std::to_string(k + 1) + " has no '" +
                           (down == deltas[k].end() ? key : up_key) + "' (the deltas must adapt the same layers)");
        const int64_t r = down->second.size(0);
        downs.push_back(down->second);
        ups.push_back(up->second * (weights[k] * opt_.alpha / double(r)));
      }
      out.tensors[key] = torch::cat(downs, 0);
      out.tensors[up_key] = torch::cat(ups, 1);
      total_rank = out.tensors[key].size(0);
    }
    for (size_t k = 0; k < deltas.size(); ++k)
      if (deltas[k].size() != out.tensors.size())
        throw InputError("lora merge: delta " + std::to_string(k + 1) + " holds " + std::to_string(deltas[k].size()) +
                         " tensors, the merge " + std::to_string(out.tensors.size()) +
                         " (the deltas must adapt the same layers)");
    if (total_rank < 0) throw InputError("lora merge: the deltas hold no LoRA factors (*.lora.down)");
    out.load_options = {{"rank", std::to_string(total_rank)}, {"alpha", std::to_string(total_rank)}};
    return out;
  }
};

}  // namespace

void register_lora(Registry<MethodEntry>& registry) {
  register_method<Lora, LoraOptions>(registry, "lora",
                                     "LoRA (arXiv 2106.09685): low-rank B·A updates of the UNet attention projections",
      MethodBudget{500, 1, 440, 0.4, "diffusers train_dreambooth_lora.py README: 500 steps, batch 1; DVAR README (DreamBooth-LoRA): window 440, threshold 0.4"});
}

}  // namespace pbench::peft
