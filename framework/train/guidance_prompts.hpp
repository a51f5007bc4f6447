#pragma once
// The prompt encoders evaluation sampling uses with a method attached: the
// conditional branch sees the method's prompts (Method::eval_prompt), the
// unconditional one (the negative prompt, "" by default) is encoded as given.
// Classifier-free guidance steers by cond − uncond; a method that rewrote the
// negative prompt too (prompt tuning once prepended its soft tokens to "") puts
// the subject on both sides and guides away from nothing. A method that learns
// the negative branch itself opts in with Method::owns_negative_prompt().
// Both go through models::encode_prompts, so weights a method trains in the
// text encoder apply to both branches, as in diffusers' pipelines.
#include "datasets/dataset.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/train/method.hpp"

namespace pbench {

struct GuidanceEncoders {
  sample::PromptEncoder cond;      // evaluation prompts, rewritten by the method
  sample::PromptEncoder negative;  // the unconditional prompt
};

// The encoders keep references to all three arguments.
GuidanceEncoders guidance_encoders(const Method& method, models::Pipeline& pipeline, const SubjectData& subject);

}  // namespace pbench
