#pragma once
// `pbench export <model> <folder>`: a model in Hugging Face / diffusers layout
// (INTERFACES.md), loadable by diffusers / transformers and by pbench itself.
//   pipeline (builtin:tiny or a diffusers folder):
//     model_index.json, unet/ vae/ (config.json + diffusion_pytorch_model.safetensors),
//     text_encoder/ (config.json + model.safetensors), tokenizer/, scheduler/scheduler_config.json
//   builtin:tiny-clip or a CLIPModel folder: config.json + model.safetensors +
//     preprocessor_config.json + the tokenizer files
//   builtin:tiny-dino or a ViTModel folder: config.json + model.safetensors + preprocessor_config.json
#include <filesystem>
#include <string>

#include "framework/models/metric_backbones.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/tensor/safetensors_torch.hpp"

namespace pbench::models {

// What `spec` is; InputError naming it when it is none of these.
enum class ExportKind { kPipeline, kClip, kDino };
ExportKind export_kind_of(const std::string& spec);

void export_pipeline(const Pipeline& pipeline, const std::filesystem::path& folder);
void export_clip_backbone(const ClipBackbone& backbone, const std::filesystem::path& folder);
void export_dino_backbone(const DinoBackbone& backbone, const std::filesystem::path& folder);

// Parameters and buffers under their state-dict names, as PyTorch saves them (detached).
TensorMap state_dict(const torch::nn::Module& module, const std::string& prefix = "");
// Copies a file over `to` (its folder created); InputError naming both when it cannot.
void copy_into(const std::filesystem::path& from, const std::filesystem::path& to);

// Loads `spec` and writes it; returns the kind written.
ExportKind export_model(const std::string& spec, const std::filesystem::path& folder);

}  // namespace pbench::models
