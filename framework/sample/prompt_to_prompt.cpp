#include "framework/sample/prompt_to_prompt.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "framework/models/sd/attention_control.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/util/errors.hpp"

namespace pbench::sample {

namespace {

// The edit's controller: the conditional half of the batch is [source, edit] (the last two
// samples); the edit's maps are replaced while the step is inside the replacement windows.
class PromptToPromptController : public models::AttentionController {
 public:
  // Word swap: `mapper` [T, T]; refinement: `refinement` (then mapper is undefined).
  PromptToPromptController(torch::Tensor mapper, RefinementMap refinement, torch::Tensor equalizer, int64_t cross_steps,
                           int64_t self_steps, int64_t self_max_queries)
      : mapper_(std::move(mapper)),
        refinement_(std::move(refinement)),
        equalizer_(std::move(equalizer)),
        cross_steps_(cross_steps),
        self_steps_(self_steps),
        self_max_queries_(self_max_queries) {}

  void set_step(int64_t step) { step_ = step; }

  // LocalBlend: keep the conditional maps of cross layers with `queries` positions (down and up
  // blocks), summed over heads, layers and steps, per prompt: [2, queries, T].
  void store_cross_maps(int64_t queries) { store_queries_ = queries; }
  const torch::Tensor& stored_maps() const { return stored_; }
  int64_t stored_layers() const { return stored_layers_; }

  // The source's cross maps [heads, S, T] carried over to the edit's tokens.
  torch::Tensor replace_cross(const torch::Tensor& base, const torch::Tensor& edit) const {
    if (mapper_.defined()) return torch::einsum("hqs,se->hqe", {base, mapper_.to(base.dtype())});
    const torch::Tensor alpha = refinement_.alpha.to(base.dtype());
    return base.index_select(2, refinement_.source_index.clamp_min(0).to(base.device())) * alpha + edit * (1 - alpha);
  }

  torch::Tensor control(const torch::Tensor& probs, int64_t heads, const models::AttentionSite& site) override {
    torch::Tensor out = edit_maps(probs, heads, site);
    if (store_queries_ > 0 && site.cross && site.place != models::UNetPlace::mid && out.size(1) == store_queries_) {
      const int64_t batch = out.size(0) / heads;
      torch::Tensor pair = out.view({batch, heads, out.size(1), out.size(2)}).narrow(0, batch - 2, 2).sum(1);
      stored_ = stored_.defined() ? stored_ + pair : pair;
      stored_layers_ += heads;
    }
    return out;
  }

 private:
  torch::Tensor edit_maps(const torch::Tensor& probs, int64_t heads, const models::AttentionSite& site) {
    const bool replace = site.cross ? step_ < cross_steps_ : step_ < self_steps_ && probs.size(1) <= self_max_queries_;
    if (!replace) return probs;
    const int64_t batch = probs.size(0) / heads;
    torch::Tensor maps = probs.view({batch, heads, probs.size(1), probs.size(2)});
    const torch::Tensor base = maps[batch - 2];  // the source prompt's conditional maps
    torch::Tensor edited = site.cross ? replace_cross(base, maps[batch - 1]) * equalizer_.to(base.dtype()) : base;
    std::vector<torch::Tensor> rows;
    for (int64_t b = 0; b + 1 < batch; ++b) rows.push_back(maps[b]);
    rows.push_back(edited);
    return torch::stack(rows).view(probs.sizes());
  }

 private:
  torch::Tensor mapper_;
  RefinementMap refinement_;
  torch::Tensor equalizer_;
  int64_t cross_steps_, self_steps_, self_max_queries_;
  int64_t step_ = 0;
  int64_t store_queries_ = 0, stored_layers_ = 0;
  torch::Tensor stored_;
};

// LocalBlend's mask from the stored maps: the words' tokens of each prompt, mean over layers and
// heads, 3×3 max-pool, resized (nearest) to the latent, normalized by the maximum, thresholded;
// the union of the two prompts' masks, float [1, 1, side, side].
torch::Tensor blend_mask(const torch::Tensor& stored, int64_t stored_layers, const torch::Tensor& word_tokens,
                         double threshold, int64_t side) {
  const int64_t queries = stored.size(1), map_side = int64_t(std::lround(std::sqrt(double(queries))));
  torch::Tensor maps = (stored * word_tokens.to(stored.dtype()).unsqueeze(1)).sum(-1) / double(stored_layers);
  maps = maps.view({2, 1, map_side, map_side});
  maps = torch::max_pool2d(maps, {3, 3}, {1, 1}, {1, 1});
  maps = torch::upsample_nearest2d(maps, {side, side});
  maps = maps / maps.amax({2, 3}, true);
  torch::Tensor mask = maps.gt(threshold);
  return torch::logical_or(mask[0], mask[1]).unsqueeze(0).to(stored.dtype());
}

}  // namespace

int64_t default_self_max_queries(const models::UNetConfig& config, int64_t latent_side) {
  std::vector<int64_t> sides;
  int64_t side = latent_side;
  for (size_t i = 0; i < config.down_block_types.size(); ++i) {
    if (config.down_block_types[i].find("CrossAttn") != std::string::npos) sides.push_back(side);
    if (i + 1 < config.down_block_types.size()) side /= 2;  // every block but the last downsamples
  }
  if (config.mid_block_type.find("CrossAttn") != std::string::npos) sides.push_back(side);
  std::sort(sides.begin(), sides.end());
  sides.erase(std::unique(sides.begin(), sides.end()), sides.end());
  if (sides.empty()) return 0;
  const int64_t largest_low = sides[(sides.size() - 1) / 2];  // the top of the smaller half
  return largest_low * largest_low;
}

// [2, T]: 1 at the tokens of words[b] in prompts[b] (LocalBlend's alpha_layers); InputError
// naming a word a prompt lacks.
torch::Tensor blend_word_tokens(const ClipTokenizer& tokenizer, const std::string& source, const std::string& edit,
                                const std::vector<std::string>& words, int64_t max_length) {
  if (words.size() != 2)
    throw InputError("prompt-to-prompt: local blending takes two words, one of each prompt (e.g. cube ball); got " +
                     std::to_string(words.size()));
  torch::Tensor out = torch::zeros({2, max_length}, torch::kFloat32);
  const std::string* prompts[2] = {&source, &edit};
  for (int b = 0; b < 2; ++b) {
    const std::vector<std::string> ws = prompt_words(*prompts[b]);
    const auto positions = word_token_positions(tokenizer, *prompts[b]);
    bool found = false;
    for (size_t w = 0; w < ws.size(); ++w)
      if (ws[w] == words[size_t(b)]) {
        found = true;
        for (int64_t pos : positions[w])
          if (pos < max_length) out[b][pos] = 1.0f;
      }
    if (!found)
      throw InputError("prompt-to-prompt: local blending word '" + words[size_t(b)] + "' is not a word of \"" +
                       *prompts[b] + "\"");
  }
  return out;
}

std::vector<std::string> prompt_words(const std::string& prompt) {
  std::istringstream in(prompt);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::vector<std::vector<int64_t>> word_token_positions(const ClipTokenizer& tokenizer, const std::string& prompt) {
  std::vector<std::vector<int64_t>> positions;
  int64_t next = 1;  // after SOT
  for (const std::string& word : prompt_words(prompt)) {
    std::vector<int64_t> span;
    const size_t count = tokenizer.tokenize_ids(word).size();
    for (size_t k = 0; k < count; ++k) span.push_back(next++);
    positions.push_back(span);
  }
  return positions;
}

torch::Tensor word_swap_mapper(const ClipTokenizer& tokenizer, const std::string& source, const std::string& edit,
                               int64_t max_length) {
  const std::vector<std::string> a = prompt_words(source), b = prompt_words(edit);
  if (a.size() != b.size())
    throw InputError("prompt-to-prompt: word swap needs prompts with the same number of words; \"" + source +
                     "\" has " + std::to_string(a.size()) + ", \"" + edit + "\" has " + std::to_string(b.size()) +
                     " (for added or removed words use refinement: refine)");
  const auto pa = word_token_positions(tokenizer, source), pb = word_token_positions(tokenizer, edit);
  std::vector<size_t> changed;
  for (size_t w = 0; w < a.size(); ++w)
    if (a[w] != b[w]) changed.push_back(w);
  auto m = torch::zeros({max_length, max_length}, torch::kFloat64);
  auto acc = m.accessor<double, 2>();
  // Walk both token sequences: unchanged tokens map one to one, shifted past changed words of
  // other lengths; a changed word's tokens map onto the new word's. (Past the last changed word
  // the official get_replacement_mapper maps target position j to itself, not the shifted source
  // token; the two agree whenever the swapped words have equal token counts, the usual case.)
  int64_t i = 0, j = 0;
  size_t next = 0;
  while (i < max_length && j < max_length) {
    if (next < changed.size() && !pa[changed[next]].empty() && pa[changed[next]].front() == i) {
      const auto& s = pa[changed[next]];
      const auto& t = pb[changed[next]];
      for (size_t k = 0; k < s.size(); ++k) {
        if (s.size() == t.size()) {
          if (s[k] < max_length && t[k] < max_length) acc[s[k]][t[k]] = 1.0;
        } else {
          for (int64_t tt : t)
            if (s[k] < max_length && tt < max_length) acc[s[k]][tt] = 1.0 / double(t.size());
        }
      }
      i += int64_t(s.size());
      j += int64_t(t.size());
      ++next;
    } else if (next < changed.size()) {
      acc[i++][j++] = 1.0;
    } else {
      acc[i++][j++] = 1.0;  // the official code writes [j][j] here: the same when lengths match
    }
  }
  return m.to(torch::kFloat32);
}

RefinementMap refinement_map(const ClipTokenizer& tokenizer, const std::string& source, const std::string& edit,
                             int64_t max_length) {
  auto with_ends = [&](const std::string& text) {
    std::vector<int64_t> ids{tokenizer.bos_id()};
    for (int64_t id : tokenizer.tokenize_ids(text)) ids.push_back(id);
    ids.push_back(tokenizer.eos_id());
    return ids;
  };
  const std::vector<int64_t> x = with_ends(source), y = with_ends(edit);
  const size_t n = x.size(), m = y.size();
  enum Move : uint8_t { kStart, kLeft, kUp, kDiagonal };
  std::vector<std::vector<int>> score(n + 1, std::vector<int>(m + 1, 0));  // gap 0: the borders are 0
  std::vector<std::vector<Move>> move(n + 1, std::vector<Move>(m + 1, kStart));
  for (size_t j = 1; j <= m; ++j) move[0][j] = kLeft;
  for (size_t i = 1; i <= n; ++i) move[i][0] = kUp;
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      const int left = score[i][j - 1], up = score[i - 1][j];
      const int diagonal = score[i - 1][j - 1] + (x[i - 1] == y[j - 1] ? 1 : -1);
      score[i][j] = std::max({left, up, diagonal});
      move[i][j] = score[i][j] == left ? kLeft : score[i][j] == up ? kUp : kDiagonal;
    }
  std::vector<int64_t> source_of(m, -1);  // per edit token: its source token, or -1 (inserted)
  for (size_t i = n, j = m; (i > 0 || j > 0) && move[i][j] != kStart;) {
    if (move[i][j] == kDiagonal) {
      source_of[--j] = int64_t(--i);
    } else if (move[i][j] == kLeft) {
      --j;
    } else {
      --i;
    }
  }
  RefinementMap r{torch::arange(max_length, torch::kInt64), torch::ones({max_length}, torch::kFloat32)};
  for (size_t j = 0; j < m && int64_t(j) < max_length; ++j) {
    r.source_index[int64_t(j)] = source_of[j];
    r.alpha[int64_t(j)] = source_of[j] >= 0 ? 1.0f : 0.0f;
  }
  return r;
}

torch::Tensor word_equalizer(const ClipTokenizer& tokenizer, const std::string& prompt,
                             const std::vector<std::pair<std::string, double>>& scales, int64_t max_length) {
  auto e = torch::ones({max_length}, torch::kFloat32);
  const std::vector<std::string> words = prompt_words(prompt);
  const auto positions = word_token_positions(tokenizer, prompt);
  for (const auto& [word, scale] : scales) {
    bool found = false;
    for (size_t w = 0; w < words.size(); ++w) {
      if (words[w] != word) continue;
      found = true;
      for (int64_t p : positions[w])
        if (p < max_length) e[p] = scale;
    }
    if (!found) throw InputError("prompt-to-prompt: re-weighted word '" + word + "' is not a word of \"" + prompt + "\"");
  }
  return e;
}

EditLatents prompt_to_prompt(models::Pipeline& pipeline, const torch::Tensor& z_n, const std::string& source,
                             const std::string& edit, const std::vector<torch::Tensor>& uncond_per_step,
                             const PromptToPromptOptions& options, const StepCallback& on_step) {
  if (!(options.cross_replace >= 0 && options.cross_replace <= 1) || !(options.self_replace >= 0 && options.self_replace <= 1))
    throw InputError("prompt-to-prompt: cross_replace and self_replace: expected fractions in [0, 1]");
  if (!(options.guidance >= 1)) throw InputError("prompt-to-prompt: guidance: expected >= 1");
  torch::NoGradGuard no_grad;
  const sched::DDIMScheduler scheduler = ddim_scheduler(pipeline, options.num_steps);
  const std::vector<int64_t> timesteps = sampling_timesteps(scheduler);
  const int64_t n = int64_t(timesteps.size());
  if (uncond_per_step.size() != 1 && int64_t(uncond_per_step.size()) != n)
    throw std::invalid_argument("prompt_to_prompt: expected 1 or " + std::to_string(n) + " unconditional contexts");
  const int64_t max_length = pipeline.tokenizer->max_length();
  const int64_t side = z_n.size(-1);
  const int64_t self_max = options.self_max_queries > 0 ? options.self_max_queries
                                                        : default_self_max_queries(pipeline.unet->config(), side);
  auto controller = std::make_shared<PromptToPromptController>(
      options.refine ? torch::Tensor() : word_swap_mapper(*pipeline.tokenizer, source, edit, max_length),
      options.refine ? refinement_map(*pipeline.tokenizer, source, edit, max_length) : RefinementMap{},
      word_equalizer(*pipeline.tokenizer, edit, options.reweight, max_length),
      int64_t(std::floor(options.cross_replace * double(n))), int64_t(std::floor(options.self_replace * double(n))),
      self_max);
  models::ScopedAttentionController installed(*pipeline.unet, controller);
  const bool blend = !options.blend_words.empty();
  torch::Tensor blend_tokens;
  if (blend) {
    blend_tokens = blend_word_tokens(*pipeline.tokenizer, source, edit, options.blend_words, max_length);
    const int64_t blend_side = int64_t(std::lround(std::sqrt(double(default_self_max_queries(pipeline.unet->config(), side)))));
    controller->store_cross_maps(blend_side * blend_side);
  }
  const int64_t blend_from = int64_t(std::floor(options.blend_start * double(n)));
  torch::Tensor mask;

  const torch::Tensor cond = models::encode_prompts(pipeline, {source, edit});
  torch::Tensor latents = torch::cat({z_n, z_n});
  const bool guided = options.guidance != 1.0;
  for (int64_t i = 0; i < n; ++i) {
    controller->set_step(i);
    const torch::Tensor t = torch::tensor(timesteps[size_t(i)], torch::kInt64);
    torch::Tensor eps;
    if (guided) {
      const torch::Tensor& u = uncond_per_step[uncond_per_step.size() == 1 ? 0 : size_t(i)];
      // [u, u, c_source, c_edit]: the order the official code batches in.
      auto both = pipeline.unet->forward(torch::cat({latents, latents}), t,
                                         models::cat_contexts({models::expand_context_batch(u, 2), cond}))
                      .chunk(2);
      eps = guided_noise(both[0], both[1], options.guidance);
    } else {
      eps = pipeline.unet->forward(latents, t, cond);
    }
    latents = scheduler.step(eps, timesteps[size_t(i)], latents).prev_sample;
    if (blend && i >= blend_from && controller->stored_maps().defined()) {
      mask = blend_mask(controller->stored_maps(), controller->stored_layers(), blend_tokens, options.blend_threshold, side);
      const torch::Tensor x_source = latents.narrow(0, 0, 1);
      latents = x_source + mask * (latents - x_source);  // the source row is unchanged
    }
    if (on_step) on_step(i + 1, n);
  }
  return {latents.narrow(0, 0, 1), latents.narrow(0, 1, 1), mask, self_max};
}

}  // namespace pbench::sample
