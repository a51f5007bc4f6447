// CLIP-I to the source: per generated image, the cosine of its CLIP image embedding with its
// source image's (an edit's structure preservation; arXiv 2208.01626 and the NULL-text paper
// report CLIP-based fidelity to the input beside the target's CLIP score). Raw cosine.
#include "metrics/metric.hpp"
#include "metrics/similarity.hpp"

namespace pbench::metrics {

namespace {

MetricResult compute_clip_i_source(MetricInputs& in) {
  return result_of(paired_cosine(in.clip_generated(), in.clip_source(), "clip_i_source"));
}

}  // namespace

void register_clip_i_source(Registry<MetricEntry>& registry) {
  registry.add(EntryInfo{"clip_i_source", "CLIP-I of each image to its source image (an edit's structure preservation)",
                         cfg::Node::map()},
               MetricEntry{"clip", compute_clip_i_source, {"generated", "source"}, /*real_baseline=*/false});
}

}  // namespace pbench::metrics
