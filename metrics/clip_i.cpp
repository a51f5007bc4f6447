// CLIP-I: per generated image, the mean cosine of its CLIP image embedding
// (image_embeds, after visual_projection) with every real image's; the metric
// is the mean over all (generated, real) pairs. Baseline: real vs real, i != j.
#include "metrics/metric.hpp"
#include "metrics/similarity.hpp"

namespace pbench::metrics {

namespace {

MetricResult compute_clip_i(MetricInputs& in) {
  return result_of(mean_cosine_to_reals(in.clip_generated(), in.clip_real(), "clip_i"),
                   mean_cosine_between_distinct(in.clip_real(), "clip_i"));
}

}  // namespace

void register_clip_i(Registry<MetricEntry>& registry) {
  registry.add(EntryInfo{"clip_i", "CLIP-I: mean cosine over all (generated, real) pairs of CLIP image embeddings",
                         cfg::Node::map()},
               MetricEntry{"clip", compute_clip_i, {"generated", "real"}, /*real_baseline=*/true});
}

}  // namespace pbench::metrics
