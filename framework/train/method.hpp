#pragma once
// The method interface: how a personalization / PEFT technique changes a
// pipeline. A method
//   - attaches parameterizations to adaptable layers chosen by name pattern
//     (framework/tensor/adaptable_layers.hpp), adds tokens, or unfreezes
//     whole modules (DreamBooth), and marks exactly its trainable tensors;
//   - hands the engine its parameter groups (per-group learning rates);
//   - exposes its learned delta by name (saved as safetensors, counted);
//   - may rewrite prompts (Textual Inversion's placeholder token), add a loss
//     term, or act before/after each optimizer step.
// The same code counts parameters on the SD v1.5 architecture: attach to a
// meta-device pipeline and sum the trainable shapes.
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"
#include "framework/config/node.hpp"
#include "framework/config/options.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/registry/registry.hpp"
#include "framework/tensor/adaptable_layers.hpp"
#include "framework/tensor/safetensors_torch.hpp"
#include "framework/train/patch_crop.hpp"

namespace pbench {

struct ParamGroup {
  std::string name;                  // "unet", "text_1d", "token", ... (for logs)
  std::vector<torch::Tensor> params;
  double lr = 0.0;                   // absolute learning rate of this group
  // AdamW's decoupled weight decay; unset = the engine's train.weight_decay.
  std::optional<double> weight_decay;
  // `lr` is per image: the optimizer takes lr x train.batch_size x train.grad_accum (the
  // reference scripts' --scale_lr, x GPUs: one here). Custom Diffusion's recipe.
  bool lr_per_image = false;
  // false: the group's gradients are computed and cleared each step, but no optimizer steps them
  // and gradient clipping leaves them alone; the method reads them in after_step and changes the
  // tensors itself (Cones' neuron scores, arXiv 2303.05125).
  bool stepped = true;
};

// How the engine draws each training image beyond train.flip.
enum class InstanceAugmentation {
  none,
  // Custom Diffusion's random zoom: a random scale placed on an empty canvas or cropped,
  // the loss masked to the image's cells, the prompt told "a far away " / "zoomed in "
  // (framework/train/random_scale.hpp).
  random_scale,
  // SINE's patch-based training: a random rectangle of the image on the latent grid, resized
  // to the model's side, its box handed to the method in BatchImages::boxes
  // (framework/train/patch_crop.hpp; Method::patch_crop_range gives the fractions).
  patch_crop,
};

// The side of a patch_crop patch as a fraction of the image's, drawn per axis in [min, max].
struct PatchCropRange {
  double min_frac = 0.1;
  double max_frac = 1.0;
};

// Class images a method trains on beside the subject's (its prior term).
struct RegularizationSet {
  std::string class_prompt;  // what the frozen model is prompted with
  int64_t num_images = 0;    // how many it generates (cached per model, prompt, count, seed)
  double loss_weight = 1.0;  // λ: loss = subject term + λ · class term
  // A folder of real class images to use instead (Custom Diffusion's retrieved LAION images, a
  // DreamBooth class_data_dir); "" = generate them. Its first num_images images, sorted by name.
  std::string real_images_dir;
};

// The stream a method's random inits draw from (LoRA's down factors, adapter
// weights, LoHa's factors): the engine derives it from the run's seed, so the
// same run starts from the same weights without seeding LibTorch's global
// generator; `run_seed` 0 is also the default of a MethodTarget (counting, tests).
torch::Generator method_init_generator(int64_t run_seed);

// Everything a method may touch when it attaches.
struct MethodTarget {
  models::Pipeline& pipeline;
  const SubjectData* subject = nullptr;  // null when only counting parameters
  torch::Generator generator = method_init_generator(0);
  // Where a method may keep what it derives from the model alone, once per model (Perfusion's
  // inverse text covariance); empty = nothing is written (counting, tests).
  std::filesystem::path cache_dir{};
};

// The subject images behind a micro-batch's rows: which image each row is and whether it
// was mirrored (train.flip), for a method that conditions on the training image itself.
struct BatchImages {
  torch::Tensor index;    // [B] int64, rows of SubjectData::images
  torch::Tensor flipped;  // [B] bool
  // Each row's patch on the image's latent grid (InstanceAugmentation::patch_crop); empty otherwise.
  std::vector<CropBox> boxes;
};

// The denoising loss of the current micro-batch (its latents, noise, timesteps and mask
// fixed) under `context`: one UNet pass, as the engine computes it.
using DenoisingLossOf = std::function<torch::Tensor(const torch::Tensor& context)>;

// Several deltas of one method as one (multi-concept composition): what Method::merge_deltas
// returns and `pbench merge-delta` writes.
struct MergedDelta {
  TensorMap tensors;
  // Method keys the merged delta must be loaded with, as YAML values ("rank": "6" for LoRA's
  // concatenated factors); empty = the inputs' own configuration.
  std::map<std::string, std::string> load_options;
  // Per input, the keys its own method section takes to name its concept in prompts of the
  // merged model (Custom Diffusion renames each concept's modifier token: "<new1>", "<new2>", …);
  // empty = every concept keeps its own.
  std::vector<std::map<std::string, std::string>> concept_options;
};

// What a composition rule may ask for besides the deltas. The model and the class nouns are
// fetched on demand, so a rule that needs neither (LoRA, Perfusion, Cones) never loads them.
struct MergeContext {
  explicit MergeContext(std::vector<double> delta_weights) : weights(std::move(delta_weights)) {}
  std::vector<double> weights;  // one per delta
  // The frozen base model the deltas were trained on, unattached; a rule may attach to it for
  // its computation and must detach before returning. Unset or throwing: not available.
  std::function<models::Pipeline&()> base_model;
  // Concept k's subject class noun ("dog"); unset or throwing: not available.
  std::function<std::string(size_t)> class_noun;
  // Captions a rule encodes with the base model (Custom Diffusion's regularization captions):
  // "mini_world" (the captions builtin:mini learnt from) or a file, one caption per line. A
  // setting of the merge, not of the runs (composenW.py's --regularization_prompt).
  std::string captions = "mini_world";
};

// How task `t` of a continual sequence starts (the continual workload,
// framework/workloads/continual): the method section the task attaches, and whether it
// loads the previous task's delta first.
struct ContinualTask {
  // Keys of the method section replaced for this task (C-LoRA: a new placeholder, `past`).
  std::vector<std::pair<std::string, cfg::Node>> options;
  // True: sequential fine-tuning, the task attaches and loads task t-1's delta, so the same
  // weights (and tokens) keep training. False: the options carry the earlier tasks.
  bool load_previous_delta = true;
};

class Method {
 public:
  virtual ~Method() = default;
  // Freezes the pipeline, then attaches and unfreezes exactly what the method trains.
  virtual void attach(MethodTarget& target) = 0;
  // Trainable tensors grouped by learning rate; `base_lr` is train.lr.
  virtual std::vector<ParamGroup> parameter_groups(double base_lr) = 0;
  // The learned delta by name (diffusers/PEFT-like keys), as saved and counted.
  virtual TensorMap delta() = 0;
  virtual void load_delta(const TensorMap& delta) = 0;
  // Short description of what trains ("LoRA r=4 on 128 attention projections").
  virtual std::string describe() const = 0;

  // Prompt for the training images and for evaluation (default: the subject's).
  virtual std::string train_prompt(const SubjectData& subject) const { return subject.instance_prompt; }
  // Captions the training batches draw from (Textual Inversion: templates
  // around its placeholder); image i of DVAR's eval batch gets caption i % n.
  virtual std::vector<std::string> train_prompts(const SubjectData& subject) const { return {train_prompt(subject)}; }
  virtual std::string eval_prompt(const std::string& prompt, const SubjectData& subject) const { return prompt; }
  // Classifier-free guidance's unconditional branch (the negative prompt) is
  // the frozen prompt's, never rewritten by eval_prompt (guidance_prompts.hpp).
  // A method that learns that branch itself (NULL-text inversion, arXiv
  // 2211.09794) opts in here; its eval_prompt then rewrites the negative
  // prompt too. Default: no.
  virtual bool owns_negative_prompt() const { return false; }
  // How the training images are augmented (the trainer draws them). Default: none.
  virtual InstanceAugmentation instance_augmentation() const { return InstanceAugmentation::none; }
  virtual PatchCropRange patch_crop_range() const { return {}; }
  // True: the denoising loss of the subject's images is weighted by their soft object masks
  // (SubjectData::object_coverage, per latent cell, each image's mask divided by its maximum):
  // mean((m * (pred - target))^2), Perfusion's masked loss (arXiv 2305.01644). The trainer
  // refuses a subject without masks. Default: no.
  virtual bool weights_loss_by_object_mask() const { return false; }
  // Which of the subject's images (rows of SubjectData::images) the method trains on; empty
  // (the default) = all. A single-image method (SINE) names one; DVAR's frozen batch draws
  // from the same ones. The evaluation still scores against all the subject's images.
  virtual std::vector<int64_t> training_images(const SubjectData& subject) const { return {}; }
  // Extra loss added to the denoising loss (undefined tensor = none).
  virtual torch::Tensor extra_loss() { return {}; }
  // The micro-batch's denoising loss; `loss(context)` is one UNet pass on the batch. The
  // default is that one pass on the captions' context; a method overrides it to take more
  // (DisenBooth, arXiv 2305.03374: an image-conditioned pass, a text-only pass and a
  // disentangling term). The prior term and extra_loss() are added after it either way.
  virtual torch::Tensor batch_loss(const torch::Tensor& context, const BatchImages& images,
                                   const DenoisingLossOf& loss) {
    return loss(context);
  }
  // UNet passes per training image that batch_loss takes (the cost axis of TrainResult).
  virtual int64_t unet_passes_per_image() const { return 1; }
  // The method's regularization set (DreamBooth's prior preservation, Custom
  // Diffusion's regularization images): class images the frozen model
  // generates before training, trained on beside the subject. None by default.
  virtual std::optional<RegularizationSet> regularization_set(const SubjectData& subject) const { return std::nullopt; }
  virtual void before_step(int64_t step, torch::Generator& generator) {}
  virtual void after_step(int64_t step) {}

  // Evaluation variants: other ways to evaluate the same trained delta (DyLoRA:
  // "rank_1", "rank_2", … — the first b components). After its final point the
  // personalize workload scores each variant as the point `final_<variant>`
  // (docs/run_file_schema.md). Names are lower snake case (HDF5 path parts).
  // Default: none.
  virtual std::vector<std::string> eval_variants() const { return {}; }
  // Evaluates as `variant` (one of eval_variants()) from now on; "" = the
  // method's default. Never changes the delta or what trains.
  virtual void select_eval_variant(const std::string& variant) {
    if (!variant.empty()) throw std::invalid_argument("method '" + describe() + "' has no evaluation variant '" + variant + "'");
  }

  // Several concepts' deltas of this method (each as delta() wrote it, trained with this
  // instance's options) merged into one delta that applies them all at once, by the method's
  // own composition rule (LoRA: the weighted sum of the updates; Perfusion: every concept's
  // edit; Cones: the union of the shut neurons; Custom Diffusion: the constrained least squares
  // of its paper, on the base model's text features); `context.weights` has one entry per
  // delta. Called on an instance that is not attached. Default: InputError, no rule.
  virtual MergedDelta merge_deltas(const std::vector<TensorMap>& deltas, const MergeContext& context) const;

  // Task `task` (0-based) of a continual sequence, given the delta files of the tasks before
  // it, oldest first. Called on task 0's instance, not attached. Default: sequential
  // fine-tuning (the baselines of C-LoRA, arXiv 2304.06027): the same options, starting from
  // the previous task's delta. A continual method (C-LoRA) names its per-task options instead.
  virtual ContinualTask continual_task(int64_t task, const std::vector<std::string>& earlier_deltas) const { return {}; }
};

// A method's own training budget, from its paper or reference code: what a run
// config gets for `train.steps: method`, `train.batch_size: method`, `dvar.window:
// method` and `dvar.threshold: method` (framework/workloads/personalize/budget.cpp).
struct MethodBudget {
  int64_t steps = 500;
  int64_t batch_size = 1;
  // DVAR's tuned stop rule for this method (yandex-research/DVAR README); unset = the engine's.
  std::optional<int64_t> dvar_window;
  std::optional<double> dvar_threshold;
  std::string source;  // where the numbers come from, or "chosen: …" where no reference gives them
};

// Builds instances of one method from options already read and checked.
using MethodBuilder = std::function<std::unique_ptr<Method>()>;

struct MethodEntry {
  // Reads a method section (the user's keys; absent ones take the defaults) into the
  // method's typed options and checks them (types, ranges, choices, unknown keys, the
  // options' cross-field rules) without building anything: InputError at the first bad
  // key's file:line. The builder it returns makes instances from those options.
  std::function<MethodBuilder(const cfg::Node& section)> read;
  // Its typed options, one row per key (`pbench methods <name>`); see method_options.hpp.
  std::vector<cfg::OptionDoc> options;
  MethodBudget budget;

  // One instance: read(section)().
  std::unique_ptr<Method> create(const cfg::Node& section) const { return read(section)(); }
};
// The registry of methods (methods/registry.cpp).
Registry<MethodEntry>& methods();

// A run's `method:` section read once (the one check of its keys and values): which
// method, and the builder of its instances (the run's, the SD v1.5 count's).
struct ChosenMethod {
  std::string name;
  MethodBuilder build;
};
// InputError naming the section when it is no map, names no registered method, or a key
// or value is wrong.
ChosenMethod read_method(const cfg::Node& section);

// ---- helpers every method uses --------------------------------------------

// Sets requires_grad=false on every parameter of the pipeline's modules.
void freeze_pipeline(models::Pipeline& pipeline);

// True when `pattern` selects the layer `name`: a glob ('*' any run of
// characters) matched against the full dotted name or any suffix that starts
// after a '.', so "to_q" selects "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
// and "attn2.to_k" only the cross-attention keys; "re:<regex>" matches the full name.
bool layer_pattern_matches(const std::string& pattern, const std::string& name);

// Adaptable layers under `root` selected by any of `patterns`, optionally of
// one kind ("linear", "conv2d", ...; empty = any).
std::vector<nn::AdaptableRef> select_layers(torch::nn::Module& root, const std::vector<std::string>& patterns,
                                            const std::vector<std::string>& kinds = {});

// Reads a list of strings from a method section (InputError naming the key otherwise).
std::vector<std::string> string_list(const cfg::Node& section, const std::string& key);

struct MethodCounts {
  int64_t trainable = 0;         // elements of every tensor in the parameter groups
  int64_t total = 0;             // every parameter of UNet + text encoder + VAE after attaching
  int64_t unet_total = 0;        // the UNet alone (before attaching), for "% of the UNet"
  int64_t delta_bytes_fp32 = 0;  // the delta() tensors as fp32 / fp16 safetensors payload
  int64_t delta_bytes_fp16 = 0;
  std::string describe;
};
// Attaches a fresh instance of the method to `pipeline` and counts.
MethodCounts count_method(const ChosenMethod& method, models::Pipeline& pipeline);
// Counts a method already attached to `pipeline`.
MethodCounts counts_of_attached(Method& method, models::Pipeline& pipeline);

}  // namespace pbench
