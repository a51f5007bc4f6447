// Each weight-space method's effective weight built two ways and compared
// (issue 15): through the adaptable-layer machinery (the adapted Linear's
// affine map, read off its outputs) and by the paper's closed formula written
// out here from the base weight and the tensors delta() saves. A
// self-consistency test (delta round trip) lets a wrong formula pass; this
// does not. float64 pipeline, so 1e-6 is far above rounding.
#define BOOST_TEST_MODULE effective_weights
#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;

namespace {

const std::string kBlock = "down_blocks.0.attentions.0.transformer_blocks.0.";
const std::string kOut = kBlock + "attn1.to_out.0";  // C -> C, with bias
const std::string kFfOut = kBlock + "ff.net.2";      // 4C -> C, with bias
const std::string kKey = kBlock + "attn2.to_k";      // cross-attention dim -> C, no bias

models::Pipeline double_pipeline() {
  return models::load_pipeline("builtin:tiny", torch::TensorOptions().dtype(torch::kFloat64));
}

std::unique_ptr<Method> attach(models::Pipeline& p, const std::string& yaml) {
  cfg::Node section = method_yaml(yaml);
  auto m = methods().get(section.find("name")->as_string(), "test").factory.create(section);
  MethodTarget target{p, nullptr};
  m->attach(target);
  return m;
}

nn::LinearImpl& linear(models::Pipeline& p, const std::string& name) {
  auto* layer = dynamic_cast<nn::LinearImpl*>(p.unet->named_modules()[name].get());
  BOOST_REQUIRE_MESSAGE(layer, name << " is not a Linear");
  return *layer;
}

// The adapted layer as y = W' x + b': W' from the images of the unit vectors, b' from the image of 0.
struct Affine {
  torch::Tensor weight, bias;
};
Affine affine_map(nn::LinearImpl& layer) {
  torch::NoGradGuard ng;
  const int64_t in = layer.weight.size(1);
  auto o = layer.weight.options();
  torch::Tensor zero = layer.forward(torch::zeros({1, in}, o));
  return Affine{(layer.forward(torch::eye(in, o)) - zero).t(), zero[0]};
}

// The delta with the tensors of `keys` drawn anew (scales around 1, others around 0), loaded back.
TensorMap randomised(Method& m, const std::map<std::string, bool>& keys_around_one) {
  TensorMap delta = m.delta();
  torch::manual_seed(11);
  for (const auto& [key, around_one] : keys_around_one) {
    BOOST_REQUIRE_MESSAGE(delta.count(key), "no delta tensor " << key);
    torch::Tensor& t = delta[key];
    t = (around_one ? 1.0 + 0.3 * torch::randn(t.sizes(), t.options()) : 0.3 * torch::randn(t.sizes(), t.options()));
  }
  m.load_delta(delta);
  return delta;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

BOOST_AUTO_TEST_CASE(lora_is_w_plus_alpha_over_r_up_down) {
  // LoRA (arXiv 2106.09685): W' = W + (alpha / r) B A.
  models::Pipeline p = double_pipeline();
  nn::LinearImpl& layer = linear(p, kOut);
  const torch::Tensor w = layer.weight.detach().clone(), b = layer.bias.detach().clone();
  auto m = attach(p, "name: lora\nrank: 3\nalpha: 6.0\ntargets: [" + kOut + "]\n");
  const std::string k = "unet." + kOut + ".lora.";
  TensorMap d = randomised(*m, {{k + "down", false}, {k + "up", false}});
  torch::Tensor paper = w + (6.0 / 3.0) * d.at(k + "up").matmul(d.at(k + "down"));
  Affine a = affine_map(layer);
  BOOST_TEST(max_abs(a.weight, paper) <= 1e-6);
  BOOST_TEST(max_abs(a.bias, b) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(loha_is_w_plus_scaled_hadamard_of_two_products) {
  // LoHa / FedPara (arXiv 2108.06098): W' = W + (alpha / r) (B1 A1) ⊙ (B2 A2).
  models::Pipeline p = double_pipeline();
  nn::LinearImpl& layer = linear(p, kOut);
  const torch::Tensor w = layer.weight.detach().clone();
  auto m = attach(p, "name: loha\nrank: 2\nalpha: 1.0\ntargets: [" + kOut + "]\n");
  const std::string k = "unet." + kOut + ".loha.";
  TensorMap d = randomised(*m, {{k + "up1", false}, {k + "down1", false}, {k + "up2", false}, {k + "down2", false}});
  torch::Tensor paper =
      w + 0.5 * (d.at(k + "up1").matmul(d.at(k + "down1")) * d.at(k + "up2").matmul(d.at(k + "down2")));
  BOOST_TEST(max_abs(affine_map(layer).weight, paper) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(lokr_is_w_plus_kronecker_of_its_factors) {
  // LoKr (LyCORIS; KronA arXiv 2212.10650): W' = W + s · W1 ⊗ W2, W2 = B A with s = alpha / r, or
  // W2 stored whole with s = 1.
  for (const bool low_rank : {true, false}) {
    models::Pipeline p = double_pipeline();
    nn::LinearImpl& layer = linear(p, kOut);
    const torch::Tensor w = layer.weight.detach().clone();
    const std::string rank = low_rank ? "1" : "64";
    auto m = attach(p, "name: lokr\nfactor: -1\nrank: " + rank + "\nalpha: 3.0\ntargets: [" + kOut + "]\n");
    const std::string k = "unet." + kOut + ".lokr.";
    std::map<std::string, bool> keys{{k + "w1", false}};
    if (low_rank) keys.insert({{k + "w2_up", false}, {k + "w2_down", false}});
    else keys.insert({k + "w2", false});
    TensorMap d = randomised(*m, keys);
    BOOST_REQUIRE(d.size() == keys.size());
    torch::Tensor w2 = low_rank ? d.at(k + "w2_up").matmul(d.at(k + "w2_down")) : d.at(k + "w2");
    const double s = low_rank ? 3.0 / 1.0 : 1.0;
    torch::Tensor paper = w + s * torch::kron(d.at(k + "w1"), w2);
    BOOST_TEST(max_abs(affine_map(layer).weight, paper) <= 1e-6, (low_rank ? "low-rank W2" : "full W2"));
  }
}

BOOST_AUTO_TEST_CASE(ia3_scales_output_rows_and_input_columns) {
  // (IA)3 (arXiv 2205.05638): keys/values l ⊙ (W x), i.e. W' = diag(l) W; the FFN's inner activation
  // ff.net.2(l ⊙ h), i.e. W' = W diag(l), bias unchanged.
  models::Pipeline p = double_pipeline();
  nn::LinearImpl& key = linear(p, kKey);
  nn::LinearImpl& ff = linear(p, kFfOut);
  const torch::Tensor wk = key.weight.detach().clone(), wf = ff.weight.detach().clone(), bf = ff.bias.detach().clone();
  auto m = attach(p, "name: ia3\noutput_targets: [" + kKey + "]\ninput_targets: [" + kFfOut + "]\n");
  const std::string kk = "unet." + kKey + ".ia3.scale", kf = "unet." + kFfOut + ".ia3.scale";
  TensorMap d = randomised(*m, {{kk, true}, {kf, true}});
  BOOST_TEST(max_abs(affine_map(key).weight, torch::diag(d.at(kk)).matmul(wk)) <= 1e-6);
  Affine a = affine_map(ff);
  BOOST_TEST(max_abs(a.weight, wf.matmul(torch::diag(d.at(kf)))) <= 1e-6);
  BOOST_TEST(max_abs(a.bias, bf) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(difffit_scales_the_branch_output_with_its_trained_bias) {
  // DiffFit (arXiv 2304.06648): the branch output γ ⊙ (W x + b) with b trained: W' = diag(γ) W, b' = γ ⊙ b.
  models::Pipeline p = double_pipeline();
  nn::LinearImpl& layer = linear(p, kOut);
  const torch::Tensor w = layer.weight.detach().clone();
  auto m = attach(p, "name: difffit\ngamma_targets: [" + kOut + "]\n");
  const std::string kg = "unet." + kOut + ".difffit.gamma", kb = "unet." + kOut + ".bias";
  TensorMap d = randomised(*m, {{kg, true}, {kb, false}});
  Affine a = affine_map(layer);
  BOOST_TEST(max_abs(a.weight, torch::diag(d.at(kg)).matmul(w)) <= 1e-6);
  BOOST_TEST(max_abs(a.bias, d.at(kg) * d.at(kb)) <= 1e-6);
}

BOOST_AUTO_TEST_CASE(svdiff_is_u_relu_sigma_plus_delta_vt) {
  // SVDiff (arXiv 2303.11305): W = U diag(σ) Vᵀ once, then W' = U diag(relu(σ + δ)) Vᵀ.
  models::Pipeline p = double_pipeline();
  nn::LinearImpl& layer = linear(p, kOut);
  const torch::Tensor w = layer.weight.detach().clone();
  auto m = attach(p, "name: svdiff\ntargets: [" + kOut + "]\nnorm_targets: [" + kBlock + "norm1]\n");
  const std::string k = "unet." + kOut + ".svdiff.delta";
  TensorMap d = m->delta();
  torch::manual_seed(11);
  d[k] = 0.3 * torch::randn(d.at(k).sizes(), d.at(k).options());
  d[k][0] = -1e3;  // σ + δ < 0 there, where relu clips
  m->load_delta(d);
  auto [u, sigma, vh] = torch::linalg_svd(w, /*full_matrices=*/false);
  torch::Tensor paper = u.matmul(torch::diag(torch::relu(sigma + d.at(k)))).matmul(vh);
  BOOST_TEST(max_abs(affine_map(layer).weight, paper) <= 1e-6);
}
