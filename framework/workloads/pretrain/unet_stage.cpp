// Component `unet`: builtin:mini's UNet as a latent diffusion model (LDM,
// arXiv:2112.10752 §3.3; DDPM's simple loss, arXiv:2006.11239 eq. 14) on the
// frozen outputs of the `vae` and `clip` stages: latents z = scaling_factor ·
// sample(q(z|x)), contexts = the text encoder's last hidden state of the
// padded 77-token prompt (what SD v1 conditions on), epsilon prediction with
// the pipeline's own scheduler (scaled_linear, 1000 steps).
// Decisions (marked as ours, SD v1's training code is not public):
//   - 10 % of captions are replaced by "" so classifier-free guidance has an
//     unconditional model (SD v1.5's model card: 10 % text dropping).
//   - EMA weights (decay 0.999, warmed up as diffusers' EMAModel does:
//     min(decay, (1+n)/(10+n))) are what is evaluated and shipped; the run is
//     done in chunks, and the EMA smooths a chunk that ends mid-schedule.
//   - Min-SNR-γ loss weighting (arXiv:2303.09556, γ = 5, for ε-prediction
//     min(SNR, γ)/SNR): the paper reports ~3x faster convergence, which a
//     budget of two 45-minute chunks needs.
//   - The report measures, on held-out triples never trained on, the denoising
//     loss with the true caption, with the empty one and with a wrong-colour
//     caption on a fixed (t, noise) grid: conditioning that works makes the
//     true caption's loss the lowest.
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <tuple>
#include <unordered_map>

#include "framework/models/clip/clip_text.hpp"
#include "framework/models/deterministic_init.hpp"
#include "framework/models/hf/export.hpp"
#include "framework/models/hf/hf_folder.hpp"
#include "framework/models/schedulers/schedulers.hpp"
#include "framework/models/transformer_blocks.hpp"
#include "framework/models/sd/unet.hpp"
#include "framework/models/sd/unet_config.hpp"
#include "framework/models/sd/vae.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/workloads/pretrain/prompt_following.hpp"
#include "framework/workloads/pretrain/scene_pool.hpp"
#include "framework/workloads/pretrain/stages.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/text/clip_tokenizer.hpp"
#include "framework/util/assets.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"
#include "framework/util/sha256.hpp"

namespace pbench::pretrain {

namespace fs = std::filesystem;

namespace {

// What the frozen stages give the UNet: the VAE and the text encoder as written.
struct FrozenParts {
  models::AutoencoderKL vae{nullptr};
  models::ClipTextModel text_encoder{nullptr};
  ClipTokenizer tokenizer;
};

FrozenParts load_frozen_parts(const PretrainContext& context) {
  const fs::path folder = context.out / "builtin_mini";
  const fs::path vae_weights = folder / "vae" / "diffusion_pytorch_model.safetensors";
  const fs::path text_weights = folder / "text_encoder" / "model.safetensors";
  for (const auto& file : {vae_weights, text_weights})
    if (!fs::is_regular_file(file))
      throw InputError(file.string() + ": missing; the unet stage trains on the vae and clip stages' outputs: run "
                       "pbench pretrain vae --out " + context.out.string() + " and pbench pretrain clip --out " +
                       context.out.string() + " first");
  FrozenParts parts{models::load_vae_folder(folder / "vae"), models::load_clip_text_folder(folder / "text_encoder"),
                    ClipTokenizer::from_folder(asset_path("clip_tokenizer"))};
  parts.text_encoder->eval();
  return parts;
}

// Latent moments (mean, std) [N, C, h, w] of every pool image, unscaled.
std::pair<torch::Tensor, torch::Tensor> encode_pool(models::AutoencoderKLImpl& vae, const ScenePool& pool) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> means, stds;
  for (int64_t start = 0; start < pool.size(); start += 256) {
    const torch::Tensor index = torch::arange(start, std::min(pool.size(), start + 256));
    const models::LatentDistribution d = vae.encode(pool_images_signed(pool, index));
    means.push_back(d.mean);
    stds.push_back(d.std);
  }
  return {torch::cat(means), torch::cat(stds)};
}

// Text contexts of distinct captions (row 0 = ""), and each pool item's row.
struct ContextTable {
  torch::Tensor contexts;      // [U, 77, D]
  torch::Tensor row_of_item;   // int64 [N]
};

torch::Tensor encode_captions(const FrozenParts& parts, const std::vector<std::string>& captions) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (size_t start = 0; start < captions.size(); start += 256) {
    std::vector<torch::Tensor> rows;
    for (size_t i = start; i < std::min(captions.size(), start + 256); ++i)
      rows.push_back(torch::tensor(parts.tokenizer.encode(captions[i]).input_ids));
    out.push_back(parts.text_encoder->forward(torch::stack(rows)).last_hidden_state);
  }
  return torch::cat(out);
}

ContextTable context_table(const FrozenParts& parts, const std::vector<std::string>& item_captions) {
  std::vector<std::string> distinct = {""};
  std::unordered_map<std::string, int64_t> row;
  row[""] = 0;
  std::vector<int64_t> rows;
  for (const auto& c : item_captions) {
    auto [it, inserted] = row.emplace(c, int64_t(distinct.size()));
    if (inserted) distinct.push_back(c);
    rows.push_back(it->second);
  }
  return {encode_captions(parts, distinct), torch::tensor(rows, torch::kInt64)};
}

// Per-sample weights of the epsilon MSE: 1, or Min-SNR's min(SNR, γ)/SNR with
// SNR(t) = acp[t] / (1 - acp[t]).
torch::Tensor loss_weights(const sched::NoiseSchedule& schedule, const torch::Tensor& timesteps, double gamma) {
  if (gamma <= 0) return torch::ones({timesteps.size(0)});
  const torch::Tensor acp = schedule.alphas_cumprod.index_select(0, timesteps);
  const torch::Tensor snr = acp / (1 - acp);
  return torch::clamp_max(snr, gamma) / snr;
}

// The training pool as the frozen parts see it: latent moments and caption
// contexts. Rendering and encoding 20000 scenes takes minutes, so the result
// is cached in <out>/cache/unet_pool.pt (as kohya's cache_latents does), keyed
// by everything it depends on: the recipe's seed, pool size and resolution and
// the bytes of the frozen weights. A resumed chunk reads it back.
struct EncodedPool {
  torch::Tensor latent_mean, latent_std;
  ContextTable table;
};

std::string file_sha256(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return sha256_hex(bytes);
}

torch::Tensor string_tensor(const std::string& text) {
  return torch::tensor(std::vector<int64_t>(text.begin(), text.end()), torch::kInt64);
}

EncodedPool encoded_pool(const PretrainContext& context, const UnetRecipe& recipe, FrozenParts& parts) {
  const fs::path folder = context.out / "builtin_mini";
  const std::string key = "seed=" + std::to_string(recipe.seed) + " pool_size=" + std::to_string(recipe.pool_size) +
                          " resolution=" + std::to_string(recipe.resolution) +
                          " vae=" + file_sha256(folder / "vae" / "diffusion_pytorch_model.safetensors") +
                          " text_encoder=" + file_sha256(folder / "text_encoder" / "model.safetensors");
  const fs::path cache = context.out / "cache" / "unet_pool.pt";
  EncodedPool out;
  if (fs::is_regular_file(cache)) {
    torch::serialize::InputArchive archive;
    archive.load_from(cache.string());
    torch::Tensor stored_key;
    archive.read("key", stored_key);
    if (torch::equal(stored_key, string_tensor(key))) {
      archive.read("latent_mean", out.latent_mean);
      archive.read("latent_std", out.latent_std);
      archive.read("contexts", out.table.contexts);
      archive.read("row_of_item", out.table.row_of_item);
      std::cerr << "[unet] pool encodings read from " << cache.string() << "\n";
      return out;
    }
    std::cerr << "[unet] " << cache.string() << " was made from other inputs; encoding anew\n";
  }
  const ScenePool pool = render_pool(derive_seed(recipe.seed, "pretrain/unet/pool"), recipe.pool_size,
                                     int(recipe.resolution), false, "[unet]");
  std::cerr << "[unet] encoding the pool with the frozen vae and text encoder\n";
  std::tie(out.latent_mean, out.latent_std) = encode_pool(*parts.vae, pool);
  out.table = context_table(parts, pool.captions);
  torch::serialize::OutputArchive archive;
  archive.write("key", string_tensor(key));
  archive.write("latent_mean", out.latent_mean);
  archive.write("latent_std", out.latent_std);
  archive.write("contexts", out.table.contexts);
  archive.write("row_of_item", out.table.row_of_item);
  fs::create_directories(cache.parent_path());
  const fs::path partial = cache.string() + ".partial";
  archive.save_to(partial.string());
  fs::rename(partial, cache);
  return out;
}

torch::Tensor epsilon_loss(models::UNet2DConditionImpl& unet, const sched::NoiseSchedule& schedule,
                           const torch::Tensor& latents, const torch::Tensor& contexts, const torch::Tensor& timesteps,
                           const torch::Tensor& noise, double min_snr_gamma = 0.0) {
  const torch::Tensor noisy = schedule.add_noise(latents, noise, timesteps);
  const torch::Tensor per_sample = (unet.forward(noisy, timesteps, contexts) - noise).pow(2).mean({1, 2, 3});
  return (per_sample * loss_weights(schedule, timesteps, min_snr_gamma)).mean();
}

// What the checkpoint carries: the trained UNet and its EMA.
struct UnetState : torch::nn::Module {
  explicit UnetState(const models::UNetConfig& config) {
    unet = register_module("unet", models::UNet2DCondition(config));
    ema = register_module("ema", models::UNet2DCondition(config));
  }
  models::UNet2DCondition unet{nullptr}, ema{nullptr};
};

nlohmann::json accuracy_json(const ZeroShotAccuracy& a) {
  return {{"class", a.class_accuracy}, {"colour", a.colour_accuracy}, {"background", a.background_accuracy}};
}

// Samples of held-out captions classified by the shipped metric CLIP (and the
// renders as the ceiling), plus a grid of 8 captions x 4 seeds for the docs.
nlohmann::json evaluate_prompt_following(const PretrainContext& context, const UnetRecipe& recipe,
                                         const ScenePool& held_out) {
  const fs::path folder = context.out / "builtin_mini";
  models::Pipeline pipeline = models::load_pipeline(folder.string());
  const models::ClipBackbone clip = models::load_clip_backbone(models::kBuiltinMiniClip);
  ScenePool subset;
  const int64_t n = std::min(recipe.eval_prompts, held_out.size());
  subset.images_u8 = held_out.images_u8.slice(0, 0, n);
  subset.captions.assign(held_out.captions.begin(), held_out.captions.begin() + n);
  subset.scenes.assign(held_out.scenes.begin(), held_out.scenes.begin() + n);
  PromptFollowingOptions options;
  options.guidance_scale = recipe.eval_guidance;
  options.num_inference_steps = recipe.eval_steps;
  options.seed = derive_seed(recipe.seed, "pretrain/unet/prompt_following");
  const PromptFollowing result = prompt_following(pipeline, clip, subset, options);
  std::cerr << "[unet] prompt following on " << n << " held-out captions (metric CLIP, class/colour/background): "
            << "samples " << accuracy_json(result.samples).dump() << ", renders " << accuracy_json(result.renders).dump()
            << "\n";

  const int64_t grid_prompts = std::min<int64_t>(8, n);
  sample::SamplingOptions sampling;
  sampling.guidance_scale = recipe.eval_guidance;
  sampling.num_inference_steps = recipe.eval_steps;
  const std::vector<std::string> prompts(subset.captions.begin(), subset.captions.begin() + grid_prompts);
  const sample::SampleSet grid = sample::sample_images(pipeline, sample::grid_jobs(prompts, 4), options.seed, sampling);
  const fs::path grid_file = context.out / "runs" / "unet_samples.png";
  write_image_grid(grid_file, grid.images, 4);
  std::cerr << "[unet] samples of " << grid_prompts << " held-out captions x 4 seeds: " << grid_file.string() << "\n";
  return {{"prompts", n},
          {"guidance_scale", recipe.eval_guidance},
          {"ddim_steps", recipe.eval_steps},
          {"metric", "builtin:mini-clip zero-shot argmax"},
          {"samples", accuracy_json(result.samples)},
          {"renders_ceiling", accuracy_json(result.renders)},
          {"chance", {{"class", 1.0 / mini::kShapes}, {"colour", 1.0 / mini::kColours}, {"background", 1.0 / mini::kBackgrounds}}},
          {"grid_prompts", prompts},
          {"grid_file", grid_file.filename().string()}};
}

}  // namespace

StageOutcome run_unet_stage(const PretrainContext& context) {
  std::string recipe_yaml;
  const UnetRecipe recipe = context.read_recipe<UnetRecipe>("unet", recipe_yaml);
  FrozenParts parts = load_frozen_parts(context);
  const fs::path config_file = context.configs / "builtin_mini" / "unet" / "config.json";
  UnetState state(models::UNetConfig::from_file(config_file.string()));
  models::UNet2DConditionImpl& unet = *state.unet;
  const int64_t seed = recipe.seed;
  models::deterministic_init(unet, derive_seed(seed, "pretrain/unet/init"), "pretrain unet");
  const std::vector<torch::Tensor> trained = unet.parameters(), averaged = state.ema->parameters();
  start_average(averaged, trained);

  const sched::SchedulerConfig scheduler =
      sched::SchedulerConfig::read(context.configs / "builtin_mini" / "scheduler" / "scheduler_config.json");
  const sched::NoiseSchedule schedule(scheduler);
  const double scaling = parts.vae->scaling_factor();

  const EncodedPool encoded = encoded_pool(context, recipe, parts);
  const torch::Tensor& latent_mean = encoded.latent_mean;
  const torch::Tensor& latent_std = encoded.latent_std;
  const ContextTable& table = encoded.table;
  const int64_t pool_size = latent_mean.size(0);

  const StageSettings settings = context.settings("unet", recipe);
  const int64_t batch = recipe.batch;
  auto optimizer = make_adamw(trained, settings);
  const auto step = [&](int64_t, torch::Generator& generator) {
    const torch::Tensor index = torch::randint(pool_size, {batch}, generator);
    const torch::Tensor mean = latent_mean.index_select(0, index), std = latent_std.index_select(0, index);
    const torch::Tensor latents = scaling * (mean + std * torch::randn(mean.sizes(), generator));
    const torch::Tensor dropped = torch::rand({batch}, generator) < recipe.caption_dropout;
    const torch::Tensor rows = torch::where(dropped, torch::zeros_like(index), table.row_of_item.index_select(0, index));
    const torch::Tensor timesteps = torch::randint(scheduler.num_train_timesteps, {batch}, generator);
    const torch::Tensor noise = torch::randn(latents.sizes(), generator);
    return epsilon_loss(unet, schedule, latents, table.contexts.index_select(0, rows), timesteps, noise,
                        recipe.min_snr_gamma);
  };
  const auto ema_update = [&](int64_t step_index) {
    update_average(averaged, trained, std::min(recipe.ema_decay, double(1 + step_index) / double(10 + step_index)));
  };
  const StageProgress progress = run_stage(settings, uint64_t(seed), state, *optimizer, step, ema_update);

  // Held-out conditioning check of the EMA weights on a fixed grid of (t, noise).
  models::UNet2DConditionImpl& shipped = *state.ema;
  shipped.eval();
  torch::NoGradGuard no_grad;
  const ScenePool held_out = render_pool(derive_seed(seed, "pretrain/unet/held_out"), recipe.held_out, int(recipe.resolution), true);
  const torch::Tensor latents = scaling * encode_pool(*parts.vae, held_out).first;
  std::vector<std::string> wrong_colour;
  for (auto scene : held_out.scenes) {
    scene.colour = mini::Colour((int(scene.colour) + 5) % mini::kColours);
    wrong_colour.push_back(mini::caption(scene));
  }
  const torch::Tensor true_contexts = encode_captions(parts, held_out.captions);
  const torch::Tensor empty_contexts = encode_captions(parts, {""}).expand_as(true_contexts);
  const torch::Tensor wrong_contexts = encode_captions(parts, wrong_colour);
  torch::Generator generator = at::detail::createCPUGenerator(derive_seed(seed, "pretrain/unet/held_out_noise"));
  nlohmann::json losses;
  for (const int64_t t : {100, 300, 500, 700}) {
    const torch::Tensor timesteps = torch::full({held_out.size()}, t, torch::kInt64);
    const torch::Tensor noise = torch::randn(latents.sizes(), generator);
    losses[std::to_string(t)] = {
        {"true_caption", epsilon_loss(shipped, schedule, latents, true_contexts, timesteps, noise).item<double>()},
        {"empty_caption", epsilon_loss(shipped, schedule, latents, empty_contexts, timesteps, noise).item<double>()},
        {"wrong_colour_caption",
         epsilon_loss(shipped, schedule, latents, wrong_contexts, timesteps, noise).item<double>()}};
  }

  const fs::path folder = context.out / "builtin_mini";
  models::copy_into(config_file, folder / "unet" / "config.json");
  save_safetensors(folder / "unet" / "diffusion_pytorch_model.safetensors", half_state_dict(shipped),
                   {{"format", "pt"}});
  models::copy_into(context.configs / "builtin_mini" / "model_index.json", folder / "model_index.json");
  models::copy_into(context.configs / "builtin_mini" / "scheduler" / "scheduler_config.json",
                 folder / "scheduler" / "scheduler_config.json");
  for (const char* name : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"})
    models::copy_into(asset_path("clip_tokenizer") / name, folder / "tokenizer" / name);  // a complete diffusers folder
  nlohmann::json evaluation = {{"held_out_images", held_out.size()},
                               {"parameters", models::count_parameters(shipped)},
                               {"held_out_epsilon_mse_by_timestep", losses}};
  if (recipe.eval_prompts > 0) evaluation["prompt_following"] = evaluate_prompt_following(context, recipe, held_out);
  write_stage_run_file(context, "unet", recipe_yaml, progress, evaluation);
  std::cerr << "[unet] held-out epsilon MSE " << losses.dump() << "\n";
  return progress.outcome;
}

}  // namespace pbench::pretrain
