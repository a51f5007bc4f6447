#pragma once
// The report's PNG figures, drawn from the run files alone:
//   dvar_curves.png        DVAR objective and variance ratio per run, coloured by group, stop steps marked
//   metric_vs_params.png   DINO / CLIP-I / CLIP-T against trainable parameters (log x), one point per run
//   loss_vs_objective.png  noisy training loss against DVAR's deterministic objective, one panel per group
//   grid_<subject>.png     samples: rows = real images then groups, columns = prompts
#include <filesystem>
#include <string>
#include <vector>

#include "framework/report/run_records.hpp"

namespace pbench::report {

struct Figure {
  std::string file;   // name under figures/
  std::string title;  // caption for report.md
  int width = 0, height = 0;
};

constexpr int kGridCell = 128;  // thumbnail size of the image grids

// Writes every figure into `dir` (created) and returns them in a fixed order.
std::vector<Figure> write_figures(const SweepRuns& runs, const std::filesystem::path& dir, const std::string& group_by);

// File-name-safe form of a subject name ("red cube" -> "red_cube").
std::string file_safe(const std::string& name);

}  // namespace pbench::report
