#include "framework/models/hf/hf_config.hpp"

#include <fstream>

#include "framework/util/errors.hpp"

namespace pbench::models {

JsonSection::JsonSection(std::string file, std::string prefix, nlohmann::json value)
    : file_(std::move(file)), prefix_(std::move(prefix)), value_(std::move(value)) {}

std::string JsonSection::where(const std::string& key) const { return file_ + ": " + prefix_ + key; }

void JsonSection::fail(const std::string& key, const std::string& expected) const {
  throw InputError(where(key) + ": " + expected);
}

const nlohmann::json* JsonSection::find(const std::string& key) const {
  auto it = value_.find(key);
  // A JSON null means "not set" in HF configs (e.g. "trained_betas": null).
  if (it == value_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonSection::has(const std::string& key) const { return find(key) != nullptr; }

int64_t JsonSection::get_int(const std::string& key) const {
  const nlohmann::json* v = find(key);
  if (!v) fail(key, "missing; expected an integer");
  if (!v->is_number_integer()) fail(key, "expected an integer, got " + v->dump());
  return v->get<int64_t>();
}

int64_t JsonSection::get_int(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}

int64_t JsonSection::get_positive(const std::string& key, int64_t fallback) const {
  int64_t v = get_int(key, fallback);
  if (v <= 0) fail(key, "expected a positive integer, got " + std::to_string(v));
  return v;
}

double JsonSection::get_double(const std::string& key, double fallback) const {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_number()) fail(key, "expected a number, got " + v->dump());
  return v->get<double>();
}

bool JsonSection::get_bool(const std::string& key, bool fallback) const {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_boolean()) fail(key, "expected true or false, got " + v->dump());
  return v->get<bool>();
}

std::string JsonSection::get_string(const std::string& key, const std::string& fallback) const {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_string()) fail(key, "expected a string, got " + v->dump());
  return v->get<std::string>();
}

std::vector<double> JsonSection::get_doubles(const std::string& key, const std::vector<double>& fallback) const {
  const nlohmann::json* v = find(key);
  if (!v) return fallback;
  if (!v->is_array()) fail(key, "expected a list of numbers, got " + v->dump());
  std::vector<double> out;
  for (const auto& e : *v) {
    if (!e.is_number()) fail(key, "expected a list of numbers, got " + v->dump());
    out.push_back(e.get<double>());
  }
  return out;
}

JsonSection JsonSection::sub(const std::string& key) const {
  const nlohmann::json* v = find(key);
  if (!v) fail(key, "missing; expected an object");
  if (!v->is_object()) fail(key, "expected an object, got " + v->dump());
  return JsonSection(file_, prefix_ + key + ".", *v);
}

std::vector<std::string> JsonSection::architectures() const {
  std::vector<std::string> out;
  const nlohmann::json* v = find("architectures");
  if (!v) return out;
  if (!v->is_array()) fail("architectures", "expected a list of class names");
  for (const auto& e : *v) {
    if (!e.is_string()) fail("architectures", "expected a list of class names");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::filesystem::path config_file_of(const std::filesystem::path& path) {
  if (std::filesystem::is_directory(path)) return path / "config.json";
  return path;
}

JsonSection read_json_section(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw InputError(file.string() + ": cannot open; expected a JSON config file");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(file.string() + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object()) throw InputError(file.string() + ": expected a JSON object at the top level");
  return JsonSection(file.string(), "", std::move(j));
}

}  // namespace pbench::models
