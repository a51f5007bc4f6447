#pragma once
#include <string>
#include <vector>

#include "framework/report/figures.hpp"
#include "framework/report/table.hpp"

namespace pbench::report {

// <sweep>/report.md: the markdown table, links to the table files and every figure.
// No dates or paths outside the sweep, so the same run files give the same bytes.
std::string render_report(const Table& table, const std::vector<Figure>& figures,
                          const std::vector<std::string>& table_files);

}  // namespace pbench::report
