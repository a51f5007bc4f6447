#include "framework/util/cli.hpp"
#include "framework/report/make_table_app.hpp"


#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "framework/report/figures.hpp"
#include "framework/report/report_md.hpp"
#include "framework/report/run_records.hpp"
#include "framework/report/table.hpp"
#include "framework/report/table_format.hpp"
#include "framework/h5/run_file.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/version.hpp"

namespace fs = std::filesystem;

namespace pbench {

namespace {
void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw InputError(path.string() + ": cannot write (is the folder writable?)");
  out << text;
  if (!out.flush()) throw InputError(path.string() + ": write failed (disk full?)");
}

// figures/ and report.md, staged beside the old ones and swapped in by renames: a make_table
// stopped midway (SIGTERM) leaves the old report with its own figures, or the new report with
// its own, never a report that links figures another call deleted (issue 41). Returns the figures.
std::vector<report::Figure> write_report(const fs::path& dir, const report::SweepRuns& runs, const report::Table& table,
                                         const std::string& group_by) {
  const fs::path figures = dir / "figures", staged = dir / "figures.new", old = dir / "figures.old";
  std::error_code ec;
  fs::remove_all(staged, ec);  // leftovers of a call stopped midway
  fs::remove_all(old, ec);
  std::vector<report::Figure> made = report::write_figures(runs, staged, group_by);
  write_text(dir / "report.md.new", report::render_report(table, made, {"table.md", "table.tex", "table.csv"}));
  if (fs::exists(figures, ec)) fs::rename(figures, old);
  fs::rename(staged, figures);
  fs::rename(dir / "report.md.new", dir / "report.md");
  fs::remove_all(old, ec);
  return made;
}

std::string all_metrics() {
  std::string s;
  for (const auto& k : report::metric_keys()) s += (s.empty() ? "" : ",") + k;
  return s;
}
}  // namespace

int make_table_main(int argc, char** argv) {
  CLI::App app{"make_table: paper table, figures and report.md of a sweep, read from its run files only.\n"
               "Example: make_table results/svdiff --format latex --metrics dino,clip_i,clip_t --ci",
               "make_table"};
  std::string sweep_dir, format = "md", out_file, group_by = "method", metrics = all_metrics(), point = "final";
  bool ci = false, version = false;
  app.add_option("sweep", sweep_dir, "the sweep folder, results/<sweep> (holds runs/<run_id>.h5)");
  app.add_option("--format", format, "md (GitHub table), latex (booktabs) or csv (tidy: one row per run and metric)");
  app.add_option("--out", out_file, "write the table to FILE instead of stdout");
  app.add_option("--group-by", group_by, "dotted key of /config/resolved; a map means its 'name' (default: method)");
  app.add_option("--metrics", metrics,
                 "comma-separated columns (default: all): " + all_metrics() +
                     ", then any other metric the run files hold (and its d_<name>)");
  app.add_option("--point", point,
                 "metric point of the DINO/CLIP-I/CLIP-T columns (default: final); an evaluation variant such as "
                 "final_rank_4 (DyLoRA's ranks, docs/run_file_schema.md)");
  app.add_flag("--ci", ci, "add the 95% confidence interval of the mean (Student t)");
  app.add_flag("--version", version, "print the version and git commit");
  app.footer("Always (re)writes <sweep>/report.md, <sweep>/table.{md,tex,csv} and <sweep>/figures/*.png.\n"
             "Exit status: 0 table written; 1 no complete run in the sweep (report still written);\n"
             "2 bad folder, flag or value.");
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  if (version) {
    std::cout << version_line("make_table") << "\n";
    return kExitOk;
  }
  try {
    if (sweep_dir.empty()) throw InputError("make_table: missing the sweep folder, e.g. results/<sweep> (make_table --help)");
    report::TableFormat fmt = report::parse_table_format(format);
    if (group_by.empty()) throw InputError("--group-by: empty key; expected a dotted config path such as method");

    if (point.empty() || point.find('/') != std::string::npos)
      throw InputError("--point: expected a point name such as final or final_rank_4, got '" + point + "'");
    if (!out_file.empty()) refuse_to_replace_run_outputs(out_file, {}, "--out");
    report::SweepRuns runs = report::load_sweep(sweep_dir, group_by, point);
    std::vector<std::string> columns;
    if (app.count("--metrics")) {
      columns = report::parse_metric_list(metrics, runs.extra_metrics);
    } else {
      columns = report::parse_metric_list(metrics);
      columns.insert(columns.end(), runs.extra_metrics.begin(), runs.extra_metrics.end());
    }
    if (point != "final" && !runs.complete.empty() &&
        std::none_of(runs.complete.begin(), runs.complete.end(), [](const report::RunRecord& r) { return r.has_point; }))
      throw InputError("--point: no complete run in " + (fs::path(sweep_dir) / "runs").string() + " has /metrics/" + point +
                       " (variant points are final_<variant>, e.g. final_rank_4)");
    report::Table table = report::build_table(runs, group_by, columns, ci);
    std::string md = report::render_markdown(table), tex = report::render_latex(table),
                csv = report::render_csv(runs, columns);

    fs::path dir(sweep_dir);
    write_text(dir / "table.md", md);
    write_text(dir / "table.tex", tex);
    write_text(dir / "table.csv", csv);
    std::vector<report::Figure> figures = write_report(dir, runs, table, group_by);

    const std::string& chosen = fmt == report::TableFormat::Markdown ? md : fmt == report::TableFormat::Latex ? tex : csv;
    if (out_file.empty()) {
      std::cout << chosen << std::flush;
    } else {
      write_text(out_file, chosen);
    }
    // A damaged file is worth a line of its own (failed runs are listed in report.md only).
    for (const auto& e : runs.excluded)
      if (e.state == "unreadable") std::cerr << "[make_table] " << e.run_id << ": unreadable (" << e.detail << ")\n";
    std::cerr << "[make_table] " << runs.complete.size() << " complete run(s), " << runs.excluded.size()
              << " excluded; wrote " << (dir / "report.md").string() << " and " << figures.size() << " figure(s)\n";
    if (runs.complete.empty())
      throw RunFailure((dir / "runs").string() + ": no complete run to tabulate (" + std::to_string(runs.excluded.size()) +
                       " failed or incomplete, listed in report.md)");
    return kExitOk;
  } catch (...) {
    return report_current_exception("make_table");
  }
}

}  // namespace pbench
