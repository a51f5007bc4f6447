#include "framework/models/parity/unet_vae_cases.hpp"

#include "framework/util/errors.hpp"

namespace pbench::models {

namespace {
const torch::Tensor& need(const TensorMap& inputs, const std::string& name, const std::string& case_name) {
  auto it = inputs.find(name);
  if (it == inputs.end()) throw InputError(case_name + ": missing input tensor '" + case_name + ".in." + name + "'");
  return it->second;
}
torch::Tensor optional(const TensorMap& inputs, const std::string& name) {
  auto it = inputs.find(name);
  return it == inputs.end() ? torch::Tensor() : it->second;
}
}  // namespace

TensorMap run_unet_case(UNet2DConditionImpl& unet, const TensorMap& inputs, const std::string& case_name) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> trace;
  TensorMap out;
  out["sample"] = unet.forward(need(inputs, "sample", case_name), need(inputs, "timestep", case_name),
                               need(inputs, "encoder_hidden_states", case_name),
                               optional(inputs, "encoder_attention_mask"), &trace);
  for (auto& [name, value] : trace) out["inter." + name] = value;
  return out;
}

TensorMap run_vae_case(AutoencoderKLImpl& vae, const TensorMap& inputs, const std::string& case_name) {
  torch::NoGradGuard no_grad;
  TensorMap out;
  std::map<std::string, torch::Tensor> trace;
  if (inputs.count("latent")) {
    out["sample"] = vae.decode(inputs.at("latent"), &trace);
  } else {
    if (auto u8 = optional(inputs, "image_u8"); u8.defined()) out["preprocessed"] = vae_preprocess_u8(u8);
    LatentDistribution dist = vae.encode(need(inputs, "sample", case_name), &trace);
    out["latent_mean"] = dist.mean;
    out["latent_logvar"] = dist.logvar;
    out["latent_std"] = dist.std;
    if (auto noise = optional(inputs, "noise"); noise.defined()) out["latent_sample"] = dist.sample_with_noise(noise);
    out["scaled_latent_mode"] = dist.mode() * vae.scaling_factor();
    // AutoencoderKL.forward(sample_posterior=False) decodes the mode.
    std::map<std::string, torch::Tensor> decode_trace;
    out["reconstruction"] = vae.decode(dist.mode(), &decode_trace);
    out["reconstruction_u8"] = vae_postprocess_u8(out["reconstruction"]);
  }
  for (auto& [name, value] : trace) out["inter." + name] = value;
  return out;
}

}  // namespace pbench::models
