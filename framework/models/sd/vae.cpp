#include "framework/models/sd/vae.hpp"

#include <regex>

#include "framework/tensor/safetensors_torch.hpp"
#include "framework/util/errors.hpp"

namespace pbench::models {

namespace {

// The VAE's resnets and norms use eps 1e-6 and no time embedding.
constexpr double kVaeEps = 1e-6;

ResnetBlock2D vae_resnet(int64_t in, int64_t out, int64_t groups, const torch::TensorOptions& to) {
  ResnetOptions r;
  r.in_channels = in;
  r.out_channels = out;
  r.groups = groups;
  r.eps = kVaeEps;
  return ResnetBlock2D(r, to);
}

pbench::nn::Conv2d conv3(int64_t in, int64_t out, const torch::TensorOptions& to) {
  return pbench::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1), to);
}

template <typename M>
M& at(torch::nn::ModuleList& list, size_t i) {
  return *list->ptr(i)->as<M>();
}

// One DownEncoderBlock2D / UpDecoderBlock2D: resnets plus an optional resampler.
struct ResampleBlock : torch::nn::Module {
  torch::nn::ModuleList resnets{nullptr}, samplers{nullptr};
  bool down = true;
};

}  // namespace

// ---------------------------------------------------------------- mid block
VaeMidBlockImpl::VaeMidBlockImpl(int64_t channels, int64_t groups, const torch::TensorOptions& to) {
  resnets_ = register_module("resnets", torch::nn::ModuleList());
  attentions_ = register_module("attentions", torch::nn::ModuleList());
  resnets_->push_back(vae_resnet(channels, channels, groups, to));
  // attention_head_dim = channels: one head over all channels.
  AttentionOptions a;
  a.query_dim = channels;
  a.heads = 1;
  a.head_dim = channels;
  a.qkv_bias = true;
  a.group_norm_groups = groups;
  a.group_norm_eps = kVaeEps;
  a.residual_connection = true;
  attentions_->push_back(Attention(a, to));
  resnets_->push_back(vae_resnet(channels, channels, groups, to));
}

torch::Tensor VaeMidBlockImpl::forward(torch::Tensor x) {
  x = at<ResnetBlock2DImpl>(resnets_, 0).forward(x);
  x = at<AttentionImpl>(attentions_, 0).forward(x);
  return at<ResnetBlock2DImpl>(resnets_, 1).forward(x);
}

// ---------------------------------------------------------------- encoder
VaeEncoderImpl::VaeEncoderImpl(const VaeConfig& c, const torch::TensorOptions& to) {
  const auto& ch = c.block_out_channels;
  conv_in_ = register_module("conv_in", conv3(c.in_channels, ch[0], to));
  down_blocks_ = register_module("down_blocks", torch::nn::ModuleList());
  for (size_t i = 0; i < ch.size(); ++i) {
    auto block = std::make_shared<ResampleBlock>();
    const int64_t in = i == 0 ? ch[0] : ch[i - 1];
    block->resnets = block->register_module("resnets", torch::nn::ModuleList());
    for (int64_t l = 0; l < c.layers_per_block; ++l)
      block->resnets->push_back(vae_resnet(l == 0 ? in : ch[i], ch[i], c.norm_num_groups, to));
    if (i + 1 < ch.size()) {
      block->samplers = block->register_module("downsamplers", torch::nn::ModuleList());
      block->samplers->push_back(Downsample2D(ch[i], /*padding=*/0, to));  // asymmetric pad, as the reference
    }
    down_blocks_->push_back(block);
  }
  mid_block_ = register_module("mid_block", VaeMidBlock(ch.back(), c.norm_num_groups, to));
  conv_norm_out_ = register_module(
      "conv_norm_out", pbench::nn::GroupNorm(torch::nn::GroupNormOptions(c.norm_num_groups, ch.back()).eps(kVaeEps), to));
  conv_out_ = register_module("conv_out", conv3(ch.back(), 2 * c.latent_channels, to));
}

torch::Tensor VaeEncoderImpl::forward(const torch::Tensor& image) {
  torch::Tensor x = conv_in_(image);
  for (size_t i = 0; i < down_blocks_->size(); ++i) {
    auto& block = at<ResampleBlock>(down_blocks_, i);
    for (size_t l = 0; l < block.resnets->size(); ++l) x = at<ResnetBlock2DImpl>(block.resnets, l).forward(x);
    if (block.samplers) x = at<Downsample2DImpl>(block.samplers, 0).forward(x);
  }
  x = mid_block_(x);
  return conv_out_(torch::silu(conv_norm_out_(x)));
}

// ---------------------------------------------------------------- decoder
VaeDecoderImpl::VaeDecoderImpl(const VaeConfig& c, const torch::TensorOptions& to) {
  const auto& ch = c.block_out_channels;
  const size_t n = ch.size();
  conv_in_ = register_module("conv_in", conv3(c.latent_channels, ch.back(), to));
  mid_block_ = register_module("mid_block", VaeMidBlock(ch.back(), c.norm_num_groups, to));
  up_blocks_ = register_module("up_blocks", torch::nn::ModuleList());
  for (size_t i = 0; i < n; ++i) {
    const int64_t prev = i == 0 ? ch[n - 1] : ch[n - i];
    const int64_t out = ch[n - 1 - i];
    auto block = std::make_shared<ResampleBlock>();
    block->down = false;
    block->resnets = block->register_module("resnets", torch::nn::ModuleList());
    for (int64_t l = 0; l < c.layers_per_block + 1; ++l)
      block->resnets->push_back(vae_resnet(l == 0 ? prev : out, out, c.norm_num_groups, to));
    if (i + 1 < n) {
      block->samplers = block->register_module("upsamplers", torch::nn::ModuleList());
      block->samplers->push_back(Upsample2D(out, to));
    }
    up_blocks_->push_back(block);
  }
  conv_norm_out_ = register_module(
      "conv_norm_out", pbench::nn::GroupNorm(torch::nn::GroupNormOptions(c.norm_num_groups, ch[0]).eps(kVaeEps), to));
  conv_out_ = register_module("conv_out", conv3(ch[0], c.out_channels, to));
}

torch::Tensor VaeDecoderImpl::forward(const torch::Tensor& z, std::map<std::string, torch::Tensor>* trace) {
  torch::Tensor x = mid_block_(conv_in_(z));
  if (trace) (*trace)["decoder_mid_block"] = x;
  for (size_t i = 0; i < up_blocks_->size(); ++i) {
    auto& block = at<ResampleBlock>(up_blocks_, i);
    for (size_t l = 0; l < block.resnets->size(); ++l) x = at<ResnetBlock2DImpl>(block.resnets, l).forward(x);
    if (block.samplers) x = at<Upsample2DImpl>(block.samplers, 0).forward(x);
  }
  return conv_out_(torch::silu(conv_norm_out_(x)));
}

// ---------------------------------------------------------------- posterior
LatentDistribution LatentDistribution::from_moments(const torch::Tensor& moments) {
  LatentDistribution d;
  auto parts = moments.chunk(2, 1);
  d.mean = parts[0];
  d.logvar = parts[1].clamp(-30.0, 20.0);
  d.std = torch::exp(0.5 * d.logvar);
  d.var = torch::exp(d.logvar);
  return d;
}

torch::Tensor LatentDistribution::sample(c10::optional<torch::Generator> generator) const {
  torch::Tensor eps = at::randn(mean.sizes(), generator, mean.options());
  return sample_with_noise(eps);
}

// ---------------------------------------------------------------- AutoencoderKL
AutoencoderKLImpl::AutoencoderKLImpl(const VaeConfig& c, const torch::TensorOptions& to) : config_(c) {
  encoder_ = register_module("encoder", VaeEncoder(c, to));
  decoder_ = register_module("decoder", VaeDecoder(c, to));
  const int64_t l = c.latent_channels;
  quant_conv_ = register_module("quant_conv", pbench::nn::Conv2d(torch::nn::Conv2dOptions(2 * l, 2 * l, 1), to));
  post_quant_conv_ = register_module("post_quant_conv", pbench::nn::Conv2d(torch::nn::Conv2dOptions(l, l, 1), to));
}

LatentDistribution AutoencoderKLImpl::encode(const torch::Tensor& image, std::map<std::string, torch::Tensor>* trace) {
  if (image.dim() != 4 || image.size(1) != config_.in_channels)
    throw InputError("VAE encode input: expected [B, " + std::to_string(config_.in_channels) + ", H, W], got " +
                     c10::str(image.sizes()));
  torch::Tensor h = encoder_(image);
  torch::Tensor moments = quant_conv_(h);
  if (trace) {
    (*trace)["encoder"] = h;
    (*trace)["moments"] = moments;
  }
  return LatentDistribution::from_moments(moments);
}

torch::Tensor AutoencoderKLImpl::decode(const torch::Tensor& z, std::map<std::string, torch::Tensor>* trace) {
  if (z.dim() != 4 || z.size(1) != config_.latent_channels)
    throw InputError("VAE decode latent: expected [B, " + std::to_string(config_.latent_channels) + ", h, w], got " +
                     c10::str(z.sizes()));
  torch::Tensor x = post_quant_conv_(z);
  if (trace) (*trace)["post_quant_conv"] = x;
  return decoder_(x, trace);
}

// ---------------------------------------------------------------- loading
TensorMap convert_legacy_vae_attention(const TensorMap& tensors) {
  static const std::regex legacy(R"(^(.*\.attentions\.\d+)\.(query|key|value|proj_attn)\.(weight|bias)$)");
  static const std::map<std::string, std::string> rename{
      {"query", "to_q"}, {"key", "to_k"}, {"value", "to_v"}, {"proj_attn", "to_out.0"}};
  TensorMap out;
  for (const auto& [name, value] : tensors) {
    std::smatch m;
    if (!std::regex_match(name, m, legacy)) {
      out[name] = value;
      continue;
    }
    torch::Tensor v = value;
    // Old checkpoints stored these projections as 1x1 convs.
    if (m[3] == "weight" && v.dim() == 4 && v.size(2) == 1 && v.size(3) == 1) v = v.flatten(1);
    out[m[1].str() + "." + rename.at(m[2].str()) + "." + m[3].str()] = v;
  }
  return out;
}

void load_vae_weights(AutoencoderKLImpl& vae, const TensorMap& tensors, const std::string& source) {
  load_into_module(vae, convert_legacy_vae_attention(tensors), source);
}

AutoencoderKL load_vae_folder(const std::filesystem::path& folder, const std::string& weights_file) {
  AutoencoderKL vae(VaeConfig::from_file((folder / "config.json").string()));
  const std::filesystem::path weights = folder / weights_file;
  load_vae_weights(*vae, load_safetensors(weights), weights.string());
  vae->eval();
  return vae;
}

torch::Tensor vae_preprocess_u8(const torch::Tensor& image) {
  if (image.dim() != 3 || image.size(2) != 3 || image.scalar_type() != torch::kUInt8)
    throw InputError("VAE preprocess: expected a uint8 [H, W, 3] RGB image, got " + c10::str(image.sizes()) + " " +
                     std::string(c10::toString(image.scalar_type())));
  return (image.to(torch::kFloat32) / 255.0 * 2.0 - 1.0).permute({2, 0, 1}).unsqueeze(0).contiguous();
}

torch::Tensor vae_postprocess_u8(const torch::Tensor& image) {
  return ((image / 2 + 0.5).clamp(0, 1) * 255).round().to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
}

}  // namespace pbench::models
