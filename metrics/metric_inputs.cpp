#include "metrics/metric.hpp"

#include <limits>

#include "framework/util/errors.hpp"

namespace pbench::metrics {

MetricInputs::MetricInputs(torch::Tensor generated, std::vector<std::string> prompts, torch::Tensor real,
                           std::string unique_token, MetricBackbones backbones)
    : generated_(std::move(generated)),
      real_(std::move(real)),
      prompts_(std::move(prompts)),
      unique_token_(std::move(unique_token)),
      backbones_(backbones) {
  if (generated_.dim() != 4 || int64_t(prompts_.size()) != generated_.size(0))
    throw InputError("metrics: expected one prompt per generated image, got " + std::to_string(prompts_.size()) +
                     " prompts for " + std::to_string(generated_.dim() == 4 ? generated_.size(0) : -1) + " images");
}

void MetricInputs::set_source(torch::Tensor source) {
  if (source.dim() != 4 || (source.size(0) != 1 && source.size(0) != generated_.size(0)) ||
      source.sizes().slice(1) != generated_.sizes().slice(1))
    throw InputError("metrics: expected the source images as uint8 [1 or " + std::to_string(generated_.size(0)) +
                     ", H, W, 3] shaped as the generated images");
  source_ = std::move(source);
}

const torch::Tensor& MetricInputs::source() const {
  if (!source_.defined())
    throw InputError("metrics: a metric comparing with source images was requested, but this workload has none");
  return source_;
}

void MetricInputs::set_mask(torch::Tensor mask) {
  if (mask.dim() != 3 || (mask.size(0) != 1 && mask.size(0) != generated_.size(0)) || mask.size(1) != generated_.size(1) ||
      mask.size(2) != generated_.size(2))
    throw InputError("metrics: expected the edit mask as [1 or " + std::to_string(generated_.size(0)) +
                     ", H, W] of the generated images' size");
  mask_ = std::move(mask);
}

const torch::Tensor& MetricInputs::mask() const {
  if (!mask_.defined())
    throw InputError("metrics: a metric needing the edit's mask was requested, but this run has none (local blending off)");
  return mask_;
}

torch::Tensor per_source_pair(MetricInputs& in, double (*pair)(const torch::Tensor&, const torch::Tensor&)) {
  const torch::Tensor& source = in.source();
  const torch::Tensor& generated = in.generated();
  torch::Tensor out = torch::empty({generated.size(0)}, torch::kFloat64);
  for (int64_t i = 0; i < generated.size(0); ++i)
    out[i] = pair(generated[i], row_for(source, i));
  return out;
}

const ClipBackbone& MetricInputs::clip() const {
  if (!backbones_.clip) throw InputError("metrics: a CLIP metric was requested but no CLIP backbone was loaded");
  return *backbones_.clip;
}

const DinoBackbone& MetricInputs::dino() const {
  if (!backbones_.dino) throw InputError("metrics: the dino metric was requested but no DINO backbone was loaded");
  return *backbones_.dino;
}

const torch::Tensor& MetricInputs::clip_generated() {
  if (!clip_generated_.defined()) clip_generated_ = clip_image_embeddings(clip(), generated_);
  return clip_generated_;
}

const torch::Tensor& MetricInputs::clip_real() {
  if (!clip_real_.defined()) clip_real_ = clip_image_embeddings(clip(), real_);
  return clip_real_;
}

const torch::Tensor& MetricInputs::clip_text(const std::vector<std::string>& texts) {
  if (!clip_text_.defined() || texts != clip_text_for_) {
    clip_text_ = clip_text_embeddings(clip(), texts);
    clip_text_for_ = texts;
  }
  return clip_text_;
}

const torch::Tensor& MetricInputs::dino_generated() {
  if (!dino_generated_.defined()) dino_generated_ = dino_embeddings(dino(), generated_);
  return dino_generated_;
}

const torch::Tensor& MetricInputs::dino_real() {
  if (!dino_real_.defined()) dino_real_ = dino_embeddings(dino(), real_);
  return dino_real_;
}

namespace {
// Row i of `embeddings` for generated image i: one source row serves every image.
torch::Tensor per_generated(const torch::Tensor& embeddings, int64_t n) {
  return embeddings.size(0) == 1 ? embeddings.expand({n, embeddings.size(1)}).contiguous() : embeddings;
}
}  // namespace

const torch::Tensor& MetricInputs::clip_source() {
  if (!clip_source_.defined()) clip_source_ = per_generated(clip_image_embeddings(clip(), source()), num_generated());
  return clip_source_;
}

const torch::Tensor& MetricInputs::dino_source() {
  if (!dino_source_.defined()) dino_source_ = per_generated(dino_embeddings(dino(), source()), num_generated());
  return dino_source_;
}

MetricResult result_of(torch::Tensor per_image, std::optional<double> real_baseline) {
  MetricResult r;
  r.per_image = per_image.to(torch::kFloat64).contiguous();
  r.mean = r.per_image.numel() ? r.per_image.mean().item<double>() : std::numeric_limits<double>::quiet_NaN();
  r.real_baseline = real_baseline;
  return r;
}

}  // namespace pbench::metrics
