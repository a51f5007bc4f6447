#include "framework/models/model_registry.hpp"

namespace pbench::models {

Registry<ModelEntry>& models_registry() {
  static Registry<ModelEntry>* registry = [] {
    auto* r = new Registry<ModelEntry>("model");
    r->add({"builtin:tiny",
            "small SD-architecture pipeline (64 px, latent 4x16x16), deterministic weights, no download: pipeline "
            "checks only; or pass a diffusers folder (e.g. runwayml/stable-diffusion-v1-5)",
            {}},
           {ModelKind::kPipeline});
    r->add({"builtin:mini",
            "the mini world's Stable Diffusion (SD v1 architecture, 64 px), pretrained on it by pbench pretrain: "
            "samples follow colour/class/background prompts; numbers meaningful on the mini world only",
            {}},
           {ModelKind::kPipeline});
    r->add({"builtin:tiny-clip",
            "small CLIP backbone for CLIP-I/CLIP-T, deterministic weights: scores not comparable to published ones; "
            "or pass a Hugging Face folder (openai/clip-vit-base-patch32)",
            {}},
           {ModelKind::kClipBackbone});
    r->add({"builtin:tiny-dino",
            "small ViT backbone for DINO, deterministic weights: scores not comparable to published ones; or pass a "
            "Hugging Face folder (facebook/dino-vits16)",
            {}},
           {ModelKind::kDinoBackbone});
    r->add({"builtin:mini-clip",
            "the mini world's CLIP-I/CLIP-T backbone, trained on it (pbench pretrain metric-clip): meaningful on "
            "mini-world images, not comparable to published ones",
            {}},
           {ModelKind::kClipBackbone});
    r->add({"builtin:mini-dino",
            "the mini world's DINO backbone, trained on it by DINO self-distillation (pbench pretrain dino): "
            "meaningful on mini-world images, not comparable to published ones",
            {}},
           {ModelKind::kDinoBackbone});
    return r;
  }();
  return *registry;
}

}  // namespace pbench::models
