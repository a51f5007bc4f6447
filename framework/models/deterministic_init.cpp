#include "framework/models/deterministic_init.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <set>

#include "framework/models/transformer_blocks.hpp"
#include "framework/tensor/adaptable_layers.hpp"
#include "framework/util/errors.hpp"

namespace pbench::models {

namespace {

void uniform(torch::Tensor& t, double bound, at::Generator& gen) {
  if (t.defined()) t.uniform_(-bound, bound, gen);
}

// Inputs per output unit: in_features, or in_channels/groups * kh * kw.
double fan_in(const torch::Tensor& weight) { return double(weight.numel() / weight.size(0)); }

}  // namespace

void deterministic_init(torch::nn::Module& root, uint64_t seed, const std::string& what) {
  torch::NoGradGuard no_grad;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::set<const void*> covered;
  for (const auto& ref : pbench::nn::adaptable_layers(root)) {
    const std::string kind = ref.layer->layer_kind();
    auto mark = [&](const torch::Tensor& t) {
      if (!t.defined()) return;
      if (t.device().type() != torch::kCPU)
        throw InputError(what + ": " + ref.name + ": deterministic init expects CPU parameters");
      covered.insert(t.unsafeGetTensorImpl());
    };
    if (auto* l = ref.module->as<pbench::nn::LinearImpl>()) {
      mark(l->weight), mark(l->bias);
      const double fan = fan_in(l->weight);
      uniform(l->weight, std::sqrt(3.0 / fan), gen);
      uniform(l->bias, 1.0 / std::sqrt(fan), gen);
    } else if (auto* c = ref.module->as<pbench::nn::Conv2dImpl>()) {
      mark(c->weight), mark(c->bias);
      const double fan = fan_in(c->weight);
      uniform(c->weight, std::sqrt(3.0 / fan), gen);
      uniform(c->bias, 1.0 / std::sqrt(fan), gen);
    } else if (auto* g = ref.module->as<pbench::nn::GroupNormImpl>()) {
      mark(g->weight), mark(g->bias);
      if (g->weight.defined()) g->weight.fill_(1.0), g->bias.zero_();
    } else if (auto* n = ref.module->as<pbench::nn::LayerNormImpl>()) {
      mark(n->weight), mark(n->bias);
      if (n->weight.defined()) n->weight.fill_(1.0);
      if (n->bias.defined()) n->bias.zero_();
    } else if (auto* e = ref.module->as<pbench::nn::EmbeddingImpl>()) {
      mark(e->weight);
      uniform(e->weight, 0.02 * std::sqrt(3.0), gen);
    } else {
      throw InputError(what + ": " + ref.name + ": no deterministic init for layer kind " + kind);
    }
  }
  // ViT patch projections are convolutions outside the adaptable set.
  for (const auto& m : root.named_modules()) {
    if (auto* patch = m.value()->as<PatchConvImpl>()) {
      const double fan = fan_in(patch->weight);
      uniform(patch->weight, std::sqrt(3.0 / fan), gen);
      uniform(patch->bias, 1.0 / std::sqrt(fan), gen);
      covered.insert(patch->weight.unsafeGetTensorImpl());
      if (patch->bias.defined()) covered.insert(patch->bias.unsafeGetTensorImpl());
    }
  }
  // Free tensors: the class tokens and learned position tables of the ViTs
  // are embeddings. Anything else needs an explicit rule: refuse rather than
  // leave it at LibTorch's global-RNG init.
  auto ends_with = [](const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  for (auto& p : root.named_parameters(/*recurse=*/true)) {
    if (covered.count(p.value().unsafeGetTensorImpl())) continue;
    if (ends_with(p.key(), "class_embedding") || ends_with(p.key(), "cls_token") ||
        ends_with(p.key(), "position_embeddings")) {
      uniform(p.value(), 0.02 * std::sqrt(3.0), gen);
      continue;
    }
    throw InputError(what + ": parameter " + p.key() + " has no deterministic init rule");
  }
}

}  // namespace pbench::models
