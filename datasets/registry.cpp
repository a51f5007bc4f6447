#include <algorithm>

#include "datasets/builtin_subjects.hpp"
#include "datasets/dataset.hpp"
#include "datasets/dreambooth.hpp"
#include "datasets/mini_world_dataset.hpp"
#include "framework/config/access.hpp"

namespace pbench {

Registry<DatasetEntry>& datasets() {
  static Registry<DatasetEntry>* registry = [] {
    auto* r = new Registry<DatasetEntry>("dataset");
    register_builtin_dataset(*r);
    register_dreambooth_dataset(*r);
    register_mini_world_dataset(*r);
    return r;
  }();
  return *registry;
}

int metric_image_side(const std::vector<int>& square_sides) {
  int side = square_sides.empty() ? 512 : *std::min_element(square_sides.begin(), square_sides.end());
  return std::min(side, 512);
}

void fill_subject_prompts(SubjectData& data, const std::vector<std::string>& templates, int64_t num_eval_prompts) {
  data.instance_prompt = "a " + data.unique_token + " " + data.class_noun;
  data.class_prompt = "a " + data.class_noun;
  const int64_t n = std::min<int64_t>(num_eval_prompts, int64_t(templates.size()));
  for (int64_t i = 0; i < n; ++i)
    data.eval_prompts.push_back(fill_prompt_template(templates[size_t(i)], data.unique_token, data.class_noun));
}

std::string fill_prompt_template(const std::string& templ, const std::string& unique_token, const std::string& class_noun) {
  std::string out;
  for (size_t i = 0; i < templ.size(); ++i) {
    if (templ.compare(i, 3, "{0}") == 0) {
      out += unique_token;
      i += 2;
    } else if (templ.compare(i, 3, "{1}") == 0) {
      out += class_noun;
      i += 2;
    } else {
      out += templ[i];
    }
  }
  return out;
}

std::vector<std::string> expand_all_subjects(const cfg::Node& resolved) {
  const cfg::Node* section = resolved.find("dataset");
  if (!section || !section->is_map()) return {};
  if (cfg::get_string(*section, "subject", "") != "all") return {};
  const auto& entry = datasets().get(cfg::get_string(*section, "name"), section->origin().describe() + ": dataset.name");
  std::vector<std::string> overrides;
  for (const auto& name : entry.factory.subjects(*section)) overrides.push_back("dataset.subject=" + name);
  return overrides;
}

}  // namespace pbench
