#include "framework/models/clip/clip_text.hpp"

#include <limits>

#include "framework/util/errors.hpp"

namespace pbench::models {

ClipTextEmbeddingsImpl::ClipTextEmbeddingsImpl(const ClipTextConfig& c, const torch::TensorOptions& o) {
  token_embedding = register_module("token_embedding", Embedding(c.vocab_size, c.encoder.hidden_size, o));
  position_embedding =
      register_module("position_embedding", Embedding(c.max_position_embeddings, c.encoder.hidden_size, o));
  position_ids = register_buffer(
      "position_ids", torch::arange(c.max_position_embeddings, o.dtype(torch::kInt64)).unsqueeze(0));
}

torch::Tensor ClipTextEmbeddingsImpl::forward(const torch::Tensor& input_ids) const {
  const int64_t t = input_ids.size(1);
  // Through forward(), not .weight: a method's parameterization of the position
  // table (SVDiff shifts every embedding matrix) must act here too. The lookup
  // of positions 0..t-1 equals the slice bit for bit.
  torch::Tensor positions = torch::arange(t, input_ids.options().dtype(torch::kLong));
  return token_embedding->forward(input_ids) + position_embedding->forward(positions).unsqueeze(0);
}

ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextConfig& c, const torch::TensorOptions& o) {
  embeddings = register_module("embeddings", ClipTextEmbeddings(c, o));
  encoder = register_module("encoder", ClipEncoder(c.encoder, o));
  final_layer_norm = register_module("final_layer_norm", LayerNorm(c.encoder.hidden_size, c.encoder.layer_norm_eps, o));
}

ClipTextModelImpl::ClipTextModelImpl(const ClipTextConfig& c, const torch::TensorOptions& o) : config(c) {
  text_model = register_module("text_model", ClipTextTransformer(c, o));
  if (c.with_projection)
    text_projection = register_module("text_projection", Linear(c.encoder.hidden_size, c.projection_dim, false, o));
}

torch::Tensor first_eot_positions(const torch::Tensor& input_ids, int64_t eot_id) {
  const int64_t t = input_ids.size(1);
  torch::Tensor is_eot = input_ids.eq(eot_id);
  torch::Tensor missing = is_eot.any(1).logical_not();
  if (missing.any().item<bool>()) {
    int64_t row = missing.nonzero()[0][0].item<int64_t>();
    throw InputError("input_ids: row " + std::to_string(row) + " has no end-of-text token " + std::to_string(eot_id) +
                     "; expected tokenizer output (SOT ... EOT, padded)");
  }
  // Smallest index holding EOT: positions elsewhere are pushed to T.
  torch::Tensor index = torch::arange(t, input_ids.options()).unsqueeze(0).expand_as(input_ids);
  return torch::where(is_eot, index, torch::full_like(index, t)).amin(1);
}

namespace {

// Additive mask [B or 1, 1, T, T]: causal, plus padded keys when a mask is given.
torch::Tensor text_attention_mask(int64_t t, const torch::Tensor& attention_mask, const torch::TensorOptions& o) {
  torch::Tensor blocked = torch::ones({t, t}, o.dtype(torch::kBool)).triu(1).view({1, 1, t, t});
  if (attention_mask.defined()) blocked = blocked.logical_or(attention_mask.eq(0).view({-1, 1, 1, t}));
  // The lowest finite value instead of -inf: a fully masked row stays finite.
  torch::Tensor zero = torch::zeros({}, o);
  return torch::where(blocked, torch::full({}, std::numeric_limits<float>::lowest(), o), zero);
}

}  // namespace

ClipTextOutput ClipTextModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask) const {
  if (input_ids.dim() != 2 || input_ids.scalar_type() != torch::kInt64)
    throw InputError("input_ids: expected int64 [batch, tokens], got " + std::string(input_ids.dtype().name()) +
                     " with " + std::to_string(input_ids.dim()) + " dims");
  const int64_t b = input_ids.size(0), t = input_ids.size(1);
  if (t > config.max_position_embeddings || t == 0)
    throw InputError("input_ids: " + std::to_string(t) + " tokens; expected 1.." +
                     std::to_string(config.max_position_embeddings) + " (max_position_embeddings)");
  // Ids past the table are tokens a method added (Textual Inversion, P+): the
  // token embedding resolves them through its attached parameterizations.
  const bool table_extended = text_model->embeddings->token_embedding->adapted();
  if (b > 0 && (input_ids.min().item<int64_t>() < 0 ||
                (!table_extended && input_ids.max().item<int64_t>() >= config.vocab_size)))
    throw InputError("input_ids: ids outside [0, " + std::to_string(config.vocab_size) +
                     ") (vocab_size); added tokens need a method that provides their embeddings");
  if (attention_mask.defined() && attention_mask.sizes() != input_ids.sizes())
    throw InputError("attention_mask: expected the shape of input_ids [" + std::to_string(b) + ", " +
                     std::to_string(t) + "]");

  ClipTextOutput out;
  torch::Tensor h = text_model->embeddings->forward(input_ids);
  out.hidden_states.push_back(h);
  torch::Tensor mask = text_attention_mask(t, attention_mask, h.options());
  for (auto& layer_out : text_model->encoder->forward(h, mask)) out.hidden_states.push_back(layer_out);
  out.last_hidden_state = text_model->final_layer_norm->forward(out.hidden_states.back());
  torch::Tensor pos = first_eot_positions(input_ids, config.eot_token_id);
  out.pooler_output = out.last_hidden_state.index({torch::arange(b, pos.options()), pos});
  if (!text_projection.is_empty()) out.text_embeds = text_projection->forward(out.pooler_output);
  return out;
}

}  // namespace pbench::models
