#pragma once
// The keys of a method's class-image regularization set (its prior term: DreamBooth's prior
// preservation, Custom Diffusion's regularization images, SVDiff's opt-in prior), declared
// once. A method's options struct holds one and visits it from its own fields(), so the keys
// sit in the method's section beside the others (method.num_class_images, not a sub-section):
//
//   ClassImageOptions class_images{200, "diffusers' README with prior: 200"};
//   template <class V> void fields(V& v) { …; class_images.fields(v); }
#include <cstdint>
#include <optional>
#include <string>

#include "framework/train/method.hpp"

namespace pbench {

struct ClassImageOptions {
  int64_t num_class_images = 200;
  const char* count_source = "";  // where the default count comes from, for the help line
  double prior_loss_weight = 1.0;
  std::optional<std::string> class_prompt;
  std::optional<std::string> class_data_dir;

  ClassImageOptions(int64_t count, const char* source) : num_class_images(count), count_source(source) {}

  template <class V>
  void fields(V& v) {
    const std::string count_help =
        std::string("class images (") + count_source + "); train.num_class_images caps it for CPU-sized sweeps";
    v("num_class_images", num_class_images, count_help.c_str(), cfg::at_least(1));
    v("prior_loss_weight", prior_loss_weight, "weight lambda of their loss: subject term + lambda x class term",
      cfg::at_least(0));
    v("class_prompt", class_prompt, "prompt of the class images; null = the subject's (\"a dog\")");
    v("class_data_dir", class_data_dir,
      "a folder of real class images (e.g. retrieved LAION ones); null = the frozen model generates them");
  }

  // The set for `subject`: class_prompt null = the subject's, as the papers' "a [class noun]".
  RegularizationSet for_subject(const SubjectData& subject) const {
    return RegularizationSet{class_prompt.value_or(subject.class_prompt), num_class_images, prior_loss_weight,
                             class_data_dir.value_or("")};
  }
};

}  // namespace pbench
