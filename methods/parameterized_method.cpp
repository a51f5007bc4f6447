#include "methods/parameterized_method.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "framework/util/errors.hpp"

namespace pbench::peft {

void ParameterizedMethod::track(const std::string& key, torch::Tensor tensor, const std::string& group) {
  for (const auto& t : tracked_)
    if (t.key == key) throw std::logic_error(name_ + ": tensor '" + key + "' tracked twice");
  tensor.set_requires_grad(true);
  if (std::find(group_order_.begin(), group_order_.end(), group) == group_order_.end()) group_order_.push_back(group);
  tracked_.push_back(Tracked{key, std::move(tensor), group});
}

size_t ParameterizedMethod::attach_each(
    const std::vector<nn::AdaptableRef>& layers, const std::string& prefix, const std::string& tag,
    const std::string& group,
    const std::function<std::shared_ptr<nn::Parameterization>(const nn::AdaptableRef&)>& make) {
  for (const auto& ref : layers) {
    std::shared_ptr<nn::Parameterization> p = make(ref);
    ref.layer->attach(tag, p);
    for (const auto& item : p->named_parameters(/*recurse=*/true))
      track(prefix + ref.name + "." + tag + "." + item.key(), item.value(), group);
  }
  return layers.size();
}

int64_t ParameterizedMethod::tracked_elements(const std::string& group) const {
  int64_t n = 0;
  for (const auto& t : tracked_)
    if (group.empty() || t.group == group) n += t.tensor.numel();
  return n;
}

std::vector<ParamGroup> ParameterizedMethod::parameter_groups(double base_lr) {
  std::vector<ParamGroup> groups;
  for (const auto& name : group_order_) {
    ParamGroup g;
    g.name = name;
    auto it = group_lr_.find(name);
    g.lr = it != group_lr_.end() && it->second ? *it->second : base_lr;
    g.weight_decay = weight_decay_;
    g.lr_per_image = lr_per_image_;
    for (const auto& t : tracked_)
      if (t.group == name) g.params.push_back(t.tensor);
    groups.push_back(std::move(g));
  }
  return groups;
}

TensorMap ParameterizedMethod::delta() {
  TensorMap out;
  for (const auto& t : tracked_) out[t.key] = t.tensor.detach();
  return out;
}

namespace {
std::string shape_text(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}
}  // namespace

void add_module_parameters(TensorMap& out, const std::string& prefix, torch::nn::Module& module) {
  for (const auto& p : module.named_parameters()) out[prefix + p.key()] = p.value();
}

void copy_checked_delta(const TensorMap& delta, const TensorMap& target, const std::string& method) {
  check_delta(delta, target, method);
  torch::NoGradGuard no_grad;
  for (const auto& [key, t] : target) t.copy_(delta.at(key));
}

void check_delta(const TensorMap& delta, const TensorMap& expected, const std::string& method) {
  std::vector<std::string> missing, mismatched, unexpected;
  for (const auto& [key, tensor] : expected) {
    auto it = delta.find(key);
    if (it == delta.end())
      missing.push_back(key);
    else if (!it->second.sizes().equals(tensor.sizes()) || !it->second.is_floating_point())
      mismatched.push_back(key + " (expected float " + shape_text(tensor) + ", got " + shape_text(it->second) + ")");
  }
  for (const auto& [key, _] : delta)
    if (!expected.count(key)) unexpected.push_back(key);
  auto first = [](const std::vector<std::string>& v) { return v.empty() ? std::string() : " '" + v.front() + "'"; };
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty())
    throw InputError(method + " delta: " + std::to_string(missing.size()) + " missing tensor(s)" + first(missing) + ", " +
                     std::to_string(unexpected.size()) + " unexpected" + first(unexpected) + ", " +
                     std::to_string(mismatched.size()) + " with the wrong shape" + first(mismatched) +
                     "; expected the keys this method's delta() writes for the same config");
}

void ParameterizedMethod::load_delta(const TensorMap& delta) {
  // Check everything before copying anything: a half-loaded delta is worse than none.
  check_delta(delta, ParameterizedMethod::delta(), name_);
  torch::NoGradGuard no_grad;
  for (auto& t : tracked_) t.tensor.copy_(delta.at(t.key));
}

void require_patterns_match(const std::vector<torch::nn::Module*>& roots, const std::vector<std::string>& patterns,
                            const std::vector<std::string>& kinds, const cfg::Node& section, const std::string& key) {
  for (const auto& pattern : patterns) {
    bool found = false;
    for (torch::nn::Module* root : roots) found = found || !select_layers(*root, {pattern}, kinds).empty();
    if (!found) {
      const cfg::Node* at = section.find(key);
      std::string where = at ? at->origin().describe() : section.origin().describe();
      std::string allowed;
      for (const auto& k : kinds) allowed += (allowed.empty() ? "" : "/") + k;
      throw InputError(where + ": method." + key + ": pattern '" + pattern + "' selects no " +
                       (allowed.empty() ? "adaptable" : allowed) + " layer of the model");
    }
  }
}

std::vector<nn::AdaptableRef> select_or_throw(torch::nn::Module& root, const std::vector<std::string>& patterns,
                                              const std::vector<std::string>& kinds, const cfg::Node& section,
                                              const std::string& key) {
  require_patterns_match({&root}, patterns, kinds, section, key);
  return select_layers(root, patterns, kinds);  // each layer once, in module order
}

torch::nn::Module& text_encoder_or_throw(models::Pipeline& pipeline, const cfg::Node& section, const std::string& key) {
  if (pipeline.text_encoder.is_empty()) {
    const cfg::Node* at = section.find(key);
    throw InputError((at ? at->origin().describe() : section.origin().describe()) + ": method." + key +
                     ": the pipeline '" + pipeline.source + "' has no text encoder to adapt");
  }
  return *pipeline.text_encoder;
}

void require_unit_weights(const std::vector<double>& weights, const std::string& method, const std::string& rule) {
  for (double w : weights)
    if (w != 1.0)
      throw InputError(method + " merge: weights do not apply (it composes by " + rule + "); leave --weights out");
}

}  // namespace pbench::peft
