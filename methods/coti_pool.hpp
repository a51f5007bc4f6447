#pragma once
// COTI's unlabelled image pool (arXiv 2304.05265: web images; the reference draws a random
// subset of 10,000 from its crawl). What a run selects from:
//   - a folder (`method.pool: DIR`): its *.jpg / *.jpeg / *.png, sorted by name, the first
//     `size`, each center-cropped and resized to the subject's side;
//   - by default, what the subject's dataset offers beside the subject [chosen]:
//       DreamBooth: the images of every other subject of the same dataset folder (158 minus
//         the subject's own); the class images a user has can be added by pointing `pool` at a
//         folder holding both;
//       the mini world and builtin subjects: `size` renders of the world's training
//         distribution (any class, colour, pattern, background), every third one degraded
//         (coti_scorers.hpp's degrade, strength U(0.3, 0.9)) as web images vary in quality.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"
#include "framework/torch_pch.hpp"

namespace pbench::coti {

struct ImagePool {
  torch::Tensor pixels;              // [N, 3, side, side] in [-1, 1]
  std::vector<std::string> sources;  // per image: its file, or "mini_world:<seed>" (+ " degraded")
  std::string description;           // "158 images of the other DreamBooth subjects", for describe()
};

// InputError naming `key` for a folder that does not exist or holds no image, and for a
// default pool on a dataset that offers none.
ImagePool load_pool(const std::string& folder, const SubjectData& subject, int64_t size, uint64_t seed,
                    const std::filesystem::path& cache_dir, const std::string& key);

}  // namespace pbench::coti
