#pragma once
// One x-y panel on a Canvas: frame, light grid, ticks with labels, axis
// titles, line and marker series, optional highlighted points and a legend.
#include <optional>
#include <string>
#include <vector>

#include "framework/report/canvas.hpp"

namespace pbench::report {

struct PlotSeries {
  std::string label;  // empty: no legend entry (e.g. the second run of a group)
  Color color;
  std::vector<double> x, y;
  bool draw_line = true;
  int thickness = 2;
  std::optional<Marker> marker;  // on every point
  int marker_size = 4;
};

// A marked point (e.g. DVAR's stop step), drawn above the series.
struct PlotMark {
  double x = 0, y = 0;
  Color color;
  Marker marker = Marker::Cross;
};

struct LegendEntry {
  std::string label;
  Color color;
  std::optional<Marker> marker;
  bool line = true;
};

struct PlotSpec {
  std::string title, x_label, y_label;
  bool log_x = false;
  std::vector<PlotSeries> series;
  std::vector<PlotMark> marks;
  std::vector<LegendEntry> legend;  // drawn inside the panel, top right
};

// Draws into the rectangle [x0,x1) x [y0,y1) of the canvas (margins for labels included).
void draw_plot(Canvas& canvas, int x0, int y0, int x1, int y1, const PlotSpec& spec);

// "Nice" tick positions (steps of 1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target_count);
std::string tick_label(double value, double step);

}  // namespace pbench::report
