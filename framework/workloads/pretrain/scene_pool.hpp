#pragma once
// The pretraining data of the mini world: a pool of rendered training scenes
// with their captions, a pure function of (seed, count, resolution). Rendering
// is ~5 ms per 64 px image, so a stage renders its pool once up front (tens of
// seconds) and draws batches from it by index.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/mini_world_scene.hpp"

namespace pbench::pretrain {

struct ScenePool {
  torch::Tensor images_u8;  // [N, R, R, 3] uint8
  std::vector<std::string> captions;
  std::vector<mini::MiniScene> scenes;
  int64_t size() const { return int64_t(captions.size()); }
};

// Training scenes (never a held-out triple) or held-out ones, item i from
// mini::item_seed(seed, i). Prints progress to stderr when `label` is given.
ScenePool render_pool(uint64_t seed, int64_t count, int resolution, bool held_out, const std::string& label = "");

// [B, 3, R, R] float in [-1, 1] of the rows `index`.
torch::Tensor pool_images_signed(const ScenePool& pool, const torch::Tensor& index);

}  // namespace pbench::pretrain
