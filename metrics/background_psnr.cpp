// Background preservation of an edit confined by local blending (Prompt-to-Prompt, arXiv
// 2208.01626): the PSNR of each edited image to its source over the pixels outside the edit's
// mask (metrics/image_fidelity.hpp). NaN when the mask covers the whole image.
#include "metrics/image_fidelity.hpp"
#include "metrics/metric.hpp"

namespace pbench::metrics {

namespace {

MetricResult compute_background_psnr(MetricInputs& in) {
  const torch::Tensor& generated = in.generated();
  const torch::Tensor& source = in.source();
  const torch::Tensor& mask = in.mask();
  torch::Tensor out = torch::empty({generated.size(0)}, torch::kFloat64);
  for (int64_t i = 0; i < generated.size(0); ++i)
    out[i] = psnr_outside_u8(generated[i], row_for(source, i), row_for(mask, i));
  return result_of(out);
}

}  // namespace

void register_background_psnr(Registry<MetricEntry>& registry) {
  registry.add(EntryInfo{"background_psnr",
                         "PSNR (dB) of each edit to its source outside the edit's mask (local blending's background)",
                         cfg::Node::map()},
               MetricEntry{"", compute_background_psnr, {"generated", "source", "mask"}, /*real_baseline=*/false});
}

}  // namespace pbench::metrics
