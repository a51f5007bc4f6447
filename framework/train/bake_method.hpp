#pragma once
// A method baked into its base model (`pbench merge`): the attached method's changes folded
// into the pipeline's own weights, so an ordinary diffusers pipeline folder (pbench export)
// computes what the method computed, with no pbench code on the loading side.
#include <string>

#include "framework/models/sd/pipeline.hpp"

namespace pbench {

// Folds every adapted layer of the UNet, text encoder and VAE (Adaptable::fold): weight rewrites
// (SVDiff, LoHa, LoKr, LoRA on convs), affine output rewrites on linears (LoRA, IA³, DiffFit)
// and added token rows (Textual Inversion, Custom Diffusion: the token table grows, the
// tokenizer keeps the tokens). Weights a method trains in place (DreamBooth, Custom Diffusion's
// K/V) need nothing. InputError naming `method`, the layer and the parameterization when a
// change is not a change of weights (an adapter's nonlinear branch, Perfusion's gated edit,
// SINE's position grid) or when the UNet is conditioned through a context encoder (P+); the
// check covers every layer before any is folded.
void bake_method_into_pipeline(models::Pipeline& pipeline, const std::string& method);

}  // namespace pbench
