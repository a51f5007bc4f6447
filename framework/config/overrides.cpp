#include "framework/config/overrides.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "framework/config/yaml_io.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/strings.hpp"

namespace pbench::cfg {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// Splits on commas that are not inside brackets, braces, parentheses or quotes.
std::vector<std::string> split_top_level(const std::string& s) {
  std::vector<std::string> parts;
  int depth = 0;
  char quote = 0;
  std::string cur;
  for (char c : s) {
    if (quote) {
      if (c == quote) quote = 0;
      cur += c;
      continue;
    }
    if (c == '\'' || c == '"') quote = c;
    if (c == '[' || c == '{' || c == '(') ++depth;
    if (c == ']' || c == '}' || c == ')') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(trim(cur));
      cur.clear();
      continue;
    }
    cur += c;
  }
  parts.push_back(trim(cur));
  return parts;
}

Node parse_element(const std::string& text, const Origin& origin) {
  if (text.empty()) return Node::string("", origin);
  Node n = parse_yaml_text(text, origin);
  n.set_origin_recursive(origin);
  return n;
}

std::vector<Node> parse_range(const std::string& args, const Origin& origin) {
  std::vector<std::string> parts = split_top_level(args);
  if (parts.empty() || parts.size() > 3)
    throw InputError(origin.describe() + ": range() takes (stop), (start, stop) or (start, stop, step)");
  std::vector<Node> nums;
  bool any_float = false;
  for (const auto& p : parts) {
    Node n = parse_plain_scalar(p, origin);
    if (!n.is_number()) throw InputError(origin.describe() + ": range() arguments must be numbers, got '" + p + "'");
    any_float |= n.kind() == Node::Kind::Float;
    nums.push_back(n);
  }
  double start = 0, stop, step = 1;
  if (nums.size() == 1) {
    stop = nums[0].as_double();
  } else {
    start = nums[0].as_double();
    stop = nums[1].as_double();
    if (nums.size() == 3) step = nums[2].as_double();
  }
  if (step == 0) throw InputError(origin.describe() + ": range() step must not be 0");
  std::vector<Node> values;
  for (long i = 0;; ++i) {
    double v = start + double(i) * step;
    if ((step > 0 && v >= stop - 1e-12 * std::fabs(step)) || (step < 0 && v <= stop + 1e-12 * std::fabs(step)))
      break;
    if (i > 100000) throw InputError(origin.describe() + ": range() has more than 100000 values");
    values.push_back(any_float ? Node::real(v, origin) : Node::integer(int64_t(std::llround(v)), origin));
  }
  return values;
}

}  // namespace

std::string Override::prefix() const {
  switch (op) {
    case Op::Set: return "";
    case Op::Add: return "+";
    case Op::ForceAdd: return "++";
    case Op::Delete: return "~";
  }
  return "";
}

Override Override::with_value(size_t i) const {
  Override o = *this;
  o.values = {values.at(i)};
  o.sweep = false;
  o.text = prefix() + key + "=" + values.at(i).scalar_text();
  if (!values.at(i).is_scalar()) o.text = prefix() + key + "=" + to_json(values.at(i), false);
  return o;
}

namespace {
// `v` is "<name>(<args>)": sets args. By hand, not std::regex, which recurses per character
// of a long command-line value (issue 41).
bool call_of(const std::string& v, const std::string& name, std::string& args) {
  if (v.size() < name.size() + 2 || !starts_with(v, name + "(") || v.back() != ')') return false;
  args = v.substr(name.size() + 1, v.size() - name.size() - 2);
  return true;
}

// A dotted key: [A-Za-z_][A-Za-z0-9_-/]* then (.[A-Za-z0-9_-]+)*, scanned by hand for the same reason.
bool valid_key(const std::string& key) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
  if (key.empty() || !(std::isalpha(static_cast<unsigned char>(key[0])) || key[0] == '_')) return false;
  bool first = true;
  size_t part_length = 0;
  for (char c : key) {
    if (c == '.') {
      if (part_length == 0) return false;
      first = false;
      part_length = 0;
      continue;
    }
    if (!(word(c) || (first && c == '/'))) return false;
    ++part_length;
  }
  return part_length > 0;
}
}  // namespace

std::vector<Node> parse_override_values(const std::string& value_text, const Origin& origin, bool& is_sweep) {
  std::string args;
  std::string v = trim(value_text);
  is_sweep = false;
  if (call_of(v, "range", args)) {
    is_sweep = true;
    return parse_range(args, origin);
  }
  // A trailing or doubled comma would add an empty-string point (seed=0,1, -> seed='').
  auto sweep_values = [&](const std::vector<std::string>& parts) {
    std::vector<Node> values;
    for (const auto& part : parts) {
      if (part.empty())
        throw InputError(origin.describe() + ": an empty value in the sweep list (a trailing or doubled comma?); "
                         "write '' for an empty string");
      values.push_back(parse_element(part, origin));
    }
    return values;
  };
  if (call_of(v, "choice", args)) {
    is_sweep = true;
    return sweep_values(split_top_level(args));
  }
  std::vector<std::string> parts = split_top_level(v);
  if (parts.size() > 1) {
    is_sweep = true;
    return sweep_values(parts);
  }
  return {parse_element(v, origin)};
}

Override parse_override(const std::string& text, const std::string& origin_label) {
  Override o;
  o.text = text;
  Origin origin{origin_label.empty() ? "command line '" + text + "'" : origin_label, 0};
  require_utf8(text, origin);
  std::string rest = text;
  if (rest.rfind("++", 0) == 0) {
    o.op = Override::Op::ForceAdd;
    rest = rest.substr(2);
  } else if (rest.rfind("+", 0) == 0) {
    o.op = Override::Op::Add;
    rest = rest.substr(1);
  } else if (rest.rfind("~", 0) == 0) {
    o.op = Override::Op::Delete;
    rest = rest.substr(1);
  }
  size_t eq = rest.find('=');
  o.key = trim(eq == std::string::npos ? rest : rest.substr(0, eq));
  // The depth first: keys are walked recursively later, and a key of 20,000 levels
  // (`++k.k.k…=1`) overflowed the stack (issue 41). A config file has the same cap.
  const size_t levels = 1 + size_t(std::count(o.key.begin(), o.key.end(), '.'));
  if (levels > size_t(kMaxConfigDepth))
    throw InputError((origin_label.empty() ? "command line '" + text.substr(0, 40) + "…'" : origin_label) +
                     ": the key has " + std::to_string(levels) +
                     " levels; a config key has at most " + std::to_string(kMaxConfigDepth));
  if (!valid_key(o.key))
    throw InputError(origin.describe() + ": '" + o.key +
                     "' is not a valid key; expected a dotted path such as train.lr=1e-4");
  if (eq == std::string::npos) {
    if (o.op != Override::Op::Delete)
      throw InputError(origin.describe() + ": missing '='; write " + o.key + "=VALUE (or ~" + o.key +
                       " to delete)");
    return o;
  }
  o.values = parse_override_values(rest.substr(eq + 1), origin, o.sweep);
  if (o.sweep && o.op == Override::Op::Delete)
    throw InputError(origin.describe() + ": a delete (~) cannot sweep over values");
  if (o.values.empty()) throw InputError(origin.describe() + ": the sweep has no values");
  return o;
}

std::vector<Override> parse_command_line_overrides(const std::vector<std::string>& texts) {
  std::vector<Override> out;
  for (const auto& text : texts) {
    Override o = parse_override(text);
    for (const auto& earlier : out)
      if (earlier.key == o.key)
        throw InputError("command line: " + o.key + " is given twice ('" + earlier.text + "' and '" + o.text +
                         "'); give it once (a sweep lists its values in one override: " + o.key + "=a,b,c)");
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace pbench::cfg
