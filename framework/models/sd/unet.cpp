#include "framework/models/sd/unet.hpp"

#include "framework/util/errors.hpp"

namespace pbench::models {

namespace {

ResnetOptions unet_resnet(const UNetConfig& c, int64_t in, int64_t out, double scale) {
  ResnetOptions r;
  r.in_channels = in;
  r.out_channels = out;
  r.temb_channels = c.time_embedding_dim;
  r.groups = c.norm_num_groups;
  r.eps = c.norm_eps;
  r.output_scale_factor = scale;
  return r;
}

// Transformer2DModel as the blocks build it: heads from the config (the
// attention_head_dim quirk), head size = channels / heads.
TransformerOptions unet_transformer(const UNetConfig& c, int64_t channels, int64_t heads, int64_t context_dim,
                                    int64_t layers, bool only_cross) {
  TransformerOptions t;
  t.channels = channels;
  t.heads = heads;
  t.head_dim = channels / heads;
  t.context_dim = context_dim;
  t.layers = layers;
  t.norm_groups = c.norm_num_groups;
  t.use_linear_projection = c.use_linear_projection;
  t.only_cross_attention = only_cross;
  return t;
}

template <typename M>
M& at(torch::nn::ModuleList& list, size_t i) {
  return *list->ptr(i)->as<M>();
}

}  // namespace

// ---------------------------------------------------------------- down
UNetDownBlockImpl::UNetDownBlockImpl(const UNetConfig& c, size_t i, const torch::TensorOptions& to) {
  const int64_t out = c.block_out_channels[i];
  const int64_t in = i == 0 ? c.block_out_channels[0] : c.block_out_channels[i - 1];
  const bool cross = c.down_block_types[i] == "CrossAttnDownBlock2D";
  resnets_ = register_module("resnets", torch::nn::ModuleList());
  if (cross) attentions_ = register_module("attentions", torch::nn::ModuleList());
  for (int64_t l = 0; l < c.layers_per_block[i]; ++l) {
    resnets_->push_back(ResnetBlock2D(unet_resnet(c, l == 0 ? in : out, out, c.resnet_out_scale_factor), to));
    if (cross)
      attentions_->push_back(Transformer2D(unet_transformer(c, out, c.num_attention_heads[i], c.cross_attention_dim[i],
                                                            c.transformer_layers_per_block[i], c.only_cross_attention[i]),
                                           to));
  }
  if (i + 1 < c.block_out_channels.size()) {
    downsamplers_ = register_module("downsamplers", torch::nn::ModuleList());
    downsamplers_->push_back(Downsample2D(out, c.downsample_padding, to));
  }
}

torch::Tensor UNetDownBlockImpl::forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
                                         const torch::Tensor& context_mask, std::vector<torch::Tensor>& skips) {
  for (size_t l = 0; l < resnets_->size(); ++l) {
    x = at<ResnetBlock2DImpl>(resnets_, l).forward(x, temb);
    if (attentions_) x = at<Transformer2DImpl>(attentions_, l).forward(x, context, context_mask);
    skips.push_back(x);
  }
  if (downsamplers_) {
    x = at<Downsample2DImpl>(downsamplers_, 0).forward(x);
    skips.push_back(x);
  }
  return x;
}

// ---------------------------------------------------------------- mid
UNetMidBlockImpl::UNetMidBlockImpl(const UNetConfig& c, const torch::TensorOptions& to) {
  const int64_t ch = c.block_out_channels.back();
  resnets_ = register_module("resnets", torch::nn::ModuleList());
  attentions_ = register_module("attentions", torch::nn::ModuleList());
  resnets_->push_back(ResnetBlock2D(unet_resnet(c, ch, ch, c.mid_block_scale_factor), to));
  // diffusers' mid block has one attention layer (num_layers=1).
  attentions_->push_back(Transformer2D(unet_transformer(c, ch, c.num_attention_heads.back(), c.cross_attention_dim.back(),
                                                        c.transformer_layers_per_block.back(), false),
                                         to));
  resnets_->push_back(ResnetBlock2D(unet_resnet(c, ch, ch, c.mid_block_scale_factor), to));
}

torch::Tensor UNetMidBlockImpl::forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
                                        const torch::Tensor& context_mask) {
  x = at<ResnetBlock2DImpl>(resnets_, 0).forward(x, temb);
  for (size_t l = 0; l < attentions_->size(); ++l) {
    x = at<Transformer2DImpl>(attentions_, l).forward(x, context, context_mask);
    x = at<ResnetBlock2DImpl>(resnets_, l + 1).forward(x, temb);
  }
  return x;
}

// ---------------------------------------------------------------- up
UNetUpBlockImpl::UNetUpBlockImpl(const UNetConfig& c, size_t i, const torch::TensorOptions& to) {
  const size_t n = c.block_out_channels.size();
  const size_t r = n - 1 - i;  // the mirrored down block
  auto rev = [&](size_t k) { return c.block_out_channels[n - 1 - k]; };
  const int64_t prev_out = i == 0 ? rev(0) : rev(i - 1);
  const int64_t out = rev(i);
  const int64_t in = rev(std::min(i + 1, n - 1));
  const bool cross = c.up_block_types[i] == "CrossAttnUpBlock2D";
  const int64_t layers = c.layers_per_block[r] + 1;
  resnets_ = register_module("resnets", torch::nn::ModuleList());
  if (cross) attentions_ = register_module("attentions", torch::nn::ModuleList());
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t skip = l == layers - 1 ? in : out;
    const int64_t res_in = l == 0 ? prev_out : out;
    resnets_->push_back(ResnetBlock2D(unet_resnet(c, res_in + skip, out, c.resnet_out_scale_factor), to));
    if (cross)
      attentions_->push_back(Transformer2D(unet_transformer(c, out, c.num_attention_heads[r], c.cross_attention_dim[r],
                                                            c.transformer_layers_per_block[r], c.only_cross_attention[r]),
                                           to));
  }
  if (i + 1 < n) {
    upsamplers_ = register_module("upsamplers", torch::nn::ModuleList());
    upsamplers_->push_back(Upsample2D(out, to));
  }
}

torch::Tensor UNetUpBlockImpl::forward(torch::Tensor x, const torch::Tensor& temb, const torch::Tensor& context,
                                       const torch::Tensor& context_mask, std::vector<torch::Tensor>& skips) {
  for (size_t l = 0; l < resnets_->size(); ++l) {
    x = torch::cat({x, skips.back()}, 1);
    skips.pop_back();
    x = at<ResnetBlock2DImpl>(resnets_, l).forward(x, temb);
    if (attentions_) x = at<Transformer2DImpl>(attentions_, l).forward(x, context, context_mask);
  }
  if (upsamplers_) {
    // Upsample to the next skip's size: equals 2x when sizes divide evenly
    // and matches diffusers' forward_upsample_size path when they do not.
    auto size = skips.back().sizes().slice(2).vec();
    x = at<Upsample2DImpl>(upsamplers_, 0).forward(x, size);
  }
  return x;
}

// ---------------------------------------------------------------- UNet
UNet2DConditionImpl::UNet2DConditionImpl(const UNetConfig& c, const torch::TensorOptions& to) : config_(c) {
  const int64_t c0 = c.block_out_channels[0];
  conv_in_ = register_module("conv_in", pbench::nn::Conv2d(torch::nn::Conv2dOptions(c.in_channels, c0, c.conv_in_kernel)
                                                              .padding((c.conv_in_kernel - 1) / 2),
                                                              to));
  time_embedding_ = register_module("time_embedding", TimestepEmbedding(c0, c.time_embedding_dim, to));
  down_blocks_ = register_module("down_blocks", torch::nn::ModuleList());
  for (size_t i = 0; i < c.block_out_channels.size(); ++i) down_blocks_->push_back(UNetDownBlock(c, i, to));
  if (!c.mid_block_type.empty()) mid_block_ = register_module("mid_block", UNetMidBlock(c, to));
  up_blocks_ = register_module("up_blocks", torch::nn::ModuleList());
  for (size_t i = 0; i < c.block_out_channels.size(); ++i) up_blocks_->push_back(UNetUpBlock(c, i, to));
  conv_norm_out_ = register_module(
      "conv_norm_out", pbench::nn::GroupNorm(torch::nn::GroupNormOptions(c.norm_num_groups, c0).eps(c.norm_eps), to));
  conv_out_ = register_module("conv_out", pbench::nn::Conv2d(torch::nn::Conv2dOptions(c0, c.out_channels, c.conv_out_kernel)
                                                                .padding((c.conv_out_kernel - 1) / 2),
                                                                to));
  // Number the cross-attentions in forward order (registration order is down, mid, up).
  std::vector<std::pair<std::string, torch::nn::Module*>> in_order{{"down_blocks", down_blocks_.ptr().get()}};
  if (mid_block_) in_order.emplace_back("mid_block", mid_block_.ptr().get());
  in_order.emplace_back("up_blocks", up_blocks_.ptr().get());
  for (const auto& [prefix, root] : in_order)
    for (const auto& item : root->named_modules(prefix)) {
      if (auto* block = item.value()->as<BasicTransformerBlockImpl>()) {
        block->set_cross_attention_index(int64_t(cross_attention_layers_.size()));
        cross_attention_layers_.push_back(item.key() + ".attn2");
      }
    }
}

torch::Tensor UNet2DConditionImpl::forward(const torch::Tensor& sample_in, const torch::Tensor& timestep,
                                           const torch::Tensor& context, const torch::Tensor& context_mask,
                                           std::map<std::string, torch::Tensor>* trace) {
  if (sample_in.dim() != 4 || sample_in.size(1) != config_.in_channels)
    throw InputError("UNet sample: expected [B, " + std::to_string(config_.in_channels) + ", H, W], got " +
                     c10::str(sample_in.sizes()));
  const int64_t batch = sample_in.size(0);
  if (!(context.dim() == 3 && context.size(0) == batch) &&
      !(context.dim() == 4 && context.size(0) == num_cross_attention_layers() && context.size(1) == batch))
    throw InputError("UNet encoder_hidden_states: expected [B, T, D] or [L, B, T, D] with B = " +
                     std::to_string(batch) + " and L = " + std::to_string(num_cross_attention_layers()) +
                     " cross-attention layers, got " + c10::str(context.sizes()));
  auto record = [&](const std::string& name, const torch::Tensor& t) {
    if (trace) (*trace)[name] = t;
  };

  // Timesteps: 0-d -> [1]; then broadcast to the batch (diffusers `expand`).
  torch::Tensor t = timestep.dim() == 0 ? timestep.unsqueeze(0) : timestep;
  if (t.dim() != 1 || (t.size(0) != 1 && t.size(0) != batch))
    throw InputError("UNet timestep: expected a scalar, [1] or [B] with B = " + std::to_string(batch) + ", got " +
                     c10::str(timestep.sizes()));
  t = t.expand({batch});
  torch::Tensor t_proj = timestep_embedding(t, config_.block_out_channels[0], config_.flip_sin_to_cos, config_.freq_shift)
                             .to(sample_in.scalar_type());
  record("time_proj", t_proj);
  torch::Tensor emb = time_embedding_(t_proj);
  record("time_embedding", emb);

  // diffusers turns the keep/discard mask into an additive bias [B, 1, T].
  torch::Tensor mask;
  if (context_mask.defined()) mask = ((1 - context_mask.to(sample_in.scalar_type())) * -10000.0).unsqueeze(1);

  torch::Tensor x = config_.center_input_sample ? 2 * sample_in - 1.0 : sample_in;
  x = conv_in_(x);
  record("conv_in", x);
  std::vector<torch::Tensor> skips{x};
  for (size_t i = 0; i < down_blocks_->size(); ++i) {
    x = at<UNetDownBlockImpl>(down_blocks_, i).forward(x, emb, context, mask, skips);
    record("down_blocks." + std::to_string(i), x);
  }
  if (mid_block_) {
    x = mid_block_->forward(x, emb, context, mask);
    record("mid_block", x);
  }
  for (size_t i = 0; i < up_blocks_->size(); ++i) {
    x = at<UNetUpBlockImpl>(up_blocks_, i).forward(x, emb, context, mask, skips);
    record("up_blocks." + std::to_string(i), x);
  }
  return conv_out_(torch::silu(conv_norm_out_(x)));
}

}  // namespace pbench::models
