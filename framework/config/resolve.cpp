#include "framework/config/resolve.hpp"

#include <cstdlib>
#include <map>
#include <set>

#include "framework/config/yaml_io.hpp"
#include "framework/util/errors.hpp"
#include "framework/util/sha256.hpp"

namespace pbench::cfg {
namespace {

const char* kMandatory = "?" "??";  // split: "??" + "?" would read as a trigraph
// An interpolated string is at most 1 MiB: 40 keys that each embed the one before twice
// (`b: ${a}${a}`) would reach a terabyte (issue 41, class 5). Each key is also resolved once
// (memoized), so a chain that embeds empty strings costs 40 evaluations, not 2^40.
constexpr size_t kMaxInterpolatedBytes = size_t(1) << 20;

class Resolver {
 public:
  explicit Resolver(const Node& root) : root_(root) {}

  Node resolve_at(const std::vector<std::string>& path, const Node& node) {
    if (node.is_map()) {
      Node out = node;
      for (size_t i = 0; i < node.keys().size(); ++i) {
        auto child = path;
        child.push_back(node.keys()[i]);
        out.values()[i] = resolve_at(child, node.values()[i]);
      }
      return out;
    }
    if (node.is_list()) {
      Node out = node;
      for (size_t i = 0; i < node.items().size(); ++i) {
        auto child = path;
        child.push_back(std::to_string(i));
        out.items()[i] = resolve_at(child, node.items()[i]);
      }
      return out;
    }
    if (node.is_string() && node.as_string().find("${") != std::string::npos) return interpolate(path, node);
    return node;
  }

 private:
  std::string where(const std::vector<std::string>& path, const Node& node) const {
    return node.origin().describe() + ": " + join_path(path);
  }

  Node interpolate(const std::vector<std::string>& path, const Node& node) {
    const std::string& s = node.as_string();
    std::string key = join_path(path);
    if (in_progress_.count(key))
      throw InputError(where(path, node) + ": interpolation cycle through '" + key + "'");
    in_progress_.insert(key);
    // Whole-string reference keeps the referenced type.
    if (s.rfind("${", 0) == 0 && s.find('}') == s.size() - 1 && s.find("${", 2) == std::string::npos) {
      Node out = evaluate(path, node, s.substr(2, s.size() - 3));
      in_progress_.erase(key);
      return out;
    }
    std::string result;
    for (size_t i = 0; i < s.size();) {
      if (s.compare(i, 3, "\\${") == 0) {
        result += "${";
        i += 3;
        continue;
      }
      if (s.compare(i, 2, "${") == 0) {
        size_t close = s.find('}', i);
        if (close == std::string::npos)
          throw InputError(where(path, node) + ": unterminated interpolation in '" + s + "'");
        Node value = evaluate(path, node, s.substr(i + 2, close - i - 2));
        if (!value.is_scalar())
          throw InputError(where(path, node) + ": '" + s.substr(i, close - i + 1) +
                           "' is " + value.describe_value() + "; only scalars can be embedded in a string");
        result += value.scalar_text();
        if (result.size() > kMaxInterpolatedBytes)
          throw InputError(where(path, node) + ": the interpolated value grows past " +
                           std::to_string(kMaxInterpolatedBytes >> 20) +
                           " MiB (references that repeat each other); a config value is text, not data");
        i = close + 1;
        continue;
      }
      result += s[i++];
    }
    in_progress_.erase(key);
    return Node::string(result, node.origin());
  }

  Node evaluate(const std::vector<std::string>& path, const Node& node, const std::string& expr) {
    if (expr.rfind("oc.env:", 0) == 0 || expr.rfind("env:", 0) == 0) {
      std::string args = expr.substr(expr.find(':') + 1);
      size_t comma = args.find(',');
      std::string name = args.substr(0, comma);
      const char* value = std::getenv(name.c_str());
      if (value) return Node::string(value, node.origin());
      if (comma == std::string::npos)
        throw InputError(where(path, node) + ": environment variable " + name +
                         " is not set (give a default: ${oc.env:" + name + ",VALUE})");
      std::string fallback = args.substr(comma + 1);
      size_t b = fallback.find_first_not_of(' ');
      return Node::string(b == std::string::npos ? "" : fallback.substr(b), node.origin());
    }
    std::vector<std::string> target;
    if (!expr.empty() && expr[0] == '.') {
      // Relative: one leading dot = the map holding this key; each extra dot goes up.
      size_t dots = expr.find_first_not_of('.');
      if (dots == std::string::npos) throw InputError(where(path, node) + ": empty relative reference '${" + expr + "}'");
      // A value at the root (a config that is one string) is held by no map (found by fuzz_config).
      if (path.empty()) throw InputError(where(path, node) + ": '${" + expr + "}' is relative, and the root is in no map");
      target.assign(path.begin(), path.end() - 1);
      for (size_t up = 1; up < dots; ++up) {
        if (target.empty()) throw InputError(where(path, node) + ": '${" + expr + "}' goes above the root");
        target.pop_back();
      }
      for (const auto& part : split_path(expr.substr(dots))) target.push_back(part);
    } else {
      target = split_path(expr);
    }
    const std::string target_key = join_path(target);
    if (auto done = resolved_.find(target_key); done != resolved_.end()) return done->second;
    const Node* found = lookup(root_, target_key);
    if (!found)
      throw InputError(where(path, node) + ": interpolation '${" + expr + "}' refers to '" + target_key +
                       "', which is not in the config");
    Node value = resolve_at(target, *found);
    resolved_.emplace(target_key, value);
    return value;
  }

  const Node& root_;
  std::set<std::string> in_progress_;
  std::map<std::string, Node> resolved_;  // referenced keys, each resolved once
};

void collect_missing(const Node& node, std::vector<std::string>& path, std::vector<std::string>& out,
                     std::vector<const Node*>* nodes) {
  if (node.is_string() && node.as_string() == kMandatory) {
    out.push_back(join_path(path));
    if (nodes) nodes->push_back(&node);
    return;
  }
  if (node.is_map()) {
    for (size_t i = 0; i < node.keys().size(); ++i) {
      path.push_back(node.keys()[i]);
      collect_missing(node.values()[i], path, out, nodes);
      path.pop_back();
    }
  } else if (node.is_list()) {
    for (size_t i = 0; i < node.items().size(); ++i) {
      path.push_back(std::to_string(i));
      collect_missing(node.items()[i], path, out, nodes);
      path.pop_back();
    }
  }
}

}  // namespace

Node resolve(const Node& config) {
  Resolver r(config);
  return r.resolve_at({}, config);
}

std::vector<std::string> missing_values(const Node& config) {
  std::vector<std::string> path, out;
  collect_missing(config, path, out, nullptr);
  return out;
}

void require_no_missing(const Node& config) {
  std::vector<std::string> path, keys;
  std::vector<const Node*> nodes;
  collect_missing(config, path, keys, &nodes);
  if (keys.empty()) return;
  std::string msg = nodes[0]->origin().describe() + ": " + keys[0] +
                    ": mandatory value '\?\?\?' is not set; set it on the command line: " + keys[0] + "=VALUE";
  if (keys.size() > 1) msg += " (" + std::to_string(keys.size() - 1) + " more missing)";
  throw InputError(msg);
}

std::string run_id_payload(const Node& resolved) {
  Node hashed = resolved;
  hashed.erase("runtime");
  return to_json(hashed, /*canonical=*/true);
}

bool looks_like_run_id(const std::string& s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string run_id(const Node& resolved) { return sha256_hex(run_id_payload(resolved)).substr(0, 16); }

}  // namespace pbench::cfg
