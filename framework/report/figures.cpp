#include "framework/report/figures.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "framework/h5/h5.hpp"
#include "framework/io/image.hpp"
#include "framework/report/canvas.hpp"
#include "framework/report/plot.hpp"
#include "framework/report/table.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench::report {

std::string file_safe(const std::string& name) {
  std::string out;
  for (char c : name) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return out.empty() ? std::string("all") : out;
}

namespace {

using Groups = std::vector<std::pair<std::string, std::vector<const RunRecord*>>>;

PlotSeries line_series(Color color, const std::vector<double>& x, const std::vector<double>& y, int thickness = 2) {
  PlotSeries s;
  s.color = color;
  s.x = x;
  s.y = y;
  s.thickness = thickness;
  return s;
}

std::vector<LegendEntry> group_legend(const Groups& groups, bool line, bool markers) {
  std::vector<LegendEntry> legend;
  for (size_t g = 0; g < groups.size(); ++g)
    legend.push_back({groups[g].first, palette(g), markers ? std::optional<Marker>(marker_for(g)) : std::nullopt, line});
  return legend;
}

// Value of `ys` at the evaluation whose step is `step` (the stop step is one of the DVAR evaluations).
std::optional<double> value_at_step(const std::vector<double>& steps, const std::vector<double>& ys, double step) {
  for (size_t i = 0; i < std::min(steps.size(), ys.size()); ++i)
    if (steps[i] == step) return ys[i];
  return std::nullopt;
}

Figure dvar_curves(const Groups& groups, const fs::path& dir, const std::string& group_by) {
  Figure f{"dvar_curves.png", "DVAR objective (top) and variance ratio (bottom) per run, coloured by " + group_by +
                                  "; X marks the stop step",
           1100, 900};
  Canvas canvas(f.width, f.height);
  PlotSpec objective{"DVAR objective", "training step", "objective", false, {}, {}, {}};
  PlotSpec ratio{"DVAR variance ratio", "training step", "variance ratio", false, {}, {}, {}};
  bool any_stop = false;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const RunRecord* r : groups[g].second) {
      objective.series.push_back(line_series(palette(g), r->dvar_step, r->dvar_objective));
      ratio.series.push_back(line_series(palette(g), r->dvar_step, r->dvar_ratio));
      if (r->dvar_stop_step < 0) continue;
      double stop = double(r->dvar_stop_step);
      if (auto y = value_at_step(r->dvar_step, r->dvar_objective, stop)) objective.marks.push_back({stop, *y, palette(g)});
      if (auto y = value_at_step(r->dvar_step, r->dvar_ratio, stop)) ratio.marks.push_back({stop, *y, palette(g)});
      any_stop = true;
    }
  }
  objective.legend = group_legend(groups, true, false);
  if (any_stop) objective.legend.push_back({"DVAR stop", kBlack, Marker::Cross, false});
  draw_plot(canvas, 0, 0, f.width, f.height / 2, objective);
  draw_plot(canvas, 0, f.height / 2, f.width, f.height, ratio);
  write_png(dir / f.file, canvas.image());
  return f;
}

Figure metric_vs_params(const Groups& groups, const fs::path& dir) {
  Figure f{"metric_vs_params.png", "DINO, CLIP-I and CLIP-T against trainable parameters (log scale), one point per run",
           1500, 520};
  Canvas canvas(f.width, f.height);
  const std::pair<const char*, const char*> metrics[] = {{"dino", "DINO"}, {"clip_i", "CLIP-I"}, {"clip_t", "CLIP-T"}};
  int panel = f.width / 3;
  for (int m = 0; m < 3; ++m) {
    PlotSpec spec{std::string(metrics[m].second) + " vs trainable parameters", "trainable parameters", metrics[m].second,
                  true, {}, {}, {}};
    for (size_t g = 0; g < groups.size(); ++g) {
      PlotSeries s{"", palette(g), {}, {}, false, 2, marker_for(g), 6};
      for (const RunRecord* r : groups[g].second) {
        auto p = r->values.find("trainable"), v = r->values.find(metrics[m].first);
        if (p == r->values.end() || v == r->values.end()) continue;
        s.x.push_back(p->second);
        s.y.push_back(v->second);
      }
      spec.series.push_back(s);
    }
    if (m == 0) spec.legend = group_legend(groups, false, true);
    draw_plot(canvas, m * panel, 0, (m + 1) * panel, f.height, spec);
  }
  write_png(dir / f.file, canvas.image());
  return f;
}

Figure loss_vs_objective(const Groups& groups, const fs::path& dir) {
  size_t panels = std::max<size_t>(1, groups.size());
  int cols = panels > 1 ? 2 : 1, rows = int((panels + 1) / size_t(cols));
  const int panel_w = 750, panel_h = 420;
  Figure f{"loss_vs_objective.png",
           "training loss (light, per optimizer step) against DVAR's deterministic objective (dark) per group",
           cols * panel_w, rows * panel_h};
  Canvas canvas(f.width, f.height);
  for (size_t g = 0; g < panels; ++g) {
    PlotSpec spec{groups.empty() ? std::string("no complete runs") : groups[g].first, "training step", "loss",
                  false, {}, {}, {}};
    if (!groups.empty()) {
      for (const RunRecord* r : groups[g].second)
        spec.series.push_back(line_series(lighten(palette(g), 0.6), r->train_step, r->train_loss, 1));
      for (const RunRecord* r : groups[g].second)
        spec.series.push_back(line_series(palette(g), r->dvar_step, r->dvar_objective, 3));
      spec.legend = {{"training loss", lighten(palette(g), 0.6), std::nullopt, true},
                     {"DVAR objective", palette(g), std::nullopt, true}};
    }
    int cx = int(g % size_t(cols)) * panel_w, cy = int(g / size_t(cols)) * panel_h;
    draw_plot(canvas, cx, cy, cx + panel_w, cy + panel_h, spec);
  }
  write_png(dir / f.file, canvas.image());
  return f;
}

// One sample set of a run, read on demand (images are the bulk of a run file).
struct Samples {
  int64_t n = 0, h = 0, w = 0;
  std::vector<uint8_t> pixels;
  std::vector<std::string> prompts;
  Image image(int64_t i) const {
    Image img;
    img.width = int(w);
    img.height = int(h);
    auto begin = pixels.begin() + i * h * w * 3;
    img.rgb.assign(begin, begin + h * w * 3);
    return img;
  }
};

Samples read_samples(const fs::path& file, const std::string& point) {
  Samples s;
  h5::Handle f = h5::open_file(file.string(), false);
  std::string group = "samples/" + point;
  if (!h5::exists(f.id(), group + "/images")) return s;
  h5::Handle g = h5::open_group(f.id(), group);
  auto dims = h5::dims_of(g.id(), "images");
  if (dims.size() != 4 || dims[3] != 3)
    throw InputError(file.string() + ": /" + group + "/images: expected uint8 [N,H,W,3]");
  s.n = int64_t(dims[0]);
  s.h = int64_t(dims[1]);
  s.w = int64_t(dims[2]);
  s.pixels = h5::read_uint8s(g.id(), "images");
  if (h5::exists(g.id(), "prompts")) s.prompts = h5::read_strings(g.id(), "prompts");
  return s;
}

Image thumbnail(const Image& img) {
  if (img.width <= 0 || img.height <= 0) return img;
  return resize_image(center_crop_square(img), kGridCell, kGridCell);
}

// Greedy word wrap into at most `max_lines` lines of `width` pixels.
std::vector<std::string> wrap(const std::string& text, int width, size_t max_lines) {
  std::vector<std::string> lines;
  std::string cur, word;
  auto flush_word = [&] {
    if (word.empty()) return;
    std::string trial = cur.empty() ? word : cur + " " + word;
    if (text_width(trial) <= width || cur.empty()) {
      cur = trial;
    } else {
      lines.push_back(cur);
      cur = word;
    }
    word.clear();
  };
  for (char ch : text) {
    if (ch == ' ') flush_word();
    else word += ch;
  }
  flush_word();
  if (!cur.empty()) lines.push_back(cur);
  if (lines.size() > max_lines) {
    lines.resize(max_lines);
    lines.back() = fit_text(lines.back() + " ...", width);
  }
  for (auto& l : lines) l = fit_text(l, width);
  return lines;
}

std::optional<Figure> image_grid(const std::string& subject, const Groups& groups, const fs::path& dir) {
  // Per group: the first run (run id order) of this subject that has final samples.
  std::vector<std::pair<std::string, Samples>> rows;
  std::optional<Samples> real;
  std::vector<std::string> prompts;
  for (const auto& [label, members] : groups) {
    for (const RunRecord* r : members) {
      if (r->subject != subject) continue;
      Samples s = read_samples(r->file, "final");
      if (!real) {
        Samples rs = read_samples(r->file, "real");
        if (rs.n > 0) real = std::move(rs);
      }
      if (s.n == 0) continue;
      for (const auto& p : s.prompts)
        if (std::find(prompts.begin(), prompts.end(), p) == prompts.end()) prompts.push_back(p);
      rows.emplace_back(label, std::move(s));
      break;
    }
  }
  if (rows.empty()) return std::nullopt;
  size_t cols = std::max<size_t>(1, prompts.size());
  if (real) cols = std::max(cols, std::min<size_t>(size_t(real->n), 8));
  const int label_w = 170, header_h = 16 + 4 * 10 + 8, gap = 4;
  const int n_rows = int(rows.size()) + (real ? 1 : 0);
  Figure f{"grid_" + file_safe(subject) + ".png",
           "samples of subject '" + (subject.empty() ? std::string("(none)") : subject) +
               "': first row real images, then one row per group (first run), one column per prompt",
           label_w + int(cols) * (kGridCell + gap) + gap, header_h + n_rows * (kGridCell + gap) + gap};
  Canvas canvas(f.width, f.height);
  canvas.text(8, 6, "subject: " + (subject.empty() ? std::string("(none)") : subject), kBlack, 2);
  for (size_t c = 0; c < prompts.size(); ++c) {
    int x = label_w + gap + int(c) * (kGridCell + gap);
    auto lines = wrap(prompts[c], kGridCell, 4);
    for (size_t l = 0; l < lines.size(); ++l) canvas.text(x, 24 + int(l) * 10, lines[l], kBlack, 1);
  }
  int y = header_h;
  auto row_label = [&](const std::string& text) {
    // Large type when the label fits; long method names (custom_diffusion) drop to small type, not "...".
    int scale = text_width(text, 2) <= label_w - 12 ? 2 : 1;
    auto lines = wrap(text, (label_w - 12) / scale, 3);
    int line_h = 10 * scale;
    for (size_t l = 0; l < lines.size(); ++l)
      canvas.text(6, y + kGridCell / 2 - int(lines.size()) * line_h / 2 + int(l) * line_h, lines[l], kBlack, scale);
  };
  if (real) {
    row_label("real");
    for (int64_t i = 0; i < std::min<int64_t>(real->n, int64_t(cols)); ++i)
      canvas.blit(thumbnail(real->image(i)), label_w + gap + int(i) * (kGridCell + gap), y);
    y += kGridCell + gap;
  }
  for (const auto& [label, s] : rows) {
    row_label(label);
    for (size_t c = 0; c < prompts.size(); ++c) {
      auto it = std::find(s.prompts.begin(), s.prompts.end(), prompts[c]);
      int x = label_w + gap + int(c) * (kGridCell + gap);
      if (it == s.prompts.end() || int64_t(it - s.prompts.begin()) >= s.n) {
        canvas.rect_outline(x, y, x + kGridCell, y + kGridCell, kLightGrey);  // prompt not sampled by this run
        continue;
      }
      canvas.blit(thumbnail(s.image(it - s.prompts.begin())), x, y);
    }
    y += kGridCell + gap;
  }
  write_png(dir / f.file, canvas.image());
  return f;
}

}  // namespace

std::vector<Figure> write_figures(const SweepRuns& runs, const fs::path& dir, const std::string& group_by) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError(dir.string() + ": cannot create the figures folder (" + ec.message() + ")");
  // Figures of an earlier call (e.g. a subject since removed) would otherwise linger in report.md's folder.
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".png") fs::remove(entry.path());
  Groups groups = runs_by_group(runs);
  std::vector<Figure> figures;
  figures.push_back(dvar_curves(groups, dir, group_by));
  figures.push_back(metric_vs_params(groups, dir));
  figures.push_back(loss_vs_objective(groups, dir));
  std::set<std::string> subjects;
  for (const auto& r : runs.complete) subjects.insert(r.subject);
  for (const auto& subject : subjects)
    if (auto f = image_grid(subject, groups, dir)) figures.push_back(*f);
  return figures;
}

}  // namespace pbench::report
