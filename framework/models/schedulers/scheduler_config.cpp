#include "framework/models/schedulers/scheduler_config.hpp"

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

}  // namespace

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

}  // namespace pbench::sched
