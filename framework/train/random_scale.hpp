#pragma once
// Custom Diffusion's random-scale augmentation (Kumari et al., arXiv 2212.04488; the
// reference training scripts, adobe-research/custom-diffusion and diffusers'
// examples/custom_diffusion): each time an instance image is drawn it is resized to a
// random side s and either placed at a random spot of an empty (zero = mid-grey) canvas
// of the model's side S (s <= S) or randomly cropped to S (s > S). The loss then sees
// only the latent cells the image covers (a mask), and the prompt says how far the
// subject is. From the reference:
//   s ~ U{S/3 .. S} with probability 0.66, else U{floor(1.2 S) .. floor(1.4 S) - 1};
//   s < 0.6 S: the prompt gets "a far away " or "very small " in front (one of the two,
//   even odds); s > S: "zoomed in " or "close up ".
//   mask (latent grid S/f, f = pixels per latent cell): s <= S: 1 on rows
//   [top/f + 1, (top + s)/f - 1) and the same columns, a cell inside the image's edge on
//   every side; s > S: 1 everywhere.
#include <string>

#include "framework/torch_pch.hpp"

namespace pbench {

struct ScaledInstance {
  torch::Tensor pixels;       // [3, S, S] in [-1, 1]; 0 outside the placed image
  torch::Tensor mask;         // [1, S/f, S/f] float 0/1: the latent cells the loss sees
  std::string prompt_prefix;  // "", "a far away ", "very small ", "zoomed in " or "close up "
  int64_t scale = 0, top = 0, left = 0;  // the draw: side, and the offset on the canvas (or of the crop)
};

// The image `image` ([3, S, S], values in [-1, 1]) resized to side `scale` and placed
// with its top-left corner at (top, left) of the canvas (scale <= S), or cropped at
// (top, left) of the resized image (scale > S). `prefix_choice` (0 or 1) picks the
// first or second prompt prefix of the scale's pair. Throws std::invalid_argument for
// an offset that does not fit, a scale < 1, or S not a multiple of latent_factor.
ScaledInstance place_at_scale(const torch::Tensor& image, int64_t scale, int64_t top, int64_t left,
                              int64_t latent_factor, int prefix_choice);

// One draw of the reference's distribution of scale, offsets and prefix.
ScaledInstance random_scale_instance(const torch::Tensor& image, int64_t latent_factor, torch::Generator& gen);

}  // namespace pbench
