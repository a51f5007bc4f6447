#include "framework/models/parity/scheduler_parity.hpp"

#include <regex>

#include "framework/models/schedulers/schedulers.hpp"
#include "framework/util/errors.hpp"

namespace pbench::parity {

namespace {

using sched::DDIMInverseScheduler;
using sched::DDIMScheduler;
using sched::DDPMScheduler;
using sched::SchedulerConfig;

int64_t int_input(CaseInputs& in, const std::string& key) { return in.get(key).item<int64_t>(); }

// Top-level tensors: betas, alphas_cumprod, ddim.final_alpha_cumprod and
// <scheduler>.timesteps_<n> for scheduler in ddim, ddpm, ddim_inverse.
TensorMap run_schedule_outputs(const SchedulerConfig& config, const CaseInputs& in) {
  TensorMap out;
  const std::regex timesteps_name(R"(^(ddim|ddpm|ddim_inverse)\.timesteps_(\d+)$)");
  for (const auto& name : in.expected_outputs()) {
    std::smatch m;
    if (name == "betas") {
      out[name] = DDIMScheduler(config).schedule().betas;
    } else if (name == "alphas_cumprod") {
      out[name] = DDIMScheduler(config).schedule().alphas_cumprod;
    } else if (name == "ddim.final_alpha_cumprod") {
      out[name] = DDIMScheduler(config).final_alpha_cumprod().reshape({1});
    } else if (std::regex_match(name, m, timesteps_name)) {
      const int64_t n = std::stoll(m[2]);
      if (m[1] == "ddim") {
        DDIMScheduler s(config);
        s.set_timesteps(n);
        out[name] = s.timesteps();
      } else if (m[1] == "ddpm") {
        DDPMScheduler s(config);
        s.set_timesteps(n);
        out[name] = s.timesteps();
      } else {
        DDIMInverseScheduler s(config);
        s.set_timesteps(n);
        out[name] = s.timesteps();
      }
    }
    // Anything else stays unproduced and is reported as such.
  }
  return out;
}

TensorMap run_ddim_step(const SchedulerConfig& config, CaseInputs& in) {
  DDIMScheduler s(config);
  s.set_timesteps(int_input(in, "num_inference_steps"));
  const double eta = in.get("eta").item<double>();
  const bool clipped = in.has("use_clipped_model_output") && in.get("use_clipped_model_output").item<bool>();
  auto out = s.step(in.get("model_output"), int_input(in, "timestep"), in.get("sample"), eta, clipped,
                    in.get_optional("variance_noise"));
  return {{"prev_sample", out.prev_sample}, {"pred_original_sample", out.pred_original_sample}};
}

TensorMap run_ddim_loop(const SchedulerConfig& config, CaseInputs& in) {
  DDIMScheduler s(config);
  s.set_timesteps(int_input(in, "num_inference_steps"));
  const torch::Tensor model_outputs = in.get("model_outputs");
  const double eta = in.has("eta") ? in.get("eta").item<double>() : 0.0;
  if (model_outputs.size(0) != s.timesteps().size(0))
    throw InputError("cases.safetensors: " + in.case_name() + ".in.model_outputs: expected one model output per " +
                     "timestep (" + std::to_string(s.timesteps().size(0)) + "), got " +
                     std::to_string(model_outputs.size(0)));
  torch::Tensor x = in.get("initial_sample");  // init_noise_sigma is 1 for DDIM
  for (int64_t i = 0; i < s.timesteps().size(0); ++i)
    x = s.step(model_outputs[i], s.timesteps()[i].item<int64_t>(), x, eta).prev_sample;
  return {{"final_sample", x}};
}

TensorMap run_ddpm_step(const SchedulerConfig& config, CaseInputs& in) {
  DDPMScheduler s(config);
  const int64_t n = int_input(in, "num_inference_steps");
  if (n != -1) s.set_timesteps(n);  // -1: the training schedule, set_timesteps never called
  auto out = s.step(in.get("model_output"), int_input(in, "timestep"), in.get("sample"),
                    in.get_optional("variance_noise"));
  return {{"prev_sample", out.prev_sample}, {"pred_original_sample", out.pred_original_sample}};
}

TensorMap run_ddim_inverse_step(const SchedulerConfig& config, CaseInputs& in) {
  DDIMInverseScheduler s(config);
  s.set_timesteps(int_input(in, "num_inference_steps"));
  auto out = s.step(in.get("model_output"), int_input(in, "timestep"), in.get("sample"));
  return {{"prev_sample", out.prev_sample}, {"pred_original_sample", out.pred_original_sample}};
}

TensorMap run_add_noise(const SchedulerConfig& config, CaseInputs& in) {
  sched::NoiseSchedule schedule(config);
  const auto& x0 = in.get("original_samples");
  const auto& noise = in.get("noise");
  const auto& t = in.get("timesteps");
  return {{"noisy_samples", schedule.add_noise(x0, noise, t)}, {"velocity", schedule.get_velocity(x0, noise, t)}};
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

Component schedulers_parity_component() {
  Component c;
  c.name = "schedulers";
  c.help = "DDPM / DDIM / DDIM-inverse schedulers from scheduler_config.json";
  c.load = [](const std::filesystem::path& folder, const std::string&) {
    SchedulerConfig config = SchedulerConfig::read(folder / "scheduler_config.json");
    Runner r;
    r.run_case = [config](CaseInputs& in) -> TensorMap {
      const std::string& name = in.case_name();
      // Scenario = case name without its trailing step index (ddim_step3 -> ddim_step).
      if (name.empty()) return run_schedule_outputs(config, in);
      if (starts_with(name, "ddim_inverse")) return run_ddim_inverse_step(config, in);
      if (starts_with(name, "ddim_loop")) return run_ddim_loop(config, in);
      if (starts_with(name, "ddim")) return run_ddim_step(config, in);
      if (starts_with(name, "ddpm")) return run_ddpm_step(config, in);
      if (starts_with(name, "add_noise")) return run_add_noise(config, in);
      throw RunFailure("unknown scheduler scenario '" + name +
                       "' (expected ddim*, ddpm*, ddim_inverse*, ddim_loop*, add_noise*)");
    };
    return r;
  };
  return c;
}

}  // namespace pbench::parity
