#include "framework/config/schema.hpp"

#include "framework/util/errors.hpp"

namespace pbench::cfg {
namespace {
bool compatible(const Node& value, const Node& schema) {
  if (schema.is_null() || value.is_null()) return true;
  if (schema.kind() == Node::Kind::Float) return value.is_number();
  return value.kind() == schema.kind();
}
}  // namespace

void validate_against(const Node& section, const Node& defaults, const std::string& path, const std::string& owner) {
  if (!section.is_map()) {
    if (!compatible(section, defaults))
      throw InputError(section.origin().describe() + ": " + path + ": expected " + Node::kind_name(defaults.kind()) +
                       ", got " + section.describe_value());
    return;
  }
  if (!defaults.is_map()) {
    if (defaults.is_null()) return;
    throw InputError(section.origin().describe() + ": " + path + ": expected " + Node::kind_name(defaults.kind()) +
                     ", got a map");
  }
  for (size_t i = 0; i < section.keys().size(); ++i) {
    const std::string& key = section.keys()[i];
    const Node& value = section.values()[i];
    std::string child = path.empty() ? key : path + "." + key;
    const Node* schema = defaults.find(key);
    if (!schema) {
      std::string allowed;
      for (const auto& k : defaults.keys()) allowed += (allowed.empty() ? "" : ", ") + k;
      throw InputError(value.origin().describe() + ": " + child + ": unknown key for " + owner + "; allowed: " +
                       (allowed.empty() ? "(none)" : allowed));
    }
    if (value.is_map() || schema->is_map()) {
      validate_against(value, *schema, child, owner);
    } else if (!compatible(value, *schema)) {
      throw InputError(value.origin().describe() + ": " + child + ": expected " + Node::kind_name(schema->kind()) +
                       ", got " + value.describe_value());
    }
  }
}

Node with_defaults(const Node& section, const Node& defaults) {
  if (!defaults.is_map() || !(section.is_map() || section.is_null())) return section;
  Node out = section.is_null() ? Node::map(defaults.origin()) : section;
  for (size_t i = 0; i < defaults.keys().size(); ++i) {
    const std::string& key = defaults.keys()[i];
    if (Node* existing = out.find(key)) {
      *existing = with_defaults(*existing, defaults.values()[i]);
    } else {
      out.set(key, defaults.values()[i]);
    }
  }
  return out;
}

}  // namespace pbench::cfg
