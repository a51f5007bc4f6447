#pragma once
// What the invert and edit workloads share: the input image (a file, or a
// dataset subject's image), progress lines with ETA, float arrays in the run
// file, and scoring images against their source with registered metrics.
#include <torch/torch.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"
#include "framework/config/node.hpp"
#include "framework/h5/h5.hpp"
#include "framework/io/image.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/run/workload.hpp"
#include "framework/sample/ddim_inversion.hpp"
#include "framework/sample/null_text_inversion.hpp"

namespace pbench {

struct SourceImage {
  Image image;              // square, at the pipeline's resolution
  std::string description;  // the file, or the dataset's image id
  std::string prompt;       // the prompt that describes it (given, else the subject's class prompt, else "")
};

// The config's dataset subject at `resolution` (its images and prompts), from the run's cache.
SubjectData load_config_subject(const cfg::Node& config, int resolution);

// `image` (a file; center-cropped and resized) when set, else image `image_index` of `subject`
// (load_config_subject; required then). `key` names the config section in messages ("invert", "edit").
SourceImage load_source_image(const cfg::Node& config, const std::string& key, const std::optional<std::string>& image,
                              int64_t image_index, const std::optional<std::string>& prompt, int resolution,
                              const SubjectData* subject);

// InputError unless the section can name an image: `image` an existing file, or a dataset section
// with a valid subject.
void check_source_image(const cfg::Node& resolved, const std::string& key, const std::optional<std::string>& image);

// Logs "[<tag>] <what> i/N, elapsed, ETA" about every tenth of the steps.
sample::StepCallback progress_log(std::ostream& log, const std::string& tag, const std::string& what);

// A float tensor as a float32 dataset of its shape.
void write_float_array(hid_t group, const std::string& name, const torch::Tensor& t);

// The /inversion group of a run file (docs/run_file_schema.md, "Inversion run files").
struct InversionRecord {
  std::string method, prompt, image;
  int64_t steps = 0;
  double guidance = 0, latent_mse = 0;
  std::vector<torch::Tensor> latents;          // written as one float32 array, stacked on dim 0
  std::vector<torch::Tensor> null_embeddings;  // null_text only
  std::vector<sample::NullTextStep> null_steps;
};
void write_inversion(RunFileWriter& file, const models::Pipeline& pipeline, const InversionRecord& record);

// A uint8 image tensor as /samples/<point> with one prompt (seed 0: nothing random is drawn).
void write_image_sample(RunFileWriter& file, const std::string& point, const torch::Tensor& u8, const std::string& prompt,
                        int64_t seed = 0);

// The metric backbones that `metrics` need, loaded from the given specs.
struct SourceMetricBackbones {
  std::optional<models::ClipBackbone> clip;
  std::optional<models::DinoBackbone> dino;
};
SourceMetricBackbones load_metric_backbones(const std::vector<std::string>& metrics, const std::string& clip_spec,
                                            const std::string& dino_spec);

// Scores `generated` (uint8 [N, H, W, 3], one prompt each) with `metrics` against the source
// images (metrics consuming `source`: psnr, ssim, clip_i_source, ...); `mask` ([1, H, W], local blending's) when defined; `unique_token` is dropped
// from CLIP-T's prompts (a personalized edit's subject token). Writes /metrics/<point> and
// logs each mean.
void score_against_source(RunContext& ctx, const std::string& point, const torch::Tensor& generated,
                          const std::vector<std::string>& prompts, const torch::Tensor& source,
                          const std::vector<std::string>& metrics, const SourceMetricBackbones& backbones,
                          const std::string& tag, const torch::Tensor& mask = {},
                          const std::string& unique_token = "");

}  // namespace pbench
