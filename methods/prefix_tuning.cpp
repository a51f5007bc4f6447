// Prefix-Tuning — Li & Liang, "Prefix-Tuning: Optimizing Continuous Prompts for Generation",
// arXiv 2101.00190.
//
// L learned key/value rows in front of the keys and values of every selected attention layer
// (models::KeyValuePrefix on models::PrefixableAttention): every query attends to them, nothing
// else changes. Placement (methods.md §4.7): `unet` — the UNet's cross-attentions (attn2; the L
// rows act as L extra context tokens), `text_encoder` — the CLIP text encoder's self-attention in
// every layer (visible to every position: the causal mask gains L open columns), or `both`.
// Reparameterization (the paper's, for stable training): the prefixes are not trained directly but
// produced by an MLP from a smaller matrix, P = MLP(P'): P' [L, reparam_dim] -> Linear(reparam_dim,
// reparam_hidden) -> tanh -> Linear(reparam_hidden, Σ_layers 2·inner). The output Linear is stored
// split by layer (each layer owns its rows of it; the product is identical), P' and the first Linear
// are shared. After training the MLP is dropped: the delta holds only the prefixes, and loading a
// delta fixes them (no MLP).
// Init: with the MLP, P' ~ N(0, 1) and the Linears as PyTorch initialises them (seeded by
// `init_seed`); direct prefixes (`reparameterization: false`) start from the activations of a real
// word (`init_text`, null = the subject's class noun), the paper's advice for small data: each layer's
// own key/value projections of the tokens after the start token (cross-attention: the text
// encoding; text encoder layer i: its input hidden state after layer_norm1).
// Counts (SD v1.5, prefix length L): delta = UNet 2·L·Σ C = 24,960·L (16 cross-attentions,
// Σ C = 12,480); text encoder 2·L·768·12 = 18,432·L. Trainable without the MLP = the delta; with it
// L·reparam_dim + reparam_dim·hidden + hidden + (hidden + 1)·(delta / L).
// Delta keys: `<component>.<attention>.prefix_tuning.keys` / `.values`, each [L, inner].
// Defaults: L = 10 (the paper's table-to-text length), lr 1e-4 (the paper's 5e-5..8e-5 was on
// GPT-2; SD needs a little more: pbench's choice).
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "framework/train/method_options.hpp"
#include "framework/models/sd/kv_prefix.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"
#include "methods/methods.hpp"
#include "methods/parameterized_method.hpp"

namespace pbench::peft {
namespace {

struct PrefixTuningOptions {
  int64_t length = 10;
  std::string placement = "unet";
  std::vector<std::string> unet_targets{"attn2"};
  std::vector<std::string> text_targets{"self_attn"};
  bool reparameterization = true;
  int64_t reparam_dim = 512;
  int64_t reparam_hidden = 512;
  std::optional<std::string> init_text;
  int64_t init_seed = 0;
  std::optional<double> lr = 1e-4;
  double weight_decay = 0.0;

  template <class V>
  void fields(V& v) {
    v("length", length, "L prefix rows per layer (the paper: 1-200)",
      cfg::described(cfg::between(1, 1024), "a whole number in [1, 1024]"));
    v("placement", placement, "unet = cross-attention, text_encoder = self-attention, or both",
      cfg::one_of({"unet", "text_encoder", "both"}));
    v("unet_targets", unet_targets, "UNet attention layers given a prefix (name patterns)");
    v("text_targets", text_targets, "text-encoder attention layers given a prefix");
    v("reparameterization", reparameterization, "train P' through an MLP dropped after training (the paper's)");
    v("reparam_dim", reparam_dim, "width of P'", layer_width());
    v("reparam_hidden", reparam_hidden, "the MLP's hidden width (the reference's mid_dim)", cfg::at_least(1));
    v("init_text", init_text, "direct prefixes start from this text's activations; null = the class noun");
    v("init_seed", init_seed, "seed of the MLP's init");
    v("lr", lr, "learning rate; null = train.lr", cfg::learning_rate());
    v("weight_decay", weight_decay, "AdamW weight decay", cfg::at_least(0));
  }
};

// P' and the MLP's first Linear, shared by every layer's prefix.
struct PrefixMlp : torch::nn::Module {
  torch::Tensor p_prime, w1, b1;
  torch::Tensor hidden() const { return torch::tanh(torch::nn::functional::linear(p_prime, w1, b1)); }
};

// Uniform(-1/sqrt(in), 1/sqrt(in)) for a Linear's weight [out, in] or bias [out], as PyTorch's
// default (kaiming_uniform with a = sqrt(5) gives the same bound for the weight).
torch::Tensor linear_init(std::vector<int64_t> shape, int64_t in, torch::Generator& gen, const torch::TensorOptions& o) {
  const double bound = 1.0 / std::sqrt(double(in));
  if (o.device().type() == torch::kMeta) return torch::empty(shape, o);
  return (torch::rand(shape, gen) * 2 * bound - bound).to(o);
}

class LayerPrefix : public models::KeyValuePrefix {
 public:
  // Direct prefixes.
  LayerPrefix(torch::Tensor keys, torch::Tensor values) : shape_{keys.size(0), keys.size(1)} {
    keys_ = register_parameter("keys", keys);
    values_ = register_parameter("values", values);
  }
  // Through the MLP: this layer's rows of its output Linear.
  LayerPrefix(std::shared_ptr<PrefixMlp> mlp, bool owns_mlp, torch::Tensor w2, torch::Tensor b2)
      : shape_{mlp->p_prime.size(0), w2.size(0) / 2}, mlp_(std::move(mlp)) {
    if (owns_mlp) register_module("reparam", mlp_);
    w2_ = register_parameter("out_weight", w2);
    b2_ = register_parameter("out_bias", b2);
  }

  std::pair<torch::Tensor, torch::Tensor> keys_values() override {
    if (fixed_keys_.defined()) return {fixed_keys_, fixed_values_};
    if (!mlp_) return {keys_, values_};
    auto kv = torch::nn::functional::linear(mlp_->hidden(), w2_, b2_).chunk(2, 1);
    return {kv[0], kv[1]};
  }
  // The MLP is dropped: these prefixes are used from now on.
  void fix(const torch::Tensor& keys, const torch::Tensor& values) {
    fixed_keys_ = keys.detach().clone();
    fixed_values_ = values.detach().clone();
  }
  std::vector<torch::Tensor> trained() const { return mlp_ ? std::vector{w2_, b2_} : std::vector{keys_, values_}; }
  // [L, inner] of the keys and of the values.
  const std::vector<int64_t>& shape() const { return shape_; }

 private:
  std::vector<int64_t> shape_;
  torch::Tensor keys_, values_, w2_, b2_, fixed_keys_, fixed_values_;
  std::shared_ptr<PrefixMlp> mlp_;
};

struct SelectedAttention {
  std::string key;  // delta key prefix: "unet.<name>" / "text_encoder.<name>"
  std::string name;
  models::PrefixableAttention* layer;
};

class PrefixTuning : public ParameterizedMethod {
 public:
  PrefixTuning(const PrefixTuningOptions& o, const cfg::Node& section)
      : opt_(o), cfg_(section) {
    name_ = "prefix_tuning";
    set_group_lr("prefix", o.lr);
    set_weight_decay(o.weight_decay);
  }

  void attach(MethodTarget& target) override {
    freeze_pipeline(target.pipeline);
    models::Pipeline& p = target.pipeline;
    if (opt_.length >= p.text_encoder->config.max_position_embeddings)
      throw InputError(cfg_.find("length")->origin().describe() + ": method.length: at most " +
                       std::to_string(p.text_encoder->config.max_position_embeddings - 1));
    std::vector<SelectedAttention> layers;
    if (opt_.placement != "text_encoder") select(*p.unet, kUnetPrefix, "unet_targets", opt_.unet_targets, layers);
    if (opt_.placement != "unet") select(text_encoder_or_throw(p, cfg_, "placement"), kTextPrefix, "text_targets", opt_.text_targets, layers);
    const torch::TensorOptions o = p.unet->parameters().front().options().requires_grad(false);
    torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(opt_.init_seed, "prefix_tuning/init"));

    std::shared_ptr<PrefixMlp> mlp;
    if (opt_.reparameterization) {
      mlp = std::make_shared<PrefixMlp>();
      mlp->p_prime = mlp->register_parameter(
          "p_prime", o.device().type() == torch::kMeta ? torch::empty({opt_.length, opt_.reparam_dim}, o)
                                                        : torch::randn({opt_.length, opt_.reparam_dim}, gen).to(o));
      mlp->w1 = mlp->register_parameter("weight", linear_init({opt_.reparam_hidden, opt_.reparam_dim}, opt_.reparam_dim, gen, o));
      mlp->b1 = mlp->register_parameter("bias", linear_init({opt_.reparam_hidden}, opt_.reparam_dim, gen, o));
    }
    std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> initial;
    if (!opt_.reparameterization && o.device().type() != torch::kMeta) initial = activations_of_text(p, target, layers);

    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& s = layers[i];
      const int64_t inner = s.layer->key_value_dim();
      std::shared_ptr<LayerPrefix> prefix;
      if (opt_.reparameterization) {
        prefix = std::make_shared<LayerPrefix>(mlp, i == 0, linear_init({2 * inner, opt_.reparam_hidden}, opt_.reparam_hidden, gen, o),
                                               linear_init({2 * inner}, opt_.reparam_hidden, gen, o));
      } else {
        auto it = initial.find(s.key);
        prefix = it != initial.end() ? std::make_shared<LayerPrefix>(it->second.first, it->second.second)
                                     : std::make_shared<LayerPrefix>(torch::zeros({opt_.length, inner}, o),
                                                                     torch::zeros({opt_.length, inner}, o));
      }
      s.layer->attach_prefix("prefix_tuning", prefix);
      prefixes_.emplace_back(s.key + ".prefix_tuning", prefix);
      auto names = opt_.reparameterization ? std::vector<std::string>{"out_weight", "out_bias"}
                            : std::vector<std::string>{"keys", "values"};
      auto tensors = prefix->trained();
      for (size_t k = 0; k < names.size(); ++k) track(s.key + ".prefix_tuning." + names[k], tensors[k], "prefix");
    }
    if (mlp) {
      track("prefix_tuning.reparam.p_prime", mlp->p_prime, "prefix");
      track("prefix_tuning.reparam.weight", mlp->w1, "prefix");
      track("prefix_tuning.reparam.bias", mlp->b1, "prefix");
    }
  }

  // Only the prefixes, whether trained directly or through the MLP (which is dropped).
  TensorMap delta() override {
    TensorMap out;
    for (const auto& [key, prefix] : prefixes_) {
      auto [k, v] = prefix->keys_values();
      out[key + ".keys"] = k;
      out[key + ".values"] = v;
    }
    return out;
  }

  void load_delta(const TensorMap& delta) override {
    for (const auto& [key, prefix] : prefixes_)
      for (const char* part : {".keys", ".values"}) {
        auto it = delta.find(key + part);
        if (it == delta.end()) throw InputError("prefix_tuning delta: no tensor named '" + key + part + "'");
        if (it->second.sizes() != c10::IntArrayRef(prefix->shape()))
          throw InputError("prefix_tuning delta: '" + key + part + "' is " + c10::str(it->second.sizes()) +
                           ", expected " + c10::str(c10::IntArrayRef(prefix->shape())));
      }
    torch::NoGradGuard no_grad;
    for (const auto& [key, prefix] : prefixes_) prefix->fix(delta.at(key + ".keys"), delta.at(key + ".values"));
  }

  std::string describe() const override {
    return "Prefix-Tuning: " + std::to_string(opt_.length) + " key/value rows in " + std::to_string(prefixes_.size()) +
           " attention layers (" + opt_.placement + (opt_.reparameterization ? ", MLP reparameterization" : "") + ")";
  }

 private:
  void select(torch::nn::Module& root, const std::string& prefix, const std::string& key,
              const std::vector<std::string>& patterns, std::vector<SelectedAttention>& out) {
    size_t before = out.size();
    for (const auto& item : root.named_modules()) {
      auto* layer = dynamic_cast<models::PrefixableAttention*>(item.value().get());
      if (!layer) continue;
      for (const auto& pattern : patterns)
        if (layer_pattern_matches(pattern, item.key())) {
          out.push_back(SelectedAttention{prefix + item.key(), item.key(), layer});
          break;
        }
    }
    if (out.size() == before)
      throw InputError(cfg_.find(key)->origin().describe() + ": method." + key +
                       ": selects no attention layer (expected names such as attn2 or self_attn)");
  }

  // Each layer's own key/value projections of the init text's tokens 1..L.
  std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> activations_of_text(
      models::Pipeline& p, MethodTarget& target, const std::vector<SelectedAttention>& layers) {
    std::string text = opt_.init_text && !opt_.init_text->empty() ? *opt_.init_text : target.subject ? target.subject->class_noun : "";
    if (text.empty()) return {};  // counting only: zeros
    torch::NoGradGuard no_grad;
    models::ClipTextOutput enc = p.text_encoder->forward(models::prompt_token_ids(p, {text}));
    auto tokens = [&](const torch::Tensor& h) { return h.slice(1, 1, 1 + opt_.length); };
    auto modules = p.text_encoder->named_modules();
    std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> out;
    for (const auto& s : layers) {
      torch::Tensor source;
      if (s.key.rfind(kTextPrefix, 0) == 0) {
        // text_model.encoder.layers.<i>.self_attn: its input is layer_norm1(hidden_states[i]).
        const std::string layer = s.name.substr(0, s.name.rfind('.'));
        const int64_t index = std::stoll(layer.substr(layer.rfind('.') + 1));
        auto* norm = modules[layer + ".layer_norm1"]->as<pbench::nn::LayerNormImpl>();
        if (!norm) throw std::logic_error("prefix_tuning: no layer_norm1 beside " + s.name);
        source = norm->forward(tokens(enc.hidden_states[size_t(index)]));
      } else if (s.layer->key_value_source_dim() == enc.last_hidden_state.size(2)) {
        source = tokens(enc.last_hidden_state);
      } else {
        throw InputError(cfg_.find("init_text")->origin().describe() + ": method.init_text: " + s.key +
                         " does not attend to text; use reparameterization: true for self-attention targets");
      }
      auto [k, v] = s.layer->project_key_value(source);
      out[s.key] = {k.squeeze(0).clone(), v.squeeze(0).clone()};
    }
    return out;
  }

  PrefixTuningOptions opt_;
  cfg::Node cfg_;  // the section, for the file:line of keys
  std::vector<std::pair<std::string, std::shared_ptr<LayerPrefix>>> prefixes_;
};

}  // namespace

void register_prefix_tuning(Registry<MethodEntry>& registry) {
  register_method<PrefixTuning, PrefixTuningOptions>(
      registry, "prefix_tuning", "Prefix-Tuning (arXiv 2101.00190): learned key/value prefixes per attention layer",
      MethodBudget{500, 1, std::nullopt, std::nullopt, "chosen: LoRA's (no SD reference code)"});
}

}  // namespace pbench::peft
