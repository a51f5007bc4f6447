#pragma once
// Hydra-like composition of an experiment file:
//   defaults:            # composed in order; the file's own keys go where
//     - model: tiny      # _self_ stands (at the end when absent)
//     - method: lora     # -> experiments/method/lora.yaml under `method:`
//     - override dataset: dreambooth   # replace a choice made deeper down
//     - _self_
// Config groups are the sub-folders of the experiment file's folder. Group
// choices on the command line (`method=svdiff`, `+eval=x`, `~eval`) change the
// defaults list; value overrides (`train.lr=1e-4`) apply to the merged tree.
// Interpolations stay unresolved here (see resolve.hpp).
#include <filesystem>
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

// Config groups available next to `primary` (folder names).
std::vector<std::string> config_groups(const std::filesystem::path& primary);
// Options of one group (file stems, sorted).
std::vector<std::string> group_options(const std::filesystem::path& primary, const std::string& group);
// True when `key` names a config group of `primary`.
bool is_group_key(const std::filesystem::path& primary, const std::string& key);

ComposeResult compose(const std::filesystem::path& primary, const std::vector<Override>& overrides);

// Path as shown in messages: relative to the working directory when shorter.
std::string display_path(const std::filesystem::path& p);

}  // namespace pbench::cfg
