#pragma once
// Pixel fidelity of an image to a reference (inversion's reconstruction to its
// input, an edit's background to its source): PSNR and SSIM on uint8 RGB, in
// float64. Shared by the psnr and ssim metrics and their tests.
#include <torch/torch.h>

namespace pbench::metrics {

// 10·log10(255² / MSE) over every pixel and channel of one image pair, each uint8
// [H, W, 3]; +inf for identical images (as skimage's peak_signal_noise_ratio).
double psnr_u8(const torch::Tensor& image, const torch::Tensor& reference);

// PSNR over the pixels where `mask` (bool or 0/1, [H, W]) is 0: what an edit confined to the mask
// left of the rest (the background preservation of Prompt-to-Prompt's local blending). NaN when
// the mask covers every pixel; +inf when the outside is unchanged.
double psnr_outside_u8(const torch::Tensor& image, const torch::Tensor& reference, const torch::Tensor& mask);

// SSIM of Wang et al. 2004 (IEEE TIP 13(4)) as their reference ssim_index.m
// computes it: an 11×11 Gaussian window of σ = 1.5 (shrunk to the image's odd
// side when smaller), "valid" filtering (no padding), population moments,
// C1 = (0.01·255)², C2 = (0.03·255)²; the map's mean per channel, averaged over
// the three channels (skimage's channel_axis with gaussian_weights=True and
// use_sample_covariance=False gives the same). Images uint8 [H, W, 3].
double ssim_u8(const torch::Tensor& image, const torch::Tensor& reference);

// The normalized Gaussian window ssim_u8 uses, float64 [side, side].
torch::Tensor ssim_window(int64_t side, double sigma = 1.5);

}  // namespace pbench::metrics
