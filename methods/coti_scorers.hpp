#pragma once
// COTI's two scorers (arXiv 2304.05265 §3; jnzju/COTI), both small MLP heads on frozen CLIP
// image embeddings, as the reference's:
//   - quality, the paper's aesthetic score: a regressor to [0, 10]. The reference loads a
//     LAION-aesthetics predictor (ClipAestheticPredictor, trained on human ratings) and fine-tunes
//     it (lr 1e-3) on the images it trains on. No rating set exists here, so the head is first
//     fitted to a self-supervised proxy: copies of the pool and subject images degraded by
//     blur, contrast loss and noise of strength s ∈ [0, 1], labelled 10·(1 − s) [chosen]. That
//     is what "quality" can mean in a procedural world: how far an image is from a clean render.
//   - relevance, the paper's concept-matching ("tag-matching") score: a classifier head
//     (the reference's ClipClassifier is 1024→4096→2048→classes, Adam 3e-4) giving p(concept | x).
//     The reference classifies ImageNet categories; here there are two classes, the concept
//     (the subject's images and the images accepted so far) against the rest of the pool, each
//     side weighted to the same total [chosen].
// The heads' widths follow the references' ratios to the embedding width d (the classifier
// 4d, 2d; the quality head 4d/3, d/6: 1024 and 128 at CLIP-L's 768, LAION's first two).
// Initial weights come from the method's generator, never LibTorch's global one.
#include <cstdint>
#include <vector>

#include "framework/torch_pch.hpp"

namespace pbench::coti {

// A multilayer perceptron as plain tensors: ReLU between layers, none after the last.
class FeatureMlp {
 public:
  FeatureMlp() = default;
  FeatureMlp(const std::vector<int64_t>& widths, torch::Generator& generator);
  torch::Tensor forward(const torch::Tensor& x) const;
  std::vector<torch::Tensor> parameters() const;

 private:
  std::vector<torch::Tensor> weights_, biases_;
};

// Full-batch Adam on `loss()` over `params`, `steps` times.
template <class Loss>
void fit(const std::vector<torch::Tensor>& params, int64_t steps, double lr, Loss&& loss) {
  torch::AutoGradMode grad_on(true);  // also when the caller holds a NoGradGuard
  torch::optim::Adam adam(params, torch::optim::AdamOptions(lr));
  for (int64_t i = 0; i < steps; ++i) {
    adam.zero_grad();
    loss().backward();
    adam.step();
  }
}

class QualityScorer {
 public:
  QualityScorer(int64_t embed_dim, torch::Generator& generator);
  // Mean squared error to `labels` (in [0, 10]) of the embeddings `features` [N, d].
  void fit(const torch::Tensor& features, const torch::Tensor& labels, int64_t steps, double lr);
  torch::Tensor score(const torch::Tensor& features) const;  // [N] in [0, 10]

 private:
  FeatureMlp head_;
};

class RelevanceScorer {
 public:
  RelevanceScorer(int64_t embed_dim, torch::Generator& generator);
  // Weighted cross-entropy: `positive` [P, d] with weights [P] against `negative` [Q, d], the
  // negatives' weights scaled so both sides sum to the same.
  void fit(const torch::Tensor& positive, const torch::Tensor& positive_weights, const torch::Tensor& negative,
           int64_t steps, double lr);
  torch::Tensor score(const torch::Tensor& features) const;  // [N] p(concept | x) in [0, 1]

 private:
  FeatureMlp head_;
};

// Images [N, 3, H, W] in [-1, 1] (CPU) degraded with strength [N] in [0, 1]: four passes of a
// 3x3 box blur blended in by s, contrast scaled by 1 − 0.6 s, Gaussian noise of std 0.4 s from
// `generator`; s = 0 returns the image unchanged.
torch::Tensor degrade(const torch::Tensor& pixels, const torch::Tensor& strength, torch::Generator& generator);

}  // namespace pbench::coti
