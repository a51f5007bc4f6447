// Classifier-free guidance's unconditional branch belongs to the frozen
// prompt (issue 15): with any registered method attached, the context of the
// negative prompt "" is the frozen encoder's, while the evaluation prompts go
// through the method; only a method that opts in rewrites the negative prompt.
#define BOOST_TEST_MODULE guidance_prompts
#include <boost/test/unit_test.hpp>

#include "framework/config/schema.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/train/guidance_prompts.hpp"

using namespace pbench;

namespace {

SubjectData cube_subject(const models::Pipeline& p) {
  cfg::Node ds = cfg::parse_yaml_text("name: builtin\nsubject: red_cube\nunique_token: sks\nnum_images: 2\nnum_eval_prompts: 2\n",
                                      {"test", 0});
  return datasets().get("builtin", "test").factory.load(ds, int(p.resolution), {});
}

std::unique_ptr<Method> attach_defaults(const EntryInfo& info, models::Pipeline& p, const SubjectData& subject) {
  const auto& entry = methods().get(info.name, "test");
  cfg::Node section = cfg::parse_yaml_text("name: " + info.name + "\n", {"test", 0});
  auto m = entry.factory.create(cfg::with_defaults(section, info.defaults));
  MethodTarget target{p, &subject};
  m->attach(target);
  return m;
}

// Largest |a - b| over every cross-attention layer: P+'s context is [L, 1, T, D].
double max_difference(const torch::Tensor& context, const torch::Tensor& frozen) {
  torch::Tensor c = context.dim() == 4 ? context : context.unsqueeze(0);
  return (c - frozen.unsqueeze(0)).abs().max().item<double>();
}

// A method that owns the negative branch: it maps "" onto its own (here: a plain) prompt.
struct OwnsNegative : Method {
  void attach(MethodTarget&) override {}
  std::vector<ParamGroup> parameter_groups(double) override { return {}; }
  TensorMap delta() override { return {}; }
  void load_delta(const TensorMap&) override {}
  std::string describe() const override { return "owns the negative prompt"; }
  std::string eval_prompt(const std::string& prompt, const SubjectData&) const override {
    return prompt.empty() ? "a blurry photo" : prompt;
  }
  bool owns_negative_prompt() const override { return true; }
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_method_leaves_the_unconditional_context_frozen) {
  for (const auto& info : methods().infos()) {
    models::Pipeline p = models::load_pipeline("builtin:tiny");
    const SubjectData subject = cube_subject(p);
    torch::NoGradGuard no_grad;
    const torch::Tensor frozen_uncond = models::encode_prompts(p, {""});
    const std::string prompt = subject.eval_prompts.front();
    const torch::Tensor frozen_cond = models::encode_prompts(p, {prompt});
    auto method = attach_defaults(info, p, subject);
    BOOST_TEST(!method->owns_negative_prompt(), info.name);
    GuidanceEncoders encoders = guidance_encoders(*method, p, subject);
    // Reparameterized text encoders reconstruct their weights up to rounding
    // (SVDiff's SVD), hence a tolerance; a rewritten prompt differs by O(1).
    BOOST_TEST(max_difference(encoders.negative(""), frozen_uncond) <= 1e-5, info.name);
    // The conditional branch still sees the method (the text-side methods rewrite the prompt).
    const std::string rewritten = method->eval_prompt(prompt, subject);
    if (rewritten != prompt) BOOST_TEST(max_difference(encoders.cond(prompt), frozen_cond) > 1e-3, info.name);
  }
}

BOOST_AUTO_TEST_CASE(a_method_that_owns_the_negative_branch_rewrites_it) {
  models::Pipeline p = models::load_pipeline("builtin:tiny");
  const SubjectData subject = cube_subject(p);
  OwnsNegative method;
  torch::NoGradGuard no_grad;
  GuidanceEncoders encoders = guidance_encoders(method, p, subject);
  BOOST_TEST(torch::equal(encoders.negative(""), models::encode_prompts(p, {"a blurry photo"})));
  BOOST_TEST(torch::equal(encoders.cond("a sks cube"), models::encode_prompts(p, {"a sks cube"})));
}
