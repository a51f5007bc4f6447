#include "methods/token_prompts.hpp"

namespace pbench {

const std::vector<std::string>& object_caption_templates() {
  static const std::vector<std::string> t = {
      "a photo of a {}",          "a rendering of a {}",       "a cropped photo of the {}", "the photo of a {}",
      "a photo of a clean {}",    "a photo of a dirty {}",     "a dark photo of the {}",    "a photo of my {}",
      "a photo of the cool {}",   "a close-up photo of a {}",  "a bright photo of the {}",  "a cropped photo of a {}",
      "a photo of the {}",        "a good photo of the {}",    "a photo of one {}",         "a close-up photo of the {}",
      "a rendition of the {}",    "a photo of the clean {}",   "a rendition of a {}",       "a photo of a nice {}",
      "a good photo of a {}",     "a photo of the nice {}",    "a photo of the small {}",   "a photo of the weird {}",
      "a photo of the large {}",  "a photo of a cool {}",      "a photo of a small {}"};
  return t;
}

std::vector<std::string> captions_with(const std::string& phrase) { return captions_with(object_caption_templates(), phrase); }

std::vector<std::string> captions_with(const std::vector<std::string>& templates, const std::string& phrase) {
  std::vector<std::string> out;
  for (std::string t : templates) out.push_back(t.replace(t.find("{}"), 2, phrase));
  return out;
}

std::string replace_subject(const std::string& prompt, const SubjectData& subject, const std::string& phrase) {
  std::string out = prompt;
  for (const std::string& needle : {subject.unique_token + " " + subject.class_noun, subject.unique_token}) {
    size_t at = out.find(needle);
    if (!needle.empty() && at != std::string::npos) return out.replace(at, needle.size(), phrase);
  }
  return out;
}

}  // namespace pbench
