#pragma once
// AutoencoderKL (diffusers v0.25.1): Encoder / Decoder with DownEncoderBlock2D /
// UpDecoderBlock2D, single-head mid-block attention, quant_conv /
// post_quant_conv, and the diagonal Gaussian posterior. Module names equal the
// diffusers state-dict keys; load_vae_weights also accepts the older attention
// names (query/key/value/proj_attn) used by the SD Hub vae/ checkpoints.
#include <filesystem>

#include <torch/torch.h>

#include "framework/tensor/adaptable_layers.hpp"

#include <map>

#include "framework/models/sd/unet_blocks.hpp"
#include "framework/models/sd/unet_config.hpp"
#include "framework/tensor/safetensors_torch.hpp"

namespace pbench::models {

// UNetMidBlock2D without time embedding: resnet, attention, resnet.
class VaeMidBlockImpl : public torch::nn::Module {
 public:
  VaeMidBlockImpl(int64_t channels, int64_t groups, const torch::TensorOptions& options = {});
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::ModuleList resnets_{nullptr}, attentions_{nullptr};
};
TORCH_MODULE(VaeMidBlock);

class VaeEncoderImpl : public torch::nn::Module {
 public:
  explicit VaeEncoderImpl(const VaeConfig& config, const torch::TensorOptions& options = {});
  torch::Tensor forward(const torch::Tensor& image);  // -> [B, 2*latent, h, w]

 private:
  pbench::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  torch::nn::ModuleList down_blocks_{nullptr};
  VaeMidBlock mid_block_{nullptr};
  pbench::nn::GroupNorm conv_norm_out_{nullptr};
};
TORCH_MODULE(VaeEncoder);

class VaeDecoderImpl : public torch::nn::Module {
 public:
  explicit VaeDecoderImpl(const VaeConfig& config, const torch::TensorOptions& options = {});
  torch::Tensor forward(const torch::Tensor& z, std::map<std::string, torch::Tensor>* trace = nullptr);

 private:
  pbench::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  torch::nn::ModuleList up_blocks_{nullptr};
  VaeMidBlock mid_block_{nullptr};
  pbench::nn::GroupNorm conv_norm_out_{nullptr};
};
TORCH_MODULE(VaeDecoder);

// DiagonalGaussianDistribution over the quant_conv moments.
struct LatentDistribution {
  torch::Tensor mean, logvar, std, var;
  // mean + std * eps, eps ~ N(0, 1) drawn with `generator` (as diffusers' randn_tensor).
  torch::Tensor sample(c10::optional<torch::Generator> generator = c10::nullopt) const;
  // mean + std * noise for a given standard-normal tensor.
  torch::Tensor sample_with_noise(const torch::Tensor& noise) const { return mean + std * noise; }
  torch::Tensor mode() const { return mean; }
  static LatentDistribution from_moments(const torch::Tensor& moments);
};

class AutoencoderKLImpl : public torch::nn::Module {
 public:
  // options: dtype/device of the parameters; torch::kMeta builds shapes only.
  explicit AutoencoderKLImpl(const VaeConfig& config, const torch::TensorOptions& options = {});

  // image [B, in_channels, H, W] in [-1, 1]. `trace` gets encoder, moments.
  LatentDistribution encode(const torch::Tensor& image, std::map<std::string, torch::Tensor>* trace = nullptr);
  // Unscaled latent z (already divided by scaling_factor). `trace` gets
  // post_quant_conv, decoder_mid_block.
  torch::Tensor decode(const torch::Tensor& z, std::map<std::string, torch::Tensor>* trace = nullptr);

  double scaling_factor() const { return config_.scaling_factor; }
  const VaeConfig& config() const { return config_; }

 private:
  VaeConfig config_;
  VaeEncoder encoder_{nullptr};
  VaeDecoder decoder_{nullptr};
  pbench::nn::Conv2d quant_conv_{nullptr}, post_quant_conv_{nullptr};
};
TORCH_MODULE(AutoencoderKL);

// Renames the deprecated attention keys (`<p>.query|key|value|proj_attn.*` ->
// `<p>.to_q|to_k|to_v|to_out.0.*`) and squeezes 1x1 conv-shaped [C, C, 1, 1]
// weights of those layers to Linear [C, C], as diffusers'
// _convert_deprecated_attention_blocks does. Other keys pass unchanged.
TensorMap convert_legacy_vae_attention(const TensorMap& tensors);

// load_into_module after convert_legacy_vae_attention; `source` names the file.
void load_vae_weights(AutoencoderKLImpl& vae, const TensorMap& tensors, const std::string& source);

// A diffusers `vae/` folder: config.json + `weights_file`, loaded as above, in eval mode.
AutoencoderKL load_vae_folder(const std::filesystem::path& folder,
                              const std::string& weights_file = "diffusion_pytorch_model.safetensors");

// VaeImageProcessor.preprocess for uint8 HWC RGB: x/255*2-1 as [1, 3, H, W] float32.
torch::Tensor vae_preprocess_u8(const torch::Tensor& image_hwc_u8);
// VaeImageProcessor.postprocess to uint8 NHWC: round(clamp(x/2+0.5, 0, 1)*255).
torch::Tensor vae_postprocess_u8(const torch::Tensor& image_nchw);

}  // namespace pbench::models
