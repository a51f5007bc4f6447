#include "methods/coti_scorers.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace pbench::coti {

FeatureMlp::FeatureMlp(const std::vector<int64_t>& widths, torch::Generator& generator) {
  if (widths.size() < 2) throw std::logic_error("FeatureMlp: needs an input and an output width");
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    // LibTorch's Linear default: U(-1/sqrt(in), 1/sqrt(in)) for weights and biases.
    const double bound = 1.0 / std::sqrt(double(widths[i]));
    weights_.push_back(((torch::rand({widths[i], widths[i + 1]}, generator) * 2 - 1) * bound).requires_grad_());
    biases_.push_back(((torch::rand({widths[i + 1]}, generator) * 2 - 1) * bound).requires_grad_());
  }
}

torch::Tensor FeatureMlp::forward(const torch::Tensor& x) const {
  // Unit-norm embeddings have coordinates of about 1/sqrt(d): scaled to about 1, the heads learn at
  // the references' rates in a few hundred steps.
  torch::Tensor h = x * std::sqrt(double(x.size(1)));
  for (size_t i = 0; i < weights_.size(); ++i) {
    h = torch::addmm(biases_[i], h, weights_[i]);
    if (i + 1 < weights_.size()) h = torch::relu(h);
  }
  return h;
}

std::vector<torch::Tensor> FeatureMlp::parameters() const {
  std::vector<torch::Tensor> all = weights_;
  all.insert(all.end(), biases_.begin(), biases_.end());
  return all;
}

QualityScorer::QualityScorer(int64_t d, torch::Generator& generator)
    : head_({d, std::max<int64_t>(8, 4 * d / 3), std::max<int64_t>(8, d / 6), 1}, generator) {}

void QualityScorer::fit(const torch::Tensor& features, const torch::Tensor& labels, int64_t steps, double lr) {
  // The head predicts the label / 10 (unit scale); score() multiplies back.
  coti::fit(head_.parameters(), steps, lr,
            [&] { return torch::mse_loss(head_.forward(features).squeeze(1), labels.to(torch::kFloat) / 10.0); });
}

torch::Tensor QualityScorer::score(const torch::Tensor& features) const {
  torch::NoGradGuard no_grad;
  return (head_.forward(features).squeeze(1) * 10.0).clamp(0.0, 10.0);
}

RelevanceScorer::RelevanceScorer(int64_t d, torch::Generator& generator)
    : head_({d, 4 * d, 2 * d, 2}, generator) {}

void RelevanceScorer::fit(const torch::Tensor& positive, const torch::Tensor& positive_weights,
                          const torch::Tensor& negative, int64_t steps, double lr) {
  const torch::Tensor x = torch::cat({positive, negative});
  const torch::Tensor labels = torch::cat({torch::ones({positive.size(0)}, torch::kLong),
                                           torch::zeros({negative.size(0)}, torch::kLong)});
  const double negative_each = positive_weights.sum().item<double>() / double(std::max<int64_t>(1, negative.size(0)));
  const torch::Tensor weights = torch::cat({positive_weights.to(torch::kFloat), torch::full({negative.size(0)}, negative_each)});
  const torch::Tensor normalised = weights / weights.sum();
  coti::fit(head_.parameters(), steps, lr, [&] {
    torch::Tensor nll = torch::nll_loss(torch::log_softmax(head_.forward(x), 1), labels, {}, at::Reduction::None);
    return (nll * normalised).sum();
  });
}

torch::Tensor RelevanceScorer::score(const torch::Tensor& features) const {
  torch::NoGradGuard no_grad;
  return torch::softmax(head_.forward(features), 1).select(1, 1);
}

torch::Tensor degrade(const torch::Tensor& pixels, const torch::Tensor& strength, torch::Generator& generator) {
  torch::NoGradGuard no_grad;
  const torch::Tensor s = strength.to(pixels.scalar_type()).view({-1, 1, 1, 1});
  torch::Tensor blurred = pixels;
  for (int pass = 0; pass < 4; ++pass)
    blurred = torch::avg_pool2d(blurred, 3, 1, 1, /*ceil_mode=*/false, /*count_include_pad=*/false);
  torch::Tensor out = pixels + (blurred - pixels) * s;
  out = out * (1 - 0.6 * s);
  out = out + torch::randn(pixels.sizes(), generator) * (0.4 * s);
  return torch::where(s > 0, out.clamp(-1.0, 1.0), pixels);
}

}  // namespace pbench::coti
