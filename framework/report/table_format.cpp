#include "framework/report/table_format.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "framework/util/errors.hpp"

namespace pbench::report {

TableFormat parse_table_format(const std::string& name) {
  if (name == "md" || name == "markdown") return TableFormat::Markdown;
  if (name == "latex" || name == "tex") return TableFormat::Latex;
  if (name == "csv") return TableFormat::Csv;
  throw InputError("--format: unknown format '" + name + "'; expected md, latex or csv");
}

namespace {

std::string printf_string(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// Parameter counts span 10^2..10^9: engineering suffixes keep columns narrow.
std::string count_text(double v) {
  double a = std::fabs(v);
  if (a >= 1e9) return printf_string("%.2fB", v / 1e9);
  if (a >= 1e6) return printf_string("%.2fM", v / 1e6);
  if (a >= 1e3) return printf_string("%.2fK", v / 1e3);
  return printf_string("%.0f", v);
}

std::string bytes_text(double v) {
  double a = std::fabs(v);
  if (a >= 1024.0 * 1024 * 1024) return printf_string("%.2f GiB", v / (1024.0 * 1024 * 1024));
  if (a >= 1024.0 * 1024) return printf_string("%.2f MiB", v / (1024.0 * 1024));
  if (a >= 1024.0) return printf_string("%.1f KiB", v / 1024.0);
  return printf_string("%.0f B", v);
}

std::string value_text(const std::string& key, double v) {
  if (key == "dino" || key == "clip_i" || key == "clip_t") return printf_string("%.3f", v);
  if (is_derived_key(key)) return printf_string("%+.3f", v);
  if (key == "trainable" || key == "sd15_trainable") return count_text(v);
  if (key == "delta_bytes" || key == "sd15_delta_bytes" || key == "peak_memory") return bytes_text(v);
  const auto& known = metric_keys();
  // A registered metric beyond the schema's three (psnr, ssim, clip_i_source, ...): cosines and
  // SSIM live in [-1, 1], so one decimal would hide every difference.
  if (std::find(known.begin(), known.end(), key) == known.end()) return printf_string("%.3f", v);
  return printf_string("%.1f", v);  // steps and seconds
}

// Spread of a cell: signs would be noise for a deviation, so never "+".
std::string spread_text(const std::string& key, double v) {
  if (is_derived_key(key)) return printf_string("%.3f", v);
  return value_text(key, v);
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '|') ? std::string("\\|") : std::string(1, c);
  return out;
}

std::string excluded_line(const ExcludedRun& e) { return e.run_id + " (" + e.state + "): " + e.detail; }

std::string excluded_summary(const Table& t) {
  size_t failed = 0, incomplete = 0, unreadable = 0, duplicate = 0;
  for (const auto& e : t.excluded)
    (e.state == "failed" ? failed : e.state == "incomplete" ? incomplete : e.state == "duplicate" ? duplicate : unreadable)++;
  std::ostringstream s;
  s << t.excluded.size() << " run(s) excluded from every average: " << failed << " failed, " << incomplete
    << " incomplete";
  if (unreadable) s << ", " << unreadable << " unreadable";
  if (duplicate) s << ", " << duplicate << " duplicate cop" << (duplicate == 1 ? "y" : "ies") << " of a counted run";
  return s.str();
}

const char* kTinyNote = "pipeline check, not comparable to published numbers (builtin:tiny-* backbones)";

std::string latex_title(const std::string& key) {
  std::string t = latex_escape(metric_title(key));
  auto replace = [&t](const std::string& from, const std::string& to) {
    for (size_t p = t.find(from); p != std::string::npos; p = t.find(from, p + to.size())) t.replace(p, from.size(), to);
  };
  replace("Δ", "$\\Delta$");
  replace("→", "$\\to$");
  return t;
}

}  // namespace

std::string format_cell(const std::string& key, const TableCell& cell, bool ci, const std::string& pm) {
  std::string never = cell.never ? " (" + std::to_string(cell.never) + " never)" : "";
  if (cell.empty()) return "—" + never;
  const Summary& s = cell.summary;
  std::string text = value_text(key, s.mean);
  if (s.n >= 2 && s.std > 0) {  // identical values (e.g. parameter counts): the mean says it all
    text += " " + pm + " " + spread_text(key, s.std);
    if (ci) text += " [" + value_text(key, s.mean - s.ci_half_width) + ", " + value_text(key, s.mean + s.ci_half_width) + "]";
  }
  return text + never;
}

std::string render_markdown(const Table& t) {
  std::ostringstream out;
  out << "| " << md_escape(t.group_by) << " | runs |";
  for (const auto& k : t.metrics) out << " " << md_escape(metric_title(k)) << " |";
  out << "\n|---|---:|";
  for (size_t i = 0; i < t.metrics.size(); ++i) out << "---:|";
  out << "\n";
  for (const auto& row : t.rows) {
    std::string label = md_escape(row.label) + (row.tiny ? " †" : "");
    if (row.baseline) label = "*" + label + "*";
    out << "| " << label << " | " << row.runs << " |";
    for (const auto& k : t.metrics) {
      auto it = row.cells.find(k);
      out << " " << (it == row.cells.end() || (row.baseline && it->second.empty()) ? std::string()
                                                                                   : format_cell(k, it->second, t.ci, "±"))
          << " |";
    }
    out << "\n";
  }
  out << "\nMean ± sample std over runs (subjects × seeds)" << (t.ci ? "; [95% CI of the mean, Student t]" : "")
      << ". DVAR stop, CLIP stop: runs where the rule never fired are counted, not averaged; they save 0 steps."
      << " Gain: the run's score minus the frozen model's on the same prompts with the class word for the subject's"
      << " token (same seeds and sampler; the baseline row).\n";
  if (t.point != "final")
    out << "\nDINO, CLIP-I, CLIP-T at the point `" << md_escape(t.point)
        << "` (`--point`; runs without it leave those cells empty); the Δ columns still compare final with dvar_stop.\n";
  if (t.any_tiny()) out << "\n† " << kTinyNote << ".\n";
  if (!t.excluded.empty()) {
    out << "\n" << excluded_summary(t) << ":\n\n";
    for (const auto& e : t.excluded) out << "- `" << e.run_id << "` " << e.state << ": " << md_escape(e.detail) << "\n";
  }
  return out.str();
}

std::string latex_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\\': out += "\\textbackslash{}"; break;
      case '&': case '%': case '$': case '#': case '_': case '{': case '}': out += '\\'; out += c; break;
      case '~': out += "\\textasciitilde{}"; break;
      case '^': out += "\\textasciicircum{}"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_latex(const Table& t) {
  std::ostringstream out;
  out << "% make_table: sweep " << t.sweep << ", grouped by " << t.group_by
      << (t.point != "final" ? ", DINO/CLIP-I/CLIP-T at point " + t.point : std::string()) << "; needs \\usepackage{booktabs}\n";
  out << "\\begin{table}[t]\n\\centering\n\\begin{tabular}{l" << std::string(t.metrics.size() + 1, 'r') << "}\n\\toprule\n";
  out << latex_escape(t.group_by) << " & runs";
  for (const auto& k : t.metrics) out << " & " << latex_title(k);
  out << " \\\\\n\\midrule\n";
  bool baseline_rule = false;
  for (const auto& row : t.rows) {
    if (row.baseline && !baseline_rule) {
      out << "\\midrule\n";
      baseline_rule = true;
    }
    std::string label = latex_escape(row.label) + (row.tiny ? "$^\\dagger$" : "");
    if (row.baseline) label = "\\textit{" + label + "}";
    out << label << " & " << row.runs;
    for (const auto& k : t.metrics) {
      auto it = row.cells.find(k);
      std::string cell = (it == row.cells.end() || (row.baseline && it->second.empty()))
                             ? std::string()
                             : format_cell(k, it->second, t.ci, "$\\pm$");
      // "—" and unit text are plain UTF-8 except the dash, which pdflatex needs as ---.
      for (size_t p = cell.find("—"); p != std::string::npos; p = cell.find("—")) cell.replace(p, std::string("—").size(), "---");
      out << " & " << cell;
    }
    out << " \\\\\n";
  }
  out << "\\bottomrule\n\\end{tabular}\n";
  out << "\\caption{Sweep \\texttt{" << latex_escape(t.sweep) << "}: mean $\\pm$ sample std over runs (subjects $\\times$ seeds)"
      << (t.ci ? ", [95\\% CI, Student $t$]" : "") << "."
      << (t.any_tiny() ? std::string(" $^\\dagger$") + latex_escape(kTinyNote) + "." : std::string()) << "}\n";
  out << "\\end{table}\n";
  if (!t.excluded.empty()) {
    out << "% " << excluded_summary(t) << ":\n";
    for (const auto& e : t.excluded) {
      std::string line = excluded_line(e);
      for (char& c : line)
        if (c == '\n' || c == '\r') c = ' ';
      out << "%   " << line << "\n";
    }
  }
  return out.str();
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string render_csv(const SweepRuns& runs, const std::vector<std::string>& metrics) {
  std::ostringstream out;
  out << "run_id,group,subject,seed,metric,value\n";
  for (const auto& r : runs.complete) {
    for (const auto& k : metrics) {
      auto it = r.values.find(k);
      std::string value;
      if (it != r.values.end()) value = printf_string("%.17g", it->second);  // round-trips exactly
      out << csv_field(r.run_id) << ',' << csv_field(r.group) << ',' << csv_field(r.subject) << ','
          << csv_field(r.seed) << ',' << k << ',' << value << "\n";
    }
  }
  return out.str();
}

}  // namespace pbench::report
