#pragma once
// Summary statistics of a table cell: mean, sample standard deviation
// (n - 1) and the two-sided 95% Student-t confidence interval of the mean.
#include <cstddef>
#include <vector>

namespace pbench::report {

struct Summary {
  size_t n = 0;
  double mean = 0.0;
  double std = 0.0;           // sample std (n - 1); 0 when n < 2
  double ci_half_width = 0.0;  // t(0.975, n - 1) * std / sqrt(n); 0 when n < 2
};

Summary summarize(const std::vector<double>& values);

// Two-sided 95% quantile t(0.975, df) of Student's t distribution, df >= 1.
double student_t_975(size_t df);

}  // namespace pbench::report
