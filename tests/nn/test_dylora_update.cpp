// DyLoRA's update (Valipour et al., arXiv 2210.07558, Algorithm 1; LyCORIS
// dylora.py, kohya-ss networks/dylora.py): a step that samples rank b runs the
// first b components but updates only the b-th — the lower ones are detached,
// the higher ones unused — and nothing else may move them in that step, not
// AdamW's weight decay nor its running averages.
#define BOOST_TEST_MODULE dylora_update
#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;

namespace {

const std::string kLayer = "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v";
constexpr int64_t kRank = 4;
constexpr double kAlpha = 4.0;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Component i of a DyLoRA factor: row i of `.down` [r, in], column i of `.up` [out, r].
torch::Tensor component(const std::string& key, const torch::Tensor& factor, int64_t i) {
  return ends_with(key, ".down") ? factor.narrow(0, i, 1) : factor.narrow(1, i, 1);
}

TensorMap cloned(const TensorMap& delta) {
  TensorMap out;
  for (const auto& [k, t] : delta) out[k] = t.detach().clone();
  return out;
}

// The rank the layer runs at now: its output change matched against
// (alpha / b) · up[:, :b] · down[:b] · x for b = 1..r.
int64_t active_rank(nn::LinearImpl& layer, const torch::Tensor& x, const TensorMap& delta) {
  namespace F = torch::nn::functional;
  torch::NoGradGuard ng;
  torch::Tensor change = layer.forward(x) - F::linear(x, layer.weight, layer.bias);
  torch::Tensor down, up;
  for (const auto& [k, t] : delta) (ends_with(k, ".down") ? down : up) = t;
  for (int64_t b = 1; b <= kRank; ++b) {
    torch::Tensor expected = F::linear(F::linear(x, down.narrow(0, 0, b)), up.narrow(1, 0, b)) * (kAlpha / double(b));
    if (torch::allclose(change, expected, 1e-4, 1e-6)) return b;
  }
  return 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_step_at_rank_b_moves_only_component_b) {
  models::Pipeline p = small_pipeline();
  cfg::Node section = method_yaml("name: dylora\nrank: 4\nalpha: 4.0\nweight_decay: 0.1\ntargets: [" + kLayer + "]\n");
  auto m = methods().get("dylora", "test").factory.create(section);
  MethodTarget target{p, nullptr};
  m->attach(target);
  auto* layer = dynamic_cast<nn::LinearImpl*>(p.unet->named_modules()[kLayer].get());
  BOOST_REQUIRE(layer);
  // Non-zero factors: every component the forward uses would get a gradient if it were not detached.
  TensorMap start = m->delta();
  BOOST_REQUIRE(start.size() == 2u);
  torch::manual_seed(7);
  for (auto& [k, t] : start) t = torch::randn(t.sizes()) * 0.1;
  m->load_delta(start);

  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<torch::Tensor> params;
  for (auto& g : m->parameter_groups(1e-2)) {
    auto opts = std::make_unique<torch::optim::AdamWOptions>(g.lr);
    opts->weight_decay(g.weight_decay.value_or(0.0));
    groups.emplace_back(g.params, std::move(opts));
    params.insert(params.end(), g.params.begin(), g.params.end());
  }
  torch::optim::AdamW optimizer(groups, torch::optim::AdamWOptions(1e-2));
  torch::Generator gen = at::detail::createCPUGenerator(3);
  const torch::Tensor x = torch::randn({3, layer->weight.size(1)});
  std::set<int64_t> sampled;
  for (int64_t step = 1; step <= 8; ++step) {
    const TensorMap before = cloned(m->delta());
    m->before_step(step, gen);
    const int64_t b = active_rank(*layer, x, before);
    BOOST_REQUIRE_MESSAGE(b >= 1, "the sampled rank is not one of 1.." << kRank);
    sampled.insert(b);
    clear_gradients(params);  // as the engine, before every step
    layer->forward(x).pow(2).mean().backward();
    optimizer.step();
    m->after_step(step);
    // Outside the step the layer runs all r components as they are now (the
    // parameterization's detached mirror must have followed AdamW's update).
    BOOST_TEST(active_rank(*layer, x, m->delta()) == kRank, "step " << step << ": evaluation after the step");
    for (const auto& [key, factor] : m->delta())
      for (int64_t i = 0; i < kRank; ++i) {
        const bool same = torch::equal(component(key, factor, i), component(key, before.at(key), i));
        BOOST_TEST(same == (i != b - 1), "step " << step << " at rank " << b << ": component " << i + 1 << " of " << key
                                                 << (same ? " did not move" : " moved"));
      }
  }
  BOOST_TEST(sampled.size() >= 2u);  // several ranks in 8 steps, so momentum from earlier steps was in play
}
