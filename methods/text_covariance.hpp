#pragma once
// The uncentred covariance of a text encoder's encodings, the metric of Perfusion's gate
// (arXiv 2305.01644; wave2-methods.md §1). Computed once per (text encoder, caption set), cached
// on disk, shared by every concept and never part of a concept's delta.
#include <torch/torch.h>

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "framework/models/sd/pipeline.hpp"

namespace pbench::peft {

// `count` captions of the mini world's training distribution (datasets/mini_world_scene.hpp),
// drawn from a fixed seed: the captions builtin:mini learnt from, as LAION's are SD's.
std::vector<std::string> mini_world_captions(int64_t count);

// One caption per non-empty line of `file`; InputError naming `key` and the file otherwise.
std::vector<std::string> caption_file(const std::filesystem::path& file, const std::string& key);

// C⁻¹ [d, d] (float, on the text encoder's device) with C = the mean of e eᵀ over every token
// position of every caption's context (all 77, padding included, as ChenDarYen's
// estimate_C_inv.py; its per-caption normalisation differs by a constant, which the gate's
// similarity cancels), plus a ridge of 1e-4 x tr(C)/d, inverted in float64. The ridge is chosen:
// a final LayerNorm leaves C nearly singular (on builtin:tiny and :mini, its smallest eigenvalue
// is below 1e-7 of its largest), and an unregularised C⁻¹ amplifies float32 rounding in the
// gate by as much (measured on builtin:tiny: 1e-3 relative error in an edited layer at 1e-6 x tr/d,
// within 1e-4 at 1e-4). Cached under `cache_dir`/text_covariance/ by the digest of the captions and of the
// encoder's weights; an empty `cache_dir` computes without caching.
torch::Tensor inverse_text_covariance(const models::Pipeline& pipeline, const std::vector<std::string>& captions,
                                      const std::filesystem::path& cache_dir, std::ostream* log = nullptr);

}  // namespace pbench::peft
