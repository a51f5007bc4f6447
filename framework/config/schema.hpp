#pragma once
// Checks a config section against a schema given as a default config: every
// key must exist in the defaults (typos must not run for hours) and have a
// compatible type. Null defaults accept anything; an int value satisfies a
// float default.
#include <string>

#include "framework/config/node.hpp"

namespace pbench::cfg {

// `path` is the section's key path ("method"), `owner` names the schema in
// messages ("method 'lora'"). Throws InputError naming file, key, what was
// found and what is allowed.
void validate_against(const Node& section, const Node& defaults, const std::string& path, const std::string& owner);

// Fills keys missing from `section` with the defaults (recursively). A key the section
// sets to null keeps its null where the default is a value ("lr: null" means what the
// option's help says null means, e.g. train.lr); a null section, or a null where the
// default is a map, takes the defaults.
Node with_defaults(const Node& section, const Node& defaults);

}  // namespace pbench::cfg
