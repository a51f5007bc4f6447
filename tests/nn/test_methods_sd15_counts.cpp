#define BOOST_TEST_MODULE methods_sd15_counts
#include <boost/test/unit_test.hpp>

#include "framework/config/yaml_io.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/train/method.hpp"
#include "framework/util/assets.hpp"

// Exact trainable counts on the SD v1.5 architecture (meta device: shapes only),
// against the numbers derived in ../shared/reference/methods.md §0.3 and the
// formulas in each method's file.
using namespace pbench;

namespace {
MethodCounts count(const std::string& yaml) {
  models::Pipeline p = models::sd15_meta_pipeline();
  return count_method(read_method(cfg::parse_yaml_text(yaml, cfg::Origin{"test", 0})), p);
}
}  // namespace

BOOST_AUTO_TEST_CASE(lora_counts) {
  BOOST_TEST(count("name: lora\nrank: 1\n").trainable == 199296);
  BOOST_TEST(count("name: lora\nrank: 4\n").trainable == 797184);
  BOOST_TEST(count("name: lora\nrank: 8\n").trainable == 1594368);
  for (int r : {1, 4, 8})
    BOOST_TEST(count("name: lora\ntext_encoder: true\nrank: " + std::to_string(r) + "\n").trainable ==
               199296 * r + 73728 * r);
  auto c = count("name: lora\nrank: 4\n");
  BOOST_TEST(c.delta_bytes_fp32 == 4 * 797184);
  BOOST_TEST(c.delta_bytes_fp16 == 2 * 797184);
  BOOST_TEST(c.unet_total == 859520964);
}

BOOST_AUTO_TEST_CASE(svdiff_counts) {
  // The text encoder's shifts are on by default (the paper's 1.7 MB figure includes them; issue 15).
  BOOST_TEST(count("name: svdiff\n").trainable == 322856 + 75341);
  BOOST_TEST(count("name: svdiff\ntext_encoder: false\n").trainable == 222696 + 100160);
  BOOST_TEST(count("name: svdiff\ntext_encoder: false\nnorm_targets: [none_at_all]\n").trainable == 222696);
}

BOOST_AUTO_TEST_CASE(gradient_free_ti_count) {
  // One embedding row, as Textual Inversion: the search's state (a 256-d mean, a 256² covariance)
  // is how it trains, not what it learns.
  BOOST_TEST(count("name: gradient_free_ti\n").trainable == 768);
}

BOOST_AUTO_TEST_CASE(coti_count) {
  // Textual Inversion's rows at the reference's 8 vectors per token (jnzju/COTI: nvpt 8); the
  // scorers' heads are how it selects data, not what it learns.
  BOOST_TEST(count("name: coti\n").trainable == 8 * 768);
  BOOST_TEST(count("name: coti\nnum_vectors: 1\n").trainable == 768);
}

BOOST_AUTO_TEST_CASE(custom_diffusion_count) {
  BOOST_TEST(count("name: custom_diffusion\n").trainable == 19169280 + 768);
}

BOOST_AUTO_TEST_CASE(ia3_counts) {
  BOOST_TEST(count("name: ia3\n").trainable == 99840);
  BOOST_TEST(count("name: ia3\ntext_encoder: true\n").trainable == 99840 + 55296);
}

BOOST_AUTO_TEST_CASE(loha_dylora_counts) {
  BOOST_TEST(count("name: loha\nrank: 4\n").trainable == 1594368);
  BOOST_TEST(count("name: dylora\nrank: 16\n").trainable == 16 * 199296);
}

BOOST_AUTO_TEST_CASE(lokr_count) {
  // Hand-derived in methods/lokr.cpp: factor -1, rank 8 on attention q,k,v,out.
  BOOST_TEST(count("name: lokr\n").trainable == 138592);
}

BOOST_AUTO_TEST_CASE(difffit_count) {
  // biases + norm affine + 3 gamma vectors per transformer block (3 · 12,480).
  BOOST_TEST(count("name: difffit\n").trainable == 481284);
}

BOOST_AUTO_TEST_CASE(counting_path_agrees_with_the_real_path_on_builtin_tiny) {
  // The same methods attached to builtin:tiny with real weights (SVD computed,
  // tokens initialised) and on the meta device (shapes only) train the same
  // number of parameters and write the same delta sizes.
  for (const std::string yaml :
       {"name: lora\ntext_encoder: true\n", "name: svdiff\ntext_encoder: true\n", "name: ia3\ntext_encoder: true\n",
        "name: loha\ntargets: [to_q, conv1]\n", "name: lokr\nrank: 2\ntargets: [to_k, conv2]\n",
        "name: difffit\ntext_encoder: true\n", "name: dylora\n", "name: custom_diffusion\n",
        "name: prefix_tuning\nplacement: both\n", "name: prefix_tuning\nreparameterization: false\n"}) {
    models::Pipeline real = models::load_pipeline("builtin:tiny");
    // The same architecture built on the meta device from the shipped configs.
    const auto on_meta = torch::TensorOptions().device(torch::kMeta).dtype(torch::kFloat32);
    models::Pipeline meta = real;
    meta.unet = models::UNet2DCondition(real.unet->config(), on_meta);
    meta.text_encoder = models::ClipTextModel(real.text_encoder->config, on_meta);
    meta.vae = models::AutoencoderKL(
        models::VaeConfig::from_file(asset_path("builtin_tiny/vae/config.json").string()), on_meta);
    meta.tokenizer = nullptr;  // counting needs no tokenizer (shapes only)
    BOOST_REQUIRE(meta.unet->parameters().front().device().type() == torch::kMeta);
    auto section = cfg::parse_yaml_text(yaml, cfg::Origin{"test", 0});
    MethodCounts a = count_method(read_method(section), real), b = count_method(read_method(section), meta);
    BOOST_TEST(a.trainable > 0, yaml);
    BOOST_TEST(a.trainable == b.trainable, yaml);
    BOOST_TEST(a.delta_bytes_fp32 == b.delta_bytes_fp32, yaml);
    BOOST_TEST(a.total == b.total, yaml);
  }
}

BOOST_AUTO_TEST_CASE(text_side_counts) {
  // Prompt tuning: L × 768.
  BOOST_TEST(count("name: prompt_tuning\n").trainable == 8 * 768);
  BOOST_TEST(count("name: prompt_tuning\nlength: 20\n").trainable == 20 * 768);
  // P+: one 768-row per cross-attention layer, 16 on SD v1.5.
  BOOST_TEST(count("name: p_plus\n").trainable == 12288);
  // Prefix-Tuning, direct prefixes: UNet cross-attention 2·L·ΣC = 24,960·L; text encoder 2·L·768·12 = 18,432·L.
  BOOST_TEST(count("name: prefix_tuning\nreparameterization: false\n").trainable == 24960 * 10);
  BOOST_TEST(count("name: prefix_tuning\nreparameterization: false\nlength: 4\nplacement: text_encoder\n").trainable ==
             18432 * 4);
  BOOST_TEST(count("name: prefix_tuning\nreparameterization: false\nplacement: both\n").trainable ==
             (24960 + 18432) * 10);
  // Through the MLP: L·d' + d'·h + h + (h + 1)·24,960; the delta keeps only the prefixes.
  auto mlp = count("name: prefix_tuning\n");
  BOOST_TEST(mlp.trainable == 10 * 512 + 512 * 512 + 512 + 513 * 24960);
  BOOST_TEST(mlp.trainable == 13072256);
  BOOST_TEST(mlp.delta_bytes_fp32 == 4 * 249600);
}

// C-LoRA (arXiv 2304.06027): LoRA on the 16 cross-attention K and V (768 -> C each) + one token row;
// wave2-methods.md §2: 49,536 · r per task (+768).
BOOST_AUTO_TEST_CASE(c_lora_count) {
  BOOST_TEST(count("name: c_lora\nrank: 1\n").trainable == 49536 + 768);
  BOOST_TEST(count("name: c_lora\n").trainable == 49536 * 16 + 768);  // default rank 16
}

BOOST_AUTO_TEST_CASE(cones_count) {
  // The candidate pool: every K/V weight entry. Transformer widths C: 320 ×5, 640 ×5, 1280 ×6
  // (down, mid, up) = 12,480 summed. attn2 K/V: 2 · 768 · ΣC; attn1 K/V (Gothos/Cones): 2 · ΣC².
  const int64_t sum_c = 5 * 320 + 5 * 640 + 6 * 1280;
  const int64_t sum_c2 = 5 * 320 * 320 + 5 * 640 * 640 + 6 * 1280 * 1280;
  BOOST_TEST(count("name: cones\n").trainable == 2 * 768 * sum_c);  // 19,169,280 (wave2-methods.md §4)
  BOOST_TEST(count("name: cones\ntargets: [attn1.to_k, attn1.to_v, attn2.to_k, attn2.to_v]\n").trainable ==
             2 * 768 * sum_c + 2 * sum_c2);  // + 24,780,800
  BOOST_TEST(count("name: cones\n").delta_bytes_fp32 == 0);  // no neuron shut before training
}

// Perfusion (arXiv 2305.01644): trains the 16 value targets o*_V (ΣC) and one token row (768); a
// concept stores o*_V, o*_K, i* and the row: 2·ΣC + 2·768 = 26,496 floats, the paper's "100KB"
// (wave2-methods.md §1). C⁻¹ (768², shared) is in neither.
BOOST_AUTO_TEST_CASE(perfusion_count) {
  const int64_t sum_c = 5 * 320 + 5 * 640 + 6 * 1280;
  BOOST_TEST(count("name: perfusion\n").trainable == sum_c + 768);
  BOOST_TEST(count("name: perfusion\n").delta_bytes_fp32 == 4 * (2 * sum_c + 2 * 768));  // 105,984 B
}

BOOST_AUTO_TEST_CASE(sine_count) {
  // The whole UNet (the reference's 859.5M); the patch encoding adds no parameter.
  BOOST_TEST(count("name: sine\n").trainable == 859520964);
  BOOST_TEST(count("name: sine\npatch: true\n").trainable == 859520964);
}

// DisenBooth (arXiv 2305.03374), SD v1.5 port with a 768-d image embedding: LoRA r=4 on the 128
// attention projections (LoRA's 199,296 · r) + the adapter D + 2·(D² + D) at D = 768;
// wave2-methods.md §3: 1,181,952 for the adapter.
BOOST_AUTO_TEST_CASE(disenbooth_count) {
  BOOST_TEST(count("name: disenbooth\n").trainable == 199296 * 4 + 1181952);
  BOOST_TEST(count("name: disenbooth\nrank: 1\n").trainable == 199296 + 768 + 2 * (768 * 768 + 768));
}
