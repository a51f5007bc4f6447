#include "datasets/mini_world_dataset.hpp"

#include "datasets/mini_world_render.hpp"
#include "datasets/mini_world_subjects.hpp"
#include "framework/config/access.hpp"
#include "framework/util/errors.hpp"

namespace pbench {

namespace {

const mini::MiniSubject& find_subject(const cfg::Node& section) {
  const std::string name = cfg::get_string(section, "subject");
  for (const auto& s : mini::mini_subjects())
    if (s.name == name) return s;
  std::string names;
  for (const auto& s : mini::mini_subjects()) names += (names.empty() ? "" : ", ") + s.name;
  const cfg::Node* at = section.find("subject");
  throw InputError((at ? at->origin().describe() + ": " : std::string()) + "dataset.subject: unknown mini world subject '" +
                   name + "'; subjects: " + names + ", or all");
}

SubjectData load_mini_subject(const cfg::Node& section, int resolution, const std::filesystem::path&) {
  const mini::MiniSubject& subject = find_subject(section);
  SubjectData data;
  data.dataset = "mini_world";
  data.subject = subject.name;
  data.class_noun = subject.class_noun;
  data.unique_token = cfg::get_string(section, "unique_token");
  for (int i = 0; i < subject.num_images; ++i) {
    std::vector<float> coverage;
    data.images.push_back(mini::render_scene(mini::subject_scene(subject, i), resolution, &coverage));
    data.object_coverage.push_back(std::move(coverage));
    data.image_files.push_back("mini_world:" + subject.name + "/" + std::to_string(i));
  }
  fill_subject_prompts(data, mini::mini_object_prompts(), cfg::get_int(section, "num_eval_prompts"));
  return data;
}

}  // namespace

void register_mini_world_dataset(Registry<DatasetEntry>& registry) {
  registry.add(EntryInfo{"mini_world",
                         "the mini world's 30 two-tone subjects, rendered on the fly (no download; pair with "
                         "builtin:mini, pretrained on the same world)",
                         yaml_defaults("name: mini_world\nsubject: red_white_striped_cube\nunique_token: sks\nnum_eval_prompts: 25\n")},
               DatasetEntry{load_mini_subject, [](const cfg::Node&) {
                              std::vector<std::string> names;
                              for (const auto& s : mini::mini_subjects()) names.push_back(s.name);
                              return names;
                            }});
}

}  // namespace pbench
