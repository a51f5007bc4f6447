#include "framework/workloads/personalize/baseline.hpp"

#include <unistd.h>

#include <fstream>
#include <ostream>
#include <sstream>

#include "framework/io/image.hpp"
#include "framework/util/sha256.hpp"
#include "framework/workloads/personalize/setup.hpp"
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
  const fs::path dir = cache_dir / "baseline" / cache_key(r, prompts, pipeline.resolution);
  std::error_code ec;
  if (fs::exists(dir / "done", ec)) {
    sample::SampleSet set;
    std::vector<torch::Tensor> images;
    for (size_t i = 0; i < jobs.size(); ++i) {
      Image img = decode_image_file(dir / (std::to_string(i) + ".png"));
      images.push_back(torch::from_blob(img.rgb.data(), {img.height, img.width, 3}, torch::kUInt8).clone());
      set.prompts.push_back(jobs[i].prompt);
      set.seeds.push_back(sample::image_seed(r.seed, jobs[i].prompt_index, jobs[i].image_index));
    }
    set.images = torch::stack(images);
    log << "[personalize] baseline: " << jobs.size() << " class-word samples from the cache " << dir.string() << "\n";
    return set;
  }
  log << "[personalize] baseline: sampling " << jobs.size() << " images of the frozen model for the class-word prompts ('"
      << prompts.front() << "', ...)\n";
  sample::SampleSet set = sample::sample_images(pipeline, jobs, r.seed, r.sampling);
  // Private folder, then one rename: a concurrent run either finds the whole baseline or samples its own.
  const fs::path tmp = dir.string() + ".tmp" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) {
    log << "[personalize] baseline: cannot cache in " << tmp.string() << " (" << ec.message() << "); not cached\n";
    return set;
  }
  for (int64_t i = 0; i < set.images.size(0); ++i) write_png(tmp / (std::to_string(i) + ".png"), image_at(set.images, i));
  {
    std::ofstream done(tmp / "done");
    for (const auto& p : prompts) done << p << "\n";
  }
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp, ec);  // another run cached it first: theirs is identical
  return set;
}

}  // namespace pbench::personalize
