#include "datasets/dreambooth.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <regex>

#include "framework/config/access.hpp"
#include "framework/io/image.hpp"
#include "framework/io/image_cache.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench {
namespace {

constexpr const char* kIndexFile = "prompts_and_classes.txt";

fs::path dataset_dir_of(const fs::path& root) {
  if (fs::is_regular_file(root / kIndexFile)) return root;
  if (fs::is_regular_file(root / "dataset" / kIndexFile)) return root / "dataset";
  return {};
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

bool is_live_class(const std::string& class_noun) { return class_noun == "dog" || class_noun == "cat"; }

DreamBoothIndex read_dreambooth_index(const fs::path& root) {
  DreamBoothIndex index;
  index.dataset_dir = dataset_dir_of(root);
  if (index.dataset_dir.empty())
    throw InputError(root.string() + ": not a DreamBooth dataset folder (no " + kIndexFile + " in it or in its dataset/)");
  fs::path file = index.dataset_dir / kIndexFile;
  std::ifstream in(file);
  if (!in) throw InputError(file.string() + ": cannot read");
  static const std::regex prompt_re(R"(^'(.*)'\.format\(unique_token, class_token\),?$)");
  enum class Section { None, Classes, Objects, Live } section = Section::None;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string t = trim(line);
    if (t.empty() || t == "prompt_list = [" || t == "]" || t == "Prompts") continue;
    if (t == "Classes") { section = Section::Classes; continue; }
    if (t == "Object Prompts") { section = Section::Objects; continue; }
    if (t == "Live Subject Prompts") { section = Section::Live; continue; }
    if (t == "subject_name,class") continue;
    std::smatch m;
    switch (section) {
      case Section::Classes: {
        size_t comma = t.find(',');
        if (comma == std::string::npos)
          throw InputError(file.string() + ":" + std::to_string(line_no) + ": expected 'subject,class', got '" + t + "'");
        index.classes.emplace_back(t.substr(0, comma), t.substr(comma + 1));
        break;
      }
      case Section::Objects:
      case Section::Live:
        if (!std::regex_match(t, m, prompt_re))
          throw InputError(file.string() + ":" + std::to_string(line_no) +
                           ": expected a prompt line 'a {0} {1} ...'.format(unique_token, class_token), got '" + t + "'");
        (section == Section::Objects ? index.object_prompts : index.live_prompts).push_back(m[1].str());
        break;
      case Section::None:
        throw InputError(file.string() + ":" + std::to_string(line_no) + ": unexpected line before the Classes section");
    }
  }
  if (index.classes.empty() || index.object_prompts.empty() || index.live_prompts.empty())
    throw InputError(file.string() + ": expected a Classes table and both prompt lists");
  return index;
}

fs::path locate_dreambooth(const cfg::Node& section) {
  std::string root = cfg::get_string(section, "root", "");
  if (!root.empty()) {
    if (dataset_dir_of(root).empty())
      throw InputError(section.find("root")->origin().describe() + ": dataset.root: '" + root +
                       "' does not hold the DreamBooth dataset (expected " + kIndexFile + " in it or in its dataset/)");
    return root;
  }
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("PBENCH_DREAMBOOTH")) {
    if (dataset_dir_of(env).empty())
      throw InputError(std::string("PBENCH_DREAMBOOTH=") + env + ": does not hold the DreamBooth dataset (expected " +
                       kIndexFile + " in it or in its dataset/)");
    return env;
  }
  candidates = {"dreambooth", "data/dreambooth", "../shared/dreambooth", "../dreambooth"};
  if (const char* home = std::getenv("HOME")) candidates.push_back(fs::path(home) / "datasets" / "dreambooth");
  std::string looked;
  for (const auto& c : candidates) {
    if (!dataset_dir_of(c).empty()) return fs::absolute(c);
    looked += (looked.empty() ? "" : ", ") + c.string();
  }
  throw InputError("dataset.root is not set and no DreamBooth dataset was found (looked in " + looked +
                   "); get it with `git clone https://github.com/google/dreambooth` (CC BY 4.0) and pass "
                   "dataset.root=PATH or set PBENCH_DREAMBOOTH=PATH");
}

namespace {

std::vector<fs::path> subject_images(const fs::path& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw InputError(folder.string() + ": subject folder not found");
  std::vector<fs::path> files = image_files_in(folder);  // sorted: DVAR's eval batch takes the first images
  if (files.empty()) throw InputError(folder.string() + ": no images (expected *.jpg, *.jpeg or *.png)");
  return files;
}

SubjectData load_subject(const cfg::Node& section, int resolution, const fs::path& cache_dir) {
  DreamBoothIndex index = read_dreambooth_index(locate_dreambooth(section));
  std::string subject = cfg::get_string(section, "subject");
  auto it = std::find_if(index.classes.begin(), index.classes.end(), [&](const auto& c) { return c.first == subject; });
  if (it == index.classes.end()) {
    std::string names;
    for (const auto& c : index.classes) names += (names.empty() ? "" : ", ") + c.first;
    const cfg::Node* at = section.find("subject");
    throw InputError((at ? at->origin().describe() + ": " : std::string()) + "dataset.subject: unknown DreamBooth subject '" +
                     subject + "'; subjects: " + names + ", or all");
  }
  SubjectData data;
  data.dataset = "dreambooth";
  data.subject = subject;
  data.class_noun = it->second;
  data.unique_token = cfg::get_string(section, "unique_token");
  data.live = is_live_class(data.class_noun);
  const std::vector<fs::path> files = subject_images(index.dataset_dir / subject);
  std::vector<int> sides;  // the originals' center squares, from the headers: the metric side
  for (const auto& file : files) sides.push_back(square_side_of(file));
  const int side = metric_image_side(sides);
  for (const auto& file : files) {
    data.images.push_back(load_square_image(file, resolution, cache_dir));
    data.metric_images.push_back(load_square_image(file, side, cache_dir));  // cached alike
    data.image_files.push_back(file.string());
  }
  fill_subject_prompts(data, data.live ? index.live_prompts : index.object_prompts,
                       cfg::get_int(section, "num_eval_prompts"));
  return data;
}

}  // namespace

void register_dreambooth_dataset(Registry<DatasetEntry>& registry) {
  registry.add(
      EntryInfo{"dreambooth", "DreamBooth dataset (30 subjects, 25 prompts each) from dataset.root or $PBENCH_DREAMBOOTH",
                yaml_defaults("name: dreambooth\nroot: null\nsubject: dog\nunique_token: sks\nnum_eval_prompts: 25\n")},
      DatasetEntry{load_subject, [](const cfg::Node& section) {
                     std::vector<std::string> names;
                     for (const auto& c : read_dreambooth_index(locate_dreambooth(section)).classes)
                       names.push_back(c.first);
                     return names;
                   }});
}

}  // namespace pbench
