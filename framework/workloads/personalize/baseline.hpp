#pragma once
// The do-nothing baseline of a personalize run (/samples/baseline, /metrics/baseline):
// the frozen model's samples for the run's evaluation prompts with the subject's
// token phrase replaced by its class word ("a sks cube on the beach" -> "a cube on
// the beach", the very text CLIP-T scores), on the same per-image seeds and the
// same sampler. A method's gain is its final score minus this one: what training
// bought over asking the untouched model for the class.
//
// It depends only on (model, prompts, images per prompt, seed, sampler), never on
// the method, so it is sampled once and cached: <cache>/baseline/<key>/ holds the
// PNGs (lossless, so a cached baseline scores exactly as a fresh one). Sampled
// before the method attaches, so no method's initial state can leak into it.
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_sampling.hpp"

namespace pbench::personalize {

struct BaselineRequest {
  std::string model_spec;                 // part of the cache key (as the class images' cache)
  std::vector<std::string> eval_prompts;  // the run's evaluation prompts (unique token in them)
  std::string unique_token;
  int64_t images_per_prompt = 1;
  int64_t seed = 0;
  sample::SamplingOptions sampling;
};

// eval_prompts with the unique token dropped (metrics::clip_t_prompt).
std::vector<std::string> class_word_prompts(const std::vector<std::string>& eval_prompts,
                                            const std::string& unique_token);

// The cached baseline samples, or freshly sampled (and cached) ones. Concurrent runs
// of a sweep may both sample it; each writes a private folder and renames it into
// place, so a reader never sees half a baseline.
sample::SampleSet baseline_samples(models::Pipeline& pipeline, const BaselineRequest& request,
                                   const std::filesystem::path& cache_dir, std::ostream& log);

}  // namespace pbench::personalize
