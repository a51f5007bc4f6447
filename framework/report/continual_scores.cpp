#include "framework/report/continual_scores.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace pbench::report {

ContinualScores continual_scores(const std::vector<double>& matrix, size_t tasks) {
  if (matrix.size() != tasks * tasks) throw std::invalid_argument("continual_scores: matrix is not [tasks, tasks]");
  const double nan = std::nan("");
  if (tasks == 0) return {nan, nan};
  auto at = [&](size_t t, size_t s) { return matrix[t * tasks + s]; };
  const size_t last = tasks - 1;
  double sum = 0;
  for (size_t s = 0; s < tasks; ++s) sum += at(last, s);
  ContinualScores out{sum / double(tasks), nan};
  if (tasks < 2) return out;
  double change = 0;
  for (size_t s = 0; s < last; ++s) {
    double best = -std::numeric_limits<double>::infinity();
    for (size_t t = s; t < last; ++t) {
      if (std::isnan(at(t, s))) return out;  // std::max would drop it silently
      best = std::max(best, at(t, s));
    }
    change += at(last, s) - best;
  }
  out.forgetting = change / double(last);
  return out;
}

}  // namespace pbench::report
