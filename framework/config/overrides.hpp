#pragma once
// Hydra-style command-line overrides:
//   a.b=v      set an existing key            +a.b=v   add a new key
//   ++a.b=v    add or set                     ~a.b     delete (~a.b=v: only if equal to v)
//   group=opt  choose a config group option   (same prefixes for groups)
// Sweep values: a.b=1,2,3   a.b=range(0,5)   a.b=range(0,1,0.25)   a.b=choice(x,y)
#include <string>
#include <vector>

#include "framework/config/node.hpp"

namespace pbench::cfg {

struct Override {
  enum class Op { Set, Add, ForceAdd, Delete };
  Op op = Op::Set;
  std::string key;           // dotted path, or a group name
  std::vector<Node> values;  // empty for a bare delete; >1 for a sweep
  bool sweep = false;        // written with sweep syntax (even with one value)
  std::string text;          // as the user wrote it, for messages

  std::string prefix() const;  // "", "+", "++", "~"
  // The same override fixed to values[i] ("seed=3").
  Override with_value(size_t i) const;
};

// `origin_label` names where the text came from in messages.
Override parse_override(const std::string& text, const std::string& origin_label = "");
// The overrides of one command line, in order. A key given twice (`seed=0,1 seed=2,3`, or a
// value and a delete) is refused, naming both: which one was meant is not ours to guess.
std::vector<Override> parse_command_line_overrides(const std::vector<std::string>& texts);

// Parses a sweep/override value expression into its list of values.
std::vector<Node> parse_override_values(const std::string& value_text, const Origin& origin, bool& is_sweep);

}  // namespace pbench::cfg
