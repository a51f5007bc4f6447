#pragma once
// Typed reads from a resolved config. Errors name the file, the key, what was
// found and what was expected:
//   "experiments/svdiff.yaml:7: train.lr: expected a number, got 'fast'"
#include <cstdint>
#include <string>
#include <string_view>

#include "framework/config/node.hpp"

namespace pbench::cfg {

const Node& require(const Node& root, std::string_view path);
double get_double(const Node& root, std::string_view path);
int64_t get_int(const Node& root, std::string_view path);
bool get_bool(const Node& root, std::string_view path);
std::string get_string(const Node& root, std::string_view path);

double get_double(const Node& root, std::string_view path, double fallback);
int64_t get_int(const Node& root, std::string_view path, int64_t fallback);
bool get_bool(const Node& root, std::string_view path, bool fallback);
std::string get_string(const Node& root, std::string_view path, const std::string& fallback);

}  // namespace pbench::cfg
