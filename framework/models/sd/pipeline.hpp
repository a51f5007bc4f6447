#pragma once
// A Stable Diffusion v1.x pipeline: the pieces the engine trains, samples and
// evaluates with. Loaded from a diffusers folder (model_index.json, unet/,
// vae/, text_encoder/, tokenizer/, scheduler/) or built in (`builtin:tiny`),
// or built on the meta device for parameter counts of full-size models.
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "framework/models/clip/clip_text.hpp"
#include "framework/models/schedulers/schedulers.hpp"
#include "framework/models/sd/unet.hpp"
#include "framework/models/sd/vae.hpp"
#include "framework/text/clip_tokenizer.hpp"

namespace pbench::models {

struct Pipeline {
  std::string source;  // "builtin:mini", "builtin:tiny", a folder path, or "sd15:meta"
  bool builtin = false;
  std::shared_ptr<ClipTokenizer> tokenizer;
  ClipTextModel text_encoder{nullptr};
  UNet2DCondition unet{nullptr};
  AutoencoderKL vae{nullptr};
  sched::SchedulerConfig scheduler;
  int64_t resolution = 0;  // image side in pixels = unet sample_size * 2^(vae down blocks - 1)

  int64_t latent_size() const;  // unet sample_size

  // Where the component configs were read from (a diffusers folder, or the
  // shipped assets for builtin:tiny / sd15:meta) and the tokenizer folder:
  // `pbench export` copies them next to the weights.
  std::filesystem::path config_folder;
  std::filesystem::path tokenizer_folder;

  // How token ids [B, T] become the UNet's context. Unset: the text encoder's
  // last hidden state [B, T, D]. A method that conditions each cross-attention
  // layer on its own encoding installs one returning [L, B, T, D] (P+).
  // It must capture what it needs by value: it outlives no pipeline, but may
  // outlive the method that installed it.
  std::function<torch::Tensor(const torch::Tensor& token_ids)> context_encoder;
};

// The builtin pipeline names load_pipeline accepts.
constexpr const char* kBuiltinTiny = "builtin:tiny";  // random weights: plumbing checks
constexpr const char* kBuiltinMini = "builtin:mini";  // pretrained on the mini world (docs/mini_world.md)

// Weight file names of a diffusers pipeline folder.
constexpr const char* kDiffusersWeights = "diffusion_pytorch_model.safetensors";  // unet/, vae/
constexpr const char* kTransformersWeights = "model.safetensors";                 // text_encoder/

// Token ids [B, max_length] of `prompts` (padded as SD v1 conditions on the
// whole sequence), on the text encoder's device: the one way prompts enter the
// text encoder, for training and sampling alike.
torch::Tensor prompt_token_ids(const Pipeline& pipeline, const std::vector<std::string>& prompts);

// The UNet context of `token_ids` [B, T] (pipeline.context_encoder when set)
// and of `prompts`: the one way conditioning is computed for training,
// evaluation and sampling.
torch::Tensor encode_token_ids(const Pipeline& pipeline, const torch::Tensor& token_ids);
torch::Tensor encode_prompts(const Pipeline& pipeline, const std::vector<std::string>& prompts);

// Contexts come as [B, T, D] or, per cross-attention layer, [L, B, T, D]:
// these act on the batch dimension of either form.
int64_t context_batch_dim(const torch::Tensor& context);
torch::Tensor select_context_rows(const torch::Tensor& context, const torch::Tensor& index);
torch::Tensor expand_context_batch(const torch::Tensor& context, int64_t batch);  // from batch 1
torch::Tensor cat_contexts(const std::vector<torch::Tensor>& contexts);

// `spec` = "builtin:mini", "builtin:tiny" or a diffusers folder. InputError naming the folder,
// the expected layout and where such weights come from when it does not load.
Pipeline load_pipeline(const std::string& spec, const torch::TensorOptions& options = {});
// What load_pipeline checks before reading any weights (a builtin name, or a
// folder with model_index.json): InputError naming the spec and the layout.
void check_pipeline_spec(const std::string& spec);

// The SD v1.5 architecture (UNet, text encoder, VAE from the configs shipped
// with pbench) on the meta device: shapes only, for exact counts.
Pipeline sd15_meta_pipeline();

}  // namespace pbench::models
