#pragma once
// Reading and writing the config tree: YAML in (yaml-cpp, converted once),
// YAML and canonical JSON out.
#include <filesystem>
#include <string>

#include "framework/config/node.hpp"

namespace pbench::cfg {

// Nesting a config needs is a handful of levels; "[[[[…" thousands deep overflowed the stack
// of the recursive conversion (tests/fuzz/fuzz_config), and so did a command-line key of
// 20,000 levels (issue 41): files and overrides share this cap.
inline constexpr int kMaxConfigDepth = 64;

// Loads a YAML file; `display` is the name used in messages (a path relative
// to where the user ran the command reads best). Throws InputError on syntax
// errors, naming the file and line.
Node load_yaml_file(const std::filesystem::path& path, const std::string& display);
Node parse_yaml_text(const std::string& text, const Origin& origin);
// InputError "<origin>: not UTF-8 (byte 0x.. at column N)" unless `text` is valid UTF-8
// without NUL bytes (configs, keys and override texts are text: the run id hashes them).
void require_utf8(const std::string& text, const Origin& origin);

// Types a plain (unquoted) YAML scalar: null, bool, int, float, else string.
Node parse_plain_scalar(const std::string& text, const Origin& origin);

// Block-style YAML that parses back to the same tree (strings that would
// read as another type are quoted).
std::string to_yaml(const Node& node);

// JSON text of the tree. `canonical`: keys sorted, no whitespace, numbers as
// their parsed values (1e-4 and 0.0001 print alike), UTF-8 unescaped.
std::string to_json(const Node& node, bool canonical, int indent = -1);

}  // namespace pbench::cfg
