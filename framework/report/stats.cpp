#include "framework/report/stats.hpp"

#include <cmath>

namespace pbench::report {

double student_t_975(size_t df) {
  // Table values of t(0.975, df) (any statistics text, 4 decimals); beyond 30
  // the quantile is interpolated linearly in 1/df between 30, 40, 60, 120 and
  // infinity (1.9600), which is how printed tables are meant to be read.
  static const double small[] = {12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
                                 2.2010,  2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
                                 2.0796,  2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423};
  if (df == 0) return 0.0;
  if (df <= 30) return small[df - 1];
  struct Knot { double inv_df, t; };
  static const Knot knots[] = {{1.0 / 30, 2.0423}, {1.0 / 40, 2.0211}, {1.0 / 60, 2.0003}, {1.0 / 120, 1.9799}, {0.0, 1.9600}};
  double x = 1.0 / double(df);
  for (size_t i = 0; i + 1 < sizeof knots / sizeof knots[0]; ++i) {
    if (x <= knots[i].inv_df && x >= knots[i + 1].inv_df) {
      double u = (x - knots[i + 1].inv_df) / (knots[i].inv_df - knots[i + 1].inv_df);
      return knots[i + 1].t + u * (knots[i].t - knots[i + 1].t);
    }
  }
  return 1.9600;
}

Summary summarize(const std::vector<double>& values) {
  Summary s;
  s.n = values.size();
  if (s.n == 0) return s;
  double sum = 0.0;
  for (double v : values) sum += v;
  s.mean = sum / double(s.n);
  if (s.n < 2) return s;
  double sq = 0.0;
  for (double v : values) sq += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(sq / double(s.n - 1));
  s.ci_half_width = student_t_975(s.n - 1) * s.std / std::sqrt(double(s.n));
  return s;
}

}  // namespace pbench::report
