#include "framework/models/sd/pipeline.hpp"

#include <cmath>

#include "framework/models/deterministic_init.hpp"
#include "framework/models/hf/hf_config.hpp"
#include "framework/models/hf/hf_folder.hpp"
#include "framework/util/assets.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench::models {

namespace fs = std::filesystem;

namespace {

// What a user needs to know when a folder is not a loadable pipeline.
const char* const kExpectedLayout =
    "expected a diffusers Stable Diffusion v1.x folder (model_index.json, unet/ vae/ text_encoder/ tokenizer/ "
    "scheduler/, weights as unet/ and vae/diffusion_pytorch_model.safetensors and text_encoder/model.safetensors): "
    "download runwayml/stable-diffusion-v1-5 (diffusers format) with huggingface-cli on a machine with internet and "
    "pass its folder, or use builtin:mini";

void require_file(const fs::path& file) {
  if (!fs::is_regular_file(file)) throw InputError(file.string() + ": missing; " + kExpectedLayout);
}

// The component's weights: the fp32 file, else the fp16 variant the Hub also
// offers (floating weights convert on load). Pickled .bin files are not read
// (TRAPS.md): say so, since that is the usual reason for "missing".
fs::path component_weights(const fs::path& dir, const std::string& file_name) {
  fs::path file = dir / file_name;
  if (fs::is_regular_file(file)) return file;
  fs::path stem = fs::path(file_name).stem();
  fs::path fp16 = dir / (stem.string() + ".fp16.safetensors");
  if (fs::is_regular_file(fp16)) return fp16;
  std::string hint;
  if (fs::exists(dir / (stem.string() + ".bin")))
    hint = " (found " + stem.string() + ".bin: pickled PyTorch weights are not read; fetch the .safetensors files)";
  throw InputError(file.string() + ": missing weights" + hint + "; " + kExpectedLayout);
}

int64_t resolution_of(const UNetConfig& unet, const VaeConfig& vae) {
  return unet.sample_size * (int64_t(1) << (vae.block_out_channels.size() - 1));
}

// Reads the four configs and the tokenizer; builds the modules with `options`
// (their weights are whatever the constructor leaves: init or meta).
Pipeline build_from_configs(const fs::path& configs, const fs::path& tokenizer_dir, const std::string& source,
                            const torch::TensorOptions& options) {
  for (const char* part : {"unet/config.json", "vae/config.json", "text_encoder/config.json",
                           "scheduler/scheduler_config.json"})
    require_file(configs / part);
  Pipeline p;
  p.source = source;
  p.config_folder = configs;
  p.tokenizer_folder = tokenizer_dir;
  if (!fs::is_directory(tokenizer_dir)) throw InputError(tokenizer_dir.string() + ": missing; " + kExpectedLayout);
  p.tokenizer = std::make_shared<ClipTokenizer>(ClipTokenizer::from_folder(tokenizer_dir));
  const UNetConfig unet_config = UNetConfig::from_file((configs / "unet" / "config.json").string());
  const VaeConfig vae_config = VaeConfig::from_file((configs / "vae" / "config.json").string());
  const ClipTextConfig text_config = clip_text_config_of(read_json_section(configs / "text_encoder" / "config.json"));
  if (unet_config.cross_attention_dim[0] != text_config.encoder.hidden_size)
    throw InputError((configs / "unet" / "config.json").string() + ": cross_attention_dim " +
                     std::to_string(unet_config.cross_attention_dim[0]) + " does not match the text encoder's hidden_size " +
                     std::to_string(text_config.encoder.hidden_size));
  if (unet_config.in_channels != vae_config.latent_channels)
    throw InputError((configs / "unet" / "config.json").string() + ": in_channels " +
                     std::to_string(unet_config.in_channels) + " does not match the VAE's latent_channels " +
                     std::to_string(vae_config.latent_channels));
  p.unet = UNet2DCondition(unet_config, options);
  p.vae = AutoencoderKL(vae_config, options);
  p.text_encoder = ClipTextModel(text_config, options.has_dtype() ? options : options.dtype(torch::kFloat32));
  p.scheduler = sched::SchedulerConfig::read(configs / "scheduler" / "scheduler_config.json");
  p.resolution = resolution_of(unet_config, vae_config);
  return p;
}

void set_eval(Pipeline& p) {
  p.unet->eval();
  p.vae->eval();
  p.text_encoder->eval();
}

void move_to(Pipeline& p, const torch::TensorOptions& options) {
  if (!options.has_device() && !options.has_dtype()) return;
  const torch::Device device = options.has_device() ? options.device() : torch::Device(torch::kCPU);
  const auto dtype = options.has_dtype() ? options.dtype().toScalarType() : torch::kFloat32;
  p.unet->to(device, dtype);
  p.vae->to(device, dtype);
  p.text_encoder->to(device, dtype);
}

Pipeline load_builtin_tiny(const torch::TensorOptions& options) {
  const fs::path configs = asset_path("builtin_tiny");
  // Built and initialised on the CPU in float32 (the init is defined there),
  // then moved to the requested device/dtype.
  Pipeline p = build_from_configs(configs, asset_path("clip_tokenizer"), kBuiltinTiny, {});
  p.builtin = true;
  deterministic_init(*p.unet, derive_seed(0, "builtin:tiny/unet"), "builtin:tiny unet");
  deterministic_init(*p.vae, derive_seed(0, "builtin:tiny/vae"), "builtin:tiny vae");
  deterministic_init(*p.text_encoder, derive_seed(0, "builtin:tiny/text_encoder"), "builtin:tiny text_encoder");
  move_to(p, options);
  set_eval(p);
  return p;
}

// A diffusers folder's weights into modules built from its configs, named
// `source`, with the tokenizer from `tokenizer_dir`.
Pipeline load_weights_folder(const fs::path& folder, const fs::path& tokenizer_dir, const std::string& source,
                             const torch::TensorOptions& options) {
  JsonSection index = read_json_section(folder / "model_index.json");
  for (const char* part : {"unet", "vae", "text_encoder", "tokenizer", "scheduler"})
    if (!index.has(part)) index.fail(part, std::string("a component entry (") + kExpectedLayout + ")");
  // Weights first: a folder of configs only fails on the weights, naming them.
  const fs::path unet_file = component_weights(folder / "unet", kDiffusersWeights);
  const fs::path vae_file = component_weights(folder / "vae", kDiffusersWeights);
  const fs::path text_file = component_weights(folder / "text_encoder", kTransformersWeights);

  // Built in float32 on the CPU: loading converts and checks every tensor by name.
  Pipeline p = build_from_configs(folder, tokenizer_dir, source, {});
  load_into_module(*p.unet, load_safetensors(unet_file), unet_file.string());
  load_vae_weights(*p.vae, load_safetensors(vae_file), vae_file.string());
  LoadOptions text_options = clip_text_load_options();
  if (!p.text_encoder->config.with_projection) text_options.ignore_unexpected.push_back("^text_projection\\.");
  load_into_module(*p.text_encoder, load_safetensors(text_file), text_file.string(), text_options);
  move_to(p, options);
  set_eval(p);
  return p;
}

Pipeline load_diffusers_folder(const fs::path& folder, const torch::TensorOptions& options) {
  check_pipeline_spec(folder.string());
  return load_weights_folder(folder, folder / "tokenizer", folder.string(), options);
}

// builtin:mini: the shipped assets are a diffusers folder without tokenizer/
// (the CLIP BPE files are shared with the metric backbones).
Pipeline load_builtin_mini(const torch::TensorOptions& options) {
  const fs::path folder = asset_path("builtin_mini");
  const fs::path unet_weights = folder / "unet" / kDiffusersWeights;
  if (!fs::is_regular_file(unet_weights))
    throw InputError(std::string(kBuiltinMini) + ": its UNet weights " + unet_weights.string() +
                     " are missing from this checkout; make them with `pbench pretrain unet` and "
                     "`bash scripts/ship_mini.sh OUT` (docs/mini_world.md), or use builtin:tiny");
  return load_weights_folder(folder, asset_path("clip_tokenizer"), kBuiltinMini, options);
}

}  // namespace

void check_pipeline_spec(const std::string& spec) {
  if (spec == kBuiltinTiny || spec == kBuiltinMini) return;
  if (spec.rfind("builtin:", 0) == 0)
    throw InputError(spec + ": unknown builtin pipeline; expected builtin:mini, builtin:tiny or a diffusers folder");
  const fs::path folder(spec);
  if (!fs::is_directory(folder))
    throw InputError(folder.string() + ": not a folder and not a builtin model name (builtin:mini, builtin:tiny); " + kExpectedLayout);
  require_file(folder / "model_index.json");
}

torch::Tensor prompt_token_ids(const Pipeline& pipeline, const std::vector<std::string>& prompts) {
  std::vector<int64_t> ids;
  for (const auto& p : prompts) {
    std::vector<int64_t> row = pipeline.tokenizer->encode(p).input_ids;
    ids.insert(ids.end(), row.begin(), row.end());
  }
  auto device = pipeline.text_encoder->parameters().front().device();
  return torch::tensor(ids, torch::kInt64).reshape({int64_t(prompts.size()), -1}).to(device);
}

torch::Tensor encode_token_ids(const Pipeline& pipeline, const torch::Tensor& token_ids) {
  if (pipeline.context_encoder) return pipeline.context_encoder(token_ids);
  return pipeline.text_encoder->forward(token_ids).last_hidden_state;
}

torch::Tensor encode_prompts(const Pipeline& pipeline, const std::vector<std::string>& prompts) {
  return encode_token_ids(pipeline, prompt_token_ids(pipeline, prompts));
}

int64_t context_batch_dim(const torch::Tensor& context) {
  if (context.dim() != 3 && context.dim() != 4)
    throw std::logic_error("context: expected [B, T, D] or [L, B, T, D], got " + c10::str(context.sizes()));
  return context.dim() - 3;
}

torch::Tensor select_context_rows(const torch::Tensor& context, const torch::Tensor& index) {
  return context.index_select(context_batch_dim(context), index);
}

torch::Tensor expand_context_batch(const torch::Tensor& context, int64_t batch) {
  std::vector<int64_t> shape(context.sizes().begin(), context.sizes().end());
  shape[size_t(context_batch_dim(context))] = batch;
  return context.expand(shape);
}

torch::Tensor cat_contexts(const std::vector<torch::Tensor>& contexts) {
  if (contexts.empty()) throw std::logic_error("cat_contexts: nothing to concatenate");
  return torch::cat(contexts, context_batch_dim(contexts.front()));
}

int64_t Pipeline::latent_size() const {
  if (!unet) throw InputError(source + ": pipeline has no UNet");
  return unet->config().sample_size;
}

Pipeline load_pipeline(const std::string& spec, const torch::TensorOptions& options) {
  if (spec == kBuiltinTiny) return load_builtin_tiny(options);
  if (spec == kBuiltinMini) return load_builtin_mini(options);
  return load_diffusers_folder(fs::path(spec), options);
}

Pipeline sd15_meta_pipeline() {
  Pipeline p = build_from_configs(asset_path("sd15"), asset_path("clip_tokenizer"), "sd15:meta",
                                  torch::TensorOptions().dtype(torch::kFloat32).device(torch::kMeta));
  return p;
}

}  // namespace pbench::models
