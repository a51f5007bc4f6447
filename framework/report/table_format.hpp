#pragma once
// Text renderings of a Table: a GitHub markdown table, a booktabs LaTeX table
// and tidy CSV (one row per run per metric, for pandas).
#include <string>

#include "framework/report/table.hpp"

namespace pbench::report {

enum class TableFormat { Markdown, Latex, Csv };
TableFormat parse_table_format(const std::string& name);  // md | latex | csv; InputError otherwise

// A cell as text: "0.712 ± 0.010", "[0.70, 0.72]" appended with ci, "—" when empty.
// `pm` is the plus-minus sign of the target format.
std::string format_cell(const std::string& key, const TableCell& cell, bool ci, const std::string& pm);

std::string render_markdown(const Table& table);
std::string render_latex(const Table& table);
// Tidy rows over the complete runs only (failed and incomplete ones have no values to average).
std::string render_csv(const SweepRuns& runs, const std::vector<std::string>& metrics);

std::string latex_escape(const std::string& text);
std::string csv_field(const std::string& text);

}  // namespace pbench::report
