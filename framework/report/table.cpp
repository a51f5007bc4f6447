#include "framework/report/table.hpp"

#include <algorithm>
#include <set>

#include "framework/util/errors.hpp"

namespace pbench::report {

bool Table::any_tiny() const {
  return std::any_of(rows.begin(), rows.end(), [](const TableRow& r) { return r.tiny; });
}

std::vector<std::string> parse_metric_list(const std::string& list, const std::vector<std::string>& extra) {
  std::vector<std::string> known = metric_keys();
  for (const auto& e : extra) {
    known.push_back(e);
    for (const auto& prefix : derived_prefixes()) known.push_back(prefix + e);
  }
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string key = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!key.empty()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string names;
        for (const auto& k : known) names += (names.empty() ? "" : ",") + k;
        throw InputError("--metrics: unknown metric '" + key + "'; expected a comma-separated list of " + names);
      }
      if (std::find(out.begin(), out.end(), key) == out.end()) out.push_back(key);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) throw InputError("--metrics: empty list; expected e.g. dino,clip_i,clip_t");
  return out;
}

std::vector<std::pair<std::string, std::vector<const RunRecord*>>> runs_by_group(const SweepRuns& runs) {
  std::map<std::string, std::vector<const RunRecord*>> groups;  // std::map: labels sorted
  for (const auto& r : runs.complete) groups[r.group].push_back(&r);
  return {groups.begin(), groups.end()};
}

Table build_table(const SweepRuns& runs, const std::string& group_by, const std::vector<std::string>& metrics, bool ci) {
  Table t;
  t.sweep = runs.sweep;
  t.group_by = group_by;
  t.point = runs.point;
  t.metrics = metrics;
  t.ci = ci;
  t.excluded = runs.excluded;
  t.complete_runs = runs.complete.size();
  for (const auto& [label, members] : runs_by_group(runs)) {
    TableRow row;
    row.label = label;
    row.runs = members.size();
    for (const auto& key : metrics) {
      std::vector<double> values;
      TableCell cell;
      for (const RunRecord* r : members) {
        auto it = r->values.find(key);
        if (it != r->values.end()) values.push_back(it->second);
        if (key == "dvar_stop" && r->dvar_never_fired()) ++cell.never;
        if (key == "clip_stop" && r->clip_never_fired()) ++cell.never;
      }
      cell.summary = summarize(values);
      row.cells[key] = cell;
    }
    row.tiny = std::any_of(members.begin(), members.end(), [](const RunRecord* r) { return r->tiny_backbone; });
    t.rows.push_back(std::move(row));
  }

  // The frozen model on the class-word prompts: it belongs to (subject, seed), the same in
  // every method's run of them, so each pair counts once.
  std::map<std::pair<std::string, std::string>, const RunRecord*> by_subject_seed;
  for (const auto& r : runs.complete)
    if (!r.baseline.empty() && !by_subject_seed.count({r.subject, r.seed})) by_subject_seed[{r.subject, r.seed}] = &r;
  if (!by_subject_seed.empty()) {
    TableRow row;
    row.label = "frozen model, class word (baseline)";
    row.baseline = true;
    row.runs = by_subject_seed.size();
    for (const auto& key : metrics) {
      std::vector<double> values;
      for (const auto& [pair, r] : by_subject_seed)
        if (auto it = r->baseline.find(key); it != r->baseline.end()) values.push_back(it->second);
      TableCell cell;
      cell.summary = summarize(values);
      row.cells[key] = cell;
    }
    for (const auto& [pair, r] : by_subject_seed) row.tiny = row.tiny || r->tiny_backbone;
    t.rows.push_back(std::move(row));
  }

  // Real vs real: the baseline belongs to the subject, so each subject counts once.
  std::map<std::string, const RunRecord*> by_subject;
  for (const auto& r : runs.complete)
    if ((r.clip_i_real || r.dino_real) && !by_subject.count(r.subject)) by_subject[r.subject] = &r;
  if (!by_subject.empty()) {
    TableRow row;
    row.label = "real images (real vs real)";
    row.baseline = true;
    row.runs = by_subject.size();
    std::vector<double> clip_i, dino;
    for (const auto& [subject, r] : by_subject) {
      if (r->clip_i_real) clip_i.push_back(*r->clip_i_real);
      if (r->dino_real) dino.push_back(*r->dino_real);
      row.tiny = row.tiny || r->tiny_backbone;
    }
    for (const auto& key : metrics) {
      TableCell cell;
      if (key == "clip_i") cell.summary = summarize(clip_i);
      if (key == "dino") cell.summary = summarize(dino);
      row.cells[key] = cell;
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace pbench::report
