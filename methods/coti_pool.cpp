#include "methods/coti_pool.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "datasets/mini_world_render.hpp"
#include "datasets/mini_world_scene.hpp"
#include "framework/io/image_cache.hpp"
#include "framework/train/trainer.hpp"
#include "framework/util/errors.hpp"
#include "methods/coti_scorers.hpp"

namespace fs = std::filesystem;

namespace pbench::coti {
namespace {

int subject_side(const SubjectData& subject) {
  if (subject.images.empty()) throw std::logic_error("coti: the subject has no images");
  return subject.images.front().width;
}

ImagePool from_files(const std::vector<fs::path>& files, int side, const fs::path& cache_dir) {
  ImagePool pool;
  std::vector<Image> images;
  for (const auto& file : files) {
    images.push_back(load_square_image(file, side, cache_dir));
    pool.sources.push_back(file.string());
  }
  pool.pixels = images_to_tensor(images);
  return pool;
}

ImagePool folder_pool(const fs::path& folder, const SubjectData& subject, int64_t size, const fs::path& cache_dir,
                      const std::string& key) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec))
    throw InputError(key + ": " + folder.string() + " is not a folder (expected a folder of *.jpg / *.png images)");
  std::vector<fs::path> files = image_files_in(folder);
  if (files.empty()) throw InputError(key + ": " + folder.string() + " holds no *.jpg, *.jpeg or *.png image");
  if (int64_t(files.size()) > size) files.resize(size_t(size));
  ImagePool pool = from_files(files, subject_side(subject), cache_dir);
  pool.description = std::to_string(files.size()) + " images of " + folder.string();
  return pool;
}

// The other subjects' folders beside the subject's own (DreamBooth's dataset/<subject>/…).
ImagePool other_subjects_pool(const SubjectData& subject, int64_t size, const fs::path& cache_dir, const std::string& key) {
  if (subject.image_files.empty()) throw std::logic_error("coti: a DreamBooth subject without image files");
  const fs::path own = fs::path(subject.image_files.front()).parent_path();
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(own.parent_path()))
    if (entry.is_directory() && entry.path().filename() != own.filename()) dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  std::vector<fs::path> files;
  for (const auto& dir : dirs)
    for (const auto& f : image_files_in(dir)) files.push_back(f);
  if (files.empty())
    throw InputError(key + ": no other subject's images beside " + own.string() + "; set " + key + "=DIR");
  if (int64_t(files.size()) > size) files.resize(size_t(size));
  ImagePool pool = from_files(files, subject_side(subject), cache_dir);
  pool.description = std::to_string(files.size()) + " images of the other subjects of " + own.parent_path().string();
  return pool;
}

ImagePool rendered_pool(const SubjectData& subject, int64_t size, uint64_t seed) {
  const int side = subject_side(subject);
  // Every third render degraded, at a strength from the same seed.
  torch::Generator gen = at::detail::createCPUGenerator(seed);
  const torch::Tensor degraded = torch::arange(size) % 3 == 2;
  const torch::Tensor strength = torch::where(degraded, torch::rand({size}, gen) * 0.6 + 0.3, torch::zeros({size}));
  ImagePool pool;
  std::vector<Image> images;
  for (int64_t i = 0; i < size; ++i) {
    const uint64_t scene_seed = mini::item_seed(seed, uint64_t(i));
    images.push_back(mini::render_scene(mini::sample_training_scene(scene_seed), side));
    pool.sources.push_back("mini_world:" + std::to_string(scene_seed) + (degraded[i].item<bool>() ? " degraded" : ""));
  }
  pool.pixels = degrade(images_to_tensor(images), strength, gen);
  pool.description = std::to_string(size) + " renders of the mini world (a third degraded)";
  return pool;
}

}  // namespace

ImagePool load_pool(const std::string& folder, const SubjectData& subject, int64_t size, uint64_t seed,
                    const fs::path& cache_dir, const std::string& key) {
  if (!folder.empty()) return folder_pool(folder, subject, size, cache_dir, key);
  if (subject.dataset == "dreambooth") return other_subjects_pool(subject, size, cache_dir, key);
  if (subject.dataset == "mini_world" || subject.dataset == "builtin") return rendered_pool(subject, size, seed);
  throw InputError(key + ": dataset '" + subject.dataset + "' has no default pool; set " + key +
                   "=DIR (a folder of candidate images)");
}

}  // namespace pbench::coti
