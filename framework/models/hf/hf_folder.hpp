#pragma once
// Loading the CLIP towers and DINO ViT from Hugging Face folders
// (`config.json` + `model.safetensors`) as a user's weights are loaded:
// every parameter must come from the file; only keys that are known not to
// matter may be absent or extra (named below, not silently dropped).
#include <filesystem>

#include "framework/models/clip/clip_text.hpp"
#include "framework/models/clip/clip_vision.hpp"
#include "framework/models/dino/dino_vit.hpp"
#include "framework/tensor/safetensors_torch.hpp"

namespace pbench::models {

// Newer transformers saves drop the non-persistent `position_ids` buffer;
// older ones (SD v1.5) keep it. Both load. A CLIPModel checkpoint may be read
// for one tower: the other tower's keys and `logit_scale` are skipped.
LoadOptions clip_text_load_options();
LoadOptions clip_vision_load_options();
// DINO checkpoints have no pooler; HF ViTModel saves with one also load.
LoadOptions dino_vit_load_options();

ClipTextModel load_clip_text_folder(const std::filesystem::path& folder,
                                   const std::string& weights_file = "model.safetensors");
ClipVisionModel load_clip_vision_folder(const std::filesystem::path& folder,
                                   const std::string& weights_file = "model.safetensors");
// The config as the folder's config.json writes it (what the parity vectors use).
DinoVitModel load_dino_vit_folder(const std::filesystem::path& folder,
                                   const std::string& weights_file = "model.safetensors");
// The folder's weights into a model built from `config`.
DinoVitModel load_dino_vit_folder(const std::filesystem::path& folder, const VitConfig& config,
                                   const std::string& weights_file = "model.safetensors");

// `<folder>/<weights_file>`; InputError naming the folder when absent.
std::filesystem::path weights_file_of(const std::filesystem::path& folder,
                                      const std::string& weights_file = "model.safetensors");

}  // namespace pbench::models
