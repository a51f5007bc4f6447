#pragma once
// Prompts of the methods that learn token embeddings (Textual Inversion, P+):
// the object caption templates they train on and the rewrite of DreamBooth
// evaluation prompts onto their placeholder.
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace pbench {

// "a photo of a {}", … (the reference's imagenet_templates_small, first 12);
// the first four are the captions of DVAR's evaluation batch.
const std::vector<std::string>& object_caption_templates();
// Every template with "{}" replaced by `phrase`.
std::vector<std::string> captions_with(const std::string& phrase);
// "a sks dog in the snow" -> "a <phrase> in the snow": "<unique> <class>" (or
// the unique token alone) becomes `phrase`; prompts without it are unchanged.
std::string replace_subject(const std::string& prompt, const SubjectData& subject, const std::string& phrase);

}  // namespace pbench
