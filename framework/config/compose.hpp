#pragma once
// Hydra-like composition of an experiment file:
//   defaults:            # composed in order; the file's own keys go where
//     - model: tiny      # _self_ stands (at the end when absent)
//     - method: lora     # -> method/lora.yaml next to the file, else the registered method, under `method:`
//     - override dataset: dreambooth   # replace a choice made deeper down
//     - _self_
// Config groups are the sub-folders of the experiment file's folder. Group
// choices on the command line (`method=svdiff`, `+eval=x`, `~eval`) change the
// defaults list; value overrides (`train.lr=1e-4`) apply to the merged tree.
// Interpolations stay unresolved here (see resolve.hpp).
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "framework/config/node.hpp"
#include "framework/config/overrides.hpp"

namespace pbench::cfg {

struct ComposeResult {
  Node config;  // merged tree without `defaults` and `sweep`
  Node sweep;   // the experiment's `sweep:` block (null when absent)
  std::vector<std::pair<std::string, std::string>> choices;  // group -> option, in order
  std::string primary_display;  // the experiment file as messages name it
};

// Built-in options of config groups, so that a group needs no file per entry:
// `method=lora` composes the registered method's defaults (its options struct,
// the one place they live) when the experiment's folder has no method/lora.yaml.
// A file of that name wins: it is a preset of the user's (experiments/method/mini/).
// The executables install the registries' options (install_builtin_group_options,
// framework/run/catalog.hpp); without a provider a group is its folder alone.
struct BuiltinGroupOptions {
  std::vector<std::string> groups;  // the groups it serves ("method")
  // The option names of `group`, sorted; empty when it is no built-in group.
  std::function<std::vector<std::string>(const std::string& group)> options;
  // The config of one of them (what its file would hold, without the package).
  std::function<Node(const std::string& group, const std::string& option)> config;
};
void set_builtin_group_options(BuiltinGroupOptions provider);

// Config groups available next to `primary` (folder names, and the built-in groups).
std::vector<std::string> config_groups(const std::filesystem::path& primary);
// Options of one group (file stems and built-in options, sorted).
std::vector<std::string> group_options(const std::filesystem::path& primary, const std::string& group);
// True when `key` names a config group of `primary`.
bool is_group_key(const std::filesystem::path& primary, const std::string& key);

ComposeResult compose(const std::filesystem::path& primary, const std::vector<Override>& overrides);

// Path as shown in messages: relative to the working directory when shorter.
std::string display_path(const std::filesystem::path& p);

}  // namespace pbench::cfg
