#pragma once
// Setting up a personalize run: the pipeline and the subject loaded, the
// method attached and counted (on this model and on SD v1.5, written to the
// run file), and the class images of the method's regularization set.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"
#include "framework/config/node.hpp"
#include "framework/models/sd/pipeline.hpp"
#include "framework/sample/ddim_sampling.hpp"
#include "framework/run/workload.hpp"
#include "framework/train/method.hpp"
#include "framework/train/trainer.hpp"
#include "framework/workloads/personalize/config.hpp"

namespace pbench::personalize {

struct Setup {
  PersonalizeOptions options;  // the engine's sections, read once (config.hpp)
  std::string method_name;
  models::Pipeline pipeline;
  SubjectData subject;
  std::unique_ptr<Method> method;
  std::optional<RegularizationSet> prior;  // the method's regularization set, if it has one
  std::vector<Image> prior_images;         // its class images
  // The frozen model's class-word samples (baseline.hpp), when eval.enabled and eval.baseline.
  std::optional<sample::SampleSet> baseline;
};

// A method's counts as the run file's /params group holds them.
ParamCounts to_counts(const std::string& method, const MethodCounts& counts);

// The method's regularization set for `subject` and its class images: real ones from the set's
// folder, or sampled by `pipeline` (frozen: call before attach) from the class prompt and cached
// under `cache`; at most max_class_images (train.num_class_images). nullopt: the method has none.
struct PriorImages {
  RegularizationSet set;
  std::vector<Image> images;
};
std::optional<PriorImages> load_prior(const Method& method, const SubjectData& subject, models::Pipeline& pipeline,
                                      const std::string& model_spec, std::optional<int64_t> max_class_images,
                                      int64_t seed, const sample::SamplingOptions& sampling,
                                      const std::filesystem::path& cache, std::ostream& log);

// /params/sd15: the method's counts on SD v1.5, from a fresh instance on the meta-device architecture.
void record_sd15_counts(RunContext& ctx, const ChosenMethod& method);

// Callbacks that record training in the run file: each step's loss (/train, flushed every 25
// steps) and DVAR's checks (/dvar), steps numbered from step_offset + 1 (the continual
// workload's tasks share one axis); the trainer's progress lines go to the run's log.
TrainCallbacks run_file_callbacks(RunContext& ctx, int64_t step_offset = 0);

// Fills `s` in place: the method keeps references into s.pipeline and s.subject.
void set_up(RunContext& ctx, Setup& s);
// Rewrites /params with the trained delta's size (Cones' grows with the neurons it shuts; every
// other method's is the same as at attach) and logs what the method learnt.
void record_trained_counts(RunContext& ctx, Setup& s);

// The first `count` images (sorted by file name) of a folder of real class images, center-cropped
// square and resized to `resolution`; fewer when the folder holds fewer (logged). InputError
// naming `key` when the folder is missing or holds no image.
std::vector<Image> real_class_images(const std::string& dir, int64_t count, int resolution, const std::string& key,
                                     std::ostream& log);


}  // namespace pbench::personalize
