#pragma once
// Prompt-to-Prompt (Hertz et al., arXiv 2208.01626), as the official
// ptp_utils.py and notebooks run it (wave2-methods.md §16): the source and the
// edit prompt are denoised together from one initial latent; through the
// attention-control seam (framework/models/sd/attention_control.hpp) the edit
// branch takes the source's cross-attention maps (mapped to its own tokens:
// word swap) for the first `cross_replace` of the steps, optionally with a
// word's attention scaled (re-weighting), and the source's self-attention maps
// for the first `self_replace` of the steps at the low-resolution layers only.
// Only the conditional half of the classifier-free-guidance batch is edited, as
// in the official AttentionControl. On a real image the initial latent and the
// per-step unconditional contexts come from NULL-text inversion.
//
// With `refine` (the official AttentionRefine, for prompts that add words) the
// edit's tokens take the maps of the source tokens a global alignment pairs them
// with, and added tokens keep their own. With `blend_words` (LocalBlend) the edit
// is confined to where those words attend: after each step past `blend_start`,
// the edit latent outside the mask keeps the source's.
#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_inversion.hpp"

namespace pbench::sample {

struct PromptToPromptOptions {
  int64_t num_steps = 50;
  double guidance = 7.5;
  double cross_replace = 0.8;  // steps [0, ⌊cross_replace·N⌋) take the source's cross-attention maps
  double self_replace = 0.4;   // steps [0, ⌊self_replace·N⌋) take its self-attention maps ...
  // ... at layers with at most this many query positions. 0: the lower half of the UNet's
  // attention resolutions (default_self_max_queries), which is the official ≤ 16² on SD v1.x
  // at 512 px (its 64, 32, 16 and 8 latent sides: the 16×16 and 8×8 layers).
  int64_t self_max_queries = 0;
  // Words of the edit prompt whose attention is multiplied by a scale while cross maps are
  // replaced (the official AttentionReweight / equalizer, e.g. {"fluffy", 5}).
  std::vector<std::pair<std::string, double>> reweight;
  // Refinement instead of word swap: the prompts may differ in words (added, removed).
  bool refine = false;
  // LocalBlend: a word of the source and a word of the edit prompt (e.g. {"cube", "ball"}); empty: off.
  // Their cross-attention, summed over the steps so far at the down and up blocks' layers of the
  // blending side (the official 16×16 of SD at 512 px: the largest side of the lower half of the
  // attention resolutions, as for self-attention; 8×8 on builtin:mini), averaged over layers and
  // heads, max-pooled 3×3, resized to the latent, divided by its maximum and thresholded; the union
  // of the two prompts' masks is where the edit may change the latent.
  std::vector<std::string> blend_words;
  double blend_threshold = 0.3;
  double blend_start = 0.2;  // blending from step ⌊blend_start·N⌋ on (the NULL-text notebook's 20%)
};

// The query count at and below which self-attention is injected by default: the smaller half
// of the distinct sides of the UNet's attention layers (down blocks with cross-attention, and the
// mid block), squared. SD v1.x at 64×64 latents: sides 64, 32, 16, 8 -> 16² = 256 (the official
// value); builtin:mini (16×16 latents, sides 16, 8) -> 8² = 64.
int64_t default_self_max_queries(const models::UNetConfig& config, int64_t latent_side);

// The whitespace-separated words of a prompt (what word swap aligns).
std::vector<std::string> prompt_words(const std::string& prompt);

// Token positions (in the padded text-encoder input, SOT at 0) of each whitespace-separated word.
std::vector<std::vector<int64_t>> word_token_positions(const ClipTokenizer& tokenizer, const std::string& prompt);

// The word-swap mapper [T, T] (source token → edit token): prompts with the same number of words;
// a changed word's tokens map onto the new word's tokens (one to one when their counts match,
// else each source token spreads 1/len over the new word's tokens), every other position to its
// counterpart, shifted past changed words of other lengths (see the .cpp on one difference from
// the official get_replacement_mapper).
// InputError when the word counts differ (refinement, not yet supported).
torch::Tensor word_swap_mapper(const ClipTokenizer& tokenizer, const std::string& source, const std::string& edit,
                               int64_t max_length);

// The refinement map (AttentionRefine): for each edit token position j < T, the source token
// position a global alignment of the two token sequences (SOT and EOT included) pairs with it,
// and alpha 1; a token the alignment inserts has alpha 0 (it keeps its own map). The alignment is
// the official seq_aligner's: Needleman-Wunsch with match +1, mismatch −1, gap 0, ties resolved
// left (insertion), then up (deletion), then diagonal; positions past the edit's tokens map to
// themselves with alpha 1.
struct RefinementMap {
  torch::Tensor source_index;  // int64 [T]
  torch::Tensor alpha;         // float32 [T]
};
RefinementMap refinement_map(const ClipTokenizer& tokenizer, const std::string& source, const std::string& edit,
                             int64_t max_length);

// [T] ones, with each listed word's token positions in `prompt` set to its scale.
// InputError naming a word the prompt lacks.
torch::Tensor word_equalizer(const ClipTokenizer& tokenizer, const std::string& prompt,
                             const std::vector<std::pair<std::string, double>>& scales, int64_t max_length);

struct EditLatents {
  torch::Tensor source, edit;  // z_0 of each branch, [1, C, h, w]
  torch::Tensor blend_mask;    // LocalBlend's last mask, float [1, 1, h, w] of 0/1; undefined when off
  int64_t self_max_queries = 0;  // the self-injection bound that ran (options' or the default)
};

// Denoises z_n under `source` and `edit` together with the controller installed; step i uses
// uncond_per_step[i] (NULL-text inversion's) or the only context given. No gradients.
EditLatents prompt_to_prompt(models::Pipeline& pipeline, const torch::Tensor& z_n, const std::string& source,
                             const std::string& edit, const std::vector<torch::Tensor>& uncond_per_step,
                             const PromptToPromptOptions& options, const StepCallback& on_step = {});

}  // namespace pbench::sample
