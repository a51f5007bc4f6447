#define BOOST_TEST_MODULE make_table
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "framework/h5/h5.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/io/image.hpp"
#include "framework/report/canvas.hpp"
#include "framework/report/continual_scores.hpp"
#include "framework/report/figures.hpp"
#include "framework/report/run_records.hpp"
#include "framework/report/stats.hpp"
#include "framework/report/table.hpp"
#include "framework/report/table_format.hpp"
#include "framework/util/errors.hpp"
#include "tests/support/synthetic_sweep.hpp"
#include "tests/support/test_paths.hpp"

namespace fs = std::filesystem;
using namespace pbench;
using namespace pbench::report;

namespace {

// One synthetic sweep for the whole suite (writing it is the slow part).
const fs::path& sweep_dir() {
  static const fs::path dir = test::write_synthetic_sweep(test::scratch_dir("make_table_lib") / "synthetic");
  return dir;
}

const TableRow& row(const Table& t, const std::string& label) {
  for (const auto& r : t.rows)
    if (r.label == label) return r;
  BOOST_FAIL("no table row '" + label + "'");
  throw std::logic_error("unreachable");
}

const Summary& cell(const Table& t, const std::string& label, const std::string& key) {
  return row(t, label).cells.at(key).summary;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) ++n;
  return n;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

}  // namespace

BOOST_AUTO_TEST_CASE(summary_statistics_match_hand_computation) {
  Summary s = summarize({0.5, 0.6, 0.7, 0.8});
  BOOST_TEST(s.n == 4u);
  BOOST_TEST(s.mean == 0.65, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(s.std == std::sqrt(0.05 / 3.0), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(s.ci_half_width == 3.1824 * std::sqrt(0.05 / 3.0) / 2.0, boost::test_tools::tolerance(1e-12));
  Summary one = summarize({3.0});
  BOOST_TEST(one.mean == 3.0);
  BOOST_TEST(one.std == 0.0);
  BOOST_TEST(summarize({}).n == 0u);
  // Printed table values of t(0.975, df).
  BOOST_TEST(student_t_975(1) == 12.7062, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(student_t_975(10) == 2.2281, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(student_t_975(60) == 2.0003, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(student_t_975(50) > 2.0003);
  BOOST_TEST(student_t_975(50) < 2.0211);
  BOOST_TEST(student_t_975(100000) == 1.96, boost::test_tools::tolerance(1e-4));
}

BOOST_AUTO_TEST_CASE(failed_and_partial_runs_are_named_and_excluded) {
  SweepRuns runs = load_sweep(sweep_dir(), "method");
  BOOST_TEST(runs.sweep == "synthetic");
  BOOST_TEST(runs.complete.size() == 9u);  // 8 with values + the bare textual_inversion run
  BOOST_REQUIRE(runs.excluded.size() == 2u);
  BOOST_TEST(runs.excluded[0].run_id == test::kPartialRunId);
  BOOST_TEST(runs.excluded[0].state == "incomplete");
  BOOST_TEST(runs.excluded[1].run_id == test::kFailedRunId);
  BOOST_TEST(runs.excluded[1].state == "failed");
  BOOST_TEST(runs.excluded[1].detail == test::kFailedError);
  for (const auto& r : runs.complete) {
    BOOST_TEST(r.run_id != test::kFailedRunId);
    BOOST_TEST(r.run_id != test::kPartialRunId);
  }
  // The failed run is a lora run: lora still averages its 4 complete runs only.
  Table t = build_table(runs, "method", metric_keys(), false);
  BOOST_TEST(row(t, "lora").runs == 4u);
  std::string md = render_markdown(t);
  BOOST_TEST(md.find(std::string(test::kFailedRunId) + "` failed: " + test::kFailedError) != std::string::npos);
  BOOST_TEST(md.find(std::string(test::kPartialRunId) + "` incomplete") != std::string::npos);
  BOOST_TEST(md.find("2 run(s) excluded from every average: 1 failed, 1 incomplete") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_run_file_of_a_future_schema_is_excluded_not_averaged) {
  fs::path dir = test::scratch_dir("make_table_future") / "future";
  fs::create_directories(dir / "runs");
  for (const auto& e : fs::directory_iterator(sweep_dir() / "runs"))
    if (e.path().extension() == ".h5") fs::copy_file(e.path(), dir / "runs" / e.path().filename());
  fs::path first = fs::directory_iterator(dir / "runs")->path();
  std::string id = first.stem().string();
  {
    h5::Handle f = h5::open_file(first.string(), true);
    h5::set_attr(f.id(), "schema_version", kRunSchemaVersion + 1);
  }
  SweepRuns runs = load_sweep(dir, "method");
  bool excluded = false;
  for (const auto& e : runs.excluded)
    if (e.run_id == id) excluded = e.state == "unreadable" && e.detail.find("schema_version 2") != std::string::npos;
  BOOST_TEST(excluded);
  for (const auto& r : runs.complete) BOOST_TEST(r.run_id != id);
}

// Issue 41, class 3: a copied run file raised the run count and weighted the means.
BOOST_AUTO_TEST_CASE(a_copied_run_file_is_counted_once_and_reported) {
  fs::path dir = test::scratch_dir("make_table_copies") / "copies";
  fs::remove_all(dir);
  fs::create_directories(dir / "runs");
  for (const auto& e : fs::directory_iterator(sweep_dir() / "runs"))
    if (e.path().extension() == ".h5") fs::copy_file(e.path(), dir / "runs" / e.path().filename());
  const SweepRuns original = load_sweep(dir, "method");
  const RunRecord& copied = original.complete.front();
  fs::copy_file(copied.file, dir / "runs" / (copied.run_id + " (copy).h5"));
  fs::copy_file(copied.file, dir / "runs" / "zz_renamed.h5");
  const SweepRuns runs = load_sweep(dir, "method");
  BOOST_TEST(runs.complete.size() == original.complete.size());
  size_t duplicates = 0;
  for (const auto& e : runs.excluded)
    if (e.state == "duplicate") {
      ++duplicates;
      BOOST_TEST(e.run_id == copied.run_id);
      BOOST_TEST(e.detail.find("holds the same run as " + copied.run_id + ".h5") != std::string::npos, e.detail);
    }
  BOOST_TEST(duplicates == 2u);
  const Table a = build_table(original, "method", metric_keys(), false), b = build_table(runs, "method", metric_keys(), false);
  for (size_t i = 0; i < a.rows.size(); ++i) BOOST_TEST(a.rows[i].runs == b.rows[i].runs);
  BOOST_TEST(render_markdown(b).find("2 duplicate copies of a counted run") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(aggregates_equal_hand_computed_values) {
  SweepRuns runs = load_sweep(sweep_dir(), "method");
  Table t = build_table(runs, "method", metric_keys(), true);
  // Rows: groups sorted by label, then the frozen model's and the real images' baselines.
  BOOST_REQUIRE(t.rows.size() == 5u);
  BOOST_TEST(t.rows[0].label == "custom_diffusion");
  BOOST_TEST(t.rows[1].label == "lora");
  BOOST_TEST(t.rows[2].label == "textual_inversion");
  BOOST_TEST(t.rows[3].baseline);
  BOOST_TEST(t.rows[4].baseline);
  auto tol = boost::test_tools::tolerance(1e-9);

  BOOST_TEST(cell(t, "lora", "dino").n == 4u);
  BOOST_TEST(cell(t, "lora", "dino").mean == 0.65, tol);
  BOOST_TEST(cell(t, "lora", "dino").std == std::sqrt(0.05 / 3.0), tol);
  BOOST_TEST(cell(t, "lora", "dino").ci_half_width == 3.1824 * std::sqrt(0.05 / 3.0) / 2.0, tol);
  BOOST_TEST(cell(t, "custom_diffusion", "dino").mean == 0.43, tol);
  BOOST_TEST(cell(t, "custom_diffusion", "dino").std == std::sqrt(4 * 0.03 * 0.03 / 3.0), tol);
  BOOST_TEST(cell(t, "lora", "clip_i").mean == (0.70 + 0.72 + 0.74 + 0.76) / 4, tol);
  BOOST_TEST(cell(t, "lora", "clip_t").mean == (0.30 + 0.28 + 0.26 + 0.24) / 4, tol);

  BOOST_TEST(cell(t, "lora", "trainable").mean == 800000.0);
  BOOST_TEST(cell(t, "lora", "trainable").std == 0.0);
  BOOST_TEST(cell(t, "custom_diffusion", "delta_bytes").mean == 76000000.0);
  BOOST_TEST(cell(t, "custom_diffusion", "sd15_trainable").mean == 38000000.0);
  BOOST_TEST(cell(t, "lora", "steps").mean == 40.0);

  // DVAR stop: lora 20, 30, 20, 40; custom_diffusion 30, never, 20, 10.
  BOOST_TEST(cell(t, "lora", "dvar_stop").mean == 27.5, tol);
  BOOST_TEST(cell(t, "lora", "dvar_stop").std == std::sqrt(275.0 / 3.0), tol);
  BOOST_TEST(row(t, "lora").cells.at("dvar_stop").never == 0u);
  BOOST_TEST(cell(t, "custom_diffusion", "dvar_stop").n == 3u);
  BOOST_TEST(cell(t, "custom_diffusion", "dvar_stop").mean == 20.0, tol);
  BOOST_TEST(row(t, "custom_diffusion").cells.at("dvar_stop").never == 1u);
  // Steps saved = 40 - stop, 0 when DVAR never fired.
  BOOST_TEST(cell(t, "lora", "steps_saved").mean == (20 + 10 + 20 + 0) / 4.0, tol);
  BOOST_TEST(cell(t, "custom_diffusion", "steps_saved").mean == (10 + 0 + 20 + 30) / 4.0, tol);
  // The cost axis search and gradient methods share: steps x UNet images per step (/train attrs).
  BOOST_TEST(cell(t, "lora", "unet_forward").mean == 40.0 * 2, tol);
  BOOST_TEST(cell(t, "custom_diffusion", "unet_backward").mean == 40.0 * 4, tol);
  BOOST_TEST(cell(t, "lora", "dvar_stop_forward").mean == 27.5 * 2, tol);
  BOOST_TEST(cell(t, "custom_diffusion", "dvar_stop_forward").n == 3u);  // never fired once
  BOOST_TEST(cell(t, "textual_inversion", "unet_forward").n == 0u);      // a file without the attributes
  // Metric change from the DVAR stop to the full budget.
  BOOST_TEST(cell(t, "lora", "d_dino").mean == (0.05 + 0.10 + 0.10 + 0.0) / 4, tol);
  BOOST_TEST(cell(t, "custom_diffusion", "d_clip_i").mean == (0.0 + 0.0 + 0.01 + 0.0) / 4, tol);
  BOOST_TEST(cell(t, "lora", "wall_time").mean == 13.0, tol);
  BOOST_TEST(cell(t, "lora", "wall_time").std == std::sqrt(20.0 / 3.0), tol);
  // Step time: the wall time grows linearly, so every step takes wall_time / steps.
  for (const auto& r : runs.complete)
    if (r.values.count("step_time") && r.values.count("steps"))
      BOOST_TEST(r.values.at("step_time") == 1000.0 * r.values.at("wall_time") / r.values.at("steps"),
                 boost::test_tools::tolerance(1e-6));
  BOOST_TEST(cell(t, "lora", "step_time").n == 4u);
  BOOST_TEST(cell(t, "lora", "peak_memory").mean == 300.0 * 1024 * 1024 + 800000.0, tol);
  BOOST_TEST(format_cell("peak_memory", row(t, "lora").cells.at("peak_memory"), false, "±") == "300.76 MiB");

  // A run without metrics: its row exists with empty cells.
  BOOST_TEST(row(t, "textual_inversion").runs == 1u);
  BOOST_TEST(cell(t, "textual_inversion", "dino").n == 0u);
  BOOST_TEST(cell(t, "textual_inversion", "wall_time").n == 1u);  // from the provenance start/end times
  // Its DVAR never ran (mode off): not counted as "never fired", and no steps saved.
  BOOST_TEST(row(t, "textual_inversion").cells.at("dvar_stop").never == 0u);
  BOOST_TEST(cell(t, "textual_inversion", "steps_saved").n == 0u);
  // Zero spread prints the mean alone.
  BOOST_TEST(format_cell("trainable", row(t, "lora").cells.at("trainable"), true, "±") == "800.00K");

  // Real vs real: one value per subject (cat, dog), not per run.
  const TableRow& real = t.rows[4];
  BOOST_TEST(real.runs == 2u);
  BOOST_TEST(real.cells.at("clip_i").summary.mean == 0.875, tol);
  BOOST_TEST(real.cells.at("dino").summary.mean == 0.775, tol);
  BOOST_TEST(real.cells.at("clip_t").summary.n == 0u);

  // Cell text: mean ± std [CI], and the never count.
  BOOST_TEST(format_cell("dino", row(t, "lora").cells.at("dino"), true, "±") == "0.650 ± 0.129 [0.445, 0.855]");
  BOOST_TEST(format_cell("dvar_stop", row(t, "custom_diffusion").cells.at("dvar_stop"), false, "±") ==
             "20.0 ± 10.0 (1 never)");
}

BOOST_AUTO_TEST_CASE(baseline_row_and_gains_and_clip_stop_columns) {
  SweepRuns runs = load_sweep(sweep_dir(), "method");
  Table t = build_table(runs, "method", metric_keys(), false);
  auto tol = boost::test_tools::tolerance(1e-9);
  // The frozen model's row: one value per (subject, seed), whichever method's run holds it:
  // cat 0.20, 0.22; dog 0.30, 0.32.
  const TableRow& frozen = row(t, "frozen model, class word (baseline)");
  BOOST_TEST(frozen.baseline);
  BOOST_TEST(frozen.runs == 4u);
  BOOST_TEST(frozen.cells.at("dino").summary.mean == 0.26, tol);
  BOOST_TEST(frozen.cells.at("clip_t").summary.mean == 0.35, tol);
  BOOST_TEST(frozen.cells.at("gain_dino").summary.n == 0u);
  // Gain = run - its own (subject, seed) baseline: lora 0.50-0.20, 0.60-0.22, 0.70-0.30, 0.80-0.32.
  BOOST_TEST(cell(t, "lora", "gain_dino").mean == (0.30 + 0.38 + 0.40 + 0.48) / 4, tol);
  BOOST_TEST(cell(t, "lora", "gain_clip_i").mean == (0.70 + 0.72 + 0.74 + 0.76) / 4 - 0.50, tol);
  BOOST_TEST(cell(t, "custom_diffusion", "gain_clip_t").mean == (0.31 + 0.32 + 0.33 + 0.34) / 4 - 0.35, tol);
  BOOST_TEST(cell(t, "textual_inversion", "gain_dino").n == 0u);  // no metrics, no gain
  // CLIP stop: lora at 25 of 40 in every run; custom_diffusion never fired (counted, saves 0).
  BOOST_TEST(cell(t, "lora", "clip_stop").mean == 25.0, tol);
  BOOST_TEST(cell(t, "lora", "clip_steps_saved").mean == 15.0, tol);
  BOOST_TEST(cell(t, "lora", "dc_dino").mean == 0.05, tol);
  BOOST_TEST(cell(t, "lora", "dc_clip_t").mean == -0.01, tol);
  BOOST_TEST(row(t, "custom_diffusion").cells.at("clip_stop").never == 4u);
  BOOST_TEST(cell(t, "custom_diffusion", "clip_steps_saved").mean == 0.0, tol);
  BOOST_TEST(cell(t, "custom_diffusion", "dc_dino").n == 0u);
  std::string md = render_markdown(t);
  BOOST_TEST(md.find("| *frozen model, class word (baseline) †* | 4 |") != std::string::npos, md);
  BOOST_TEST(md.find("DINO gain") != std::string::npos);
  BOOST_TEST(md.find("CLIP stop") != std::string::npos);
  BOOST_TEST(format_cell("gain_dino", row(t, "lora").cells.at("gain_dino"), false, "±").rfind("+0.390", 0) == 0);
}

BOOST_AUTO_TEST_CASE(point_takes_the_metric_columns_from_a_variant) {
  // --point final_rank_2: lora's DINO and CLIP-I are 0.125 below final; custom_diffusion has no such point.
  SweepRuns runs = load_sweep(sweep_dir(), "method", test::kVariantPoint);
  BOOST_TEST(runs.point == test::kVariantPoint);
  Table t = build_table(runs, "method", {"dino", "clip_i", "clip_t", "d_dino", "trainable"}, false);
  auto tol = boost::test_tools::tolerance(1e-9);
  BOOST_TEST(cell(t, "lora", "dino").n == 4u);
  BOOST_TEST(cell(t, "lora", "dino").mean == 0.65 - 0.125, tol);
  BOOST_TEST(cell(t, "lora", "clip_i").mean == (0.70 + 0.72 + 0.74 + 0.76) / 4 - 0.125, tol);
  BOOST_TEST(cell(t, "lora", "clip_t").mean == (0.30 + 0.28 + 0.26 + 0.24) / 4, tol);
  BOOST_TEST(cell(t, "custom_diffusion", "dino").n == 0u);
  // Everything else as with final: Δ still final − dvar_stop, params, the real-image row.
  BOOST_TEST(cell(t, "lora", "d_dino").mean == (0.05 + 0.10 + 0.10 + 0.0) / 4, tol);
  BOOST_TEST(cell(t, "custom_diffusion", "trainable").mean == 19000000.0);
  BOOST_TEST(t.rows.back().cells.at("dino").summary.mean == 0.775, tol);
  for (const auto& r : runs.complete) BOOST_TEST(r.has_point == (r.group == "lora"), r.run_id);
  std::string md = render_markdown(t);
  BOOST_TEST(md.find("at the point `final_rank_2`") != std::string::npos, md);
  BOOST_TEST(render_latex(t).find("at point final_rank_2") != std::string::npos);
  BOOST_TEST(render_markdown(build_table(load_sweep(sweep_dir(), "method"), "method", {"dino"}, false)).find("--point") ==
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(group_by_any_config_key) {
  SweepRuns runs = load_sweep(sweep_dir(), "dataset.subject");
  Table t = build_table(runs, "dataset.subject", {"dino"}, false);
  BOOST_TEST(row(t, "dog").runs == 5u);  // 4 with values + the bare run
  BOOST_TEST(cell(t, "cat", "dino").mean == (0.50 + 0.60 + 0.40 + 0.40) / 4, boost::test_tools::tolerance(1e-9));
  SweepRuns by_missing = load_sweep(sweep_dir(), "no.such.key");
  BOOST_TEST(build_table(by_missing, "no.such.key", {"dino"}, false).rows.front().label == "(unset)");
}

BOOST_AUTO_TEST_CASE(latex_is_booktabs_with_escaped_underscores) {
  SweepRuns runs = load_sweep(sweep_dir(), "method");
  std::vector<std::string> metrics = {"dino", "clip_i", "clip_t", "d_dino"};
  std::string tex = render_latex(build_table(runs, "method", metrics, false));
  BOOST_TEST(count_of(tex, "\\toprule") == 1u);
  BOOST_TEST(count_of(tex, "\\midrule") == 2u);  // under the header and above the baseline row
  BOOST_TEST(count_of(tex, "\\bottomrule") == 1u);
  BOOST_TEST(tex.find("\\begin{tabular}{lrrrrr}") != std::string::npos);  // label, runs, 4 metrics
  size_t body_begin = tex.find("\\toprule"), body_end = tex.find("\\bottomrule");
  std::vector<std::string> rows;
  for (const auto& l : lines_of(tex.substr(body_begin, body_end - body_begin)))
    if (l.size() >= 2 && l.compare(l.size() - 2, 2, "\\\\") == 0) rows.push_back(l);
  BOOST_REQUIRE(rows.size() == 1u + 5u);  // header + 3 groups + frozen-model and real baselines
  for (const auto& r : rows) {
    size_t cols = 1;
    for (size_t i = 0; i < r.size(); ++i)
      if (r[i] == '&' && (i == 0 || r[i - 1] != '\\')) ++cols;
    BOOST_TEST(cols == metrics.size() + 2, r);
  }
  BOOST_TEST(tex.find("custom\\_diffusion") != std::string::npos);
  BOOST_TEST(tex.find("textual\\_inversion") != std::string::npos);
  // No unescaped underscore outside comment lines.
  for (const auto& l : lines_of(tex)) {
    if (!l.empty() && l[0] == '%') continue;
    for (size_t i = 0; i < l.size(); ++i)
      if (l[i] == '_') BOOST_TEST((i > 0 && l[i - 1] == '\\'), "unescaped _ in: " << l);
  }
  BOOST_TEST(latex_escape("a_b&c%d$e#f{g}h~i^j\\") ==
             "a\\_b\\&c\\%d\\$e\\#f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j\\textbackslash{}");
  // The failed run is named in a comment, never in the table body.
  BOOST_TEST(tex.find(std::string("%   ") + test::kFailedRunId) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(csv_is_tidy_one_row_per_run_and_metric) {
  SweepRuns runs = load_sweep(sweep_dir(), "method");
  std::vector<std::string> metrics = {"dino", "clip_i", "clip_t", "trainable", "dvar_stop"};
  auto lines = lines_of(render_csv(runs, metrics));
  BOOST_REQUIRE(!lines.empty());
  BOOST_TEST(lines[0] == "run_id,group,subject,seed,metric,value");
  BOOST_TEST(lines.size() - 1 == runs.complete.size() * metrics.size());
  BOOST_TEST((std::find(lines.begin(), lines.end(), "a000000000000002,lora,cat,1,dino,0.59999999999999998") != lines.end()));
  BOOST_TEST((std::find(lines.begin(), lines.end(), "b000000000000006,custom_diffusion,cat,1,dvar_stop,") != lines.end()));
  for (const auto& l : lines) BOOST_TEST(l.find(test::kFailedRunId) == std::string::npos);
  BOOST_TEST(csv_field("a,b") == "\"a,b\"");
  BOOST_TEST(csv_field("say \"x\"") == "\"say \"\"x\"\"\"");
}

BOOST_AUTO_TEST_CASE(metric_list_and_format_are_checked) {
  BOOST_TEST(parse_metric_list("dino,clip_t,dino").size() == 2u);
  BOOST_CHECK_THROW(parse_metric_list("dino,fid"), InputError);
  BOOST_CHECK_THROW(parse_metric_list(""), InputError);
  BOOST_CHECK_THROW(parse_table_format("html"), InputError);
  BOOST_CHECK_THROW(load_sweep(test::scratch_dir("make_table_lib_empty") / "missing", "method"), InputError);
  BOOST_CHECK_THROW(load_sweep(test::scratch_dir("make_table_lib_noruns"), "method"), InputError);
}

BOOST_AUTO_TEST_CASE(figures_are_png_of_the_stated_size) {
  SweepRuns runs = load_sweep(sweep_dir(), "method");
  fs::path dir = test::scratch_dir("make_table_lib_figures");
  auto figures = write_figures(runs, dir, "method");
  BOOST_REQUIRE(figures.size() == 5u);  // 3 plots + a grid per subject (cat, dog)
  for (const auto& f : figures) {
    Image img = decode_image_file(dir / f.file);
    BOOST_TEST(img.width == f.width, f.file);
    BOOST_TEST(img.height == f.height, f.file);
  }
  BOOST_TEST(figures[0].file == "dvar_curves.png");
  BOOST_TEST(figures[0].width == 1100);
  BOOST_TEST(figures[1].file == "metric_vs_params.png");
  BOOST_TEST(figures[2].file == "loss_vs_objective.png");
  BOOST_TEST(figures[2].width == 2 * 750);  // 3 groups: 2 columns
  BOOST_TEST(figures[2].height == 2 * 420);
  BOOST_TEST(figures[3].file == "grid_cat.png");
  BOOST_TEST(figures[4].file == "grid_dog.png");

  // The curves are drawn in the first group's colour.
  Image curves = decode_image_file(dir / "dvar_curves.png");
  Color c0 = palette(0);
  size_t hits = 0;
  for (int y = 0; y < curves.height; ++y)
    for (int x = 0; x < curves.width; ++x) {
      const uint8_t* p = curves.pixel(x, y);
      hits += (p[0] == c0.r && p[1] == c0.g && p[2] == c0.b);
    }
  BOOST_TEST(hits > 500u);

  // Grid of dog: real row first (3 real images, colours known), then custom_diffusion, lora.
  Image grid = decode_image_file(dir / "grid_dog.png");
  const int cell = kGridCell, gap = 4, label_w = 170, header_h = 64;
  BOOST_TEST(grid.width == label_w + 2 * (cell + gap) + gap + (cell + gap));  // 3 columns: 3 real images > 2 prompts
  BOOST_TEST(grid.height == header_h + 3 * (cell + gap) + gap);
  for (int i = 0; i < 3; ++i) {
    uint8_t want[3];
    test::real_color("dog", i, want);
    const uint8_t* p = grid.pixel(label_w + gap + i * (cell + gap) + cell / 2, header_h + cell / 2);
    for (int ch = 0; ch < 3; ++ch) BOOST_TEST(std::abs(int(p[ch]) - int(want[ch])) <= 2);
  }
  // Second group row (lora, seed 0 = first by run id) shows shade 60.
  const uint8_t* lora = grid.pixel(label_w + gap + cell / 2, header_h + 2 * (cell + gap) + cell / 2);
  BOOST_TEST(std::abs(int(lora[0]) - 60) <= 2);
  const uint8_t* cd = grid.pixel(label_w + gap + cell / 2, header_h + (cell + gap) + cell / 2);
  BOOST_TEST(std::abs(int(cd[0]) - 180) <= 2);
}

BOOST_AUTO_TEST_CASE(a_metric_beyond_schema_one_is_read_and_tabulated) {
  // The open metric seam, read side: /metrics/final/psnr (attr + per-image array) becomes a
  // value and an extra column; --metrics accepts it (and d_psnr) only where a run holds it.
  fs::path dir = test::scratch_dir("make_table_open_metric") / "s";
  for (const char* id : {"00000000000000a1", "00000000000000a2"}) {
    RunFileWriter w(dir / "runs" / (std::string(id) + ".h5"), id, "s", "method:\n  name: lora\n",
                    "method:\n  name: lora\n", current_provenance());
    MetricPoint m;
    m.step = 4;
    m.scores = {{"psnr", {20.0, id[15] == '1' ? 22.0 : 26.0}}, {"dino", {0.5}}};
    w.set_metrics("final", m);
    w.complete();
  }
  SweepRuns runs = load_sweep(dir, "method");
  BOOST_REQUIRE(runs.complete.size() == 2u);
  BOOST_TEST((runs.extra_metrics == std::vector<std::string>{"psnr"}));
  BOOST_TEST(runs.complete[0].values.at("psnr") == 21.0);
  BOOST_TEST(runs.complete[0].values.count("clip_t") == 0u);  // schema-1 name that did not run: NaN, skipped
  BOOST_CHECK_THROW(parse_metric_list("psnr"), InputError);
  std::vector<std::string> columns = parse_metric_list("dino,psnr", runs.extra_metrics);
  Table t = build_table(runs, "method", columns, false);
  BOOST_TEST(cell(t, "lora", "psnr").mean == 22.0);
  // Metrics beyond the schema's three get three decimals (cosines, SSIM), not the one of steps.
  BOOST_TEST(format_cell("psnr", row(t, "lora").cells.at("psnr"), false, "±").rfind("22.000", 0) == 0);
}

BOOST_AUTO_TEST_CASE(continual_average_and_forgetting_follow_the_definitions) {
  const double nan = std::nan("");
  // Rows: the model after task 1, 2, 3; columns: subjects 1..3 (NaN = not learnt yet, ignored).
  const std::vector<double> m = {0.50, nan,  nan,   //
                                 0.40, 0.70, nan,   //
                                 0.45, 0.60, 0.80};
  const report::ContinualScores s = report::continual_scores(m, 3);
  BOOST_TEST(s.average == (0.45 + 0.60 + 0.80) / 3, boost::test_tools::tolerance(1e-12));
  // Subject 1: 0.45 - max(0.50, 0.40) = -0.05; subject 2: 0.60 - 0.70 = -0.10 (the last one has no "before").
  BOOST_TEST(s.forgetting == -0.075, boost::test_tools::tolerance(1e-12));
  // Backward transfer reads positive.
  const report::ContinualScores up = report::continual_scores({0.3, nan, 0.5, 0.6}, 2);
  BOOST_TEST(up.forgetting == 0.2, boost::test_tools::tolerance(1e-12));
  // One task: nothing to forget; a metric that did not run: no summary; a wrong shape: an error.
  BOOST_TEST(std::isnan(report::continual_scores({0.9}, 1).forgetting));
  BOOST_TEST(report::continual_scores({0.9}, 1).average == 0.9);
  BOOST_TEST(std::isnan(report::continual_scores({nan, nan, 0.5, 0.6}, 2).forgetting));
  BOOST_CHECK_THROW(report::continual_scores({0.1, 0.2}, 2), std::invalid_argument);
}
