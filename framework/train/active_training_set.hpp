#pragma once
// A method that grows its own training set while it trains: COTI (arXiv 2304.05265) selects
// images from an unlabelled pool, cycle by cycle, and trains on them with a weight each.
// The trainer finds this interface on a method by dynamic_cast (as CandidateSearch), asks it
// before every step, encodes what it is given with the VAE once, and appends it to the
// training images. From the first addition on, each image's denoising loss is multiplied by
// its weight (the subject's own images weigh 1):
//   loss = mean over the batch of  w_i · mean((prediction_i − target_i)²),
// which before any addition is the plain MSE, bit for bit. DVAR's frozen batch stays on the
// subject's images, so the objective stays comparable with every other method's.
#include <cstdint>
#include <string>
#include <vector>

#include "framework/torch_pch.hpp"

namespace pbench {

struct TrainingSetAddition {
  torch::Tensor pixels;   // [k, 3, H, W] in [-1, 1], at the subject images' size; undefined or k = 0: none
  torch::Tensor weights;  // [k], each ≥ 0: the factor on that image's loss
  std::vector<std::string> sources;  // where each image came from (a file, a render's seed)
  std::string note;       // one line for the training log ("cycle 2/20: 10 pool images, ...")
};

class ActiveTrainingSet {
 public:
  virtual ~ActiveTrainingSet() = default;
  // Before step `step` (1-based) of `total_steps`: the images to add now.
  virtual TrainingSetAddition images_to_add(int64_t step, int64_t total_steps) = 0;
};

}  // namespace pbench
