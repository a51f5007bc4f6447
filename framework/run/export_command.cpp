// `pbench export <model> <folder>`: writes a pipeline or a metric backbone in
// diffusers / Hugging Face layout (framework/models/hf/export.hpp).
#include <iostream>

#include "framework/util/cli.hpp"
#include "framework/models/hf/export.hpp"
#include "framework/run/pbench_app.hpp"
#include "framework/util/errors.hpp"

namespace pbench {

int export_command(int argc, char** argv) {
  CLI::App app{"Write a model in Hugging Face / diffusers layout: pipelines as model_index.json + unet/ vae/ "
               "text_encoder/ tokenizer/ scheduler/, CLIP / DINO backbones as config.json + model.safetensors + "
               "preprocessor_config.json.",
               argv[0]};
  std::string model, folder;
  app.add_option("model", model,
                 "builtin:mini, builtin:tiny, builtin:mini-clip, builtin:tiny-clip, builtin:mini-dino, builtin:tiny-dino, a "
                 "diffusers pipeline folder or a Hugging Face "
                 "CLIP / ViT folder")
      ->required();
  app.add_option("folder", folder, "output folder (created; files in it are overwritten)")->required();
  if (auto rc = parse_command_line(app, argc, argv)) return *rc;
  try {
    models::ExportKind kind = models::export_model(model, folder);
    const char* what = kind == models::ExportKind::kPipeline ? "diffusers pipeline" : "Hugging Face model";
    std::cout << "wrote " << model << " to " << folder << " (" << what << " layout)\n";
    if (model.rfind("builtin:tiny", 0) == 0)
      std::cout << "note: builtin:tiny* models have deterministic random weights; anything computed with them is a "
                   "pipeline check, not comparable to published numbers\n";
    else if (model.rfind("builtin:mini", 0) == 0)
      std::cout << "note: builtin:mini* models were trained on the mini world (docs/mini_world.md): meaningful on its "
                   "images, not comparable to published numbers\n";
    return kExitOk;
  } catch (...) {
    return report_current_exception("pbench export");
  }
}

}  // namespace pbench
