#include "framework/train/method.hpp"

#include <algorithm>
#include <regex>

#include <ATen/CPUGeneratorImpl.h>

#include "framework/config/access.hpp"
#include "framework/config/schema.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/seeds.hpp"

namespace pbench {

MergedDelta Method::merge_deltas(const std::vector<TensorMap>&, const MergeContext&) const {
  throw InputError("method '" + describe() +
                   "' has no composition rule: merge-delta composes lora, perfusion, cones and custom_diffusion deltas");
}

void freeze_pipeline(models::Pipeline& p) {
  for (torch::nn::Module* m : {static_cast<torch::nn::Module*>(p.unet.ptr().get()),
                               static_cast<torch::nn::Module*>(p.text_encoder.ptr().get()),
                               static_cast<torch::nn::Module*>(p.vae.ptr().get())})
    if (m)
      for (auto& t : m->parameters()) t.set_requires_grad(false);
}

namespace {
bool glob_match(const char* p, const char* s) {
  // Iterative glob with backtracking on the last '*'.
  const char *star = nullptr, *retry = nullptr;
  while (*s) {
    if (*p == '*') {
      star = p++;
      retry = s;
    } else if (*p == *s) {
      ++p;
      ++s;
    } else if (star) {
      p = star + 1;
      s = ++retry;
    } else {
      return false;
    }
  }
  while (*p == '*') ++p;
  return *p == '\0';
}
}  // namespace

bool layer_pattern_matches(const std::string& pattern, const std::string& name) {
  if (pattern.rfind("re:", 0) == 0) return std::regex_match(name, std::regex(pattern.substr(3)));
  if (glob_match(pattern.c_str(), name.c_str())) return true;
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1))
    if (glob_match(pattern.c_str(), name.c_str() + dot + 1)) return true;
  return false;
}

std::vector<nn::AdaptableRef> select_layers(torch::nn::Module& root, const std::vector<std::string>& patterns,
                                            const std::vector<std::string>& kinds) {
  std::vector<nn::AdaptableRef> out;
  for (const auto& ref : nn::adaptable_layers(root)) {
    if (!kinds.empty() && std::find(kinds.begin(), kinds.end(), ref.layer->layer_kind()) == kinds.end()) continue;
    for (const auto& p : patterns) {
      if (layer_pattern_matches(p, ref.name)) {
        out.push_back(ref);
        break;
      }
    }
  }
  return out;
}

std::vector<std::string> string_list(const cfg::Node& section, const std::string& key) {
  const cfg::Node& n = cfg::require(section, key);
  std::vector<std::string> out;
  if (n.is_string()) return {n.as_string()};
  if (!n.is_list()) throw InputError(n.origin().describe() + ": " + key + ": expected a list of strings, got " + n.describe_value());
  for (const auto& item : n.items()) {
    if (!item.is_scalar() || item.is_null())
      throw InputError(item.origin().describe() + ": " + key + ": expected a list of strings, got " + item.describe_value());
    out.push_back(item.scalar_text());
  }
  return out;
}

namespace {
int64_t count_params(torch::nn::Module* m) {
  int64_t n = 0;
  if (m)
    for (const auto& t : m->parameters()) n += t.numel();
  return n;
}
}  // namespace

torch::Generator method_init_generator(int64_t run_seed) {
  return at::make_generator<at::CPUGeneratorImpl>(derive_seed(run_seed, "method.init"));
}

MethodCounts counts_of_attached(Method& method, models::Pipeline& pipeline) {
  MethodCounts counts;
  for (const auto& group : method.parameter_groups(1.0))
    for (const auto& t : group.params) counts.trainable += t.numel();
  // Attaching may add parameters (LoRA factors, new token rows): the total includes them.
  counts.total = count_params(pipeline.unet.ptr().get()) + count_params(pipeline.text_encoder.ptr().get()) +
                 count_params(pipeline.vae.ptr().get());
  for (const auto& [key, t] : method.delta()) {
    counts.delta_bytes_fp32 += t.numel() * (t.is_floating_point() ? 4 : int64_t(t.element_size()));
    counts.delta_bytes_fp16 += t.numel() * (t.is_floating_point() ? 2 : int64_t(t.element_size()));
  }
  counts.describe = method.describe();
  return counts;
}

ChosenMethod read_method(const cfg::Node& section) {
  if (!section.is_map())
    throw InputError(section.origin().describe() + ": method: expected a map with a `name`, got " +
                     section.describe_value());
  const std::string name = cfg::get_string(section, "name");
  const auto& entry = methods().get(name, section.find("name")->origin().describe() + ": method.name");
  return ChosenMethod{name, entry.factory.read(section)};
}

MethodCounts count_method(const ChosenMethod& chosen, models::Pipeline& pipeline) {
  int64_t unet_before = count_params(pipeline.unet.ptr().get());
  std::unique_ptr<Method> method = chosen.build();
  freeze_pipeline(pipeline);
  MethodTarget target{pipeline, nullptr};
  method->attach(target);
  MethodCounts counts = counts_of_attached(*method, pipeline);
  counts.unet_total = unet_before;
  return counts;
}

}  // namespace pbench
