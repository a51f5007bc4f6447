#include "framework/workloads/personalize/budget.hpp"

#include "framework/config/access.hpp"
#include "framework/train/method.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/personalize/config.hpp"

namespace pbench::personalize {
namespace {

constexpr const char* kMethodBudget = "method";

cfg::Node budget_value(const std::string& path, const MethodBudget& b) {
  if (path == "train.steps") return cfg::Node::integer(b.steps);
  if (path == "train.batch_size") return cfg::Node::integer(b.batch_size);
  if (path == "dvar.window" && b.dvar_window) return cfg::Node::integer(*b.dvar_window);
  if (path == "dvar.threshold" && b.dvar_threshold) return cfg::Node::real(*b.dvar_threshold);
  return *cfg::lookup(engine_defaults(), path);  // DVAR tuned nothing for this method
}

}  // namespace

cfg::Node with_method_budget(const cfg::Node& resolved) {
  cfg::Node out = resolved;
  for (const char* path : {"train.steps", "train.batch_size", "dvar.window", "dvar.threshold"}) {
    cfg::Node* value = cfg::lookup(out, path);
    if (!value || !value->is_string() || value->as_string() != kMethodBudget) continue;
    const cfg::Node* name = cfg::lookup(out, "method.name");
    if (!name || !name->is_string())
      throw InputError(value->origin().describe() + ": " + path + ": 'method' takes the method's own budget, but the " +
                       "config names no method (method.name)");
    const auto& entry = methods().get(name->as_string(), name->origin().describe() + ": method.name");
    cfg::Node replaced = budget_value(path, entry.factory.budget);
    replaced.set_origin_recursive(value->origin());  // errors still point at the line that said `method`
    *value = replaced;
  }
  return out;
}

}  // namespace pbench::personalize
