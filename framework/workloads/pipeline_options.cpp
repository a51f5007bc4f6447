#include "framework/workloads/pipeline_options.hpp"

#include "framework/config/access.hpp"
#include "framework/io/image_cache.hpp"
#include "framework/util/errors.hpp"

namespace pbench {

std::filesystem::path run_cache_dir(const cfg::Node& resolved) {
  return cfg::get_string(resolved, "runtime.cache_dir", default_cache_dir().string());
}

std::string where_is(const cfg::Node& resolved, const std::string& key) {
  const cfg::Node* n = cfg::lookup(resolved, key);
  return (n ? n->origin().describe() : resolved.origin().describe()) + ": " + key;
}

void check_dtype_on_device(Device device, Dtype dtype, const cfg::Node& resolved) {
  if (dtype == Dtype::fp16 && device == Device::cpu)
    throw InputError(where_is(resolved, "dtype") +
                     ": fp16 is not supported on CPU by LibTorch 1.13 (addmm for Half); use fp32 or bf16");
}

torch::TensorOptions pipeline_tensor_options(Device device, Dtype dtype, const cfg::Node& resolved) {
  check_dtype_on_device(device, dtype, resolved);
  torch::TensorOptions o;
  if (device == Device::cuda) {
    if (!torch::cuda::is_available())
      throw InputError(where_is(resolved, "device") + ": 'cuda' but this LibTorch build sees no CUDA device; use device=cpu");
    o = o.device(torch::kCUDA);
  }
  if (dtype == Dtype::fp16) {
    o = o.dtype(torch::kFloat16);
  } else if (dtype == Dtype::bf16) {
    o = o.dtype(torch::kBFloat16);
  }
  return o;
}

}  // namespace pbench
