#pragma once
// Runs one parity case of the unet / vae reference folders: takes the case's
// inputs (`caseN.in.<name>` with the prefix stripped) and returns every output
// the model can produce under the names the folders use for
// `caseN.out.<name>` (gated ones and `inter.*` intermediates). The parity
// harness and the tests compare these to the stored tensors.
#include <torch/torch.h>

#include <map>
#include <string>

#include "framework/models/sd/unet.hpp"
#include "framework/models/sd/vae.hpp"

namespace pbench::models {

// Inputs: sample, timestep, encoder_hidden_states, optional encoder_attention_mask.
// Outputs: sample, inter.{time_proj,time_embedding,conv_in,down_blocks.i,mid_block,up_blocks.i}.
// `case_name` names the case in InputError messages for missing inputs.
TensorMap run_unet_case(UNet2DConditionImpl& unet, const TensorMap& inputs, const std::string& case_name);

// Inputs: either `latent` (decode case) or `sample` [+ `noise`] (encode case);
// `image_u8` is preprocessed and returned as `preprocessed` for the caller to
// compare with `sample`. Outputs: latent_mean, latent_logvar, latent_std,
// latent_sample (with noise), scaled_latent_mode, reconstruction,
// reconstruction_u8, inter.encoder, inter.moments; or sample,
// inter.post_quant_conv, inter.decoder_mid_block.
TensorMap run_vae_case(AutoencoderKLImpl& vae, const TensorMap& inputs, const std::string& case_name);

}  // namespace pbench::models
