#include "framework/config/access.hpp"

#include "framework/util/errors.hpp"

namespace pbench::cfg {
namespace {
[[noreturn]] void mismatch(const Node& n, std::string_view path, const char* expected) {
  throw InputError(n.origin().describe() + ": " + std::string(path) + ": expected " + expected + ", got " +
                   n.describe_value());
}
}  // namespace

const Node& require(const Node& root, std::string_view path) {
  const Node* n = lookup(root, path);
  if (!n) throw InputError(root.origin().describe() + ": " + std::string(path) + ": required key is missing");
  return *n;
}

double get_double(const Node& root, std::string_view path) {
  const Node& n = require(root, path);
  if (!n.is_number()) mismatch(n, path, "a number");
  return n.as_double();
}

int64_t get_int(const Node& root, std::string_view path) {
  const Node& n = require(root, path);
  if (n.kind() != Node::Kind::Int) mismatch(n, path, "an integer");
  return n.as_int();
}

bool get_bool(const Node& root, std::string_view path) {
  const Node& n = require(root, path);
  if (n.kind() != Node::Kind::Bool) mismatch(n, path, "true or false");
  return n.as_bool();
}

std::string get_string(const Node& root, std::string_view path) {
  const Node& n = require(root, path);
  if (!n.is_scalar() || n.is_null()) mismatch(n, path, "a string");
  return n.scalar_text();
}

double get_double(const Node& root, std::string_view path, double fallback) {
  const Node* n = lookup(root, path);
  return n && !n->is_null() ? get_double(root, path) : fallback;
}
int64_t get_int(const Node& root, std::string_view path, int64_t fallback) {
  const Node* n = lookup(root, path);
  return n && !n->is_null() ? get_int(root, path) : fallback;
}
bool get_bool(const Node& root, std::string_view path, bool fallback) {
  const Node* n = lookup(root, path);
  return n && !n->is_null() ? get_bool(root, path) : fallback;
}
std::string get_string(const Node& root, std::string_view path, const std::string& fallback) {
  const Node* n = lookup(root, path);
  return n && !n->is_null() ? get_string(root, path) : fallback;
}

}  // namespace pbench::cfg
