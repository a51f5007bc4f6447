// `pbench parity <component> <folder> [--json]`: run a component on a
// reference-vector folder and gate every expected output
// (framework/models/parity/parity.hpp has the rules). Exit 0 pass, 1 fail,
// 2 unknown component or bad folder.
#include <iostream>

#include "framework/util/cli.hpp"
#include "framework/models/parity/parity.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/util/errors.hpp"

namespace pbench::parity {

int parity_command(int argc, char** argv) {
  std::string names;
  for (const auto& c : parity_components()) names += (names.empty() ? "" : ", ") + c.name;
  CLI::App app{"Run a component on a parity folder (config + weights + cases.safetensors + tolerance.json) and "
               "compare every expected output. Components: " + names, argv[0]};
  std::string component_name, folder;
  bool as_json = false;
  app.add_option("component", component_name, "component: " + names)->required();
  app.add_option("folder", folder, "parity folder, e.g. ../shared/refvectors/schedulers")->required();
  app.add_flag("--json", as_json, "print one JSON document instead of the table");
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;

  const Component* component = find_component(component_name);
  if (!component) {
    std::cerr << argv[0] << ": error: unknown component '" << component_name << "'; expected one of: " << names << "\n";
    return kExitInput;
  }
  try {
    Report report = run(*component, folder);
    std::cout << (as_json ? report_json(report) + "\n" : report_table(report));
    return report.pass ? kExitOk : kExitFailed;
  } catch (...) {
    return report_current_exception(argv[0]);
  }
}

}  // namespace pbench::parity
