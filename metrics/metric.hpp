#pragma once
// The metric interface the engine calls: every registered metric turns the
// generated images (with their prompts) and the subject's real images into a
// value per generated image, their mean and, where it exists, the subject's
// real-vs-real baseline. Embeddings are computed once per MetricInputs and
// shared by the metrics that use the same backbone (CLIP-I and CLIP-T both
// need the generated images' CLIP embeddings).
#include <torch/torch.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "framework/registry/registry.hpp"
#include "metrics/backbones.hpp"
#include "metrics/metric_list.hpp"

namespace pbench::metrics {

struct MetricBackbones {
  const ClipBackbone* clip = nullptr;  // needed by clip_i, clip_t
  const DinoBackbone* dino = nullptr;  // needed by dino
};

class MetricInputs {
 public:
  // generated: uint8 [N, H, W, 3]; prompts: [N], the prompts the images were
  // generated from (unique token included); real: uint8 [M, H, W, 3] as the
  // run file stores them under /samples/real; unique_token: the subject's
  // rare token ("sks"), removed from the CLIP-T prompt (metrics/README.md).
  MetricInputs(torch::Tensor generated, std::vector<std::string> prompts, torch::Tensor real, std::string unique_token,
               MetricBackbones backbones);

  int64_t num_generated() const { return generated_.size(0); }
  const torch::Tensor& generated() const { return generated_; }  // uint8 [N, H, W, 3]
  const std::vector<std::string>& prompts() const { return prompts_; }
  const std::string& unique_token() const { return unique_token_; }

  // The images the generated ones should reproduce (an inversion's input, an
  // edit's source), uint8 [N or 1, H, W, 3]: row i for generated image i, or one
  // row for all. Workloads that have them set them; metrics consuming "source"
  // read them (InputError when not set).
  void set_source(torch::Tensor source);
  const torch::Tensor& source() const;
  // Where an edit was allowed to change the image (local blending), [N or 1, H, W] of 0/1;
  // metrics consuming "mask" read it (InputError when not set).
  void set_mask(torch::Tensor mask);
  const torch::Tensor& mask() const;

  // Lazily computed, cached embeddings (float32, CPU). InputError when the
  // backbone a metric needs was not given.
  const torch::Tensor& clip_generated();
  const torch::Tensor& clip_real();
  const torch::Tensor& clip_text(const std::vector<std::string>& texts);  // cached for one list of texts
  const torch::Tensor& dino_generated();
  const torch::Tensor& dino_real();
  // The source images' embeddings, one row per generated image (a single source repeated).
  const torch::Tensor& clip_source();
  const torch::Tensor& dino_source();

 private:
  const ClipBackbone& clip() const;
  const DinoBackbone& dino() const;
  torch::Tensor generated_, real_, source_, mask_;
  std::vector<std::string> prompts_;
  std::string unique_token_;
  MetricBackbones backbones_;
  torch::Tensor clip_generated_, clip_real_, clip_text_, dino_generated_, dino_real_, clip_source_, dino_source_;
  std::vector<std::string> clip_text_for_;
};

struct MetricResult {
  torch::Tensor per_image;             // float64 [N], what /metrics/<point>/<name> stores
  double mean = 0.0;                   // the /metrics/<point> attribute
  std::optional<double> real_baseline; // `<name>_real` of /metrics (clip_i, dino); none for clip_t
};

// What a metric reads; a workload runs only the metrics whose inputs it has (the
// personalize workload: generated images, their prompts, the subject's real images;
// an editing workload adds the source images, and the edit's mask when it blends locally).
inline const std::vector<std::string> kMetricInputKinds{"generated", "prompts", "real", "source", "mask"};

struct MetricEntry {
  std::string backbone;  // "clip", "dino" or "" (none): the backbone the engine must load for it
  std::function<MetricResult(MetricInputs&)> compute;
  std::vector<std::string> consumes;  // of kMetricInputKinds
  bool real_baseline = false;         // computes the subject's real-vs-real value (/metrics@<name>_real)
};

// The table of metrics (metrics/registry.cpp), made from metrics/metric_list.hpp.
Registry<MetricEntry>& metrics_registry();

// One register function per metric file (metrics/<name>.cpp).
#define PBENCH_DECLARE_METRIC(name) void register_##name(Registry<MetricEntry>& registry);
PBENCH_METRIC_LIST(PBENCH_DECLARE_METRIC)
#undef PBENCH_DECLARE_METRIC

// Row i of `t` for generated image i, or its only row (one source or mask for every image).
inline torch::Tensor row_for(const torch::Tensor& t, int64_t i) { return t[t.size(0) == 1 ? 0 : i]; }

// Per generated image i, pair(generated[i], source[i or 0]) as float64 [N]
// (the pixel-fidelity metrics, metrics/image_fidelity.hpp).
torch::Tensor per_source_pair(MetricInputs& in, double (*pair)(const torch::Tensor&, const torch::Tensor&));

// A result from per-image values and their mean (NaN when there are none).
MetricResult result_of(torch::Tensor per_image, std::optional<double> real_baseline = std::nullopt);

}  // namespace pbench::metrics
