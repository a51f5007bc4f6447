#include "framework/models/sd/unet_blocks.hpp"

#include <cmath>

namespace pbench::models {

namespace F = torch::nn::functional;

namespace {
pbench::nn::Conv2d conv(const torch::TensorOptions& to, int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                        int64_t padding = -1) {
  if (padding < 0) padding = (kernel - 1) / 2;
  return pbench::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding), to);
}
pbench::nn::GroupNorm group_norm(const torch::TensorOptions& to, int64_t groups, int64_t channels, double eps) {
  return pbench::nn::GroupNorm(torch::nn::GroupNormOptions(groups, channels).eps(eps), to);
}
}  // namespace

// ---------------------------------------------------------------- ResnetBlock2D
ResnetBlock2DImpl::ResnetBlock2DImpl(const ResnetOptions& o, const torch::TensorOptions& to) : options_(o) {
  norm1_ = register_module("norm1", group_norm(to, o.groups, o.in_channels, o.eps));
  conv1_ = register_module("conv1", conv(to, o.in_channels, o.out_channels, 3));
  if (o.temb_channels > 0) time_emb_proj_ = register_module("time_emb_proj", pbench::nn::Linear(o.temb_channels, o.out_channels, true, to));
  norm2_ = register_module("norm2", group_norm(to, o.groups, o.out_channels, o.eps));
  conv2_ = register_module("conv2", conv(to, o.out_channels, o.out_channels, 3));
  if (o.in_channels != o.out_channels)
    conv_shortcut_ = register_module("conv_shortcut", conv(to, o.in_channels, o.out_channels, 1));
}

torch::Tensor ResnetBlock2DImpl::forward(const torch::Tensor& input, const torch::Tensor& temb) {
  torch::Tensor h = conv1_(torch::silu(norm1_(input)));
  if (time_emb_proj_ && temb.defined()) h = h + time_emb_proj_(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);
  h = conv2_(torch::silu(norm2_(h)));
  torch::Tensor skip = conv_shortcut_ ? conv_shortcut_(input) : input;
  torch::Tensor out = skip + h;
  if (options_.output_scale_factor != 1.0) out = out / options_.output_scale_factor;
  return out;
}

// ---------------------------------------------------------------- Down/Upsample2D
Downsample2DImpl::Downsample2DImpl(int64_t channels, int64_t padding, const torch::TensorOptions& to) : padding_(padding) {
  conv_ = register_module("conv", conv(to, channels, channels, 3, 2, padding));
}

torch::Tensor Downsample2DImpl::forward(const torch::Tensor& x) {
  if (padding_ == 0) return conv_(F::pad(x, F::PadFuncOptions({0, 1, 0, 1})));
  return conv_(x);
}

Upsample2DImpl::Upsample2DImpl(int64_t channels, const torch::TensorOptions& to) {
  conv_ = register_module("conv", conv(to, channels, channels, 3));
}

torch::Tensor Upsample2DImpl::forward(const torch::Tensor& x, c10::optional<std::vector<int64_t>> size) {
  auto opts = F::InterpolateFuncOptions().mode(torch::kNearest);
  if (size)
    opts.size(*size);
  else
    opts.scale_factor(std::vector<double>{2.0, 2.0});
  return conv_(F::interpolate(x, opts));
}

// ---------------------------------------------------------------- FeedForward
FeedForwardImpl::FeedForwardImpl(int64_t dim, int64_t inner_dim, const torch::TensorOptions& to) {
  // diffusers: net = [GEGLU(proj), Dropout, Linear]; the names keep the indices.
  torch::nn::ModuleList net;
  auto geglu = std::make_shared<torch::nn::Module>();
  proj_ = geglu->register_module("proj", pbench::nn::Linear(dim, 2 * inner_dim, true, to));
  out_ = pbench::nn::Linear(inner_dim, dim, true, to);
  net->push_back(geglu);
  net->push_back(torch::nn::Dropout(0.0));
  net->push_back(out_);
  register_module("net", net);
}

torch::Tensor FeedForwardImpl::forward(const torch::Tensor& x) {
  auto parts = proj_(x).chunk(2, -1);
  return out_(parts[0] * F::gelu(parts[1]));
}

// ---------------------------------------------------------------- transformer
BasicTransformerBlockImpl::BasicTransformerBlockImpl(const TransformerOptions& o, const torch::TensorOptions& to)
    : only_cross_attention_(o.only_cross_attention) {
  const int64_t dim = o.heads * o.head_dim;
  auto ln = [&] { return pbench::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-5), to); };
  AttentionOptions a;
  a.query_dim = dim;
  a.heads = o.heads;
  a.head_dim = o.head_dim;
  a.context_dim = o.only_cross_attention ? o.context_dim : 0;
  norm1_ = register_module("norm1", ln());
  attn1_ = register_module("attn1", Attention(a, to));
  a.context_dim = o.context_dim;
  norm2_ = register_module("norm2", ln());
  attn2_ = register_module("attn2", Attention(a, to));
  norm3_ = register_module("norm3", ln());
  ff_ = register_module("ff", FeedForward(dim, 4 * dim, to));
}

torch::Tensor BasicTransformerBlockImpl::forward(const torch::Tensor& x_in, const torch::Tensor& layered_context,
                                                 const torch::Tensor& context_mask) {
  const torch::Tensor context = layered_context.dim() == 4 ? layered_context[cross_attention_index_] : layered_context;
  torch::Tensor x = x_in;
  // attn1 never sees the encoder mask (the UNet passes attention_mask=None to it).
  x = attn1_(norm1_(x), only_cross_attention_ ? context : torch::Tensor()) + x;
  x = attn2_(norm2_(x), context, context_mask) + x;
  for (const auto& hook : before_feed_forward_) x = x + hook->residual_update(x);
  return ff_(norm3_(x)) + x;
}

void BasicTransformerBlockImpl::attach_before_feed_forward(const std::string& tag, std::shared_ptr<ResidualHook> hook) {
  for (const auto& child : named_children())
    if (child.key() == tag) throw std::logic_error("transformer block: a module '" + tag + "' is already attached");
  before_feed_forward_.push_back(register_module(tag, std::move(hook)));
}

Transformer2DImpl::Transformer2DImpl(const TransformerOptions& o, const torch::TensorOptions& to) : options_(o) {
  const int64_t inner = o.heads * o.head_dim;
  norm_ = register_module("norm", group_norm(to, o.norm_groups, o.channels, 1e-6));
  if (o.use_linear_projection) {
    proj_in_linear_ = register_module("proj_in", pbench::nn::Linear(o.channels, inner, true, to));
  } else {
    proj_in_conv_ = register_module("proj_in", conv(to, o.channels, inner, 1));
  }
  blocks_ = register_module("transformer_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.layers; ++i) blocks_->push_back(BasicTransformerBlock(o, to));
  if (o.use_linear_projection) {
    proj_out_linear_ = register_module("proj_out", pbench::nn::Linear(inner, o.channels, true, to));
  } else {
    proj_out_conv_ = register_module("proj_out", conv(to, inner, o.channels, 1));
  }
}

torch::Tensor Transformer2DImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                         const torch::Tensor& context_mask) {
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t inner = options_.heads * options_.head_dim;
  torch::Tensor t = norm_(x);
  // Conv projections act on NCHW, linear ones on tokens: the reshape sits on
  // opposite sides of them, as in the reference.
  if (!options_.use_linear_projection) {
    t = proj_in_conv_(t).permute({0, 2, 3, 1}).reshape({b, h * w, inner});
  } else {
    t = proj_in_linear_(t.permute({0, 2, 3, 1}).reshape({b, h * w, options_.channels}));
  }
  for (const auto& block : *blocks_) t = block->as<BasicTransformerBlock>()->forward(t, context, context_mask);
  if (!options_.use_linear_projection) {
    t = proj_out_conv_(t.reshape({b, h, w, inner}).permute({0, 3, 1, 2}).contiguous());
  } else {
    t = proj_out_linear_(t).reshape({b, h, w, options_.channels}).permute({0, 3, 1, 2}).contiguous();
  }
  return t + x;
}

// ---------------------------------------------------------------- time embedding
torch::Tensor timestep_embedding(const torch::Tensor& timesteps, int64_t dim, bool flip_sin_to_cos, double freq_shift) {
  // Same op order and dtypes as diffusers (float32 exponents), so large
  // timestep x frequency products round identically.
  const int64_t half = dim / 2;
  torch::Tensor exponent = torch::arange(0, half, torch::TensorOptions().dtype(torch::kFloat32)) * (-std::log(10000.0));
  exponent = exponent / (double(half) - freq_shift);
  torch::Tensor freqs = torch::exp(exponent);
  torch::Tensor args = timesteps.unsqueeze(1).to(torch::kFloat32) * freqs.unsqueeze(0);
  torch::Tensor emb = torch::cat({torch::sin(args), torch::cos(args)}, -1);
  if (flip_sin_to_cos) emb = torch::cat({emb.slice(1, half), emb.slice(1, 0, half)}, -1);
  if (dim % 2 == 1) emb = F::pad(emb, F::PadFuncOptions({0, 1, 0, 0}));
  return emb;
}

TimestepEmbeddingImpl::TimestepEmbeddingImpl(int64_t in_channels, int64_t dim, const torch::TensorOptions& to) {
  linear_1_ = register_module("linear_1", pbench::nn::Linear(in_channels, dim, true, to));
  linear_2_ = register_module("linear_2", pbench::nn::Linear(dim, dim, true, to));
}

torch::Tensor TimestepEmbeddingImpl::forward(const torch::Tensor& x) { return linear_2_(torch::silu(linear_1_(x))); }

}  // namespace pbench::models
