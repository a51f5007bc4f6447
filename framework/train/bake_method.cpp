#include "framework/train/bake_method.hpp"

#include <utility>
#include <vector>

#include "framework/models/sd/kv_prefix.hpp"
#include "framework/tensor/adaptable_layers.hpp"
#include "framework/util/errors.hpp"

namespace pbench {

void bake_method_into_pipeline(models::Pipeline& pipeline, const std::string& method) {
  if (pipeline.context_encoder)
    throw InputError(method + ": conditions each cross-attention layer on its own prompt encoding (a context "
                     "encoder); an ordinary pipeline has one encoding for all layers, so it cannot be merged. Use its "
                     "delta with pbench, or export-delta where a format exists");
  std::vector<std::pair<std::string, nn::AdaptableRef>> layers;
  for (auto& [component, module] : std::vector<std::pair<std::string, torch::nn::Module*>>{
           {"unet", pipeline.unet.ptr().get()}, {"text_encoder", pipeline.text_encoder.ptr().get()},
           {"vae", pipeline.vae.ptr().get()}}) {
    for (const nn::AdaptableRef& ref : nn::adaptable_layers(*module))
      if (ref.layer->adapted()) layers.emplace_back(component + "." + ref.name, ref);
    for (const auto& item : module->named_modules())
      if (auto* attention = dynamic_cast<models::PrefixableAttention*>(item.value().get()); attention && attention->has_prefix())
        throw InputError(method + ": " + component + "." + item.key() +
                         ": prepends learned key/value rows to the attention (a prefix), which no weight of an "
                         "ordinary pipeline holds; this method cannot be merged into its base model");
  }
  for (const auto& [name, ref] : layers)
    if (std::string refusal = ref.layer->fold_refusal(); !refusal.empty())
      throw InputError(method + ": " + name + ": " + refusal + "; this method cannot be merged into its base model");
  for (const auto& [name, ref] : layers) {
    try {
      ref.layer->fold();
    } catch (const std::invalid_argument& e) {
      throw InputError(method + ": " + name + ": " + e.what());
    }
  }
}

}  // namespace pbench
