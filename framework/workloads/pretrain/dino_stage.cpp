// Component `dino`: builtin:mini-dino, the DINO metric's ViT, trained by
// self-distillation with no labels (Caron et al., DINO, arXiv:2104.14294,
// Algorithm 1 and §3.1): a student and an EMA teacher of the same ViT + head,
// multi-crop (2 global + several local crops; the teacher sees only the
// globals), the teacher's output centred (EMA of its batch mean) and sharpened
// (low temperature), cross-entropy from each teacher global to every other
// student view. The evaluated and shipped network is the teacher's backbone
// (as in the paper). Recipe: DinoRecipe (recipes.hpp).
//
// Kept from the paper: the head (3-layer GELU MLP, l2-normalised bottleneck,
// weight-normalised last layer with its norm fixed to 1), student temperature
// 0.1, teacher temperature 0.04, centre momentum 0.9, teacher momentum on a
// cosine schedule to 1, weight decay on a cosine schedule 0.04 -> 0.4 with no
// decay on biases and norms, AdamW, linear warmup then cosine learning rate,
// crop scales (0.4, 1) global and local crops of smaller area, flips, bicubic
// interpolation of the position embeddings for the small local crops.
// Changed (ours, for a 2-core machine and a ~15 minute budget): prototypes
// 1024 (65536), head width 512 / bottleneck 64 (2048 / 256), 4 local crops of
// 16 px (8-10 of 96 px), teacher momentum from 0.99 (0.996), learning rate x4
// of the batch-scaled rule (short run), no gradient clipping and no frozen last
// layer in the first epoch.
// Changed (ours, for this world): no hue, saturation, grayscale or
// solarisation jitter, only brightness: colour is part of a subject's
// identity here, and a metric that ignores it cannot tell a red cube from a
// blue one. And the views of one training "image" are renders of one object
// in different scenes (background, pose and light redrawn; views_per_object
// of them): what two photos of one object are in the DreamBooth dataset, and
// what makes the features follow the object rather than the background the
// subject happens to stand on (issue 34's subject-retrieval criterion). The
// synthetic world offers this view augmentation where a photo collection does
// not; it uses no labels. A share of patterned objects gets a second colour so
// that two-tone looks (the subjects' kind) are not unseen; no pool object has
// a subject's exact look.
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>

#include "datasets/mini_world_render.hpp"
#include "datasets/mini_world_subjects.hpp"
#include "framework/models/deterministic_init.hpp"
#include "framework/models/dino/dino_vit.hpp"
#include "framework/models/hf/export.hpp"
#include "framework/models/hf/hf_config.hpp"
#include "framework/models/metric_backbones.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/workloads/pretrain/crops.hpp"
#include "framework/workloads/pretrain/scene_pool.hpp"
#include "framework/workloads/pretrain/stages.hpp"
#include "framework/workloads/pretrain/world_probes.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench::pretrain {

namespace fs = std::filesystem;

namespace {

namespace F = torch::nn::functional;

// DINOHead: MLP -> l2-normalised bottleneck -> weight-normalised prototypes.
struct DinoHeadImpl : torch::nn::Module {
  DinoHeadImpl(int64_t in, const DinoRecipe& r) {
    fc1 = register_module("fc1", torch::nn::Linear(in, r.head_hidden));
    fc2 = register_module("fc2", torch::nn::Linear(r.head_hidden, r.head_hidden));
    fc3 = register_module("fc3", torch::nn::Linear(r.head_hidden, r.head_bottleneck));
    prototypes = register_parameter("prototypes", torch::empty({r.out_dim, r.head_bottleneck}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor h = F::gelu(fc1->forward(x));
    h = F::gelu(fc2->forward(h));
    h = F::normalize(fc3->forward(h), F::NormalizeFuncOptions().dim(-1));
    // Weight norm with g fixed to 1 (norm_last_layer=True): unit-norm prototypes.
    return h.matmul(F::normalize(prototypes, F::NormalizeFuncOptions().dim(1)).t());
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
  torch::Tensor prototypes;
};
TORCH_MODULE(DinoHead);

struct DinoNetworkImpl : torch::nn::Module {
  DinoNetworkImpl(const models::VitConfig& config, const DinoRecipe& r) {
    backbone = register_module("backbone", models::DinoVitModel(config));
    head = register_module("head", DinoHead(config.hidden_size, r));
  }
  models::DinoVitModel backbone{nullptr};
  DinoHead head{nullptr};
};
TORCH_MODULE(DinoNetwork);

struct DinoState : torch::nn::Module {
  DinoState(const models::VitConfig& config, const DinoRecipe& r) {
    student = register_module("student", DinoNetwork(config, r));
    teacher = register_module("teacher", DinoNetwork(config, r));
    center = register_buffer("center", torch::zeros({1, r.out_dim}));
  }
  DinoNetwork student{nullptr}, teacher{nullptr};
  torch::Tensor center;
};

// The CLS embedding of `pixels` at any multiple of the patch size: the
// position table is interpolated bicubically for other grids (the paper's
// interpolate_pos_encoding), so local crops cost what their size says.
torch::Tensor cls_embedding(const models::DinoVitModelImpl& vit, const torch::Tensor& pixels) {
  const models::VitEmbeddingsImpl& e = *vit.embeddings;
  const torch::Tensor patches = e.patch_embeddings->projection->forward(pixels);
  torch::Tensor position = e.position_embeddings;
  const int64_t grid = pixels.size(2) / vit.config.patch_size;
  const int64_t trained_grid = vit.config.image_size / vit.config.patch_size;
  if (grid != trained_grid) {
    const int64_t d = position.size(2);
    const torch::Tensor table = position.slice(1, 1).reshape({1, trained_grid, trained_grid, d}).permute({0, 3, 1, 2});
    const torch::Tensor resized = F::interpolate(
        table, F::InterpolateFuncOptions().size(std::vector<int64_t>{grid, grid}).mode(torch::kBicubic).align_corners(false));
    position = torch::cat({position.slice(1, 0, 1), resized.permute({0, 2, 3, 1}).reshape({1, grid * grid, d})}, 1);
  }
  torch::Tensor h = torch::cat({e.cls_token.expand({patches.size(0), 1, -1}), patches}, 1) + position;
  for (const auto& layer : vit.encoder->layers) h = layer->forward(h);
  return vit.layernorm->forward(h).select(1, 0);
}

// The paper's trunc_normal(std 0.02) weights and zero biases, drawn as
// uniform values of that std from a seeded generator (machine-independent).
void init_head(DinoHeadImpl& head, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::Generator generator = at::detail::createCPUGenerator(seed);
  const double bound = 0.02 * std::sqrt(3.0);
  for (auto& p : head.named_parameters()) {
    if (p.value().dim() > 1)
      p.value().uniform_(-bound, bound, generator);
    else
      p.value().zero_();
  }
}

torch::Tensor network_forward(DinoNetworkImpl& network, const torch::Tensor& pixels) {
  return network.head->forward(cls_embedding(*network.backbone, pixels));
}

// Objects rendered in several scenes: [objects * views, R, R, 3], view-major per object.
torch::Tensor render_object_views(uint64_t seed, const DinoRecipe& r) {
  const int resolution = int(r.resolution);
  const int64_t views = r.views_per_object;
  torch::Tensor out = torch::empty({r.pool_size * views, resolution, resolution, 3}, torch::kUInt8);
  const size_t bytes = size_t(resolution) * size_t(resolution) * 3;
  const auto& subjects = mini::mini_subjects();
  for (int64_t o = 0; o < r.pool_size; ++o) {
    const uint64_t object_seed = mini::item_seed(seed, uint64_t(o));
    mini::MiniScene look = mini::sample_training_scene(object_seed);
    mini::SplitMix64 rng(object_seed ^ 0x9e3779b97f4a7c15ULL);
    if (look.pattern != mini::Pattern::plain && rng.chance(r.two_colour_fraction)) {
      look.second_colour = mini::Colour((int(look.colour) + 1 + rng.below(mini::kColours - 1)) % mini::kColours);
      for (const auto& s : subjects)  // never a subject's exact look
        if (s.look.shape == look.shape && s.look.colour == look.colour && s.look.pattern == look.pattern &&
            s.look.second_colour == look.second_colour)
          look.second_colour.reset();
    }
    for (int64_t v = 0, draw = 0; v < views; ++draw) {
      // Background, pose and light from another training scene; kept only
      // when the (class, colour, background) triple is a training one.
      const mini::MiniScene setting = mini::sample_training_scene(mini::item_seed(object_seed, uint64_t(draw)));
      if (mini::is_held_out(look.shape, look.colour, setting.background)) continue;
      mini::MiniScene scene = look;
      scene.background = setting.background;
      scene.x = setting.x;
      scene.y = setting.y;
      scene.size = setting.size;
      scene.yaw = setting.yaw;
      scene.tilt = setting.tilt;
      scene.light_azimuth = setting.light_azimuth;
      scene.light_elevation = setting.light_elevation;
      scene.light_strength = setting.light_strength;
      scene.ambient = setting.ambient;
      scene.texture_seed = setting.texture_seed;
      const Image image = mini::render_scene(scene, resolution);
      std::memcpy(out.data_ptr<uint8_t>() + size_t(o * views + v) * bytes, image.rgb.data(), bytes);
      ++v;
    }
    if ((o + 1) % 500 == 0 || o + 1 == r.pool_size)
      std::cerr << "[dino] rendered " << (o + 1) << "/" << r.pool_size << " objects x " << views << " scenes\n";
  }
  return out;
}

torch::Tensor imagenet_normalise(const torch::Tensor& images01) {
  const torch::Tensor mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
  const torch::Tensor std = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
  return (images01 - mean) / std;
}

// Crops of `views` [B, 3, R, R] in [0, 1], brightness-jittered, normalised.
torch::Tensor augmented_crops(const torch::Tensor& views, const CropOptions& crop, torch::Generator& generator) {
  const torch::Tensor cropped = random_resized_crops(views, crop, generator);
  const torch::Tensor brightness = torch::rand({views.size(0), 1, 1, 1}, generator) * 0.4 + 0.8;
  return imagenet_normalise((cropped * brightness).clamp(0, 1));
}

double cosine_schedule(double start, double end, int64_t step, int64_t steps) {
  const double progress = double(step) / double(std::max<int64_t>(1, steps));
  return end + (start - end) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace

StageOutcome run_dino_stage(const PretrainContext& context) {
  std::string recipe_yaml;
  const DinoRecipe recipe = context.read_recipe<DinoRecipe>("dino", recipe_yaml);
  const fs::path config_folder = context.configs / "builtin_mini_dino";
  const models::JsonSection root = models::read_json_section(config_folder / "config.json");
  const models::VitConfig config = models::parse_vit_config(root);
  if (recipe.local_size % config.patch_size != 0)
    throw InputError("dino recipe: local_size " + std::to_string(recipe.local_size) +
                     " is not a multiple of the ViT's patch_size " + std::to_string(config.patch_size));
  const int64_t seed = recipe.seed;
  DinoState state(config, recipe);
  models::deterministic_init(*state.student->backbone, derive_seed(seed, "pretrain/dino/init"), "pretrain dino");
  init_head(*state.student->head, derive_seed(seed, "pretrain/dino/head"));
  const std::vector<torch::Tensor> teacher_parameters = state.teacher->parameters();
  const std::vector<torch::Tensor> student_parameters = state.student->parameters();
  start_average(teacher_parameters, student_parameters);

  const torch::Tensor views_u8 = render_object_views(derive_seed(seed, "pretrain/dino/pool"), recipe);
  const int64_t views = recipe.views_per_object;
  StageSettings settings = context.settings("dino", recipe);
  // Decay on weights only (the paper's get_params_groups: none on biases and norms).
  std::vector<torch::Tensor> decayed, not_decayed;
  for (const auto& p : state.student->parameters()) (p.dim() > 1 ? decayed : not_decayed).push_back(p);
  torch::optim::AdamW optimizer({torch::optim::OptimizerParamGroup(decayed), torch::optim::OptimizerParamGroup(not_decayed)},
                                torch::optim::AdamWOptions(recipe.learning_rate));
  static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[1].options()).weight_decay(0.0);

  const CropOptions global_crop{config.image_size, recipe.global_scale_min, 1.0, 0.5};
  const CropOptions local_crop{recipe.local_size, recipe.local_scale_min, recipe.local_scale_max, 0.5};
  const int64_t batch = recipe.batch;
  const auto step = [&](int64_t step_index, torch::Generator& generator) {
    static_cast<torch::optim::AdamWOptions&>(optimizer.param_groups()[0].options())
        .weight_decay(cosine_schedule(recipe.weight_decay, recipe.weight_decay_end, step_index - 1, recipe.steps));
    const torch::Tensor objects = torch::randint(recipe.pool_size, {batch}, generator);
    // Two different scenes of each object for the two global crops; locals from any.
    const torch::Tensor first = torch::randint(views, {batch}, generator);
    const torch::Tensor second = (first + torch::randint(1, views, {batch}, generator)) % views;
    const auto images = [&](const torch::Tensor& view) {
      return views_u8.index_select(0, objects * views + view).permute({0, 3, 1, 2}).to(torch::kFloat32).div(255.0);
    };
    const torch::Tensor globals =
        torch::cat({augmented_crops(images(first), global_crop, generator),
                    augmented_crops(images(second), global_crop, generator)});
    torch::Tensor locals;
    if (recipe.local_crops > 0) {
      std::vector<torch::Tensor> pieces;
      for (int64_t i = 0; i < recipe.local_crops; ++i)
        pieces.push_back(augmented_crops(images(torch::randint(views, {batch}, generator)), local_crop, generator));
      locals = torch::cat(pieces);
    }
    torch::Tensor teacher_out;
    {
      torch::NoGradGuard no_grad;
      teacher_out = network_forward(*state.teacher, globals);
    }
    const std::vector<torch::Tensor> targets =
        torch::softmax((teacher_out - state.center) / recipe.teacher_temp, -1).chunk(2);
    std::vector<torch::Tensor> student = network_forward(*state.student, globals).chunk(2);
    if (locals.defined())
      for (auto& chunk : network_forward(*state.student, locals).chunk(recipe.local_crops)) student.push_back(chunk);
    torch::Tensor loss = torch::zeros({});
    int64_t terms = 0;
    for (size_t t = 0; t < targets.size(); ++t)
      for (size_t v = 0; v < student.size(); ++v) {
        if (v == t) continue;  // a view is never its own target
        loss = loss + (-targets[t] * torch::log_softmax(student[v] / recipe.student_temp, -1)).sum(-1).mean();
        ++terms;
      }
    {
      torch::NoGradGuard no_grad;
      state.center.mul_(recipe.center_momentum).add_(teacher_out.mean(0, true) * (1.0 - recipe.center_momentum));
    }
    return loss / double(terms);
  };
  const auto teacher_update = [&](int64_t step_index) {
    update_average(teacher_parameters, student_parameters,
                   cosine_schedule(recipe.teacher_momentum, 1.0, step_index - 1, recipe.steps));
  };
  const StageProgress progress = run_stage(settings, uint64_t(seed), state, optimizer, step, teacher_update);

  // The teacher's backbone, in Hugging Face ViTModel layout.
  const fs::path folder = context.out / "builtin_mini_dino";
  models::copy_into(config_folder / "config.json", folder / "config.json");
  models::copy_into(config_folder / "preprocessor_config.json", folder / "preprocessor_config.json");
  save_safetensors(folder / "model.safetensors", half_state_dict(*state.teacher->backbone), {{"format", "pt"}});

  // Measured on the written fp16 folder, loaded as the DINO metric loads it.
  const models::DinoBackbone shipped = models::load_dino_backbone(folder.string());
  const ScenePool bank = render_pool(derive_seed(seed, "pretrain/dino/knn_bank"), 2000, int(recipe.resolution), false);
  const ScenePool held_out =
      render_pool(derive_seed(seed, "pretrain/dino/held_out"), recipe.held_out, int(recipe.resolution), true);
  const double knn = knn_class_accuracy(shipped.encode_images(bank.images_u8), class_labels(bank.scenes),
                                        shipped.encode_images(held_out.images_u8), class_labels(held_out.scenes), 20,
                                        mini::kShapes);
  const SubjectImages subjects = render_subject_images(int(recipe.resolution));
  const double retrieval = nearest_neighbour_retrieval(shipped.encode_images(subjects.images_u8), subjects.subject);
  const nlohmann::json evaluation = {{"knn_k", 20},
                                     {"knn_bank_images", bank.size()},
                                     {"held_out_images", held_out.size()},
                                     {"knn_class_accuracy", knn},
                                     {"subject_retrieval_top1", retrieval},
                                     {"subject_images", int64_t(subjects.subject.size())},
                                     {"parameters", models::count_parameters(*state.teacher->backbone)}};
  write_stage_run_file(context, "dino", recipe_yaml, progress, evaluation);
  std::fprintf(stderr, "[dino] k-NN (k=20) class accuracy on held-out renders %.1f %%; subject retrieval %.1f %%\n",
               100 * knn, 100 * retrieval);
  return progress.outcome;
}

}  // namespace pbench::pretrain
