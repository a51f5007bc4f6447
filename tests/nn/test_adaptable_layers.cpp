#define BOOST_TEST_MODULE adaptable_layers
#include <boost/test/unit_test.hpp>

#include "framework/tensor/adaptable_layers.hpp"

namespace pn = pbench::nn;

namespace {
// W' = s * W with a learnable scalar s (a DiffFit-style scale).
struct ScaleWeight : pn::Parameterization {
  torch::Tensor s;
  ScaleWeight() { s = register_parameter("s", torch::full({1}, 2.0)); }
  torch::Tensor weight(const torch::Tensor& base) override { return base * s; }
  bool rewrites_weight() const override { return true; }
};
// y' = y + 1 (an output hook).
struct AddOne : pn::Parameterization {
  torch::Tensor output(const torch::Tensor&, const torch::Tensor& out) override { return out + 1; }
  bool rewrites_output() const override { return true; }
};

struct Block : torch::nn::Module {
  pn::Linear to_q{nullptr};
  pn::Conv2d conv{nullptr};
  Block() {
    to_q = register_module("to_q", pn::Linear(torch::nn::LinearOptions(4, 3).bias(false)));
    conv = register_module("conv", pn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3).padding(1).stride(2)));
  }
};
struct Net : torch::nn::Module {
  std::shared_ptr<Block> block;
  pn::GroupNorm norm{nullptr};
  pn::Embedding emb{nullptr};
  Net() {
    block = register_module("block", std::make_shared<Block>());
    norm = register_module("norm", pn::GroupNorm(torch::nn::GroupNormOptions(2, 4)));
    emb = register_module("emb", pn::Embedding(10, 4));
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(unadapted_layers_match_torch_layers) {
  torch::manual_seed(0);
  pn::Linear lin(torch::nn::LinearOptions(5, 3));
  torch::nn::Linear ref(torch::nn::LinearOptions(5, 3));
  ref->weight.data().copy_(lin->weight.data());
  ref->bias.data().copy_(lin->bias.data());
  auto x = torch::randn({2, 5});
  BOOST_TEST(torch::allclose(lin(x), ref(x)));

  pn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3).padding(1).stride(2));
  torch::nn::Conv2d cref(torch::nn::Conv2dOptions(3, 4, 3).padding(1).stride(2));
  cref->weight.data().copy_(conv->weight.data());
  cref->bias.data().copy_(conv->bias.data());
  auto img = torch::randn({1, 3, 8, 8});
  BOOST_TEST(torch::allclose(conv(img), cref(img)));

  pn::LayerNorm ln(torch::nn::LayerNormOptions({5}).eps(1e-5));
  BOOST_TEST(torch::allclose(ln(x), torch::nn::LayerNorm(torch::nn::LayerNormOptions({5}))(x)));
  pn::GroupNorm gn(torch::nn::GroupNormOptions(2, 4).eps(1e-6));
  auto g = torch::randn({2, 4, 3, 3});
  BOOST_TEST(torch::allclose(gn(g), torch::nn::GroupNorm(torch::nn::GroupNormOptions(2, 4).eps(1e-6))(g)));
}

BOOST_AUTO_TEST_CASE(parameter_names_match_torch_layers) {
  Net net;
  std::vector<std::string> keys;
  for (const auto& p : net.named_parameters()) keys.push_back(p.key());
  BOOST_TEST(keys == (std::vector<std::string>{"block.to_q.weight", "block.conv.weight", "block.conv.bias",
                                               "norm.weight", "norm.bias", "emb.weight"}));
}

BOOST_AUTO_TEST_CASE(weight_and_output_parameterizations_compose_in_order) {
  torch::manual_seed(1);
  pn::Linear lin(torch::nn::LinearOptions(4, 2).bias(false));
  auto x = torch::randn({3, 4});
  auto base = lin(x);
  lin->attach("scale", std::make_shared<ScaleWeight>());
  BOOST_TEST(torch::allclose(lin(x), base * 2));
  lin->attach("plus", std::make_shared<AddOne>());
  BOOST_TEST(torch::allclose(lin(x), base * 2 + 1));
  BOOST_CHECK_THROW(lin->attach("plus", std::make_shared<AddOne>()), std::logic_error);
  lin->detach("scale");
  BOOST_TEST(torch::allclose(lin(x), base + 1));
  for (const auto& p : lin->named_parameters()) BOOST_TEST(p.key() != "scale.s");
}

BOOST_AUTO_TEST_CASE(discovery_names_layers_and_gradients_reach_only_the_delta) {
  Net net;
  auto layers = pn::adaptable_layers(net);
  std::vector<std::string> names;
  for (const auto& l : layers) names.push_back(l.name + ":" + l.layer->layer_kind());
  BOOST_TEST(names == (std::vector<std::string>{"block.to_q:linear", "block.conv:conv2d", "norm:group_norm",
                                                "emb:embedding"}));
  auto scale = std::make_shared<ScaleWeight>();
  layers[0].layer->attach("svd", scale);
  // The delta is named under its layer, and is not itself an adaptable layer.
  bool found = false;
  for (const auto& p : net.named_parameters()) found |= p.key() == "block.to_q.svd.s";
  BOOST_TEST(found);
  BOOST_TEST(pn::adaptable_layers(net).size() == 4u);
  for (auto& p : net.parameters()) p.set_requires_grad(false);
  scale->s.set_requires_grad(true);
  net.block->to_q(torch::randn({2, 4})).sum().backward();
  BOOST_TEST(scale->s.grad().defined());
  BOOST_TEST(!net.block->to_q->weight.grad().defined());
}
