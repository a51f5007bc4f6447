#include "framework/train/guidance_prompts.hpp"

namespace pbench {

GuidanceEncoders guidance_encoders(const Method& method, models::Pipeline& pipeline, const SubjectData& subject) {
  sample::PromptEncoder base = sample::default_prompt_encoder(pipeline);
  GuidanceEncoders e;
  e.cond = [&method, &subject, base](const std::string& p) { return base(method.eval_prompt(p, subject)); };
  e.negative = method.owns_negative_prompt() ? e.cond : base;
  return e;
}

}  // namespace pbench
