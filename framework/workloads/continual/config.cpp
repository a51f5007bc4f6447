#include "framework/workloads/continual/config.hpp"

#include <algorithm>

#include "framework/config/access.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/section_checks.hpp"

namespace pbench::continual {

ContinualOptions read_options(const cfg::Node& resolved) { return cfg::read_declared_options<ContinualOptions>(resolved); }

const cfg::Node& continual_defaults() {
  static const cfg::Node defaults = workload_defaults<ContinualOptions>("continual");
  return defaults;
}

void check_config(const cfg::Node& resolved) {
  const ContinualOptions options = read_options(resolved);
  check_dtype_on_device(options.device, options.dtype, resolved);
  check_metric_inputs(resolved, "eval.metrics", options.eval.metrics, {"generated", "prompts", "real"}, "continual");
  models::check_pipeline_spec(options.model.spec());
  const std::vector<std::string>& subjects = options.continual.subjects;
  if (subjects.size() < 2)
    throw InputError(where_is(resolved, "continual.subjects") +
                     ": a sequence needs at least two subjects, e.g. continual.subjects='[red_white_striped_cube, "
                     "red_yellow_dotted_ball]'");
  for (size_t i = 0; i < subjects.size(); ++i) {
    if (std::find(subjects.begin(), subjects.begin() + i, subjects[i]) != subjects.begin() + i)
      throw InputError(where_is(resolved, "continual.subjects") + ": '" + subjects[i] +
                       "' appears twice; each task learns a new subject");
    cfg::Node one = resolved;  // each subject checked as a personalize run's dataset.subject
    cfg::Node* dataset = one.find("dataset");
    if (!dataset || !dataset->is_map())
      throw InputError(where_is(resolved, "continual.subjects") + ": the continual workload needs a dataset section");
    dataset->set("subject", cfg::Node::string(subjects[i], resolved.find("continual")->find("subjects")->origin()));
    check_dataset_section(one);
  }
  if (!resolved.find("method"))
    throw InputError("the continual workload trains a method: add a method section (e.g. method: mini/c_lora)");
}

}  // namespace pbench::continual
