#include "framework/workloads/pretrain/scene_pool.hpp"

#include <cstring>
#include <iostream>

#include "datasets/mini_world_render.hpp"

namespace pbench::pretrain {

ScenePool render_pool(uint64_t seed, int64_t count, int resolution, bool held_out, const std::string& label) {
  ScenePool pool;
  pool.images_u8 = torch::empty({count, resolution, resolution, 3}, torch::kUInt8);
  pool.captions.reserve(size_t(count));
  pool.scenes.reserve(size_t(count));
  uint8_t* out = pool.images_u8.data_ptr<uint8_t>();
  const size_t bytes = size_t(resolution) * size_t(resolution) * 3;
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t item = mini::item_seed(seed, uint64_t(i));
    mini::MiniScene scene = held_out ? mini::sample_held_out_scene(item) : mini::sample_training_scene(item);
    const Image image = mini::render_scene(scene, resolution);
    std::memcpy(out + size_t(i) * bytes, image.rgb.data(), bytes);
    pool.captions.push_back(mini::caption(scene));
    pool.scenes.push_back(scene);
    if (!label.empty() && ((i + 1) % 2000 == 0 || i + 1 == count))
      std::cerr << label << ": rendered " << (i + 1) << "/" << count << " scenes\n";
  }
  return pool;
}

torch::Tensor pool_images_signed(const ScenePool& pool, const torch::Tensor& index) {
  return pool.images_u8.index_select(0, index).permute({0, 3, 1, 2}).to(torch::kFloat32).div(127.5).sub(1.0);
}

}  // namespace pbench::pretrain
