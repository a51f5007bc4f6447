#define BOOST_TEST_MODULE metrics
#include <boost/test/unit_test.hpp>
// CLIP-I / CLIP-T / DINO: the cosine arithmetic on hand-made embeddings
// (all-pairs means, the i != j baseline, errors), the CLIP-T prompt, the
// preprocessing geometry, and the registered metrics end to end on small
// random CLIP / DINO towers (an image against itself scores 1, another less).
#include <cmath>

#include "framework/util/errors.hpp"
#include "metrics/clip_t.hpp"
#include "metrics/metric.hpp"
#include "metrics/similarity.hpp"
#include "tests/nn/tiny_models.hpp"

using namespace pbench;
using namespace pbench::metrics;

namespace {

torch::Tensor rows(std::vector<std::vector<double>> r) {
  std::vector<torch::Tensor> out;
  for (auto& v : r) out.push_back(torch::tensor(v, torch::kFloat64));
  return torch::stack(out);
}

struct Backbones {
  ClipBackbone clip;
  DinoBackbone dino;
  Backbones() {
    torch::manual_seed(5);
    clip.source = "test:tiny-clip";
    clip.tokenizer = test::asset_tokenizer();
    clip.text = models::ClipTextModel(test::tiny_clip_text_config());
    clip.vision = models::ClipVisionModel(test::tiny_clip_vision_config());
    clip.preprocess = clip_metric_preprocess(clip.vision->config.image_size);
    dino.source = "test:tiny-dino";
    dino.model = models::DinoVitModel(test::tiny_vit_config());
  }
  MetricBackbones both() const { return {&clip, &dino}; }
};

const Backbones& backbones() {
  static Backbones b;
  return b;
}

// Structured 48x48 test images: smooth gradients, a checkerboard, stripes.
torch::Tensor test_images() {
  auto ramp = torch::arange(48, torch::kFloat32).div(47.0);
  auto yy = ramp.view({48, 1}).expand({48, 48}), xx = ramp.view({1, 48}).expand({48, 48});
  auto to_u8 = [](torch::Tensor hwc) { return hwc.mul(255.0).round().clamp(0, 255).to(torch::kUInt8); };
  torch::Tensor gradient = to_u8(torch::stack({xx, yy, 1 - xx}, 2));
  auto checker = ((torch::arange(48).div(6, "floor").view({48, 1}) + torch::arange(48).div(6, "floor").view({1, 48})) %
                  2).to(torch::kFloat32);
  torch::Tensor board = to_u8(torch::stack({checker, 1 - checker, checker * 0.5}, 2));
  auto stripes = (torch::arange(48).div(3, "floor") % 2).to(torch::kFloat32).view({1, 48}).expand({48, 48});
  torch::Tensor striped = to_u8(torch::stack({stripes * 0.2, stripes, yy}, 2));
  return torch::stack({gradient, board, striped});
}

bool input_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
  } catch (const InputError& e) {
    return std::string(e.what()).find(part) != std::string::npos;
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(cosine_matrix_is_scale_free_and_exact_on_known_vectors) {
  torch::Tensor a = rows({{1, 0}, {0, 2}}), b = rows({{3, 0}, {1, 1}});
  torch::Tensor c = cosine_matrix(a, b, "t");
  const double h = 1.0 / std::sqrt(2.0);
  BOOST_TEST(torch::allclose(c, rows({{1, h}, {0, h}}), 0.0, 1e-15));
  BOOST_TEST(c.dtype() == torch::kFloat64);
  // float32 inputs are computed in float64 as well.
  BOOST_TEST(torch::allclose(cosine_matrix(a.to(torch::kFloat32) * 7, b.to(torch::kFloat32), "t"), c, 0.0, 1e-7));
  BOOST_TEST(torch::allclose(paired_cosine(a, b, "t"), torch::tensor({1.0, h}, torch::kFloat64), 0.0, 1e-15));
}

BOOST_AUTO_TEST_CASE(generated_vs_real_is_the_mean_over_all_pairs) {
  torch::manual_seed(1);
  torch::Tensor gen = torch::randn({5, 7}, torch::kFloat64), real = torch::randn({3, 7}, torch::kFloat64);
  torch::Tensor per = mean_cosine_to_reals(gen, real, "t");
  BOOST_REQUIRE(per.sizes() == (std::vector<int64_t>{5}));
  double all_pairs = 0;
  for (int64_t i = 0; i < 5; ++i) {
    double row = 0;
    for (int64_t j = 0; j < 3; ++j) {
      double cos = (gen[i] * real[j]).sum().item<double>() / (gen[i].norm().item<double>() * real[j].norm().item<double>());
      row += cos;
      all_pairs += cos;
    }
    BOOST_TEST(per[i].item<double>() == row / 3, boost::test_tools::tolerance(1e-12));
  }
  BOOST_TEST(result_of(per).mean == all_pairs / 15, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(real_baseline_skips_each_image_with_itself) {
  torch::Tensor real = rows({{1, 0}, {0, 1}, {1, 1}});
  // Pairs: (e1,e2)=0, (e1,e3)=(e2,e3)=1/sqrt2; the diagonal would add three 1s.
  BOOST_TEST(mean_cosine_between_distinct(real, "t") == std::sqrt(2.0) / 3.0, boost::test_tools::tolerance(1e-14));
  BOOST_TEST(input_error([&] { mean_cosine_between_distinct(rows({{1, 0}}), "dino"); }, "at least 2"));
}

BOOST_AUTO_TEST_CASE(bad_embeddings_are_input_errors) {
  BOOST_TEST(input_error([] { cosine_matrix(rows({{0, 0}}), rows({{1, 0}}), "clip_i"); }, "zero length"));
  BOOST_TEST(input_error([] { cosine_matrix(rows({{1, 0}}), rows({{1, 0, 0}}), "clip_i"); }, "widths differ"));
  BOOST_TEST(input_error([] { paired_cosine(rows({{1, 0}}), rows({{1, 0}, {0, 1}}), "clip_t"); }, "rows"));
  BOOST_TEST(input_error([] { mean_cosine_to_reals(rows({{1, 0}}), torch::empty({0, 2}), "dino"); }, "real image"));
}

BOOST_AUTO_TEST_CASE(clip_t_prompt_drops_the_unique_token_only) {
  BOOST_TEST(clip_t_prompt("a sks dog in the snow", "sks") == "a dog in the snow");
  BOOST_TEST(clip_t_prompt("a  sks   sks dog", "sks") == "a dog");
  BOOST_TEST(clip_t_prompt("a sksx dog", "sks") == "a sksx dog");  // whole words only
  BOOST_TEST(clip_t_prompt("a <v*> toy", "<v*>") == "a toy");
  BOOST_TEST(clip_t_prompt(" a  dog ", "") == "a dog");
}

BOOST_AUTO_TEST_CASE(preprocessing_keeps_the_reference_ratios) {
  auto c224 = clip_metric_preprocess(224);
  BOOST_TEST(c224.shortest_edge == 224);
  BOOST_TEST(c224.crop_height == 224);
  BOOST_TEST(c224.crop_width == 224);
  BOOST_TEST(int(c224.resample) == int(models::ResampleFilter::kBicubic));
  BOOST_TEST(c224.mean[0] == 0.48145466);
  BOOST_TEST(dino_metric_geometry(224).resize_short == 256);
  BOOST_TEST(dino_metric_geometry(224).crop == 224);
  BOOST_TEST(dino_metric_geometry(32).resize_short == 37);  // 32 * 256 / 224 = 36.57
  BOOST_TEST(dino_metric_geometry(32).crop == 32);
  // A non-square image comes out at the model size for both protocols.
  torch::Tensor wide = torch::randint(0, 256, {1, 48, 80, 3}, torch::kUInt8);
  BOOST_TEST(models::clip_preprocess(wide, clip_metric_preprocess(32)).sizes() == (std::vector<int64_t>{1, 3, 32, 32}));
  auto g = dino_metric_geometry(32);
  BOOST_TEST(models::dino_eval_preprocess(wide, g.resize_short, g.crop).sizes() ==
             (std::vector<int64_t>{1, 3, 32, 32}));
}

BOOST_AUTO_TEST_CASE(embeddings_run_the_metric_preprocessing_and_the_right_heads) {
  const Backbones& b = backbones();
  torch::Tensor images = test_images();
  torch::NoGradGuard no_grad;
  torch::Tensor clip = clip_image_embeddings(b.clip, images);
  BOOST_TEST(clip.sizes() == (std::vector<int64_t>{3, 16}));
  torch::Tensor direct = b.clip.vision->forward(models::clip_preprocess(images, clip_metric_preprocess(32))).image_embeds;
  BOOST_TEST(torch::allclose(clip, direct, 1e-6, 1e-6));
  torch::Tensor dino = dino_embeddings(b.dino, images);
  BOOST_TEST(dino.sizes() == (std::vector<int64_t>{3, 24}));
  torch::Tensor dino_direct = b.dino.model->forward(models::dino_eval_preprocess(images, 37, 32)).cls;
  BOOST_TEST(torch::allclose(dino, dino_direct, 1e-6, 1e-6));
  // Chunking changes nothing but memory.
  BOOST_TEST(torch::allclose(clip_image_embeddings(b.clip, images, 1), clip, 1e-5, 1e-6));
  torch::Tensor text = clip_text_embeddings(b.clip, {"a dog", "a red cube on a table"});
  BOOST_TEST(text.sizes() == (std::vector<int64_t>{2, 16}));
  BOOST_TEST(!torch::allclose(text[0], text[1]));
  BOOST_TEST(input_error([&] { clip_image_embeddings(b.clip, images.to(torch::kFloat32)); }, "uint8"));
}

BOOST_AUTO_TEST_CASE(registry_lists_the_metrics_with_their_backbones) {
  auto& r = metrics_registry();
  BOOST_TEST(r.names() == (std::vector<std::string>{"background_psnr", "clip_i", "clip_i_source", "clip_t", "dino", "dino_source", "psnr", "ssim"}),
             boost::test_tools::per_element());
  BOOST_TEST(r.get("psnr", "t").factory.backbone == "");  // pixels only (tests/nn/test_inversion.cpp)
  BOOST_TEST(r.get("clip_i_source", "t").factory.backbone == "clip");  // editing (tests/nn/test_editing.cpp)
  BOOST_TEST(r.get("dino_source", "t").factory.backbone == "dino");
  BOOST_TEST(r.get("clip_i", "t").factory.backbone == "clip");
  BOOST_TEST(r.get("clip_t", "t").factory.backbone == "clip");
  BOOST_TEST(r.get("dino", "t").factory.backbone == "dino");
  BOOST_CHECK_THROW(r.get("fid", "t"), InputError);
}

BOOST_AUTO_TEST_CASE(an_image_against_itself_scores_one_and_another_less) {
  torch::Tensor images = test_images();
  // Generated: [gradient, board]; real: [gradient] plus [striped] for the baseline.
  torch::Tensor generated = images.slice(0, 0, 2);
  torch::Tensor real = torch::stack({images[0], images[2]});
  MetricInputs self(generated, {"a sks dog", "a sks dog"}, images.slice(0, 0, 1), "sks", backbones().both());
  for (const char* name : {"clip_i", "dino"}) {
    // With a single real image the baseline is undefined; use per-image values through the similarity helpers.
    torch::Tensor gen = std::string(name) == "clip_i" ? self.clip_generated() : self.dino_generated();
    torch::Tensor ref = std::string(name) == "clip_i" ? self.clip_real() : self.dino_real();
    torch::Tensor per = mean_cosine_to_reals(gen, ref, name);
    BOOST_TEST(per[0].item<double>() == 1.0, boost::test_tools::tolerance(1e-6));
    BOOST_TEST(per[1].item<double>() < 1.0 - 1e-4, name << " " << per[1].item<double>());
  }
  MetricInputs in(generated, {"a sks dog", "a sks dog"}, real, "sks", backbones().both());
  for (const char* name : {"clip_i", "dino"}) {
    MetricResult r = metrics_registry().get(name, "t").factory.compute(in);
    BOOST_REQUIRE(r.per_image.sizes() == (std::vector<int64_t>{2}));
    BOOST_TEST(r.per_image.dtype() == torch::kFloat64);
    // gradient vs {itself, striped}: (1 + cos(gradient, striped)) / 2.
    torch::Tensor emb = std::string(name) == "clip_i" ? in.clip_real() : in.dino_real();
    double cross = cosine_matrix(emb, emb, name)[0][1].item<double>();
    BOOST_TEST(r.per_image[0].item<double>() == (1 + cross) / 2, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(r.per_image[1].item<double>() < r.per_image[0].item<double>(), name);
    BOOST_TEST(r.mean == r.per_image.mean().item<double>(), boost::test_tools::tolerance(1e-12));
    BOOST_REQUIRE(r.real_baseline.has_value());
    BOOST_TEST(*r.real_baseline == cross, boost::test_tools::tolerance(1e-9));
  }
}

BOOST_AUTO_TEST_CASE(clip_t_compares_each_image_with_its_own_prompt_without_the_token) {
  torch::Tensor images = test_images();
  std::vector<std::string> prompts{"a sks dog in the snow", "a sks cube", "a sks dog in the snow"};
  MetricInputs in(images, prompts, images.slice(0, 0, 2), "sks", backbones().both());
  MetricResult r = metrics_registry().get("clip_t", "t").factory.compute(in);
  BOOST_TEST(!r.real_baseline.has_value());
  torch::Tensor text = clip_text_embeddings(backbones().clip, {"a dog in the snow", "a cube", "a dog in the snow"});
  torch::Tensor expected = paired_cosine(clip_image_embeddings(backbones().clip, images), text, "t");
  BOOST_TEST(torch::allclose(r.per_image, expected, 0.0, 1e-12));
  // Keeping the token would change the text embedding, hence the value.
  torch::Tensor with_token = paired_cosine(clip_image_embeddings(backbones().clip, images),
                                           clip_text_embeddings(backbones().clip, prompts), "t");
  BOOST_TEST(!torch::allclose(r.per_image, with_token, 0.0, 1e-9));
}

BOOST_AUTO_TEST_CASE(missing_backbone_or_prompt_count_is_an_input_error) {
  torch::Tensor images = test_images();
  MetricInputs clip_only(images, {"a", "b", "c"}, images, "sks", {&backbones().clip, nullptr});
  BOOST_TEST(input_error([&] { metrics_registry().get("dino", "t").factory.compute(clip_only); }, "DINO"));
  BOOST_TEST(input_error([&] { MetricInputs(images, {"a"}, images, "sks", backbones().both()); }, "prompt"));
}

BOOST_AUTO_TEST_CASE(source_similarity_scores_one_for_the_source_itself_and_less_for_another) {
  torch::Tensor images = test_images();
  torch::Tensor generated = images.slice(0, 0, 2);  // [gradient, board]
  MetricInputs in(generated, {"a", "b"}, images.slice(0, 0, 1), "", backbones().both());
  in.set_source(torch::stack({images[0], images[2]}));  // gradient's own source; board's is the striped image
  for (const char* name : {"clip_i_source", "dino_source"}) {
    MetricResult r = metrics_registry().get(name, "t").factory.compute(in);
    BOOST_TEST(r.per_image[0].item<double>() == 1.0, boost::test_tools::tolerance(1e-5));
    BOOST_TEST(r.per_image[1].item<double>() < 0.999);
    BOOST_TEST(!r.real_baseline.has_value());
  }
}
