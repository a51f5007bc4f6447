#pragma once
// The `pbench` program: one binary, subcommands from an explicit table
// (INTERFACES.md: parity, params, export, run). Each subcommand parses its
// own arguments and returns the exit status of the contract.
#include <functional>
#include <string>
#include <vector>

namespace pbench {

struct PbenchCommand {
  std::string name;
  std::string summary;  // one line for `pbench --help`
  std::function<int(int argc, char** argv)> main;  // argv[0] is "pbench <name>"
};

// The table of subcommands in this build.
std::vector<PbenchCommand> pbench_commands();

int pbench_main(int argc, char** argv);

// `pbench run <run.yaml> [overrides...]`.
int run_command(int argc, char** argv);

// `pbench params <config.json or model folder> [--json]` (params_command.cpp).
int params_command(int argc, char** argv);

// `pbench methods [<name>] [--yaml]` (methods_command.cpp).
int methods_command(int argc, char** argv);
// `pbench options [<workload>]` (options_command.cpp).
int options_command(int argc, char** argv);

// `pbench pretrain <component>` (framework/workloads/pretrain/pretrain_command.cpp).
int pretrain_command(int argc, char** argv);
// `pbench invert <image>` (framework/workloads/invert/invert_command.cpp).
int invert_command(int argc, char** argv);
// `pbench edit <image>` (framework/workloads/edit/edit_command.cpp).
int edit_command(int argc, char** argv);
// `pbench export <model> <folder>` (export_command.cpp).
int export_command(int argc, char** argv);

// `pbench export-delta` / `pbench import-delta` (delta_command.cpp).
int export_delta_command(int argc, char** argv);
int import_delta_command(int argc, char** argv);
// `pbench merge-delta` (framework/workloads/compose/merge_delta_command.cpp: it reads runs as the
// compose workload does, so it lives with it, above this layer).
int merge_delta_command(int argc, char** argv);
// `pbench merge` (framework/workloads/merge/merge_command.cpp: it loads a run's subject as the
// workloads do).
int merge_command(int argc, char** argv);

}  // namespace pbench
