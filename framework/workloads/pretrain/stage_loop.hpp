#pragma once
// The training loop every pretraining component shares: resume from the
// component's checkpoint, run the remaining steps with a learning-rate
// schedule, report progress with an ETA, checkpoint atomically every
// `checkpoint_every` steps, at least every `checkpoint_seconds`, at the end and
// when the wall-clock budget runs out (so a run can be done in chunks: run
// again with --resume and it continues where it stopped).
//
// Randomness is a pure function of (seed, step) — each step seeds its own
// generator — so a resumed stage draws exactly the batches and noise an
// uninterrupted one would, and the checkpoint needs no RNG state. A process
// killed between checkpoints loses at most the steps since the last one.
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pbench::pretrain {

struct StageSettings {
  std::string name;                     // progress lines: "[name] step ..."
  int64_t steps = 0;
  int64_t warmup_steps = 0;             // linear warmup, then cosine to 0
  double learning_rate = 1e-3;
  double weight_decay = 0.0;
  int64_t log_every = 50;               // a progress line (mean loss since the last one)
  int64_t checkpoint_every = 500;
  double checkpoint_seconds = 300.0;    // and at least this often
  std::filesystem::path checkpoint;     // <out>/checkpoints/<name>.pt
  // Stop (after checkpointing) once this much wall time has passed; nullopt = no limit.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

// A point of the loss curve, one per step (so a resumed run's curve is the
// uninterrupted run's, whatever the checkpoint and log intervals).
struct CurvePoint {
  int64_t step = 0;
  double loss = 0, learning_rate = 0, elapsed_seconds = 0;
};

enum class StageOutcome { kFinished, kOutOfTime };

struct StageProgress {
  StageOutcome outcome = StageOutcome::kFinished;
  int64_t steps_done = 0, steps_total = 0;
  double train_seconds = 0;  // over every resumed piece
  std::vector<CurvePoint> curve;
};

// What a step reports: the loss it minimised (printed as a running mean).
using StepFn = std::function<torch::Tensor(int64_t step, torch::Generator& generator)>;

// `state` holds every tensor the stage trains or carries (EMA teachers,
// centres): it is what the checkpoint stores, with the optimizer's moments and
// the curve. `step_fn` returns the loss; run_stage does backward, the optimizer
// step (and `after_step`, e.g. an EMA update) itself. A non-finite loss throws
// RunFailure (exit status 1).
StageProgress run_stage(const StageSettings& settings, uint64_t seed, torch::nn::Module& state,
                        torch::optim::Optimizer& optimizer, const StepFn& step_fn,
                        const std::function<void(int64_t step)>& after_step = {});

// Exponential moving averages of parameters (DINO's teacher, the UNet's EMA
// weights). `averaged[i]` pairs with `trained[i]` (same architecture: the
// module trees list them in the same order).
// Starts the average at the trained values; the copies take no gradient.
void start_average(const std::vector<torch::Tensor>& averaged, const std::vector<torch::Tensor>& trained);
// averaged = decay * averaged + (1 - decay) * trained.
void update_average(const std::vector<torch::Tensor>& averaged, const std::vector<torch::Tensor>& trained, double decay);

// AdamW over `parameters` with the stage's rate and decay.
std::unique_ptr<torch::optim::AdamW> make_adamw(const std::vector<torch::Tensor>& parameters,
                                                const StageSettings& settings);

}  // namespace pbench::pretrain
