#include "framework/run/pbench_app.hpp"

#include <cstring>
#include <iostream>

#include "datasets/mini_world_command.hpp"
#include "framework/models/parity/parity.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/version.hpp"

namespace pbench {

std::vector<PbenchCommand> pbench_commands() {
  return {
      {"run", "execute exactly one resolved run: pbench run <run.yaml> [overrides...]", run_command},
      {"parity", "compare a component with reference vectors: pbench parity <component> <folder> [--json]",
       parity::parity_command},
      {"params", "exact parameter counts from a config: pbench params <config.json or model folder> [--json]",
       params_command},
      {"methods", "the registered methods, or one method's options: pbench methods [<name>] [--yaml]", methods_command},
      {"options", "the engine's config keys (train, dvar, eval, ...) with defaults and help: pbench options [<workload>]",
       options_command},
      {"invert", "invert an image into the model and reconstruct it: pbench invert <image> [--method ddim|null_text|edict]",
       invert_command},
      {"edit", "edit an image with Prompt-to-Prompt: pbench edit <image> --source \"a red cube\" --target \"a blue cube\"",
       edit_command},
      {"export", "write a model in diffusers / Hugging Face layout: pbench export <model> <folder>", export_command},
      {"export-delta", "a run's delta for diffusers / PEFT / kohya (A1111, ComfyUI): pbench export-delta <run.h5> <out> --format F",
       export_delta_command},
      {"import-delta", "another tool's LoRA or embedding as a pbench delta: pbench import-delta <in> <out> --method M --format F",
       import_delta_command},
      {"merge-delta", "several concepts' deltas of one method as one: pbench merge-delta <out> <run.h5|delta>... [--weights]",
       merge_delta_command},
      {"merge", "a method baked into its base model, as a diffusers pipeline folder: pbench merge <pipeline> <run.h5|delta> <out>",
       merge_command},
      {"mini-world", "write the mini world's subjects and captioned scenes: pbench mini-world <out_dir> [--resolution N]",
       mini_world_command},
      {"pretrain", "train one mini-world model from scratch, resumably: pbench pretrain <component> [recipe] [--minutes M]",
       pretrain_command},
  };
}

namespace {
void print_help(const std::vector<PbenchCommand>& commands) {
  std::cout << "pbench: personalization bench for text-to-image diffusion models\n\n"
               "usage: pbench <command> [args...]   (pbench <command> --help for details)\n\ncommands:\n";
  for (const auto& c : commands) std::cout << "  " << c.name << std::string(10 - std::min<size_t>(9, c.name.size()), ' ') << c.summary << "\n";
  std::cout << "\noptions:\n  --help     this text\n  --version  version and git commit\n"
               "\nexit status: 0 success, 1 a check or run failed, 2 usage or input error\n";
}
}  // namespace

int pbench_main(int argc, char** argv) {
  auto commands = pbench_commands();
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_help(commands);
    return argc < 2 ? kExitInput : kExitOk;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::cout << version_line("pbench") << "\n";
    return kExitOk;
  }
  for (const auto& c : commands) {
    if (c.name == argv[1]) {
      std::string name = std::string("pbench ") + argv[1];
      std::vector<char*> sub(argv + 1, argv + argc);
      sub[0] = name.data();
      return c.main(int(sub.size()), sub.data());
    }
  }
  std::string names;
  for (const auto& c : commands) names += (names.empty() ? "" : ", ") + c.name;
  std::cerr << "pbench: error: unknown command '" << argv[1] << "'; commands: " << names << " (pbench --help)\n";
  return kExitInput;
}

}  // namespace pbench
