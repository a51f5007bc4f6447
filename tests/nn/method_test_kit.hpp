#pragma once
// Shared checks for the parameterization methods (header only: tests/support
// is torch-free). A small pipeline (UNet + CLIP text encoder, random weights
// from a fixed seed), one AdamW step driver, and exact comparisons:
//   - exactly the method's tensors train (grads reach them; every other
//     parameter and buffer is bit-identical after the steps);
//   - the initial state leaves the output unchanged; training changes it;
//   - delta() -> safetensors -> load_delta() on a fresh attach reproduces the outputs.
#include <boost/test/unit_test.hpp>
#include <torch/torch.h>

#include <map>
#include <regex>
#include <set>
#include <string>

#include "framework/config/yaml_io.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/train/candidate_search.hpp"
#include "framework/train/method.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/test_paths.hpp"

namespace pbench::test {

inline cfg::Node method_yaml(const std::string& text) { return cfg::parse_yaml_text(text, cfg::Origin{"test", 0}); }

// builtin:tiny: the SD architecture at small widths (UNet [32, 64] with cross
// attention, 2-layer CLIP text encoder, VAE) with deterministic random weights
// and the real CLIP tokenizer; every call gives the same weights.
inline models::Pipeline small_pipeline() { return models::load_pipeline("builtin:tiny"); }

struct Batch {
  torch::Tensor sample, timestep, ids, target;
};

inline Batch make_batch(models::Pipeline& p, const std::string& prompt = "a photo of a dog") {
  torch::manual_seed(123);
  Batch b;
  const int64_t side = p.latent_size();
  b.sample = torch::randn({2, 4, side, side});
  b.timestep = torch::tensor({10, 500}, torch::kLong);
  auto enc = p.tokenizer->encode(prompt);
  std::vector<int64_t> ids(enc.input_ids.begin(), enc.input_ids.begin() + 12);
  if (std::find(ids.begin(), ids.end(), p.tokenizer->eos_id()) == ids.end()) ids.back() = p.tokenizer->eos_id();
  b.ids = torch::tensor(ids, torch::kLong).unsqueeze(0).repeat({2, 1});
  b.target = torch::randn({2, 4, side, side});
  return b;
}

inline torch::Tensor forward(models::Pipeline& p, const Batch& b) {
  torch::Tensor context = models::encode_token_ids(p, b.ids);
  return p.unet->forward(b.sample, b.timestep, context);
}

// Every parameter and buffer of the pipeline by name (method tensors included).
inline std::map<std::string, torch::Tensor> all_tensors(models::Pipeline& p) {
  std::map<std::string, torch::Tensor> out;
  for (auto& [prefix, m] : std::vector<std::pair<std::string, torch::nn::Module*>>{
           {"unet.", p.unet.ptr().get()}, {"text_encoder.", p.text_encoder.ptr().get()}}) {
    for (const auto& item : m->named_parameters()) out[prefix + item.key()] = item.value();
    for (const auto& item : m->named_buffers()) out[prefix + item.key()] = item.value();
  }
  return out;
}

inline std::map<std::string, torch::Tensor> snapshot(models::Pipeline& p) {
  auto out = all_tensors(p);
  for (auto& [k, t] : out) t = t.detach().clone();
  return out;
}

inline std::set<const void*> trainable_set(Method& m) {
  std::set<const void*> out;
  for (const auto& g : m.parameter_groups(1e-3))
    for (const auto& t : g.params) out.insert(t.unsafeGetTensorImpl());
  return out;
}

// The kit's subject: two fixed random images at the pipeline's resolution, for a method
// that conditions on its training images (ContractOptions::attach_subject).
inline SubjectData kit_subject(const models::Pipeline& p) {
  SubjectData s{"kit", "dog", "dog", "sks", false, {}, {}, "a sks dog", "a dog", {}};
  torch::Generator gen = at::detail::createCPUGenerator(11);
  const torch::Tensor u8 = torch::randint(256, {2, p.resolution, p.resolution, 3}, gen, torch::kUInt8);
  for (int64_t i = 0; i < 2; ++i) s.images.push_back(image_at(u8, i));
  return s;
}
// The kit batch's two rows: kit_subject's images 0 and 1, the second mirrored.
inline BatchImages kit_batch_images() {
  return {torch::tensor({0, 1}, torch::kInt64), torch::tensor({false, true}), {}};
}

// Optimizer steps on the MSE to a fixed target with the method's groups, as
// the engine steps (its weight decay default, its gradient clearing).
inline void adamw_steps(Method& m, models::Pipeline& p, const Batch& b, int steps, double lr_scale = 1.0) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<torch::Tensor> params;
  for (auto& g : m.parameter_groups(1e-3)) {
    auto opts = std::make_unique<torch::optim::AdamWOptions>(g.lr * lr_scale);
    opts->weight_decay(g.weight_decay.value_or(TrainOptions{}.weight_decay));
    groups.emplace_back(g.params, std::move(opts));
    params.insert(params.end(), g.params.begin(), g.params.end());
  }
  torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(1e-3));
  torch::Generator gen = at::detail::createCPUGenerator(5);
  for (int i = 0; i < steps; ++i) {
    m.before_step(i, gen);
    clear_gradients(params);
    const torch::Tensor context = models::encode_token_ids(p, b.ids);
    const DenoisingLossOf loss_of = [&](const torch::Tensor& c) {
      return torch::mse_loss(p.unet->forward(b.sample, b.timestep, c), b.target);
    };
    m.batch_loss(context, kit_batch_images(), loss_of).backward();  // as the trainer asks
    opt.step();
    m.after_step(i);
  }
}

// Generations of a search method (framework/train/candidate_search.hpp), as the engine runs
// them: autograd off, each candidate scored by the MSE to the batch's fixed target.
inline void search_steps(CandidateSearch& search, models::Pipeline& p, const Batch& b, int steps) {
  torch::Generator gen = at::detail::createCPUGenerator(5);
  for (int i = 0; i < steps; ++i)
    run_generation(search, gen, [&](int64_t) { return torch::mse_loss(forward(p, b), b.target).item<double>(); });
}

struct ContractOptions {
  std::string prompt = "a photo of a dog";
  // Lifts tiny paper learning rates (1e-6) so one step visibly moves every tensor.
  double lr_scale = 1.0;
  // The paper's init leaves the output exactly unchanged (false: Prefix-Tuning,
  // whose extra keys change every softmax from the start).
  bool identity_at_init = true;
  // delta() holds exactly the trained tensors (false: a reparameterization
  // trains scaffolding that the delta drops).
  bool delta_is_trainable = true;
  // Where the method is registered; null = the build's registry (methods()). A test's
  // own registry checks a method defined in the test (tests/nn/test_methods_family.cpp).
  const Registry<MethodEntry>* registry = nullptr;
  // Attach with kit_subject() (a method that encodes its training images: DisenBooth).
  bool attach_subject = false;
  // Trained tensors the method holds outside the pipeline's modules (DisenBooth's image
  // adapter, 5): checked through the delta, which must hold them.
  size_t method_owned_tensors = 0;
};

// The full contract check for one method config on the small pipeline.
inline void check_method_contract(const std::string& yaml, const ContractOptions& options) {
  const std::string& prompt = options.prompt;
  const double lr_scale = options.lr_scale;
  cfg::Node section = method_yaml(yaml);
  const auto& entry = (options.registry ? *options.registry : methods()).get(section.find("name")->as_string(), "test");

  models::Pipeline p = small_pipeline();
  Batch b = make_batch(p, prompt);
  torch::Tensor before;
  {
    torch::NoGradGuard ng;
    before = forward(p, b);
  }
  auto method = entry.factory.create(section);
  const SubjectData subject = kit_subject(p);
  MethodTarget target{p, options.attach_subject ? &subject : nullptr};
  method->attach(target);
  Batch bm = make_batch(p, method->train_prompt(SubjectData{"", "", "dog", "sks", false, {}, {}, prompt, "", {}}));

  // Initial state: identical output (exactly: every init here is an exact identity).
  torch::Tensor trained_prompt_at_init;
  {
    torch::NoGradGuard ng;
    torch::Tensor at_init = forward(p, b);
    if (options.identity_at_init)
      BOOST_TEST(torch::equal(at_init, before), "output changed by attaching; max |d| = "
                                                    << (at_init - before).abs().max().item<double>());
    // Text-side methods act through their own tokens: training is judged on the training prompt.
    trained_prompt_at_init = forward(p, bm);
  }

  // Trainable = exactly the parameter groups, and they are the only requires_grad tensors;
  // a search method's require none (it is never differentiated).
  auto* search = dynamic_cast<CandidateSearch*>(method.get());
  auto trainable = trainable_set(*method);
  BOOST_TEST(!trainable.empty());
  auto tensors = all_tensors(p);
  size_t trainable_found = 0;
  for (const auto& [name, t] : tensors) {
    bool in_groups = trainable.count(t.unsafeGetTensorImpl()) > 0;
    trainable_found += in_groups;
    BOOST_TEST(t.requires_grad() == (in_groups && !search), name << " requires_grad=" << t.requires_grad());
  }
  BOOST_TEST(trainable_found + options.method_owned_tensors == trainable.size(),
             "some trained tensors are not in the pipeline");
  // The trained tensors that are no pipeline tensor, with their values before training.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> owned;
  {
    std::set<const void*> in_pipeline;
    for (const auto& [name, t] : tensors) in_pipeline.insert(t.unsafeGetTensorImpl());
    for (const auto& g : method->parameter_groups(1e-3))
      for (const auto& t : g.params)
        if (!in_pipeline.count(t.unsafeGetTensorImpl())) owned.emplace_back(t, t.detach().clone());
  }

  auto start = snapshot(p);
  if (search) {
    search_steps(*search, p, bm, 2);
    for (const auto& [name, t] : all_tensors(p)) BOOST_TEST(!t.grad().defined(), name << " got a gradient in a search");
  } else {
    adamw_steps(*method, p, bm, 1, lr_scale);
    for (const auto& [name, t] : all_tensors(p))
      if (trainable.count(t.unsafeGetTensorImpl())) BOOST_TEST(t.grad().defined(), name << " got no gradient");
    adamw_steps(*method, p, bm, 1, lr_scale);
  }
  for (const auto& [name, t] : all_tensors(p)) {
    bool changed = !torch::equal(t.detach(), start.at(name));
    if (trainable.count(t.unsafeGetTensorImpl()))
      BOOST_TEST(changed, name << " did not move in two steps or generations");
    else
      BOOST_TEST(!changed, name << " is frozen but changed");
  }
  for (const auto& [t, t0] : owned)
    BOOST_TEST(!torch::equal(t.detach(), t0), "a trained tensor the method holds did not move");
  torch::Tensor after;
  {
    torch::NoGradGuard ng;
    after = forward(p, bm);
  }
  BOOST_TEST((after - trained_prompt_at_init).abs().max().item<double>() > 0.0, "training did not change the output");

  // Delta round trip through a safetensors file into a fresh attach on fresh base weights.
  auto delta = method->delta();
  if (options.delta_is_trainable) BOOST_TEST(delta.size() == trainable.size());
  auto file = scratch_dir("method_" + section.find("name")->as_string()) / "delta.safetensors";
  save_safetensors(file, delta);
  models::Pipeline fresh = small_pipeline();
  auto reloaded = entry.factory.create(section);
  MethodTarget fresh_target{fresh, nullptr};
  reloaded->attach(fresh_target);
  reloaded->load_delta(load_safetensors(file));
  {
    torch::NoGradGuard ng;
    torch::Tensor again = forward(fresh, bm);
    BOOST_TEST((again - after).abs().max().item<double>() <= 1e-6);
  }
  // A delta missing a tensor is refused by name, before anything is copied.
  auto partial = delta;
  partial.erase(partial.begin());
  auto third = entry.factory.create(section);
  models::Pipeline third_p = small_pipeline();
  MethodTarget third_target{third_p, nullptr};
  third->attach(third_target);
  BOOST_CHECK_THROW(third->load_delta(partial), InputError);
}

inline void check_method_contract(const std::string& yaml, const std::string& prompt = "a photo of a dog",
                                  double lr_scale = 1.0) {
  ContractOptions options;
  options.prompt = prompt;
  options.lr_scale = lr_scale;
  check_method_contract(yaml, options);
}

// Σ of the transformer blocks' widths C (one attn1.to_out.0 per block), read from the model.
inline int64_t sum_transformer_widths(models::Pipeline& p) {
  int64_t sum = 0;
  for (const auto& ref : nn::adaptable_layers(*p.unet))
    if (ref.name.size() > 15 && ref.name.compare(ref.name.size() - 15, 15, ".attn1.to_out.0") == 0)
      sum += ref.weight().size(0);
  return sum;
}

// Attention projections q, k, v, out of the UNet, counted by name.
inline int64_t count_attention_projections(models::Pipeline& p) {
  int64_t n = 0;
  std::regex pattern(R"(.*\.attn[12]\.(to_q|to_k|to_v|to_out\.0)$)");
  for (const auto& ref : nn::adaptable_layers(*p.unet)) n += std::regex_match(ref.name, pattern);
  return n;
}

// Every delta key of `m`, for per-method placement checks.
inline std::vector<std::string> delta_keys(Method& m) {
  std::vector<std::string> out;
  for (const auto& [k, _] : m.delta()) out.push_back(k);
  return out;
}

}  // namespace pbench::test
