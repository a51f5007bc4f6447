#pragma once
// The DreamBooth dataset (Ruiz et al., arXiv 2208.12242; google/dreambooth,
// CC BY 4.0) in its published layout, at any path:
//   <root>/dataset/<subject>/*.jpg   and   <root>/dataset/prompts_and_classes.txt
// (`root` may also be the `dataset/` folder itself).
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace pbench {

struct DreamBoothIndex {
  std::filesystem::path dataset_dir;  // the folder holding prompts_and_classes.txt
  std::vector<std::pair<std::string, std::string>> classes;  // subject -> class noun, file order
  std::vector<std::string> object_prompts, live_prompts;     // templates with {0} token and {1} class
};

// Parses prompts_and_classes.txt; InputError naming the file on a malformed one.
DreamBoothIndex read_dreambooth_index(const std::filesystem::path& root);

// Where the dataset is: `dataset.root` when set, else $PBENCH_DREAMBOOTH, else
// the usual places (./dreambooth, ./data/dreambooth, ../shared/dreambooth,
// ~/datasets/dreambooth); InputError saying how to get it otherwise.
std::filesystem::path locate_dreambooth(const cfg::Node& section);

// Live subjects (dogs and cats) get the live-subject prompt list.
bool is_live_class(const std::string& class_noun);

void register_dreambooth_dataset(Registry<DatasetEntry>& registry);

}  // namespace pbench
