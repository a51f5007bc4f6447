// `pbench params <config.json or model folder> [--json]`: exact parameter
// counts of the architecture a config describes, without its weights.
#include <CLI/CLI.hpp>
#include <iostream>

#include "framework/models/param_count.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/util/errors.hpp"

namespace pbench {

int params_command(int argc, char** argv) {
  CLI::App app{"Exact parameter counts of a model from its config alone (per component and top-level module).",
               argv[0]};
  std::string path;
  bool json = false;
  app.add_option("config", path, "a Hugging Face config.json or a model folder holding one")->required();
  app.add_flag("--json", json, "print one JSON document instead of the table");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitInput;
  }
  try {
    models::ParamCount count = models::count_params_from_config(path);
    std::cout << (json ? models::param_count_json(count) + "\n" : models::param_count_table(count));
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench params");
  }
}

}  // namespace pbench
