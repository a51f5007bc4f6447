#include "framework/config/options.hpp"

#include <cmath>

#include "framework/util/errors.hpp"

namespace pbench::cfg {

Allowed at_least(double v) {
  Allowed a;
  a.min = v;
  return a;
}
Allowed greater_than(double v) {
  Allowed a;
  a.min = v;
  a.min_open = true;
  return a;
}
Allowed between(double lo, double hi) {
  Allowed a;
  a.min = lo;
  a.max = hi;
  return a;
}
Allowed one_of(std::vector<std::string> choices) {
  Allowed a;
  a.choices = std::move(choices);
  return a;
}
Allowed positive() { return described(at_least(1), "a positive integer"); }
Allowed described(Allowed a, std::string expected) {
  a.expected = std::move(expected);
  return a;
}
Allowed learning_rate() {
  Allowed a = at_least(0);
  a.noun = "learning rate";
  return a;
}

namespace detail {
namespace {

// Bounds read as written: ">= 1", "in [0, 1]", "> 0.5".
std::string number_text(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(int64_t(v));
  return Node::real(v).scalar_text();
}

std::string bounds_text(const Allowed& a) {
  if (a.min && a.max)
    return "in " + std::string(a.min_open ? "(" : "[") + number_text(*a.min) + ", " + number_text(*a.max) +
           (a.max_open ? ")" : "]");
  if (a.min) return (a.min_open ? "> " : ">= ") + number_text(*a.min);
  if (a.max) return (a.max_open ? "< " : "<= ") + number_text(*a.max);
  return "";
}

[[noreturn]] void fail(const Node& value, const std::string& where, const std::string& expected) {
  throw InputError(value.origin().describe() + ": " + where + ": expected " + expected + ", got " + value.describe_value());
}

// "an integer >= 1", "a finite learning rate >= 0", "a finite number in [0, 1]".
std::string expected_number(const Allowed& a, bool integer) {
  if (!a.expected.empty()) return a.expected;
  std::string noun = integer ? "an integer" : "a finite " + (a.noun.empty() ? std::string("number") : a.noun);
  if (integer && !a.noun.empty()) noun = "an integer " + a.noun;
  std::string bounds = bounds_text(a);
  return bounds.empty() ? noun : noun + " " + bounds;
}

bool within(const Allowed& a, double v) {
  if (!std::isfinite(v)) return false;
  if (a.min && (a.min_open ? !(v > *a.min) : !(v >= *a.min))) return false;
  if (a.max && (a.max_open ? !(v < *a.max) : !(v <= *a.max))) return false;
  return true;
}

std::string choices_text(const std::vector<std::string>& choices) {
  std::string s;
  for (size_t i = 0; i < choices.size(); ++i)
    s += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  return s;
}

void check_choice(const Node& value, const std::string& v, const std::string& where, const Allowed& a) {
  if (a.choices.empty()) return;
  for (const auto& c : a.choices)
    if (c == v) return;
  fail(value, where, choices_text(a.choices));
}

}  // namespace

void fail_expected(const Node& value, const std::string& where, const std::string& expected) {
  fail(value, where, expected);
}

void fail_choices(const Node& value, const std::string& where, const std::vector<std::string>& choices) {
  fail(value, where, choices_text(choices));
}

std::string child_path(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }

void read(const Node& value, bool& out, const std::string& where, const Allowed&) {
  if (value.kind() != Node::Kind::Bool) fail(value, where, "true or false");
  out = value.as_bool();
}

void read(const Node& value, int64_t& out, const std::string& where, const Allowed& allowed) {
  if (value.kind() != Node::Kind::Int || !within(allowed, double(value.as_int())))
    fail(value, where, expected_number(allowed, true));
  out = value.as_int();
}

void read(const Node& value, double& out, const std::string& where, const Allowed& allowed) {
  if (!value.is_number() || !within(allowed, value.as_double())) fail(value, where, expected_number(allowed, false));
  out = value.as_double();
}

void read(const Node& value, std::string& out, const std::string& where, const Allowed& allowed) {
  if (value.kind() != Node::Kind::String) fail(value, where, allowed.choices.empty() ? "a string" : choices_text(allowed.choices));
  check_choice(value, value.as_string(), where, allowed);
  out = value.as_string();
}

void read(const Node& value, std::vector<std::string>& out, const std::string& where, const Allowed& allowed) {
  if (!value.is_list()) fail(value, where, "a list of strings");
  out.clear();
  // Scalars read as their text (a layer pattern `0` is the string "0"), as string_list does.
  for (const auto& item : value.items()) {
    if (!item.is_scalar() || item.is_null()) fail(item, where, "a list of strings");
    check_choice(item, item.scalar_text(), where, allowed);
    out.push_back(item.scalar_text());
  }
}

void read(const Node& value, std::vector<int64_t>& out, const std::string& where, const Allowed& allowed) {
  const std::string bounds = bounds_text(allowed);
  const std::string expected = "a list of integers" + (bounds.empty() ? "" : " " + bounds);
  if (!value.is_list()) fail(value, where, expected);
  out.clear();
  for (const auto& item : value.items()) {
    if (item.kind() != Node::Kind::Int || !within(allowed, double(item.as_int()))) fail(item, where, expected);
    out.push_back(item.as_int());
  }
}

void read(const Node& value, std::vector<double>& out, const std::string& where, const Allowed& allowed) {
  const std::string bounds = bounds_text(allowed);
  const std::string expected = "a list of numbers" + (bounds.empty() ? "" : " " + bounds);
  if (!value.is_list()) fail(value, where, expected);
  out.clear();
  for (const auto& item : value.items()) {
    if (!item.is_number() || !within(allowed, item.as_double())) fail(item, where, expected);
    out.push_back(item.as_double());
  }
}

Node write(bool v) { return Node::boolean(v); }
Node write(int64_t v) { return Node::integer(v); }
Node write(double v) { return Node::real(v); }
Node write(const std::string& v) { return Node::string(v); }
Node write(const std::vector<std::string>& v) {
  Node out = Node::list();
  for (const auto& s : v) out.push_back(Node::string(s));
  return out;
}
Node write(const std::vector<int64_t>& v) {
  Node out = Node::list();
  for (int64_t i : v) out.push_back(Node::integer(i));
  return out;
}

Node write(const std::vector<double>& v) {
  Node out = Node::list();
  for (double x : v) out.push_back(Node::real(x));
  return out;
}

std::string type_name(const bool*) { return "bool"; }
std::string type_name(const int64_t*) { return "integer"; }
std::string type_name(const double*) { return "number"; }
std::string type_name(const std::string*) { return "string"; }
std::string type_name(const std::vector<std::string>*) { return "list of strings"; }
std::string type_name(const std::vector<int64_t>*) { return "list of integers"; }
std::string type_name(const std::vector<double>*) { return "list of numbers"; }

std::string describe_allowed(const Allowed& allowed) {
  return allowed.choices.empty() ? bounds_text(allowed) : "one of " + choices_text(allowed.choices);
}

void Reader::reject_unknown_keys() const {
  for (size_t i = 0; i < section_.keys().size(); ++i) {
    const std::string& key = section_.keys()[i];
    if (key == "name") continue;  // the registry selector, read by whoever chose the entry
    bool known = false;
    for (const auto& k : keys_) known = known || k == key;
    if (known) continue;
    std::string allowed;
    for (const auto& k : keys_) allowed += (allowed.empty() ? "" : ", ") + k;
    throw InputError(section_.values()[i].origin().describe() + ": " + child_path(path_, key.c_str()) + ": unknown key; allowed: " +
                     (allowed.empty() ? "(none)" : allowed));
  }
}

}  // namespace detail

std::string format_option_docs(const std::vector<OptionDoc>& docs) {
  std::string out;
  for (const auto& d : docs) {
    std::string value = d.default_value.is_list() ? "[" : d.default_value.scalar_text();
    if (d.default_value.is_list()) {
      for (size_t i = 0; i < d.default_value.items().size(); ++i)
        value += (i ? ", " : "") + d.default_value.items()[i].scalar_text();
      value += "]";
    }
    std::string type = d.type + (d.allowed.empty() ? "" : ", " + d.allowed);
    out += "  " + d.key + ": " + value + "   (" + type + ")\n      " + d.help + "\n";
  }
  return out;
}

}  // namespace pbench::cfg
