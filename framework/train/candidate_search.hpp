#pragma once
// A method that learns by search instead of gradients (gradient-free Textual Inversion,
// arXiv 2304.05818). Each training step is one generation: the method proposes candidate
// weights, the trainer installs each in turn and scores it by the denoising loss with forward
// passes only (autograd off, nothing requires a gradient), and the method is told the scores.
// The trainer finds this interface on a method by dynamic_cast (Trainer::search_step) and then
// builds no optimizer; a step's cost is `population x batch` UNet evaluations, not one
// forward and backward pass (TrainResult's cost, the run file's /train attributes).
#include <cstdint>
#include <vector>

#include "framework/torch_pch.hpp"

namespace pbench {

class CandidateSearch {
 public:
  virtual ~CandidateSearch() = default;
  // Draws this generation's candidates from `generator`; returns how many there are.
  virtual int64_t propose(torch::Generator& generator) = 0;
  // Puts candidate `index`'s weights into the pipeline: the next forward passes use them.
  virtual void install_candidate(int64_t index) = 0;
  // One fitness per candidate (lower is better), in proposal order. Updates the search and
  // installs its current estimate, the weights evaluation and DVAR see between generations.
  virtual void report(const std::vector<double>& fitness) = 0;
};

// One generation as the engine runs it (the trainer, bench_train and the tests share it):
// propose from `generator`, install each candidate and score it with `score(index)` with
// autograd off (forward passes only), then report the scores. Returns them in proposal order.
template <class Score>
std::vector<double> run_generation(CandidateSearch& search, torch::Generator& generator, Score&& score) {
  torch::NoGradGuard no_grad;
  const int64_t candidates = search.propose(generator);
  std::vector<double> fitness;
  fitness.reserve(size_t(candidates));
  for (int64_t i = 0; i < candidates; ++i) {
    search.install_candidate(i);
    fitness.push_back(score(i));
  }
  search.report(fitness);
  return fitness;
}

}  // namespace pbench
