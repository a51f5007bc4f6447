#pragma once
// What the mini world's metric models must be able to tell, measured the same
// way by the pretraining evaluations (run files), the shipped-weights test
// (tests/nn/test_mini_backbones.cpp) and docs/mini_world.md:
//   - CLIP zero-shot: class, colour and background of an image, each chosen
//     among captions that differ only in that factor (argmax of similarity);
//   - DINO k-NN: class by a similarity-weighted vote of the k nearest training
//     renders (DINO's evaluation, arXiv:2104.14294 §4.1: weights exp(s/0.07));
//   - subject retrieval: each image of the 30 subjects finds an image of its
//     own subject as its nearest neighbour among all subject images.
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "datasets/mini_world_scene.hpp"
#include "framework/models/metric_backbones.hpp"

namespace pbench::pretrain {

struct ZeroShotAccuracy {
  double class_accuracy = 0, colour_accuracy = 0, background_accuracy = 0;
};

// `images_u8` [N, R, R, 3] are renders of `scenes` (captions naming colour and background).
ZeroShotAccuracy clip_zero_shot(const models::ClipBackbone& clip, const std::vector<mini::MiniScene>& scenes,
                                const torch::Tensor& images_u8);

// Weighted k-NN class accuracy of `query` features against `bank` features (cosine).
double knn_class_accuracy(const torch::Tensor& bank, const std::vector<int64_t>& bank_labels,
                          const torch::Tensor& query, const std::vector<int64_t>& query_labels, int64_t k,
                          int64_t classes);

struct SubjectImages {
  torch::Tensor images_u8;       // [N, R, R, 3], every image of every subject
  std::vector<int64_t> subject;  // index into mini::mini_subjects()
};
SubjectImages render_subject_images(int resolution);

// Fraction of rows whose most similar other row (cosine) has the same label.
double nearest_neighbour_retrieval(const torch::Tensor& features, const std::vector<int64_t>& labels);

std::vector<int64_t> class_labels(const std::vector<mini::MiniScene>& scenes);

}  // namespace pbench::pretrain
