// Stages `clip` and `metric-clip`: CLIP (Radford et al., arXiv:2103.00020, §2.3
// and its Figure 3 pseudocode) trained from scratch on mini-world renders and
// their captions, one recipe, two independent seeds.
//   - `clip`: the pipeline's CLIP. Its text tower becomes builtin:mini's text
//     encoder (SD v1 conditions on a CLIP text tower trained this way), its vision
//     tower builtin:mini's image encoder (image-conditioned methods: DisenBooth);
//     both towers are kept in <out>/pipeline_clip for study.
//   - `metric-clip`: the CLIP-I / CLIP-T backbone (builtin:mini-clip). A
//     different seed, pool and init, so the metric is not the model's own
//     encoder judging itself (on real SD, too, the metric ViT-B/32 is not the
//     text encoder's ViT-L/14).
// Decisions (CLIP has no official training code; marked as ours):
//   - Soft targets: a caption that omits a word ("a red cube") is true of
//     every image whose scene agrees with what it does say, so the InfoNCE
//     target of a row spreads evenly over all compatible entries of the batch
//     instead of calling them negatives. With 2000 (class, colour, background)
//     triples and 128-item batches such collisions are common.
//   - Text is cut after the longest caption's EOT: the causal mask makes the
//     pooled (EOT) output independent of later positions, so this only saves
//     work; the padding positions' embeddings stay at their init.
//   - Augmentation: horizontal flip (captions never say left or right); the
//     metric CLIP also takes random resized crops (crop_scale_min 0.7), its
//     "own augmentations", so the two models differ in more than the seed.
//   - Hard negatives: batches are groups of `scene_group` renders sharing
//     colour and background (SceneBuckets), so the loss turns on the class.
//   - logit_scale starts at ln(1/0.07) and is clamped at ln 100, as in CLIP.
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <fstream>
#include <iostream>

#include "framework/models/clip/clip_config.hpp"
#include "framework/models/clip/clip_text.hpp"
#include "framework/models/clip/clip_vision.hpp"
#include "framework/models/deterministic_init.hpp"
#include "framework/models/hf/export.hpp"
#include "framework/models/hf/hf_config.hpp"
#include "framework/models/hf/hf_folder.hpp"
#include "framework/models/image_preprocess.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/models/transformer_blocks.hpp"
#include "framework/workloads/pretrain/crops.hpp"
#include "framework/workloads/pretrain/scene_pool.hpp"
#include "framework/workloads/pretrain/world_probes.hpp"
#include "framework/workloads/pretrain/stages.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/text/clip_tokenizer.hpp"
#include "framework/util/assets.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench::pretrain {

namespace fs = std::filesystem;

namespace {

const double kInitialLogitScale = std::log(1.0 / 0.07), kMaxLogitScale = std::log(100.0);

struct ClipState : torch::nn::Module {
  ClipState(const models::ClipTextConfig& text_config, const models::ClipVisionConfig& vision_config) {
    text = register_module("text", models::ClipTextModel(text_config));
    vision = register_module("vision", models::ClipVisionModel(vision_config));
    logit_scale = register_parameter("logit_scale", torch::full({}, kInitialLogitScale));
  }
  models::ClipTextModel text{nullptr};
  models::ClipVisionModel vision{nullptr};
  torch::Tensor logit_scale;
};

// Does `text_scene`'s caption hold for an image of `image_scene`? Shape and the
// flags are always written; colour, pattern and background only when said.
bool caption_holds(const mini::MiniScene& text_scene, const mini::MiniScene& image_scene) {
  if (text_scene.shape != image_scene.shape || text_scene.shiny != image_scene.shiny ||
      text_scene.wet != image_scene.wet || text_scene.cube_shaped != image_scene.cube_shaped)
    return false;
  if (text_scene.says_colour && text_scene.colour != image_scene.colour) return false;
  const bool says_pattern = text_scene.says_pattern && text_scene.pattern != mini::Pattern::plain;
  if (says_pattern && text_scene.pattern != image_scene.pattern) return false;
  if (text_scene.says_background && text_scene.background != image_scene.background) return false;
  return true;
}

// Token ids [N, T] of `captions`, T = the longest caption up to its EOT.
torch::Tensor tokenize_cut(const ClipTokenizer& tokenizer, const std::vector<std::string>& captions, int64_t length) {
  torch::Tensor ids = torch::empty({int64_t(captions.size()), length}, torch::kInt64);
  auto a = ids.accessor<int64_t, 2>();
  for (size_t i = 0; i < captions.size(); ++i) {
    const std::vector<int64_t> row = tokenizer.encode(captions[i]).input_ids;
    for (int64_t t = 0; t < length; ++t) a[int64_t(i)][t] = row[size_t(t)];
  }
  return ids;
}

int64_t longest_caption(const ClipTokenizer& tokenizer, const std::vector<std::string>& captions) {
  int64_t longest = 0;
  for (const auto& c : captions) longest = std::max<int64_t>(longest, int64_t(tokenizer.tokenize_ids(c).size()) + 2);
  if (longest > tokenizer.max_length()) throw InputError("pretrain clip: a caption is longer than the context");
  return longest;
}

torch::Tensor image_features(const ClipState& state, const torch::Tensor& images_u8,
                             const models::ClipImageProcessorConfig& preprocess) {
  return torch::nn::functional::normalize(
      state.vision->forward(models::clip_preprocess(images_u8, preprocess)).image_embeds,
      torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor text_features(const ClipState& state, const torch::Tensor& ids) {
  return torch::nn::functional::normalize(state.text->forward(ids).text_embeds,
                                          torch::nn::functional::NormalizeFuncOptions().dim(1));
}

// -sum(target * log_softmax(logits)) per row, rows of `targets` summing to 1.
torch::Tensor soft_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  return -(targets * torch::log_softmax(logits, 1)).sum(1).mean();
}

// Pool items by (colour, background), for batches of hard negatives: groups
// of images that share colour and background and so differ in what the model
// has to learn to see, the class (colour and background alone are learned
// within a few hundred steps; the class, a 16-pixel silhouette, is not).
class SceneBuckets {
 public:
  explicit SceneBuckets(const ScenePool& pool) : bucket_of_(size_t(pool.size())) {
    std::map<std::pair<int, int>, size_t> ids;
    for (int64_t i = 0; i < pool.size(); ++i) {
      const auto key = std::make_pair(int(pool.scenes[size_t(i)].colour), int(pool.scenes[size_t(i)].background));
      auto [it, inserted] = ids.emplace(key, buckets_.size());
      if (inserted) buckets_.emplace_back();
      buckets_[it->second].push_back(i);
      bucket_of_[size_t(i)] = it->second;
    }
  }
  // `batch` items: random anchors, each followed by group - 1 random items of its bucket.
  torch::Tensor grouped_batch(int64_t batch, int64_t group, torch::Generator& generator) const {
    const int64_t anchors = (batch + group - 1) / group;
    const torch::Tensor anchor_tensor = torch::randint(int64_t(bucket_of_.size()), {anchors}, generator);
    const torch::Tensor pick_tensor = torch::rand({anchors, group - 1}, generator, torch::kFloat64);
    const auto anchor = anchor_tensor.accessor<int64_t, 1>();
    const auto pick = pick_tensor.accessor<double, 2>();
    std::vector<int64_t> out;
    for (int64_t a = 0; a < anchors && int64_t(out.size()) < batch; ++a) {
      out.push_back(anchor[a]);
      const std::vector<int64_t>& members = buckets_[bucket_of_[size_t(anchor[a])]];
      for (int64_t g = 0; g + 1 < group && int64_t(out.size()) < batch; ++g)
        out.push_back(members[size_t(pick[a][g] * double(members.size()))]);
    }
    return torch::tensor(out, torch::kInt64);
  }

 private:
  std::vector<std::vector<int64_t>> buckets_;
  std::vector<size_t> bucket_of_;
};

struct ClipComponent {
  std::string stage;            // "clip" or "metric-clip"
  fs::path config_folder;       // config.json (a CLIPModel) and preprocessor_config.json
  std::string folder;           // under --out: pipeline_clip or builtin_mini_clip
  bool writes_text_encoder;     // the pipeline's: builtin_mini/text_encoder
};

TensorMap text_tower_without_projection(const ClipState& state) {
  TensorMap weights = half_state_dict(*state.text);
  weights.erase("text_projection.weight");
  return weights;
}

// InputError unless a tower written to `folder` reproduces the trained one: `error` is the
// largest |difference| of their outputs (fp16 files: under 0.05).
void require_reproduced(const fs::path& folder, double error, const std::string& what, const std::string& config) {
  if (!(error < 0.05))
    throw InputError(folder.string() + ": the written " + what + " differs from the trained tower by " +
                     std::to_string(error) + " (are builtin_mini/" + folder.filename().string() +
                     "/config.json and the CLIP config's " + config + " the same model?)");
}

// The pipeline's text encoder as builtin:mini loads it, and a check that the
// written folder reproduces the trained tower's hidden states.
void write_text_encoder(const PretrainContext& context, const ClipState& state, const torch::Tensor& ids) {
  const fs::path folder = context.out / "builtin_mini" / "text_encoder";
  models::copy_into(context.configs / "builtin_mini" / "text_encoder" / "config.json", folder / "config.json");
  save_safetensors(folder / "model.safetensors", text_tower_without_projection(state), {{"format", "pt"}});
  torch::NoGradGuard no_grad;
  const models::ClipTextModel loaded = models::load_clip_text_folder(folder);
  require_reproduced(
      folder,
      (loaded->forward(ids).last_hidden_state - state.text->forward(ids).last_hidden_state).abs().max().item<double>(),
      "text encoder", "text_config");
}

// The pipeline CLIP's vision tower with its projection as builtin:mini's image encoder
// (a CLIPVisionModelWithProjection folder, what image-conditioned methods read), and a check
// that the written folder reproduces the trained tower's embeddings.
void write_image_encoder(const PretrainContext& context, const ClipState& state, const torch::Tensor& pixels) {
  const fs::path config_folder = context.configs / "builtin_mini" / "image_encoder";
  const fs::path folder = context.out / "builtin_mini" / "image_encoder";
  models::copy_into(config_folder / "config.json", folder / "config.json");
  models::copy_into(config_folder / "preprocessor_config.json", folder / "preprocessor_config.json");
  save_safetensors(folder / "model.safetensors", half_state_dict(*state.vision), {{"format", "pt"}});
  torch::NoGradGuard no_grad;
  const models::ClipVisionModel loaded = models::load_clip_vision_folder(folder);
  require_reproduced(
      folder, (loaded->forward(pixels).image_embeds - state.vision->forward(pixels).image_embeds).abs().max().item<double>(),
      "image encoder", "vision_config");
}

void write_clip_folder(const fs::path& folder, const fs::path& config_folder, const ClipState& state) {
  models::copy_into(config_folder / "config.json", folder / "config.json");
  models::copy_into(config_folder / "preprocessor_config.json", folder / "preprocessor_config.json");
  for (const char* name : {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"})
    models::copy_into(asset_path("clip_tokenizer") / name, folder / name);  // loadable as a Hugging Face folder
  TensorMap weights = half_state_dict(*state.text);
  for (auto& [key, value] : half_state_dict(*state.vision)) weights[key] = value;
  weights["logit_scale"] = state.logit_scale.detach().to(torch::kFloat16);
  save_safetensors(folder / "model.safetensors", weights, {{"format", "pt"}});
}

StageOutcome run_clip_recipe(const PretrainContext& context, const ClipComponent& component, const ClipRecipe& recipe,
                             const std::string& recipe_yaml) {
  const models::JsonSection root = models::read_json_section(component.config_folder / "config.json");
  if (models::detect_model_kind(root) != models::HfModelKind::kClipModel)
    root.fail("model_type", "a CLIPModel config (clip): the stage trains both towers");
  ClipState state(models::clip_text_config_of(root), models::clip_vision_config_of(root));
  const int64_t seed = recipe.seed;
  const std::string purpose = "pretrain/" + component.stage;
  models::deterministic_init(*state.text, derive_seed(seed, purpose + "/text"), component.stage);
  models::deterministic_init(*state.vision, derive_seed(seed, purpose + "/vision"), component.stage);
  const auto preprocess = models::read_clip_image_processor(component.config_folder / "preprocessor_config.json");
  const ClipTokenizer tokenizer = ClipTokenizer::from_folder(asset_path("clip_tokenizer"));

  const ScenePool pool = render_pool(derive_seed(seed, purpose + "/pool"), recipe.pool_size, int(recipe.resolution),
                                     false, "[" + component.stage + "]");
  const torch::Tensor ids = tokenize_cut(tokenizer, pool.captions, longest_caption(tokenizer, pool.captions));

  const StageSettings settings = context.settings(component.stage, recipe);
  auto optimizer = make_adamw(state.parameters(), settings);
  const int64_t batch = std::min(recipe.batch, pool.size());
  const CropOptions crops{recipe.resolution, recipe.crop_scale_min, 1.0, 0.5};
  const SceneBuckets buckets(pool);
  const auto step = [&](int64_t, torch::Generator& generator) {
    const torch::Tensor index = recipe.scene_group > 1 ? buckets.grouped_batch(batch, recipe.scene_group, generator)
                                                       : torch::randperm(pool.size(), generator).slice(0, 0, batch);
    // Flips always (captions never say left or right); crops where the recipe asks.
    const torch::Tensor images = random_resized_crops_u8(pool.images_u8.index_select(0, index), crops, generator);
    const auto rows = index.accessor<int64_t, 1>();
    torch::Tensor holds = torch::zeros({batch, batch});  // [text i, image j]
    auto h = holds.accessor<float, 2>();
    for (int64_t i = 0; i < batch; ++i)
      for (int64_t j = 0; j < batch; ++j)
        h[i][j] = caption_holds(pool.scenes[size_t(rows[i])], pool.scenes[size_t(rows[j])]) ? 1.f : 0.f;
    const torch::Tensor logits_per_text = state.logit_scale.clamp_max(kMaxLogitScale).exp() *
                                          text_features(state, ids.index_select(0, index))
                                              .matmul(image_features(state, images, preprocess).t());
    return 0.5 * (soft_cross_entropy(logits_per_text, holds / holds.sum(1, true)) +
                  soft_cross_entropy(logits_per_text.t(), holds.t() / holds.t().sum(1, true)));
  };
  const StageProgress progress = run_stage(settings, uint64_t(seed), state, *optimizer, step);

  state.eval();
  const fs::path folder = context.out / component.folder;
  write_clip_folder(folder, component.config_folder, state);
  if (component.writes_text_encoder) {  // the pipeline's CLIP: builtin:mini's text and image encoders
    write_text_encoder(context, state, ids.slice(0, 0, 16));
    write_image_encoder(context, state,
                        models::clip_preprocess(pool.images_u8.slice(0, 0, 16), preprocess));
  }

  // Measured on the written fp16 folder, loaded as a metric backbone is.
  const models::ClipBackbone shipped = models::load_clip_backbone(folder.string());
  const ScenePool held_out =
      render_pool(derive_seed(seed, purpose + "/held_out"), recipe.held_out, int(recipe.resolution), true);
  const ZeroShotAccuracy zero_shot = clip_zero_shot(shipped, held_out.scenes, held_out.images_u8);
  const SubjectImages subjects = render_subject_images(int(recipe.resolution));
  const double retrieval =
      nearest_neighbour_retrieval(shipped.encode_images(subjects.images_u8), subjects.subject);
  const nlohmann::json evaluation = {
      {"logit_scale", state.logit_scale.item<double>()},
      {"held_out_images", held_out.size()},
      {"parameters", models::count_parameters(state)},
      {"zero_shot_accuracy",
       {{"class", zero_shot.class_accuracy},
        {"colour", zero_shot.colour_accuracy},
        {"background", zero_shot.background_accuracy}}},
      {"subject_retrieval_top1", retrieval},
      {"subject_images", int64_t(subjects.subject.size())}};
  write_stage_run_file(context, component.stage, recipe_yaml, progress, evaluation);
  std::fprintf(stderr, "[%s] zero-shot on held-out triples: class %.1f %%, colour %.1f %%, background %.1f %%; "
               "subject retrieval %.1f %%\n", component.stage.c_str(), 100 * zero_shot.class_accuracy,
               100 * zero_shot.colour_accuracy, 100 * zero_shot.background_accuracy, 100 * retrieval);
  return progress.outcome;
}

}  // namespace

StageOutcome run_pipeline_clip_stage(const PretrainContext& context) {
  std::string yaml;
  const ClipRecipe recipe = context.read_recipe<ClipRecipe>("clip", yaml);
  return run_clip_recipe(context, {"clip", context.configs / "mini_recipe" / "pipeline_clip", "pipeline_clip", true},
                         recipe, yaml);
}

StageOutcome run_metric_clip_stage(const PretrainContext& context) {
  std::string yaml;
  const MetricClipRecipe recipe = context.read_recipe<MetricClipRecipe>("metric-clip", yaml);
  return run_clip_recipe(context, {"metric-clip", context.configs / "builtin_mini_clip", "builtin_mini_clip", false},
                         recipe, yaml);
}

}  // namespace pbench::pretrain
