// SSIM of each generated image to its source image (Wang et al. 2004; the
// window, constants and averaging in metrics/image_fidelity.hpp).
#include "metrics/image_fidelity.hpp"
#include "metrics/metric.hpp"

namespace pbench::metrics {

namespace {

MetricResult compute_ssim(MetricInputs& in) {
  return result_of(per_source_pair(in, ssim_u8));
}

}  // namespace

void register_ssim(Registry<MetricEntry>& registry) {
  registry.add(EntryInfo{"ssim", "SSIM of each image to its source image (Wang et al. 2004, 11x11 Gaussian window)",
                         cfg::Node::map()},
               MetricEntry{"", compute_ssim, {"generated", "source"}, /*real_baseline=*/false});
}

}  // namespace pbench::metrics
