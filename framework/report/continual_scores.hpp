#pragma once
// Continual learning's two summary numbers of a task x subject metric matrix (the continual
// workload's /continual/<metric>): row t is the model after task t scored on subjects 0..t.
//   average accuracy = mean over subjects of the last row (the final model on everything learnt)
//   forgetting       = mean over the earlier subjects s < T-1 of  a[T-1][s] - max_{s<=t<T-1} a[t][s]
// i.e. final minus best per earlier task (Chaudhry et al., arXiv 1801.10112, with the sign
// flipped so that the number reads as a change): 0 = nothing forgotten, negative = forgotten,
// positive = later tasks helped (backward transfer).
#include <cstddef>
#include <vector>

namespace pbench::report {

struct ContinualScores {
  double average = 0;     // NaN for an empty matrix
  double forgetting = 0;  // NaN with fewer than two tasks
};

// `matrix`: [tasks * tasks] row-major; entries above the diagonal are ignored. A NaN entry on
// or below the diagonal (a metric that did not run) makes the summary NaN.
ContinualScores continual_scores(const std::vector<double>& matrix, size_t tasks);

}  // namespace pbench::report
