#pragma once
// Reading Hugging Face `config.json` files. Every accessor names the file and
// the full key path in its error, so a user sees exactly which entry of which
// file is wrong (INTERFACES.md: one line naming the file, the key, and what
// was expected). Missing optional keys take the Hugging Face defaults given by
// the caller: newer Hub saves only list the non-default keys.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pbench::models {

class JsonSection {
 public:
  JsonSection(std::string file, std::string prefix, nlohmann::json value);

  bool has(const std::string& key) const;
  int64_t get_int(const std::string& key) const;  // required
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::vector<double> get_doubles(const std::string& key, const std::vector<double>& fallback) const;
  // A positive integer (sizes, counts).
  int64_t get_positive(const std::string& key, int64_t fallback) const;
  // A nested object, e.g. `text_config` of a CLIPModel config.
  JsonSection sub(const std::string& key) const;
  // The `architectures` list (empty when absent).
  std::vector<std::string> architectures() const;

  const std::string& file() const { return file_; }
  const nlohmann::json& json() const { return value_; }
  // "<file>: <prefix><key>: <what>" — the one-line error text.
  std::string where(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const std::string& expected) const;

 private:
  const nlohmann::json* find(const std::string& key) const;
  std::string file_;
  std::string prefix_;
  nlohmann::json value_;
};

// `path` may be a config file or a model folder (then `<folder>/config.json`).
std::filesystem::path config_file_of(const std::filesystem::path& path);

// Parses a JSON file into a section; InputError if absent or not a JSON object.
JsonSection read_json_section(const std::filesystem::path& file);

}  // namespace pbench::models
