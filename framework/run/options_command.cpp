// `pbench options [<workload>]`: the config keys a workload reads besides the
// method and dataset sections (for `personalize`: model, train, dvar, eval,
// clip_stop, device, dtype), each with its default, type, allowed values and one
// line of help, as the workload's typed options declare them
// (framework/workloads/personalize/config.hpp). What `pbench methods <name>` is
// for a method's section.
#include <iostream>
#include <string>

#include "framework/config/options.hpp"
#include "framework/config/yaml_io.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/run/workload.hpp"
#include "framework/util/cli.hpp"
#include "framework/util/errors.hpp"

namespace pbench {

int options_command(int argc, char** argv) {
  CLI::App app{"The config keys of a workload (default: personalize, the engine) with their defaults, types, allowed "
               "values and help; set one with key=value on the command line or in an experiment file.",
               argv[0]};
  std::string name = kDefaultWorkload;
  app.add_option("workload", name, "a registered workload (default: personalize)");
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    const auto& entry = workloads().get(name, "pbench options");
    if (entry.factory.options.empty()) {
      std::cout << "workload '" << name << "' declares no typed options; its defaults:\n"
                << cfg::to_yaml(entry.info.defaults);
      return kExitOk;
    }
    std::cout << "workload " << name << ": " << entry.info.help
              << "\n\noptions (key=value overrides; method.* and dataset.*: pbench methods <name>, run_sweep --list):\n"
              << cfg::format_option_docs(entry.factory.options);
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench options");
  }
}

}  // namespace pbench
