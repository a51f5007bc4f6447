// CLIP-T: per generated image, the cosine of its CLIP image embedding with
// the CLIP text embedding of its own prompt (unique token removed, see
// metrics/README.md); the metric is their mean. Raw cosine, no 2.5 / x100.
#include "metrics/clip_t.hpp"

#include <sstream>

#include "metrics/metric.hpp"
#include "metrics/similarity.hpp"

namespace pbench::metrics {

std::string clip_t_prompt(const std::string& prompt, const std::string& unique_token) {
  std::istringstream words(prompt);
  std::string word, out;
  while (words >> word) {
    if (!unique_token.empty() && word == unique_token) continue;
    out += (out.empty() ? "" : " ") + word;
  }
  return out;
}

namespace {

MetricResult compute_clip_t(MetricInputs& in) {
  std::vector<std::string> texts;
  for (const auto& p : in.prompts()) texts.push_back(clip_t_prompt(p, in.unique_token()));
  return result_of(paired_cosine(in.clip_generated(), in.clip_text(texts), "clip_t"));
}

}  // namespace

void register_clip_t(Registry<MetricEntry>& registry) {
  registry.add(EntryInfo{"clip_t", "CLIP-T: cosine of each generated image with its prompt (unique token removed), CLIP",
                         cfg::Node::map()},
               MetricEntry{"clip", compute_clip_t, {"generated", "prompts"}, /*real_baseline=*/false});
}

}  // namespace pbench::metrics
