#pragma once
// Built-in subjects: small synthetic "objects" the project draws itself
// (deterministic, no download), so the default sweep runs on a fresh clone.
// Each subject is one object class drawn with its own colours and details, on
// varied backgrounds and at varied positions and sizes, like a handful of
// photos of one thing. Numbers computed on them are pipeline checks, not
// comparable to published DreamBooth numbers.
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace pbench {

struct BuiltinSubject {
  std::string name, class_noun;
};
const std::vector<BuiltinSubject>& builtin_subjects();

// Image `index` of `subject` at size x size pixels (same pixels on every machine).
Image render_builtin_subject(const std::string& subject, int index, int size);

// DreamBooth's 25 object prompt templates (google/dreambooth, CC BY 4.0), used for the built-in subjects.
const std::vector<std::string>& dreambooth_object_prompt_templates();

void register_builtin_dataset(Registry<DatasetEntry>& registry);

}  // namespace pbench
