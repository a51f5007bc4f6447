#pragma once
// Prompts of the methods that learn token embeddings (Textual Inversion, P+):
// the object caption templates they train on and the rewrite of DreamBooth
// evaluation prompts onto their placeholder.
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace pbench {

// "a photo of a {}", … : the reference's imagenet_templates_small, all 27 in its
// order (diffusers' examples/textual_inversion/textual_inversion.py, the object
// templates of rinongal/textual_inversion); the first four are the captions of
// DVAR's evaluation batch, as in yandex-research/DVAR (imagenet_templates_base).
const std::vector<std::string>& object_caption_templates();
// Every template with "{}" replaced by `phrase`.
std::vector<std::string> captions_with(const std::string& phrase);
// The same over other templates (each holding "{}" once).
std::vector<std::string> captions_with(const std::vector<std::string>& templates, const std::string& phrase);
// "a sks dog in the snow" -> "a <phrase> in the snow": "<unique> <class>" (or
// the unique token alone) becomes `phrase`; prompts without it are unchanged.
std::string replace_subject(const std::string& prompt, const SubjectData& subject, const std::string& phrase);

}  // namespace pbench
