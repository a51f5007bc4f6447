#include "framework/models/schedulers.hpp"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "framework/util/errors.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace pbench::sched {

namespace {

template <typename T>
void read_key(const json& j, const char* key, T& out, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return;
  const json& v = j[key];
  bool ok = false;
  if constexpr (std::is_same_v<T, bool>) ok = v.is_boolean();
  else if constexpr (std::is_same_v<T, std::string>) ok = v.is_string();
  else if constexpr (std::is_integral_v<T>) ok = v.is_number_integer();
  else ok = v.is_number();
  if (!ok) throw InputError(source + ": " + key + ": unexpected value " + v.dump());
  out = v.get<T>();
}

void require_one_of(const std::string& value, std::initializer_list<const char*> allowed, const char* key,
                    const std::string& source) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  throw InputError(source + ": " + key + ": '" + value + "' is not supported (expected one of " + list + ")");
}

// diffusers' betas_for_alpha_bar with the cosine transform (float64 math,
// stored as float32).
torch::Tensor cosine_betas(int64_t n) {
  auto alpha_bar = [](double t) {
    double c = std::cos((t + 0.008) / 1.008 * M_PI / 2);
    return c * c;
  };
  std::vector<float> betas;
  for (int64_t i = 0; i < n; ++i) {
    double t1 = double(i) / double(n), t2 = double(i + 1) / double(n);
    betas.push_back(float(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999)));
  }
  return torch::tensor(betas, torch::kFloat32);
}

// diffusers' rescale_zero_terminal_snr (arXiv:2305.08891, Algorithm 1).
torch::Tensor rescale_zero_terminal_snr(const torch::Tensor& betas) {
  torch::Tensor alphas_bar_sqrt = torch::cumprod(1.0 - betas, 0).sqrt();
  torch::Tensor first = alphas_bar_sqrt[0].clone();
  torch::Tensor last = alphas_bar_sqrt[-1].clone();
  alphas_bar_sqrt = (alphas_bar_sqrt - last) * (first / (first - last));
  torch::Tensor alphas_bar = alphas_bar_sqrt.pow(2);
  torch::Tensor alphas = torch::cat({alphas_bar.slice(0, 0, 1), alphas_bar.slice(0, 1) / alphas_bar.slice(0, 0, -1)});
  return 1 - alphas;
}

// numpy's round(): half to even (nearbyint under the default rounding mode).
int64_t round_half_even(double x) { return int64_t(std::nearbyint(x)); }

// x0 and epsilon from the model output for each prediction type.
struct Prediction {
  torch::Tensor original;
  torch::Tensor epsilon;
};
Prediction predict(const std::string& type, const torch::Tensor& model_output, const torch::Tensor& sample,
                   const torch::Tensor& alpha_prod_t) {
  torch::Tensor beta_prod_t = 1 - alpha_prod_t;
  if (type == "epsilon")
    return {(sample - beta_prod_t.pow(0.5) * model_output) / alpha_prod_t.pow(0.5), model_output};
  if (type == "sample")
    return {model_output, (sample - alpha_prod_t.pow(0.5) * model_output) / beta_prod_t.pow(0.5)};
  // v_prediction
  return {alpha_prod_t.pow(0.5) * sample - beta_prod_t.pow(0.5) * model_output,
          alpha_prod_t.pow(0.5) * model_output + beta_prod_t.pow(0.5) * sample};
}

// Dynamic thresholding (Imagen) as diffusers' _threshold_sample.
torch::Tensor threshold_sample(const torch::Tensor& sample, const SchedulerConfig& c) {
  auto dtype = sample.scalar_type();
  torch::Tensor s = (dtype == torch::kFloat32 || dtype == torch::kFloat64) ? sample : sample.to(torch::kFloat32);
  auto shape = s.sizes().vec();
  s = s.reshape({shape[0], -1});
  torch::Tensor q = torch::quantile(s.abs(), c.dynamic_thresholding_ratio, 1);
  q = torch::clamp(q, 1.0, c.sample_max_value).unsqueeze(1);
  s = torch::clamp(s, -q, q) / q;
  return s.reshape(shape).to(dtype);
}

torch::Tensor clip_or_threshold(const torch::Tensor& x0, const SchedulerConfig& c) {
  if (c.thresholding) return threshold_sample(x0, c);
  if (c.clip_sample) return x0.clamp(-c.clip_sample_range, c.clip_sample_range);
  return x0;
}

void check_timestep(int64_t t, const SchedulerConfig& c) {
  if (t < 0 || t >= c.num_train_timesteps)
    throw InputError("scheduler step: timestep " + std::to_string(t) + " outside [0, " +
                     std::to_string(c.num_train_timesteps) + ")");
}

void check_num_steps(int64_t n, const SchedulerConfig& c) {
  if (n < 1 || n > c.num_train_timesteps)
    throw InputError("set_timesteps: num_inference_steps " + std::to_string(n) + " outside [1, num_train_timesteps=" +
                     std::to_string(c.num_train_timesteps) + "]");
}

torch::Tensor draw_noise(const torch::Tensor& like, const std::optional<torch::Generator>& generator) {
  c10::optional<torch::Generator> g;
  if (generator) g = *generator;
  return torch::randn(like.sizes(), g, like.options());
}

torch::Tensor int64_tensor(const std::vector<int64_t>& v) { return torch::tensor(v, torch::kInt64); }

torch::Tensor descending_train_timesteps(int64_t n) { return torch::arange(n - 1, -1, -1, torch::kInt64); }

// alphas_cumprod[t] gathered per sample and shaped to broadcast over `like`.
torch::Tensor per_sample(const torch::Tensor& values, const torch::Tensor& timesteps, const torch::Tensor& like) {
  torch::Tensor v = values.to(like.scalar_type()).index({timesteps.to(torch::kLong)}).flatten();
  while (v.dim() < like.dim()) v = v.unsqueeze(-1);
  return v;
}

}  // namespace

// --- config ------------------------------------------------------------------

SchedulerConfig SchedulerConfig::read(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file.string() + ": cannot open scheduler config");
  std::stringstream s;
  s << in.rdbuf();
  return parse(s.str(), file.string());
}

SchedulerConfig SchedulerConfig::parse(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw InputError(source + ": expected valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw InputError(source + ": expected a JSON object");
  SchedulerConfig c;
  read_key(j, "num_train_timesteps", c.num_train_timesteps, source);
  read_key(j, "beta_start", c.beta_start, source);
  read_key(j, "beta_end", c.beta_end, source);
  read_key(j, "beta_schedule", c.beta_schedule, source);
  read_key(j, "clip_sample", c.clip_sample, source);
  read_key(j, "clip_sample_range", c.clip_sample_range, source);
  read_key(j, "set_alpha_to_one", c.set_alpha_to_one, source);
  read_key(j, "steps_offset", c.steps_offset, source);
  read_key(j, "prediction_type", c.prediction_type, source);
  read_key(j, "timestep_spacing", c.timestep_spacing, source);
  read_key(j, "rescale_betas_zero_snr", c.rescale_betas_zero_snr, source);
  read_key(j, "thresholding", c.thresholding, source);
  read_key(j, "dynamic_thresholding_ratio", c.dynamic_thresholding_ratio, source);
  read_key(j, "sample_max_value", c.sample_max_value, source);
  read_key(j, "variance_type", c.variance_type, source);
  if (j.contains("trained_betas") && !j["trained_betas"].is_null()) {
    const json& tb = j["trained_betas"];
    if (!tb.is_array()) throw InputError(source + ": trained_betas: expected a list of numbers or null");
    std::vector<double> betas;
    for (const auto& b : tb) {
      if (!b.is_number()) throw InputError(source + ": trained_betas: expected numbers, got " + b.dump());
      betas.push_back(b.get<double>());
    }
    c.trained_betas = betas;
  }
  if (c.num_train_timesteps < 1)
    throw InputError(source + ": num_train_timesteps: expected a positive integer");
  if (c.trained_betas && int64_t(c.trained_betas->size()) != c.num_train_timesteps)
    throw InputError(source + ": trained_betas: expected num_train_timesteps=" +
                     std::to_string(c.num_train_timesteps) + " values, got " +
                     std::to_string(c.trained_betas->size()));
  require_one_of(c.beta_schedule, {"linear", "scaled_linear", "squaredcos_cap_v2"}, "beta_schedule", source);
  require_one_of(c.prediction_type, {"epsilon", "v_prediction", "sample"}, "prediction_type", source);
  require_one_of(c.timestep_spacing, {"leading", "trailing", "linspace"}, "timestep_spacing", source);
  require_one_of(c.variance_type, {"fixed_small", "fixed_small_log", "fixed_large", "fixed_large_log", "learned",
                                   "learned_range"},
                 "variance_type", source);
  return c;
}

// --- schedule ----------------------------------------------------------------

NoiseSchedule::NoiseSchedule(const SchedulerConfig& c) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  if (c.trained_betas)
    betas = torch::tensor(*c.trained_betas, torch::kFloat64).to(torch::kFloat32);
  else if (c.beta_schedule == "linear")
    betas = torch::linspace(c.beta_start, c.beta_end, c.num_train_timesteps, f32);
  else if (c.beta_schedule == "scaled_linear")
    // The reference squares a float32 linspace of the square roots.
    betas = torch::linspace(std::sqrt(c.beta_start), std::sqrt(c.beta_end), c.num_train_timesteps, f32).pow(2);
  else
    betas = cosine_betas(c.num_train_timesteps);
  if (c.rescale_betas_zero_snr) betas = rescale_zero_terminal_snr(betas);
  alphas_cumprod = torch::cumprod(1.0 - betas, 0);
}

torch::Tensor NoiseSchedule::add_noise(const torch::Tensor& original, const torch::Tensor& noise,
                                       const torch::Tensor& timesteps) const {
  torch::Tensor acp = per_sample(alphas_cumprod, timesteps, original);
  return acp.pow(0.5) * original + (1 - acp).pow(0.5) * noise;
}

torch::Tensor NoiseSchedule::get_velocity(const torch::Tensor& sample, const torch::Tensor& noise,
                                          const torch::Tensor& timesteps) const {
  torch::Tensor acp = per_sample(alphas_cumprod, timesteps, sample);
  return acp.pow(0.5) * noise - (1 - acp).pow(0.5) * sample;
}

std::vector<int64_t> inference_timesteps(const SchedulerConfig& c, int64_t n) {
  check_num_steps(n, c);
  const int64_t T = c.num_train_timesteps;
  std::vector<int64_t> out;
  if (c.timestep_spacing == "linspace") {
    // np.linspace(0, T - 1, n).round()[::-1]
    const double step = n > 1 ? double(T - 1) / double(n - 1) : 0.0;
    for (int64_t i = n - 1; i >= 0; --i) out.push_back(round_half_even(i == n - 1 && n > 1 ? double(T - 1) : double(i) * step));
  } else if (c.timestep_spacing == "leading") {
    // (np.arange(n) * (T // n)).round()[::-1] + steps_offset
    const int64_t ratio = T / n;
    for (int64_t i = n - 1; i >= 0; --i) out.push_back(i * ratio + c.steps_offset);
  } else {
    // np.round(np.arange(T, 0, -T / n)) - 1: numpy sizes a float arange as
    // ceil((stop - start) / step) and fills start + i * delta with
    // delta = (start + step) - start, which is not always `step` in floating
    // point (n = 48 rounds differently with plain i * step).
    const double start = double(T), step = -double(T) / double(n);
    const double delta = (start + step) - start;
    const auto count = int64_t(std::ceil((0.0 - start) / step));
    for (int64_t i = 0; i < count; ++i) out.push_back(round_half_even(start + double(i) * delta) - 1);
  }
  return out;
}

// --- DDIM --------------------------------------------------------------------

DDIMScheduler::DDIMScheduler(SchedulerConfig config) : config_(std::move(config)), schedule_(config_) {
  final_alpha_cumprod_ =
      config_.set_alpha_to_one ? torch::tensor(1.0f) : schedule_.alphas_cumprod[0].clone();
  timesteps_ = descending_train_timesteps(config_.num_train_timesteps);
}

void DDIMScheduler::set_timesteps(int64_t n) {
  timesteps_ = int64_tensor(inference_timesteps(config_, n));
  num_inference_steps_ = n;
}

StepOutput DDIMScheduler::step(const torch::Tensor& model_output, int64_t timestep, const torch::Tensor& sample,
                               double eta, bool use_clipped_model_output,
                               const std::optional<torch::Tensor>& variance_noise,
                               std::optional<torch::Generator> generator) const {
  if (!num_inference_steps_) throw InputError("DDIMScheduler.step: call set_timesteps first");
  check_timestep(timestep, config_);
  const int64_t prev = timestep - config_.num_train_timesteps / *num_inference_steps_;
  const torch::Tensor alpha_prod_t = schedule_.alphas_cumprod[timestep];
  const torch::Tensor alpha_prod_t_prev = prev >= 0 ? schedule_.alphas_cumprod[prev] : final_alpha_cumprod_;
  const torch::Tensor beta_prod_t = 1 - alpha_prod_t;

  Prediction p = predict(config_.prediction_type, model_output, sample, alpha_prod_t);
  p.original = clip_or_threshold(p.original, config_);

  // sigma_t of DDIM (eq. 16 of arXiv:2010.02502), scaled by eta.
  const torch::Tensor beta_prod_t_prev = 1 - alpha_prod_t_prev;
  const torch::Tensor variance = (beta_prod_t_prev / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev);
  const torch::Tensor std_dev_t = variance.pow(0.5) * eta;
  if (use_clipped_model_output)
    p.epsilon = (sample - alpha_prod_t.pow(0.5) * p.original) / beta_prod_t.pow(0.5);

  torch::Tensor direction = (1 - alpha_prod_t_prev - std_dev_t.pow(2)).pow(0.5) * p.epsilon;
  torch::Tensor prev_sample = alpha_prod_t_prev.pow(0.5) * p.original + direction;
  if (eta > 0) {
    torch::Tensor noise = variance_noise ? *variance_noise : draw_noise(model_output, generator);
    prev_sample = prev_sample + std_dev_t * noise;
  }
  return {prev_sample, p.original};
}

// --- DDPM --------------------------------------------------------------------

DDPMScheduler::DDPMScheduler(SchedulerConfig config) : config_(std::move(config)), schedule_(config_) {
  timesteps_ = descending_train_timesteps(config_.num_train_timesteps);
}

void DDPMScheduler::set_timesteps(int64_t n) {
  timesteps_ = int64_tensor(inference_timesteps(config_, n));
  num_inference_steps_ = n;
}

int64_t DDPMScheduler::previous_timestep(int64_t t) const {
  const int64_t n = num_inference_steps_ ? *num_inference_steps_ : config_.num_train_timesteps;
  return t - config_.num_train_timesteps / n;
}

// diffusers' DDPMScheduler._get_variance.
torch::Tensor DDPMScheduler::variance(int64_t t, const std::optional<torch::Tensor>& predicted_variance) const {
  const int64_t prev = previous_timestep(t);
  const torch::Tensor alpha_prod_t = schedule_.alphas_cumprod[t];
  const torch::Tensor alpha_prod_t_prev = prev >= 0 ? schedule_.alphas_cumprod[prev] : torch::tensor(1.0f);
  const torch::Tensor current_beta_t = 1 - alpha_prod_t / alpha_prod_t_prev;
  // Posterior variance (eq. 7 of arXiv:2006.11239), kept above zero for the log.
  torch::Tensor variance = ((1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * current_beta_t).clamp_min(1e-20);
  const std::string& type = config_.variance_type;
  if (type == "fixed_small") return variance;
  if (type == "fixed_small_log") return torch::exp(0.5 * torch::log(variance));
  if (type == "fixed_large") return current_beta_t;
  if (type == "fixed_large_log") return torch::log(current_beta_t);
  if (!predicted_variance)
    throw InputError("DDPMScheduler: variance_type " + type + " needs a model output with twice the sample channels");
  if (type == "learned") return *predicted_variance;
  // learned_range: interpolate log-variances by the model's fraction.
  const torch::Tensor frac = (*predicted_variance + 1) / 2;
  return frac * torch::log(current_beta_t) + (1 - frac) * torch::log(variance);
}

StepOutput DDPMScheduler::step(const torch::Tensor& model_output_in, int64_t t, const torch::Tensor& sample,
                               const std::optional<torch::Tensor>& variance_noise,
                               std::optional<torch::Generator> generator) const {
  check_timestep(t, config_);
  torch::Tensor model_output = model_output_in;
  std::optional<torch::Tensor> predicted_variance;
  const bool learned = config_.variance_type == "learned" || config_.variance_type == "learned_range";
  if (learned && model_output.dim() >= 2 && model_output.size(1) == 2 * sample.size(1)) {
    auto parts = torch::split(model_output, sample.size(1), 1);
    model_output = parts[0];
    predicted_variance = parts[1];
  }
  const int64_t prev = previous_timestep(t);
  const torch::Tensor alpha_prod_t = schedule_.alphas_cumprod[t];
  const torch::Tensor alpha_prod_t_prev = prev >= 0 ? schedule_.alphas_cumprod[prev] : torch::tensor(1.0f);
  const torch::Tensor beta_prod_t = 1 - alpha_prod_t;
  const torch::Tensor beta_prod_t_prev = 1 - alpha_prod_t_prev;
  const torch::Tensor current_alpha_t = alpha_prod_t / alpha_prod_t_prev;
  const torch::Tensor current_beta_t = 1 - current_alpha_t;

  Prediction p = predict(config_.prediction_type, model_output, sample, alpha_prod_t);
  p.original = clip_or_threshold(p.original, config_);

  // Posterior mean (eq. 7 of arXiv:2006.11239).
  const torch::Tensor original_coeff = alpha_prod_t_prev.pow(0.5) * current_beta_t / beta_prod_t;
  const torch::Tensor sample_coeff = current_alpha_t.pow(0.5) * beta_prod_t_prev / beta_prod_t;
  torch::Tensor prev_sample = original_coeff * p.original + sample_coeff * sample;

  if (t > 0) {
    torch::Tensor noise = variance_noise ? *variance_noise : draw_noise(model_output, generator);
    torch::Tensor v = variance(t, predicted_variance);
    torch::Tensor added;
    if (config_.variance_type == "fixed_small_log")
      added = v * noise;  // _get_variance already returned the standard deviation
    else if (config_.variance_type == "learned_range")
      added = torch::exp(0.5 * v) * noise;
    else
      added = v.pow(0.5) * noise;
    prev_sample = prev_sample + added;
  }
  return {prev_sample, p.original};
}

// --- DDIM inverse ------------------------------------------------------------

DDIMInverseScheduler::DDIMInverseScheduler(SchedulerConfig config) : config_(std::move(config)), schedule_(config_) {
  initial_alpha_cumprod_ = config_.set_alpha_to_one ? torch::tensor(1.0f) : schedule_.alphas_cumprod[0].clone();
  timesteps_ = torch::arange(config_.num_train_timesteps, torch::kInt64);
}

void DDIMInverseScheduler::set_timesteps(int64_t n) {
  check_num_steps(n, config_);
  if (config_.timestep_spacing == "linspace")
    throw InputError("DDIMInverseScheduler: timestep_spacing 'linspace' is not supported (as in diffusers v0.25.1)");
  std::vector<int64_t> ts = inference_timesteps(config_, n);
  std::reverse(ts.begin(), ts.end());  // ascending
  timesteps_ = int64_tensor(ts);
  num_inference_steps_ = n;
}

StepOutput DDIMInverseScheduler::step(const torch::Tensor& model_output, int64_t timestep,
                                      const torch::Tensor& sample) const {
  if (!num_inference_steps_) throw InputError("DDIMInverseScheduler.step: call set_timesteps first");
  check_timestep(timestep, config_);
  // `timestep` is where the step lands; the step starts k steps below it.
  const int64_t current =
      std::min(timestep - config_.num_train_timesteps / *num_inference_steps_, config_.num_train_timesteps - 1);
  const torch::Tensor alpha_prod_t = current >= 0 ? schedule_.alphas_cumprod[current] : initial_alpha_cumprod_;
  const torch::Tensor alpha_prod_t_next = schedule_.alphas_cumprod[timestep];

  Prediction p = predict(config_.prediction_type, model_output, sample, alpha_prod_t);
  if (config_.clip_sample) p.original = p.original.clamp(-config_.clip_sample_range, config_.clip_sample_range);
  torch::Tensor direction = (1 - alpha_prod_t_next).pow(0.5) * p.epsilon;
  return {alpha_prod_t_next.pow(0.5) * p.original + direction, p.original};
}

}  // namespace pbench::sched
