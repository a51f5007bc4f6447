#pragma once
// A diffusers scheduler_config.json (any of the PNDM / DDIM / DDPM configs:
// unknown keys such as skip_prk_steps are ignored, absent keys take the
// diffusers v0.25.1 defaults), shared by every scheduler of this folder.
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

}  // namespace pbench::sched
