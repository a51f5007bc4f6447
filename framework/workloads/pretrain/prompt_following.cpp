#include "framework/workloads/pretrain/prompt_following.hpp"

#include <cstdio>

#include "framework/io/image.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/util/errors.hpp"

namespace pbench::pretrain {

PromptFollowing prompt_following(models::Pipeline& pipeline, const models::ClipBackbone& clip,
                                 const ScenePool& held_out, const PromptFollowingOptions& options) {
  sample::SamplingOptions sampling;
  sampling.guidance_scale = options.guidance_scale;
  sampling.num_inference_steps = options.num_inference_steps;
  sampling.batch_size = options.batch_size;
  // One image per prompt: prompt i is job i, so its seed is the grid's (i, 0).
  const std::vector<sample::ImageJob> jobs = sample::grid_jobs(held_out.captions, 1);
  const auto progress = [](const sample::SamplingProgress& p) {
    if (p.step == p.num_steps)
      std::fprintf(stderr, "[prompt following] %lld/%lld samples\n", (long long)p.images_done, (long long)p.images_total);
  };
  const sample::SampleSet set = sample::sample_images(pipeline, jobs, options.seed, sampling, {}, {}, progress);
  const torch::Tensor& images = set.images;
  // The metric CLIP sees samples at the renders' resolution.
  if (images.size(1) != held_out.images_u8.size(1))
    throw InputError("prompt following: the pipeline draws " + std::to_string(images.size(1)) + " px, the renders are " +
                     std::to_string(held_out.images_u8.size(1)) + " px");
  PromptFollowing out;
  out.prompts = held_out.size();
  out.samples = clip_zero_shot(clip, held_out.scenes, images);
  out.renders = clip_zero_shot(clip, held_out.scenes, held_out.images_u8);
  return out;
}

void write_image_grid(const std::filesystem::path& file, const torch::Tensor& images_u8, int64_t cols) {
  const int64_t n = images_u8.size(0), side = images_u8.size(1);
  if (n % cols != 0) throw std::logic_error("write_image_grid: " + std::to_string(n) + " images, " +
                                            std::to_string(cols) + " columns");
  const int64_t rows = n / cols;
  const torch::Tensor grid = images_u8.reshape({rows, cols, side, side, 3})
                                 .permute({0, 2, 1, 3, 4})
                                 .reshape({rows * side, cols * side, 3})
                                 .contiguous();
  Image image;
  image.width = int(cols * side);
  image.height = int(rows * side);
  image.rgb.assign(grid.data_ptr<uint8_t>(), grid.data_ptr<uint8_t>() + grid.numel());
  write_png(file, image);
}

}  // namespace pbench::pretrain
