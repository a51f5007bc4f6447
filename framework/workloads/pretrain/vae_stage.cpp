// Component `vae`: the AutoencoderKL of builtin:mini (LDM, arXiv:2112.10752, §3
// and appendix G). Trained from scratch on mini-world renders with the LDM
// objective minus its adversarial and perceptual terms: per-pixel L1
// reconstruction plus a KL-to-N(0, I) term of weight 1e-6 relative to the
// per-image pixel sum (the LDM `kl_weight`), plus (ours) a squared-error term
// of weight `mse_weight`: L1 alone leaves the small residuals that PSNR
// counts. Decision: no LPIPS / patch GAN —
// LPIPS needs ImageNet-trained VGG weights, which this project cannot ship, and
// the world's flat colours and hard edges reconstruct well under L1 (the
// report's held-out PSNR says how well). The scaling factor is measured as in
// LDM: 1 / std of sampled training latents.
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <iostream>

#include "framework/models/deterministic_init.hpp"
#include "framework/models/sd/vae.hpp"
#include "framework/models/sd/unet_config.hpp"
#include "framework/models/transformer_blocks.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/workloads/pretrain/scene_pool.hpp"
#include "framework/workloads/pretrain/stages.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"
#include "framework/util/text_file.hpp"

namespace pbench::pretrain {

namespace fs = std::filesystem;

namespace {

torch::Tensor vae_loss(models::AutoencoderKLImpl& vae, const torch::Tensor& images, torch::Generator& generator,
                       const VaeRecipe& recipe) {
  const models::LatentDistribution posterior = vae.encode(images);
  const torch::Tensor reconstruction = vae.decode(posterior.sample(generator));
  const torch::Tensor error = reconstruction - images;
  const torch::Tensor l1 = error.abs().mean() + recipe.mse_weight * error.pow(2).mean();
  const torch::Tensor kl_per_image =
      0.5 * (posterior.mean.pow(2) + posterior.var - 1.0 - posterior.logvar).flatten(1).sum(1);
  const double pixels = double(images[0].numel());
  return l1 + recipe.kl_weight * kl_per_image.mean() / pixels;
}

}  // namespace

StageOutcome run_vae_stage(const PretrainContext& context) {
  std::string recipe_yaml;
  const VaeRecipe recipe = context.read_recipe<VaeRecipe>("vae", recipe_yaml);
  const int64_t seed = recipe.seed;
  const fs::path config_file = context.configs / "builtin_mini" / "vae" / "config.json";
  const models::VaeConfig config = models::VaeConfig::from_file(config_file.string());
  models::AutoencoderKL vae(config);
  models::deterministic_init(*vae, derive_seed(seed, "pretrain/vae/init"), "pretrain vae");

  const ScenePool pool =
      render_pool(derive_seed(seed, "pretrain/vae/pool"), recipe.pool_size, int(recipe.resolution), false, "[vae]");
  const StageSettings settings = context.settings("vae", recipe);
  auto optimizer = make_adamw(vae->parameters(), settings);
  const StageProgress progress =
      run_stage(settings, uint64_t(seed), *vae, *optimizer, [&](int64_t, torch::Generator& generator) {
        const torch::Tensor index = torch::randint(pool.size(), {recipe.batch}, generator);
        return vae_loss(*vae, pool_images_signed(pool, index), generator, recipe);
      });

  // The scaling factor (LDM: z is scaled to unit variance for the diffusion model).
  torch::NoGradGuard no_grad;
  torch::Generator generator = at::detail::createCPUGenerator(derive_seed(seed, "pretrain/vae/scale"));
  const torch::Tensor index = torch::arange(std::min<int64_t>(512, pool.size()));
  const torch::Tensor latents = vae->encode(pool_images_signed(pool, index)).sample(generator);
  const double latent_std = latents.std().item<double>();
  const double scaling_factor = 1.0 / latent_std;

  const fs::path folder = context.out / "builtin_mini" / "vae";
  fs::create_directories(folder);
  nlohmann::json json = nlohmann::json::parse(std::ifstream(config_file));
  json["scaling_factor"] = scaling_factor;
  write_text_file(folder / "config.json", json.dump(2));
  save_safetensors(folder / "diffusion_pytorch_model.safetensors", half_state_dict(*vae), {{"format", "pt"}});

  // Measured on the written fp16 weights, as they ship.
  models::AutoencoderKL shipped = models::load_vae_folder(folder);
  const ScenePool held_out =
      render_pool(derive_seed(seed, "pretrain/vae/held_out"), recipe.held_out, int(recipe.resolution), true);
  double squared_error = 0.0;
  for (int64_t start = 0; start < held_out.size(); start += 64) {
    const torch::Tensor rows = torch::arange(start, std::min(start + 64, held_out.size()));
    const torch::Tensor images = pool_images_signed(held_out, rows);
    const torch::Tensor decoded = shipped->decode(shipped->encode(images).mode()).clamp(-1, 1);
    squared_error += (decoded - images).div(2.0).pow(2).sum().item<double>();
  }
  const double mse = squared_error / double(held_out.images_u8.numel());
  const double held_out_psnr = 10.0 * std::log10(1.0 / std::max(mse, 1e-12));
  const nlohmann::json evaluation = {{"latent_std", latent_std},
                                     {"scaling_factor", scaling_factor},
                                     {"held_out_psnr_db", held_out_psnr},
                                     {"held_out_images", held_out.size()},
                                     {"parameters", models::count_parameters(*vae)}};
  write_stage_run_file(context, "vae", recipe_yaml, progress, evaluation);
  std::cerr << "[vae] held-out PSNR " << held_out_psnr << " dB (fp16 weights), scaling_factor " << scaling_factor
            << "\n";
  return progress.outcome;
}

}  // namespace pbench::pretrain
