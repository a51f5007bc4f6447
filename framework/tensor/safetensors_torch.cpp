#include "framework/tensor/safetensors_torch.hpp"

#include <cstring>
#include <optional>
#include <regex>
#include <sstream>

#include "framework/io/safetensors.hpp"
#include "framework/util/errors.hpp"

namespace st = pbench::safetensors;

namespace pbench {

namespace {

struct DTypePair {
  st::DType file;
  torch::ScalarType torch;
};
// The dtypes both sides know. LibTorch 1.13 has no unsigned types above 8
// bits and no float8.
const DTypePair kPairs[] = {
    {st::DType::BOOL, torch::kBool}, {st::DType::U8, torch::kUInt8},  {st::DType::I8, torch::kInt8},
    {st::DType::I16, torch::kInt16}, {st::DType::F16, torch::kFloat16}, {st::DType::BF16, torch::kBFloat16},
    {st::DType::I32, torch::kInt32}, {st::DType::F32, torch::kFloat32}, {st::DType::F64, torch::kFloat64},
    {st::DType::I64, torch::kInt64},
};

std::optional<torch::ScalarType> to_torch(st::DType d) {
  for (const auto& p : kPairs)
    if (p.file == d) return p.torch;
  return std::nullopt;
}

std::optional<st::DType> to_file(torch::ScalarType t) {
  for (const auto& p : kPairs)
    if (p.torch == t) return p.file;
  return std::nullopt;
}

std::string shape_text(c10::IntArrayRef shape) {
  std::ostringstream s;
  s << shape;
  return s.str();
}

bool matches_any(const std::string& name, const std::vector<std::regex>& patterns) {
  for (const auto& re : patterns)
    if (std::regex_search(name, re)) return true;
  return false;
}

std::vector<std::regex> compile(const std::vector<std::string>& patterns, const std::string& what) {
  std::vector<std::regex> out;
  for (const auto& p : patterns) {
    try {
      out.emplace_back(p);
    } catch (const std::regex_error& e) {
      throw InputError("LoadOptions." + what + ": '" + p + "' is not a valid regex (" + e.what() + ")");
    }
  }
  return out;
}

// "N <what>: a, b, c, ... (+k more)"
std::string summarize(const std::vector<std::string>& items, const std::string& what) {
  constexpr std::size_t kShown = 6;
  std::string s = std::to_string(items.size()) + " " + what + ": ";
  for (std::size_t i = 0; i < items.size() && i < kShown; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > kShown) s += ", ... (+" + std::to_string(items.size() - kShown) + " more)";
  return s;
}

}  // namespace

TensorMap load_safetensors(const std::filesystem::path& path) {
  st::File file = st::File::read(path);
  TensorMap out;
  for (const auto& info : file.tensors()) {
    auto dtype = to_torch(info.dtype);
    if (!dtype)
      throw InputError(path.string() + ": tensor '" + info.name + "': dtype " + st::dtype_name(info.dtype) +
                       " has no LibTorch 1.13 equivalent (expected one of BOOL U8 I8 I16 F16 BF16 I32 F32 F64 I64)");
    // A copy, not a view of the file buffer: the data may be unaligned for
    // its dtype, and the tensors outlive the File.
    torch::Tensor t = torch::empty(info.shape, torch::TensorOptions().dtype(*dtype));
    if (info.nbytes()) std::memcpy(t.data_ptr(), file.data(info), info.nbytes());
    out.emplace(info.name, std::move(t));
  }
  return out;
}

void save_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> keep;  // contiguous CPU copies the views point into
  std::vector<st::TensorView> views;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) throw InputError(path.string() + ": tensor '" + name + "': undefined tensor");
    auto dtype = to_file(tensor.scalar_type());
    if (!dtype)
      throw InputError(path.string() + ": tensor '" + name + "': dtype " +
                       std::string(c10::toString(tensor.scalar_type())) + " cannot be stored in safetensors");
    keep.push_back(tensor.detach().to(torch::kCPU).contiguous());
    const auto& t = keep.back();
    views.push_back({name, *dtype, t.sizes().vec(), t.data_ptr(), std::size_t(t.numel()) * t.element_size()});
  }
  st::write_file(path, views, metadata);
}

void load_into_module(torch::nn::Module& module, const TensorMap& tensors, const std::string& source,
                      const LoadOptions& options) {
  const auto ignore = compile(options.ignore_unexpected, "ignore_unexpected");
  const auto allow = compile(options.allow_missing, "allow_missing");

  std::map<std::string, torch::Tensor> targets;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) targets[item.key()] = item.value();
  for (const auto& item : module.named_buffers(/*recurse=*/true)) targets[item.key()] = item.value();

  std::vector<std::string> missing, unexpected, mismatched;
  for (const auto& [name, target] : targets)
    if (!tensors.count(name) && !matches_any(name, allow)) missing.push_back(name);
  for (const auto& [name, value] : tensors) {
    auto it = targets.find(name);
    if (it == targets.end()) {
      if (!matches_any(name, ignore)) unexpected.push_back(name);
      continue;
    }
    const torch::Tensor& target = it->second;
    if (value.sizes() != target.sizes()) {
      mismatched.push_back(name + " (file " + shape_text(value.sizes()) + " vs module " +
                           shape_text(target.sizes()) + ")");
    } else if (value.scalar_type() != target.scalar_type() &&
               !(value.is_floating_point() && target.is_floating_point())) {
      mismatched.push_back(name + " (file dtype " + std::string(c10::toString(value.scalar_type())) +
                           " vs module " + std::string(c10::toString(target.scalar_type())) + ")");
    }
  }

  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string msg = source + ": weights do not fit the module:";
    std::string sep = " ";
    if (!missing.empty()) msg += sep + summarize(missing, "missing keys"), sep = "; ";
    if (!unexpected.empty()) msg += sep + summarize(unexpected, "unexpected keys"), sep = "; ";
    if (!mismatched.empty()) msg += sep + summarize(mismatched, "shape/dtype mismatches");
    throw InputError(msg);
  }

  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    auto it = tensors.find(name);
    if (it != tensors.end()) target.copy_(it->second);
  }
}

}  // namespace pbench
