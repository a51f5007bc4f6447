#pragma once
// What a dataset gives one run: the subject's images at the model's resolution
// and the prompts to train and evaluate with. Registered in `datasets()`
// (datasets/registry.cpp); selected by the config section `dataset.name`.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "framework/config/node.hpp"
#include "framework/io/image.hpp"
#include "framework/registry/registry.hpp"

namespace pbench {

struct SubjectData {
  std::string dataset, subject, class_noun, unique_token;
  bool live = false;                     // DreamBooth's live subjects (dogs, cats) use their own prompt list
  std::vector<Image> images;             // square, resolution x resolution (what training sees)
  std::vector<std::string> image_files;  // where each image came from (for messages and provenance)
  std::string instance_prompt;           // "a sks dog"
  std::string class_prompt;              // "a dog" (prior preservation)
  std::vector<std::string> eval_prompts; // the evaluation prompts, unique token and class filled in
  // The real images the metrics compare with: the originals' center squares at one common side
  // (metric_image_side below), never the training copies downsized to the model resolution.
  // Empty = `images` (built-in subjects, rendered at the model resolution).
  std::vector<Image> metric_images{};
  // Per training image, the fraction of each pixel that shows the subject (resolution x resolution
  // values in [0, 1], row-major): a soft object mask, for a method whose loss is weighted by one
  // (Perfusion, arXiv 2305.01644, used CLIPSeg's). Empty = the dataset has none (DreamBooth); the
  // mini world's renderer knows them exactly.
  std::vector<std::vector<float>> object_coverage{};
};

// Side of SubjectData::metric_images: the smallest original center square of the subject, at most
// 512 — above CLIP's 224 and DINO's 256-pixel resize, so the metrics' own preprocessing does the
// last shrink as the reference evaluators do on the originals, and a run file's /samples/real stays
// small. Smaller originals keep their size (never upsampled here).
int metric_image_side(const std::vector<int>& square_sides);

struct DatasetEntry {
  // Loads `dataset.subject` of the resolved section at `resolution` pixels.
  std::function<SubjectData(const cfg::Node& section, int resolution, const std::filesystem::path& cache_dir)> load;
  // Every subject name (what `dataset.subject: all` expands to).
  std::function<std::vector<std::string>(const cfg::Node& section)> subjects;
};

Registry<DatasetEntry>& datasets();

// `a {0} {1} in the snow` -> `a sks dog in the snow` (DreamBooth's prompt templates).
std::string fill_prompt_template(const std::string& templ, const std::string& unique_token, const std::string& class_noun);

// DreamBooth's prompts of `data` (unique_token and class_noun set): "a sks dog", "a dog", and the first
// `num_eval_prompts` of `templates` filled in.
void fill_subject_prompts(SubjectData& data, const std::vector<std::string>& templates, int64_t num_eval_prompts);

// Overrides that expand `dataset.subject: all` into one run per subject
// (empty when the config names one subject). Used by the sweep planner.
std::vector<std::string> expand_all_subjects(const cfg::Node& resolved);

}  // namespace pbench
