// `pbench pretrain <component> [recipe.yaml] [key=value...] [--minutes M] [--resume] [--out DIR]`:
// trains one model of the mini world from scratch (stages.hpp), resumably;
// docs/mini_world.md says how the shipped weights were made and what they measure.
#include <torch/torch.h>

#include <iostream>
#include <sstream>

#include "framework/run/pbench_app.hpp"
#include "framework/util/assets.hpp"
#include "framework/util/cli.hpp"
#include "framework/util/errors.hpp"
#include "framework/workloads/pretrain/stages.hpp"

namespace pbench {

namespace pretrain {

const std::vector<Component>& pretrain_components() {
  static const std::vector<Component> components = {
      {"vae", "AutoencoderKL on renders (L1 + MSE + KL): builtin:mini's vae", run_vae_stage},
      {"clip", "CLIP, contrastive; its text tower becomes builtin:mini's text encoder", run_pipeline_clip_stage},
      {"metric-clip", "the CLIP-I / CLIP-T metric CLIP, own seed and crops: builtin:mini-clip", run_metric_clip_stage},
      {"dino", "a ViT by DINO self-distillation: the DINO metric's builtin:mini-dino", run_dino_stage},
      {"unet", "the UNet, latent diffusion on the frozen vae and clip text encoder", run_unet_stage},
  };
  return components;
}

namespace {

const Component& find_component(const std::string& name, const std::string& list) {
  for (const auto& c : pretrain_components())
    if (c.name == name) return c;
  throw InputError("pbench pretrain: unknown component '" + name + "'; components:" + list);
}

}  // namespace

}  // namespace pretrain

int pretrain_command(int argc, char** argv) {
  std::ostringstream list;
  for (const auto& c : pretrain::pretrain_components()) list << "\n  " << c.name << ": " << c.summary;
  CLI::App app{"Train one model of the mini world from scratch. It checkpoints every few minutes and at the end; "
               "--resume continues from the checkpoint with the same result an uninterrupted run gives. Writes "
               "<out>/runs/<component>.h5 (recipe, loss curve, evaluation) and the model folder (docs/mini_world.md). "
               "Components:" + list.str(),
               argv[0]};
  std::string component, out = "results/pretrain";
  std::vector<std::string> rest;
  double minutes = 0.0;
  bool resume = false;
  int threads = 0;
  app.add_option("component", component, "vae, clip, metric-clip, dino or unet")->required();
  app.add_option("recipe", rest, "a recipe YAML file and/or key=value overrides, e.g. steps=200 batch=64; every key "
                                 "and its default: experiments/pretrain/<component>.yaml");
  app.add_option("--out", out, "output folder (checkpoints/, runs/, model folders)")->capture_default_str();
  app.add_option("--minutes", minutes, "wall-clock budget: stop, checkpoint and write the weights reached "
                                       "(0 = no limit)")->check(CLI::NonNegativeNumber);
  app.add_flag("--resume", resume, "continue from <out>/checkpoints/<component>.pt (without it, an existing "
                                   "checkpoint is an error)");
  app.add_option("--threads", threads, "torch threads (0 = keep the default)")->check(count_in(0, kMaxThreads));
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    const pretrain::Component& chosen = pretrain::find_component(component, list.str());
    if (threads > 0) torch::set_num_threads(threads);
    pretrain::PretrainContext context;
    context.out = out;
    context.configs = asset_path("");
    for (const std::string& item : rest) {
      if (item.find('=') != std::string::npos) {
        context.recipe.overrides.push_back(item);
      } else if (context.recipe.file) {
        throw InputError("pbench pretrain: two recipe files (" + context.recipe.file->string() + ", " + item +
                         "); give one, and key=value overrides");
      } else {
        if (!std::filesystem::is_regular_file(item))
          throw InputError(item + ": no such recipe file (a YAML map of recipe keys; overrides are key=value)");
        context.recipe.file = std::filesystem::path(item);
      }
    }
    const std::filesystem::path checkpoint = context.checkpoint(chosen.name);
    if (std::filesystem::exists(checkpoint) && !resume)
      throw InputError(checkpoint.string() + ": a checkpoint of " + chosen.name +
                       " exists; pass --resume to continue it, or delete it (or choose another --out) to start over");
    if (resume && !std::filesystem::exists(checkpoint))
      std::cerr << "pbench pretrain: no checkpoint at " << checkpoint.string() << "; starting " << chosen.name
                << " from scratch\n";
    if (minutes > 0)
      context.deadline = std::chrono::steady_clock::now() +
                         std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double>(minutes * 60.0));
    const pretrain::StageOutcome outcome = chosen.run(context);
    if (outcome == pretrain::StageOutcome::kOutOfTime)
      std::cerr << "pbench pretrain: --minutes budget reached; the weights reached so far are written and evaluated ("
                << context.run_file(chosen.name).string() << ", status partial); run the same command with --resume "
                << "to continue\n";
    else
      std::cerr << "pbench pretrain: " << chosen.name << " done; run file " << context.run_file(chosen.name).string()
                << "\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench pretrain");
  }
}

}  // namespace pbench
