#define BOOST_TEST_MODULE pipeline
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "framework/models/sd/pipeline.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

// builtin:tiny (deterministic, shapes), the meta SD v1.5 pipeline (exact
// counts without allocation) and the folder loader's errors. Needs only the
// assets shipped in the repository.

using namespace pbench::models;
namespace fs = std::filesystem;

namespace {

int64_t numel_sum(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

bool all_meta(torch::nn::Module& m) {
  for (const auto& p : m.parameters())
    if (!p.is_meta()) return false;
  return true;
}

// Every parameter of `a` equals the same-named one of `b` bit for bit.
void check_identical(torch::nn::Module& a, torch::nn::Module& b, const std::string& what) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  BOOST_TEST_REQUIRE(pa.size() == pb.size(), what);
  for (const auto& p : pa) BOOST_TEST(torch::equal(p.value(), pb[p.key()]), what + " " + p.key());
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const pbench::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(builtin_tiny_is_identical_across_loads_seeds_and_threads) {
  torch::manual_seed(1);
  at::set_num_threads(1);
  Pipeline a = load_pipeline("builtin:tiny");
  // A different global seed and thread count must not change anything.
  torch::manual_seed(12345);
  at::set_num_threads(2);
  Pipeline b = load_pipeline("builtin:tiny");
  at::set_num_threads(1);
  check_identical(*a.unet, *b.unet, "unet");
  check_identical(*a.vae, *b.vae, "vae");
  check_identical(*a.text_encoder, *b.text_encoder, "text_encoder");
  BOOST_TEST(a.builtin);
  BOOST_TEST(a.source == "builtin:tiny");
}

BOOST_AUTO_TEST_CASE(builtin_tiny_init_follows_the_documented_rule) {
  Pipeline p = load_pipeline("builtin:tiny");
  auto params = p.unet->named_parameters();
  // conv_in: weight U(-a, a), a = sqrt(3 / fan_in), fan_in = 4 * 3 * 3.
  const double a = std::sqrt(3.0 / 36.0);
  const torch::Tensor w = params["conv_in.weight"];
  BOOST_TEST(w.abs().max().item<double>() <= a);
  BOOST_TEST(w.abs().max().item<double>() > 0.9 * a);  // 320 draws reach close to the bound
  BOOST_TEST(std::abs(w.std().item<double>() - std::sqrt(1.0 / 36.0)) < 0.03);
  BOOST_TEST(torch::equal(params["conv_norm_out.weight"], torch::ones({32})));
  BOOST_TEST(torch::equal(params["conv_norm_out.bias"], torch::zeros({32})));
  // Different components draw from different streams.
  auto tp = p.text_encoder->named_parameters();
  const torch::Tensor e = tp["text_model.embeddings.token_embedding.weight"];
  BOOST_TEST(std::abs(e.std().item<double>() - 0.02) < 0.001);
}

BOOST_AUTO_TEST_CASE(builtin_tiny_forward_shapes) {
  torch::NoGradGuard no_grad;
  Pipeline p = load_pipeline("builtin:tiny");
  BOOST_TEST(p.latent_size() == 16);
  BOOST_TEST(p.resolution == 64);
  BOOST_TEST(p.scheduler.num_train_timesteps == 1000);
  BOOST_TEST(p.scheduler.beta_schedule == "scaled_linear");

  pbench::TokenizedText tok = p.tokenizer->encode("a photo of a dog");
  BOOST_TEST(tok.input_ids.size() == 77u);
  torch::Tensor ids = torch::tensor(tok.input_ids).unsqueeze(0).repeat({2, 1});
  torch::Tensor context = p.text_encoder->forward(ids).last_hidden_state;
  BOOST_TEST(context.sizes() == torch::IntArrayRef({2, 77, 64}));

  torch::Tensor latents = torch::randn({2, 4, 16, 16});
  torch::Tensor eps = p.unet->forward(latents, torch::tensor({10, 900}), context);
  BOOST_TEST(eps.sizes() == latents.sizes());
  BOOST_TEST(torch::isfinite(eps).all().item<bool>());

  torch::Tensor image = p.vae->decode(latents.slice(0, 0, 1) / p.vae->scaling_factor());
  BOOST_TEST(image.sizes() == torch::IntArrayRef({1, 3, 64, 64}));
  LatentDistribution d = p.vae->encode(torch::rand({1, 3, 64, 64}) * 2 - 1);
  BOOST_TEST(d.mean.sizes() == torch::IntArrayRef({1, 4, 16, 16}));
}

BOOST_AUTO_TEST_CASE(builtin_tiny_moves_to_the_requested_dtype) {
  Pipeline p = load_pipeline("builtin:tiny", torch::TensorOptions().dtype(torch::kFloat64));
  for (const auto& t : p.unet->parameters()) BOOST_TEST_REQUIRE(t.scalar_type() == torch::kFloat64);
  Pipeline f = load_pipeline("builtin:tiny");
  // Same values as the float32 model, only wider.
  BOOST_TEST(torch::equal(p.unet->named_parameters()["conv_in.weight"].to(torch::kFloat32),
                          f.unet->named_parameters()["conv_in.weight"]));
}

BOOST_AUTO_TEST_CASE(sd15_meta_pipeline_counts_exactly_without_memory) {
  Pipeline p = sd15_meta_pipeline();
  // Reference counts: ../shared/refvectors/full_configs/params.json (diffusers /
  // transformers instantiated from the same configs).
  BOOST_TEST(numel_sum(*p.unet) == 859520964);
  BOOST_TEST(numel_sum(*p.vae) == 83653863);
  BOOST_TEST(numel_sum(*p.text_encoder) == 123060480);
  BOOST_TEST(all_meta(*p.unet));
  BOOST_TEST(all_meta(*p.vae));
  BOOST_TEST(all_meta(*p.text_encoder));
  BOOST_TEST(p.latent_size() == 64);
  BOOST_TEST(p.resolution == 512);
  BOOST_TEST(p.scheduler.steps_offset == 1);
}

BOOST_AUTO_TEST_CASE(folder_without_weights_says_what_is_expected) {
  fs::path dir = pbench::test::scratch_dir("pipeline_no_weights");
  fs::copy(pbench::test::source_dir() / "framework" / "assets" / "builtin_tiny", dir, fs::copy_options::recursive);
  std::string msg = message_of([&] { load_pipeline(dir.string()); });
  BOOST_TEST(msg.find((dir / "unet" / "diffusion_pytorch_model.safetensors").string()) != std::string::npos, msg);
  BOOST_TEST(msg.find("runwayml/stable-diffusion-v1-5") != std::string::npos, msg);
  BOOST_TEST(msg.find("huggingface-cli") != std::string::npos, msg);

  // Pickled weights are named as the reason.
  std::ofstream(dir / "unet" / "diffusion_pytorch_model.bin") << "x";
  msg = message_of([&] { load_pipeline(dir.string()); });
  BOOST_TEST(msg.find("diffusion_pytorch_model.bin") != std::string::npos, msg);

  fs::remove(dir / "model_index.json");
  msg = message_of([&] { load_pipeline(dir.string()); });
  BOOST_TEST(msg.find("model_index.json") != std::string::npos, msg);

  msg = message_of([&] { load_pipeline((dir / "absent").string()); });
  BOOST_TEST(msg.find("builtin:tiny") != std::string::npos, msg);
  msg = message_of([&] { load_pipeline("builtin:huge"); });
  BOOST_TEST(msg.find("builtin:huge") != std::string::npos, msg);
}
