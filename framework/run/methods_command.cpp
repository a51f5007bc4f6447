// `pbench methods [<name>] [--yaml]` (also `pbench methods <name> --help`): the registered methods, or one method's
// typed options (key, default, type and allowed values, one line of help) as its
// options struct declares them (framework/train/method_options.hpp). `--yaml`
// prints the defaults as a method section (what `method=<name>` composes): a preset
// file to start from.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "framework/config/yaml_io.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/train/method.hpp"
#include "framework/util/cli.hpp"
#include "framework/util/errors.hpp"

namespace pbench {

int methods_command(int argc, char** argv) {
  CLI::App app{"The registered methods, or one method's options with their defaults, types, allowed values and help.",
               argv[0]};
  std::string name;
  bool yaml = false;
  app.add_option("method", name, "a registered method (omit for the list)");
  app.add_flag("--yaml", yaml, "print the method's defaults as a config section");
  // `pbench methods <name> --help` is the method's help (its options), not this command's.
  std::vector<char*> args(argv, argv + argc);
  if (argc >= 3 && argv[1][0] != '-')
    args.erase(std::remove_if(args.begin() + 2, args.end(),
                              [](const char* a) { return std::string(a) == "--help" || std::string(a) == "-h"; }),
               args.end());
  if (auto rc = parse_command_line(app, int(args.size()), args.data())) return *rc;
  try {
    if (name.empty()) {
      for (const auto& info : methods().infos())
        std::cout << info.name << std::string(22 - std::min<size_t>(21, info.name.size()), ' ') << info.help << "\n";
      std::cout << "\n(pbench methods <name> for a method's options)\n";
      return kExitOk;
    }
    const auto& entry = methods().get(name, "pbench methods");
    if (yaml) {
      std::cout << cfg::to_yaml(entry.info.defaults);
      return kExitOk;
    }
    std::cout << entry.info.name << ": " << entry.info.help << "\n\noptions (method.<key>; the defaults are the paper's):\n"
              << cfg::format_option_docs(entry.factory.options);
    const MethodBudget& b = entry.factory.budget;
    std::cout << "\nbudget (train.steps / train.batch_size / dvar.window / dvar.threshold: method):\n  " << b.steps
              << " steps, batch " << b.batch_size << ", DVAR "
              << (b.dvar_window ? "window " + std::to_string(*b.dvar_window) : std::string("window: the engine's")) << ", "
              << (b.dvar_threshold ? "threshold " + cfg::Node::real(*b.dvar_threshold).scalar_text()
                                   : std::string("threshold: the engine's"))
              << "\n  (" << b.source << ")\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench methods");
  }
}

}  // namespace pbench
