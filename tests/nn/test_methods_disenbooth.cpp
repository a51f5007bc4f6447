#define BOOST_TEST_MODULE methods_disenbooth
// DisenBooth (arXiv 2305.03374) on builtin:tiny: the method contract, its two-pass loss against
// the paper's formula computed from the delta and the frozen image encoder, mirrored rows taking
// the mirrored image's embedding, the image branch absent from inference, and the refusal of an
// image encoder whose width is not the UNet's.
#include <boost/test/unit_test.hpp>

#include "framework/models/sd/image_encoder.hpp"
#include "tests/nn/method_test_kit.hpp"

using namespace pbench;
using namespace pbench::test;

namespace {

struct Attached {
  models::Pipeline pipeline = small_pipeline();
  SubjectData subject = kit_subject(pipeline);
  std::unique_ptr<Method> method;
  explicit Attached(const std::string& yaml) {
    method = read_method(method_yaml("name: disenbooth\nrank: 2\n" + yaml)).build();
    MethodTarget target{pipeline, &subject};
    method->attach(target);
  }
};

// f' = MLP(σ(m) ⊙ f) + σ(m) ⊙ f from the delta's tensors, written out.
torch::Tensor adapted_by_formula(const TensorMap& d, const torch::Tensor& f) {
  const torch::Tensor g = torch::sigmoid(d.at("image_adapter.mask")) * f;
  const torch::Tensor h = torch::relu(g.matmul(d.at("image_adapter.mlp.0.weight").t()) + d.at("image_adapter.mlp.0.bias"));
  return h.matmul(d.at("image_adapter.mlp.2.weight").t()) + d.at("image_adapter.mlp.2.bias") + g;
}

}  // namespace

BOOST_AUTO_TEST_CASE(contract) {
  ContractOptions options;
  options.attach_subject = true;
  options.method_owned_tensors = 5;  // the image adapter: mask and the MLP's two layers
  check_method_contract("name: disenbooth\nrank: 2\n", options);
}

BOOST_AUTO_TEST_CASE(the_step_loss_is_the_image_pass_plus_weak_text_pass_plus_the_minimised_cosine) {
  Attached a("weak_denoise_weight: 0.25\ndisentangle_weight: 0.5\n");
  // Move the adapter off its init (mask 0), so every part of the formula matters.
  TensorMap d = a.method->delta();
  torch::Generator gen = at::detail::createCPUGenerator(3);
  for (auto& [key, t] : d)
    if (key.rfind("image_adapter.", 0) == 0) t = t + 0.3 * torch::randn(t.sizes(), gen);
  a.method->load_delta(d);
  d = a.method->delta();

  // The frozen encoder's embedding of image 0 and of image 1 mirrored (the kit's rows).
  const models::ImageEncoder encoder = models::load_image_encoder("pipeline", a.pipeline);
  const torch::Tensor pixels = images_to_tensor(a.subject.images);
  const torch::Tensor f = torch::cat({encoder.encode(pixels.slice(0, 0, 1), false),
                                      encoder.encode(pixels.slice(0, 1, 2).flip({3}), false)});
  const torch::Tensor expected_adapted = adapted_by_formula(d, f);

  const Batch b = make_batch(a.pipeline);
  const torch::Tensor context = models::encode_token_ids(a.pipeline, b.ids).detach();
  std::vector<torch::Tensor> seen;
  // A stand-in for the UNet pass: any scalar function of the context tells the passes apart.
  const DenoisingLossOf loss_of = [&](const torch::Tensor& c) {
    seen.push_back(c.detach().clone());
    return c.pow(2).mean();
  };
  const torch::Tensor loss = a.method->batch_loss(context, kit_batch_images(), loss_of);

  BOOST_REQUIRE(seen.size() == 2u);  // two UNet passes per step, image-conditioned first
  BOOST_TEST((seen[0] - (context + expected_adapted.unsqueeze(1))).abs().max().item<double>() < 1e-5);
  BOOST_TEST(torch::equal(seen[1], context));
  const torch::Tensor pooled = context.mean(1);
  const torch::Tensor cosine =
      ((pooled * expected_adapted).sum(1) / (pooled.norm(2, 1) * expected_adapted.norm(2, 1))).mean();
  const double expected = (context + expected_adapted.unsqueeze(1)).pow(2).mean().item<double>() +
                          0.25 * context.pow(2).mean().item<double>() + 0.5 * cosine.item<double>();
  BOOST_TEST(loss.item<double>() == expected, boost::test_tools::tolerance(1e-5));
  BOOST_TEST(a.method->unet_passes_per_image() == 2);

  // The cosine term is minimised: its gradient alone moves the adapter to lower it.
  Attached only_cos("weak_denoise_weight: 0\ndisentangle_weight: 1\n");
  const DenoisingLossOf zero = [](const torch::Tensor& c) { return c.sum() * 0.0; };
  const double before = only_cos.method->batch_loss(context, kit_batch_images(), zero).item<double>();
  std::vector<torch::Tensor> params;
  for (auto& g : only_cos.method->parameter_groups(1e-3))
    if (g.name == "image_adapter") params = g.params;
  BOOST_REQUIRE(params.size() == 5u);
  torch::optim::SGD sgd(params, torch::optim::SGDOptions(0.05));
  for (int i = 0; i < 5; ++i) {
    sgd.zero_grad();
    only_cos.method->batch_loss(context, kit_batch_images(), zero).backward();
    sgd.step();
  }
  BOOST_TEST(only_cos.method->batch_loss(context, kit_batch_images(), zero).item<double>() < before - 1e-3);
}

BOOST_AUTO_TEST_CASE(a_mirrored_row_takes_the_mirrored_images_embedding) {
  Attached a("");
  const Batch b = make_batch(a.pipeline);
  const torch::Tensor context = models::encode_token_ids(a.pipeline, b.ids).detach();
  std::vector<torch::Tensor> seen;
  const DenoisingLossOf record = [&](const torch::Tensor& c) {
    seen.push_back(c.detach().clone());
    return c.sum() * 0.0;
  };
  // Image 1 plain and mirrored: the adapted embedding differs (the images are not symmetric),
  // and the mirrored one equals f' of the flipped pixels.
  a.method->batch_loss(context, {torch::tensor({1, 1}, torch::kInt64), torch::tensor({false, true}), {}}, record);
  const torch::Tensor added = (seen[0] - context).select(1, 0);  // f' per row, [2, D]
  BOOST_TEST((added[0] - added[1]).abs().max().item<double>() > 1e-4);
  const models::ImageEncoder encoder = models::load_image_encoder("pipeline", a.pipeline);
  const torch::Tensor mirrored = encoder.encode(images_to_tensor(a.subject.images).slice(0, 1, 2).flip({3}), false);
  BOOST_TEST((added[1] - adapted_by_formula(a.method->delta(), mirrored)[0]).abs().max().item<double>() < 1e-5);
}

BOOST_AUTO_TEST_CASE(inference_conditions_on_the_text_alone) {
  // The image branch lives in batch_loss only: the pipeline's prompt encoding (sampling, the
  // evaluation, DVAR's objective) is the text encoder's, unchanged by attaching.
  models::Pipeline plain = small_pipeline();
  Attached a("");
  BOOST_TEST(!a.pipeline.context_encoder);
  const std::vector<std::string> prompts{"a sks dog on the beach"};
  BOOST_TEST(torch::equal(models::encode_prompts(a.pipeline, prompts), models::encode_prompts(plain, prompts)));
}

BOOST_AUTO_TEST_CASE(an_image_encoder_of_another_width_is_refused_naming_the_key) {
  // builtin:tiny-clip embeds in 32 dimensions; builtin:tiny's UNet takes 64-d text states.
  models::Pipeline p = small_pipeline();
  const SubjectData subject = kit_subject(p);
  auto m = read_method(method_yaml("name: disenbooth\nimage_encoder: builtin:tiny-clip\n")).build();
  MethodTarget target{p, &subject};
  try {
    m->attach(target);
    BOOST_FAIL("attached with a 32-d image encoder");
  } catch (const InputError& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("method.image_encoder") != std::string::npos, what);
    BOOST_TEST(what.find("32") != std::string::npos, what);
    BOOST_TEST(what.find("64") != std::string::npos, what);
  }
  models::Pipeline fresh = small_pipeline();
  MethodTarget fresh_target{fresh, &subject};
  auto missing = read_method(method_yaml("name: disenbooth\nimage_encoder: /no/such/folder\n")).build();
  BOOST_CHECK_THROW(missing->attach(fresh_target), InputError);
}
