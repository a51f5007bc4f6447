#pragma once
// DDPM, DDIM and DDIM-inverse schedulers with the semantics of diffusers
// v0.25.1 (DDPMScheduler, DDIMScheduler, DDIMInverseScheduler), built from a
// diffusers scheduler_config.json (any of PNDM/DDIM/DDPM configs: unknown keys
// such as skip_prk_steps are ignored, absent keys take the diffusers defaults).
//
// The schedule (betas, alphas_cumprod) is computed in float32 exactly as the
// reference does: a float64 cumprod differs by up to 5e-7 (../shared/TRAPS.md).
// Per-step scalars are 0-d float32 tensors for the same reason.
#include <torch/torch.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pbench::sched {

struct SchedulerConfig {
  int64_t num_train_timesteps = 1000;
  double beta_start = 0.0001;
  double beta_end = 0.02;
  std::string beta_schedule = "linear";  // linear | scaled_linear | squaredcos_cap_v2
  std::optional<std::vector<double>> trained_betas;
  bool clip_sample = true;
  double clip_sample_range = 1.0;
  bool set_alpha_to_one = true;            // DDIM / DDIM inverse
  int64_t steps_offset = 0;
  std::string prediction_type = "epsilon";  // epsilon | v_prediction | sample
  std::string timestep_spacing = "leading";  // leading | trailing | linspace
  bool rescale_betas_zero_snr = false;
  bool thresholding = false;
  double dynamic_thresholding_ratio = 0.995;
  double sample_max_value = 1.0;
  std::string variance_type = "fixed_small";  // DDPM only

  // Throws InputError naming the file and key for a wrong type or value.
  static SchedulerConfig read(const std::filesystem::path& file);
  static SchedulerConfig parse(const std::string& json_text, const std::string& source);
};

// betas and alphas_cumprod of a config (float32), shared by the schedulers.
struct NoiseSchedule {
  explicit NoiseSchedule(const SchedulerConfig& config);
  torch::Tensor betas;           // [T] float32
  torch::Tensor alphas_cumprod;  // [T] float32

  // sqrt(acp[t]) * x0 + sqrt(1 - acp[t]) * noise, t per sample (int64 [B] or 0-d).
  torch::Tensor add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                          const torch::Tensor& timesteps) const;
  // The v-prediction target sqrt(acp[t]) * noise - sqrt(1 - acp[t]) * x0.
  torch::Tensor get_velocity(const torch::Tensor& sample, const torch::Tensor& noise,
                             const torch::Tensor& timesteps) const;
};

struct StepOutput {
  torch::Tensor prev_sample;
  torch::Tensor pred_original_sample;
};

class DDIMScheduler {
 public:
  explicit DDIMScheduler(SchedulerConfig config);
  void set_timesteps(int64_t num_inference_steps);
  // eta > 0 adds std_dev_t * variance_noise; without a given noise one is
  // drawn from `generator` (or the global one).
  StepOutput step(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& sample, double eta = 0.0,
                  bool use_clipped_model_output = false, const std::optional<torch::Tensor>& variance_noise = {},
                  std::optional<torch::Generator> generator = {}) const;

  const SchedulerConfig& config() const { return config_; }
  const NoiseSchedule& schedule() const { return schedule_; }
  const torch::Tensor& timesteps() const { return timesteps_; }  // int64, descending
  const torch::Tensor& final_alpha_cumprod() const { return final_alpha_cumprod_; }  // 0-d float32

 private:
  SchedulerConfig config_;
  NoiseSchedule schedule_;
  torch::Tensor final_alpha_cumprod_;
  torch::Tensor timesteps_;
  std::optional<int64_t> num_inference_steps_;
};

class DDPMScheduler {
 public:
  explicit DDPMScheduler(SchedulerConfig config);
  void set_timesteps(int64_t num_inference_steps);
  // Adds noise when t > 0: the given variance_noise, else drawn from `generator`.
  StepOutput step(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& sample,
                  const std::optional<torch::Tensor>& variance_noise = {},
                  std::optional<torch::Generator> generator = {}) const;
  int64_t previous_timestep(int64_t timestep) const;

  const SchedulerConfig& config() const { return config_; }
  const NoiseSchedule& schedule() const { return schedule_; }
  const torch::Tensor& timesteps() const { return timesteps_; }

 private:
  torch::Tensor variance(int64_t t, const std::optional<torch::Tensor>& predicted_variance) const;
  SchedulerConfig config_;
  NoiseSchedule schedule_;
  torch::Tensor timesteps_;
  std::optional<int64_t> num_inference_steps_;  // empty: the 1000-step training schedule
};

// DDIM inversion (x_t -> x_{t+k}). step()'s `timestep` is the TARGET
// timestep, as in diffusers v0.25.1.
class DDIMInverseScheduler {
 public:
  explicit DDIMInverseScheduler(SchedulerConfig config);
  void set_timesteps(int64_t num_inference_steps);
  StepOutput step(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& sample) const;

  const SchedulerConfig& config() const { return config_; }
  const torch::Tensor& timesteps() const { return timesteps_; }  // int64, ascending

 private:
  SchedulerConfig config_;
  NoiseSchedule schedule_;
  torch::Tensor initial_alpha_cumprod_;
  torch::Tensor timesteps_;
  std::optional<int64_t> num_inference_steps_;
};

// Inference timesteps of diffusers' set_timesteps (descending) for a spacing.
std::vector<int64_t> inference_timesteps(const SchedulerConfig& config, int64_t num_inference_steps);

}  // namespace pbench::sched
