#include "framework/models/parity/unet_vae_parity.hpp"

#include "framework/models/parity/unet_vae_cases.hpp"
#include "framework/util/errors.hpp"

namespace pbench::parity {

namespace {

// Reads the named inputs through CaseInputs so the harness sees them consumed.
TensorMap take(CaseInputs& in, const std::vector<std::string>& required, const std::vector<std::string>& optional) {
  TensorMap out;
  for (const auto& key : required) out[key] = in.get(key);
  for (const auto& key : optional)
    if (auto t = in.get_optional(key)) out[key] = *t;
  return out;
}

std::filesystem::path existing(const std::filesystem::path& file, const std::string& what) {
  if (!std::filesystem::exists(file))
    throw InputError(file.string() + ": missing (expected the " + what + " of a diffusers folder)");
  return file;
}

}  // namespace

Component unet_parity_component() {
  Component c;
  c.name = "unet";
  c.help = "UNet2DConditionModel: config.json + model.safetensors, cases sample/timestep/encoder_hidden_states";
  c.load = [](const std::filesystem::path& folder, const std::string& weights_file) {
    auto config = models::UNetConfig::from_file(existing(folder / "config.json", "UNet config").string());
    auto unet = std::make_shared<models::UNet2DConditionImpl>(config);
    const auto weights = existing(folder / weights_file, "UNet weights");
    load_into_module(*unet, load_safetensors(weights), weights.string());
    unet->eval();
    Runner r;
    r.run_case = [unet](CaseInputs& in) {
      return models::run_unet_case(
          *unet, take(in, {"sample", "timestep", "encoder_hidden_states"}, {"encoder_attention_mask"}), in.case_name());
    };
    return r;
  };
  return c;
}

Component vae_parity_component() {
  Component c;
  c.name = "vae";
  c.help = "AutoencoderKL: config.json + model.safetensors (current or legacy attention names), encode/decode cases";
  c.load = [](const std::filesystem::path& folder, const std::string& weights_file) {
    auto config = models::VaeConfig::from_file(existing(folder / "config.json", "VAE config").string());
    auto vae = std::make_shared<models::AutoencoderKLImpl>(config);
    const auto weights = existing(folder / weights_file, "VAE weights");
    models::load_vae_weights(*vae, load_safetensors(weights), weights.string());
    vae->eval();
    Runner r;
    r.run_case = [vae](CaseInputs& in) {
      // Decode cases carry `latent`; encode cases `sample` (+ `noise` for latent_sample).
      TensorMap inputs = in.has("latent") ? take(in, {"latent"}, {}) : take(in, {"sample"}, {"noise"});
      return models::run_vae_case(*vae, inputs, in.case_name());
    };
    r.preprocess = [](const torch::Tensor& image_u8) { return models::vae_preprocess_u8(image_u8); };
    return r;
  };
  return c;
}

}  // namespace pbench::parity
