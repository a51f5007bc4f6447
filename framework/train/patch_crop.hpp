#pragma once
// SINE's patch-based training (Zhang et al., arXiv 2212.04489; zhang-zx/SINE,
// ldm/data/personalized.py `SinImageHighResDataset`): each time the source image is drawn,
// a random rectangle of it, on the latent grid, is cropped and resized to the model's side,
// and the rectangle (the "crop box") goes with it so the UNet can be told where the patch
// lies (methods/patch_position_encoding.hpp). From the reference:
//   patch height and width, each independently: int(G · U[min_frac, max_frac]) latent cells
//   of the image's latent grid G (the reference: G = 1024 / 8 = 128; min 0.1, max 1.0);
//   offsets uniform on the grid so the patch fits; the pixels cropped at latent-cell
//   multiples and resized to the model's side (bicubic there; bilinear here).
// pbench crops the subject image at the model's resolution (G = side / 8), not a 2× render:
// the built-in world has no finer detail to show, and on DreamBooth's photos it keeps one
// image cache. A patch is at least one latent cell on each side (the reference's int() can
// reach 0 at G·min_frac < 1, which PIL would refuse).
#include "framework/torch_pch.hpp"

namespace pbench {

// Box on the latent grid: rows [top, bottom), columns [left, right).
struct CropBox {
  int64_t top = 0, left = 0, bottom = 0, right = 0;
};

struct PatchCrop {
  torch::Tensor pixels;  // [3, S, S] in [-1, 1]: the patch resized to the image's side
  CropBox box;           // where it lies, in latent cells of the image
};

// The patch `box` of `image` ([3, S, S]), resized to S. std::invalid_argument for a box
// outside the grid or empty, or S not a multiple of latent_factor.
PatchCrop crop_patch(const torch::Tensor& image, const CropBox& box, int64_t latent_factor);

// One draw of the reference's distribution, fractions in (0, 1] with min_frac <= max_frac.
PatchCrop random_patch_crop(const torch::Tensor& image, int64_t latent_factor, double min_frac, double max_frac,
                            torch::Generator& gen);

}  // namespace pbench
