#include "framework/report/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace pbench::report {

std::vector<double> nice_ticks(double lo, double hi, int target_count) {
  double span = hi - lo;
  if (!(span > 0)) return {lo};
  double raw = span / std::max(1, target_count);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);  // no "-0"
  return ticks;
}

std::string tick_label(double value, double step) {
  char buf[32];
  double a = std::fabs(value);
  if (a != 0 && (a >= 1e5 || a < 1e-3)) {
    std::snprintf(buf, sizeof buf, "%.3g", value);
  } else {
    int decimals = step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 6), value);
  }
  return buf;
}

namespace {

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// Widens a degenerate or empty range so every panel has a usable scale.
void settle(Range& r, bool log) {
  if (r.empty()) {
    r.lo = 0;
    r.hi = 1;
    return;
  }
  if (r.hi - r.lo <= 0) {
    double pad = log ? 0.5 : std::max(std::fabs(r.lo) * 0.1, 1e-3);
    r.lo -= pad;
    r.hi += pad;
    return;
  }
  if (!log) {
    double pad = (r.hi - r.lo) * 0.05;
    r.lo -= pad;
    r.hi += pad;
  }
}

}  // namespace

void draw_plot(Canvas& c, int x0, int y0, int x1, int y1, const PlotSpec& spec) {
  const int scale = 2;
  const int th = text_height(scale);
  const int left = x0 + 14 + th + 70, right = x1 - 16;
  const int top = y0 + 10 + th + 8, bottom = y1 - (14 + 2 * th + 10);

  Range xr, yr;
  auto tx = [&](double x) { return spec.log_x ? (x > 0 ? std::log10(x) : std::nan("")) : x; };
  for (const auto& s : spec.series)
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i) {
      if (!std::isfinite(tx(s.x[i])) || !std::isfinite(s.y[i])) continue;
      xr.add(tx(s.x[i]));
      yr.add(s.y[i]);
    }
  for (const auto& m : spec.marks) {
    xr.add(tx(m.x));
    yr.add(m.y);
  }
  bool no_data = xr.empty();
  if (spec.log_x && !xr.empty()) {
    // Whole decades, so that every tick is a power of ten.
    xr.lo = std::floor(xr.lo);
    xr.hi = std::ceil(xr.hi);
    if (xr.hi <= xr.lo) xr.hi = xr.lo + 1;
  }
  settle(xr, spec.log_x);
  settle(yr, false);

  auto px = [&](double x) { return left + (tx(x) - xr.lo) / (xr.hi - xr.lo) * (right - left); };
  auto py = [&](double y) { return bottom - (y - yr.lo) / (yr.hi - yr.lo) * (bottom - top); };

  // Title, grid, ticks.
  c.text(left + (right - left - text_width(spec.title, scale)) / 2, y0 + 8, spec.title, kBlack, scale);
  std::vector<double> xt = spec.log_x ? std::vector<double>{} : nice_ticks(xr.lo, xr.hi, 6);
  if (spec.log_x)
    for (double d = xr.lo; d <= xr.hi + 1e-9; d += 1) xt.push_back(d);
  double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1;
  for (double t : xt) {
    int x = int(std::lround(left + (t - xr.lo) / (xr.hi - xr.lo) * (right - left)));
    c.fill_rect(x, top, x + 1, bottom, kLightGrey);
    c.fill_rect(x, bottom, x + 1, bottom + 6, kBlack);
    std::string label = spec.log_x ? "1e" + tick_label(t, 1) : tick_label(t, xstep);
    c.text(x - text_width(label, scale) / 2, bottom + 9, label, kBlack, scale);
  }
  std::vector<double> yt = nice_ticks(yr.lo, yr.hi, 5);
  double ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  for (double t : yt) {
    int y = int(std::lround(py(t)));
    c.fill_rect(left, y, right, y + 1, kLightGrey);
    c.fill_rect(left - 6, y, left, y + 1, kBlack);
    std::string label = tick_label(t, ystep);
    c.text(left - 9 - text_width(label, scale), y - th / 2, label, kBlack, scale);
  }
  c.rect_outline(left, top, right + 1, bottom + 1, kBlack);
  c.text(left + (right - left - text_width(spec.x_label, scale)) / 2, bottom + 9 + th + 8, spec.x_label, kBlack, scale);
  c.text_vertical(x0 + 8, top + (bottom - top - text_width(spec.y_label, scale)) / 2, spec.y_label, kBlack, scale);

  // Data, clipped to the frame.
  c.clip(left + 1, top + 1, right, bottom);
  for (const auto& s : spec.series) {
    size_t n = std::min(s.x.size(), s.y.size());
    for (size_t i = 0; i < n; ++i) {
      bool ok = std::isfinite(tx(s.x[i])) && std::isfinite(s.y[i]);
      if (s.draw_line && ok && i + 1 < n && std::isfinite(tx(s.x[i + 1])) && std::isfinite(s.y[i + 1]))
        c.line(px(s.x[i]), py(s.y[i]), px(s.x[i + 1]), py(s.y[i + 1]), s.color, s.thickness);
      if (s.marker && ok) c.marker(px(s.x[i]), py(s.y[i]), *s.marker, s.marker_size, s.color);
    }
  }
  for (const auto& m : spec.marks) {
    c.marker(px(m.x), py(m.y), m.marker, 7, kBlack);  // dark halo keeps the mark visible on its own curve
    c.marker(px(m.x), py(m.y), m.marker, 5, m.color);
  }
  if (no_data) {
    std::string msg = "no data recorded";
    c.text((left + right - text_width(msg, scale)) / 2, (top + bottom) / 2 - th / 2, msg, kGrey, scale);
  }

  // Legend, top right inside the frame.
  if (!spec.legend.empty()) {
    int w = 0;
    for (const auto& e : spec.legend) w = std::max(w, text_width(e.label, scale));
    const int row = th + 8, box_w = w + 46, box_h = int(spec.legend.size()) * row + 8;
    int bx = right - box_w - 8, by = top + 8;
    c.fill_rect(bx, by, bx + box_w, by + box_h, kWhite);
    c.rect_outline(bx, by, bx + box_w, by + box_h, kGrey);
    for (size_t i = 0; i < spec.legend.size(); ++i) {
      const auto& e = spec.legend[i];
      int cy = by + 4 + int(i) * row + row / 2;
      if (e.line) c.line(bx + 6, cy, bx + 30, cy, e.color, 3);
      if (e.marker) c.marker(bx + 18, cy, *e.marker, 5, e.color);
      c.text(bx + 38, cy - th / 2, e.label, kBlack, scale);
    }
  }
  c.unclip();
}

}  // namespace pbench::report
