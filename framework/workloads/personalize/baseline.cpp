#include "framework/workloads/personalize/baseline.hpp"

#include <sstream>

#include "framework/util/sha256.hpp"
#include "framework/workloads/personalize/sample_cache.hpp"
#include "metrics/clip_t.hpp"

namespace fs = std::filesystem;

namespace pbench::personalize {

std::vector<std::string> class_word_prompts(const std::vector<std::string>& eval_prompts,
                                            const std::string& unique_token) {
  std::vector<std::string> out;
  for (const auto& p : eval_prompts) out.push_back(metrics::clip_t_prompt(p, unique_token));
  return out;
}

namespace {

std::string cache_key(const BaselineRequest& r, const std::vector<std::string>& prompts, int64_t resolution) {
  std::ostringstream k;
  k << "baseline-v1|" << r.model_spec << "|" << resolution << "|" << r.seed << "|" << r.images_per_prompt << "|"
    << r.sampling.num_inference_steps << "|" << r.sampling.guidance_scale << "|" << r.sampling.eta << "|"
    << r.sampling.negative_prompt;
  for (const auto& p : prompts) k << "|" << p;
  return sha256_hex(k.str()).substr(0, 16);
}

}  // namespace

sample::SampleSet baseline_samples(models::Pipeline& pipeline, const BaselineRequest& r, const fs::path& cache_dir,
                                   std::ostream& log) {
  const std::vector<std::string> prompts = class_word_prompts(r.eval_prompts, r.unique_token);
  const std::vector<sample::ImageJob> jobs = sample::grid_jobs(prompts, r.images_per_prompt);
  sample::SampleSet set;
  set.images = cached_samples(
      cache_dir / "baseline" / cache_key(r, prompts, pipeline.resolution), int64_t(jobs.size()),
      [&] { return sample::sample_images(pipeline, jobs, r.seed, r.sampling).images; },
      "class-word samples", log);
  for (const auto& job : jobs) {  // what sample_images records for them
    set.prompts.push_back(job.prompt);
    set.seeds.push_back(sample::image_seed(r.seed, job.prompt_index, job.image_index));
  }
  return set;
}

}  // namespace pbench::personalize
