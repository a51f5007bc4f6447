#include "framework/config/yaml_io.hpp"

#include <cstdio>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "framework/util/errors.hpp"

namespace pbench::cfg {
namespace {

Origin origin_at(const Origin& base, const YAML::Mark& mark) {
  Origin o = base;
  if (mark.line >= 0 && base.line == 0 && base.source.find("command line") == std::string::npos)
    o.line = mark.line + 1;
  return o;
}

// A config is a few hundred nodes. Aliases are shared in yaml-cpp's tree and copied
// here, so a "billion laughs" file of a few lines would expand until memory runs out:
// stop at a count no real config comes near.
constexpr size_t kMaxConfigNodes = 100'000;
constexpr std::uintmax_t kMaxConfigBytes = 4u << 20;  // 4 MiB: real configs are a few KiB

Node convert(const YAML::Node& y, const Origin& base, size_t& budget, int depth = 0) {
  Origin o = origin_at(base, y.Mark());
  if (budget-- == 0)
    throw InputError(base.describe() + ": more than " + std::to_string(kMaxConfigNodes) +
                     " values once aliases are expanded (a YAML alias bomb?); a config is far smaller");
  if (depth > kMaxConfigDepth)
    throw InputError(o.describe() + ": nested more than " + std::to_string(kMaxConfigDepth) +
                     " levels deep; a config is far flatter");
  switch (y.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return Node::null(o);
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted scalars "!" and plain ones "?".
      if (y.Tag() == "?") {
        require_utf8(y.Scalar(), o);
        return parse_plain_scalar(y.Scalar(), o);
      }
      if (y.Tag() == "tag:yaml.org,2002:int" || y.Tag() == "!!int" ||
          y.Tag() == "tag:yaml.org,2002:float" || y.Tag() == "!!float")
        return parse_plain_scalar(y.Scalar(), o);
      require_utf8(y.Scalar(), o);
      return Node::string(y.Scalar(), o);
    case YAML::NodeType::Sequence: {
      Node list = Node::list(o);
      for (const auto& item : y) list.push_back(convert(item, base, budget, depth + 1));
      return list;
    }
    case YAML::NodeType::Map: {
      Node map = Node::map(o);
      for (const auto& kv : y) {
        std::string key = kv.first.Scalar();
        require_utf8(key, origin_at(base, kv.first.Mark()));
        if (map.find(key))  // at the repeated key's own line, not the map's
          throw InputError(origin_at(base, kv.first.Mark()).describe() + ": duplicate key '" + key + "'");
        map.set(key, convert(kv.second, base, budget, depth + 1));
      }
      return map;
    }
  }
  return Node::null(o);
}

// Scalars are scanned by hand, not by std::regex: libstdc++'s matcher recurses once per
// character, and a command-line value of ~100k digits overflowed the stack (issue 41).
size_t skip_digits(const std::string& t, size_t i) {
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  return i;
}
size_t skip_sign(const std::string& t) { return !t.empty() && (t[0] == '-' || t[0] == '+') ? 1 : 0; }

// [-+]?[0-9]+
bool is_int_text(const std::string& t) {
  const size_t start = skip_sign(t), end = skip_digits(t, start);
  return end > start && end == t.size();
}
// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_float_text(const std::string& t) {
  const size_t start = skip_sign(t);
  size_t i = skip_digits(t, start);
  const bool whole_digits = i > start;
  bool fraction_digits = false;
  if (i < t.size() && t[i] == '.') {
    const size_t after = skip_digits(t, i + 1);
    fraction_digits = after > i + 1;
    i = after;
  }
  if (!whole_digits && !fraction_digits) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    size_t e = i + 1;
    if (e < t.size() && (t[e] == '-' || t[e] == '+')) ++e;
    const size_t end = skip_digits(t, e);
    if (end == e) return false;
    i = end;
  }
  return i == t.size();
}

bool whole_int(const std::string& t, int64_t& out) {
  if (!is_int_text(t)) return false;
  const char* b = t.data() + (t[0] == '+' ? 1 : 0);
  auto res = std::from_chars(b, t.data() + t.size(), out);
  return res.ec == std::errc() && res.ptr == t.data() + t.size();
}

bool whole_float(const std::string& t, double& out) {
  if (is_float_text(t)) {
    const char* b = t.data() + (t[0] == '+' ? 1 : 0);
    auto res = std::from_chars(b, t.data() + t.size(), out);
    return res.ec == std::errc() && res.ptr == t.data() + t.size();
  }
  static const std::regex inf(R"([-+]?\.(inf|Inf|INF))");
  static const std::regex nan(R"(\.(nan|NaN|NAN))");
  if (std::regex_match(t, inf)) {
    out = t[0] == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (std::regex_match(t, nan)) {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  return false;
}

void emit(YAML::Emitter& out, const Node& n) {
  switch (n.kind()) {
    case Node::Kind::Null: out << YAML::Null; break;
    case Node::Kind::Bool: out << (n.as_bool() ? "true" : "false"); break;
    case Node::Kind::Int:
    case Node::Kind::Float: out << n.scalar_text(); break;
    case Node::Kind::String: {
      // Quote strings that would read back as another type, or are empty.
      Node reread = parse_plain_scalar(n.as_string(), {});
      bool needs_quotes = !reread.is_string() || n.as_string().empty();
      if (needs_quotes) out << YAML::DoubleQuoted;
      out << n.as_string();
      break;
    }
    case Node::Kind::List:
      out << YAML::BeginSeq;
      for (const Node& item : n.items()) emit(out, item);
      out << YAML::EndSeq;
      break;
    case Node::Kind::Map:
      out << YAML::BeginMap;
      for (size_t i = 0; i < n.keys().size(); ++i) {
        out << YAML::Key << n.keys()[i] << YAML::Value;
        emit(out, n.values()[i]);
      }
      out << YAML::EndMap;
      break;
  }
}

nlohmann::json to_json_value(const Node& n) {
  switch (n.kind()) {
    case Node::Kind::Null: return nullptr;
    case Node::Kind::Bool: return n.as_bool();
    case Node::Kind::Int: return n.as_int();
    case Node::Kind::Float: {
      // JSON has no NaN or infinity (nlohmann writes null): keep them apart from null
      // and from each other, or distinct grid points would share one run id.
      double d = n.as_double();
      if (std::isnan(d)) return nlohmann::json{{"$float", "nan"}};
      if (std::isinf(d)) return nlohmann::json{{"$float", d > 0 ? "inf" : "-inf"}};
      return d;
    }
    case Node::Kind::String: return n.as_string();
    case Node::Kind::List: {
      auto arr = nlohmann::json::array();
      for (const Node& item : n.items()) arr.push_back(to_json_value(item));
      return arr;
    }
    case Node::Kind::Map: {
      auto obj = nlohmann::json::object();
      for (size_t i = 0; i < n.keys().size(); ++i) obj[n.keys()[i]] = to_json_value(n.values()[i]);
      return obj;
    }
  }
  return nullptr;
}

nlohmann::ordered_json to_ordered_json_value(const Node& n) {
  if (n.is_map()) {
    auto obj = nlohmann::ordered_json::object();
    for (size_t i = 0; i < n.keys().size(); ++i) obj[n.keys()[i]] = to_ordered_json_value(n.values()[i]);
    return obj;
  }
  if (n.is_list()) {
    auto arr = nlohmann::ordered_json::array();
    for (const Node& item : n.items()) arr.push_back(to_ordered_json_value(item));
    return arr;
  }
  return nlohmann::ordered_json(to_json_value(n));
}

}  // namespace

Node parse_plain_scalar(const std::string& t, const Origin& origin) {
  if (t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL") return Node::null(origin);
  if (t == "true" || t == "True" || t == "TRUE") return Node::boolean(true, origin);
  if (t == "false" || t == "False" || t == "FALSE") return Node::boolean(false, origin);
  int64_t i;
  if (whole_int(t, i)) return Node::integer(i, origin);
  double d;
  if (whole_float(t, d)) return Node::real(d, origin);
  return Node::string(t, origin);
}

Node load_yaml_file(const std::filesystem::path& path, const std::string& display) {
  std::ifstream in(path);
  if (!in) throw InputError(display + ": cannot open config file");
  std::error_code ec;
  if (auto size = std::filesystem::file_size(path, ec); !ec && size > kMaxConfigBytes)
    throw InputError(display + ": " + std::to_string(size) + " bytes; a config file is at most " +
                     std::to_string(kMaxConfigBytes >> 20) + " MiB (is this the right file?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_yaml_text(ss.str(), Origin{display, 0});
}

namespace {
// Length of the UTF-8 sequence starting at text[i], or 0 if it is not valid UTF-8
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t utf8_sequence_length(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u; };
  const unsigned c = byte(i);
  if (c < 0x80) return 1;
  const auto cont = [&](size_t k) { return (byte(k) & 0xC0u) == 0x80u; };
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned c1 = byte(i + 1);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return 0;
    return cont(i + 1) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned c1 = byte(i + 1);
    if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return 0;
    return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

// yaml-cpp takes any bytes; a config in Latin-1 would then hash and print
// mojibake. Refuse it where it is, with the fix.
void require_utf8(const std::string& text, const Origin& origin) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < text.size();) {
    const size_t n = text[i] == '\0' ? 0 : utf8_sequence_length(text, i);  // NUL: not a text file
    if (n == 0) {
      Origin at = origin;
      if (at.line == 0) at.line = int(line);
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(text[i]));
      throw InputError(at.describe() + ": not UTF-8 (byte " + hex + " at column " + std::to_string(column) +
                       "); save the file as UTF-8");
    }
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += n;
  }
}

namespace {
// yaml-cpp 0.7 parses some malformed texts forever, growing past 2 GiB (98 bytes:
// tests/fuzz/regressions/config/yaml_cpp_hang_unbounded_memory): its parser emits events
// without end. So the text goes first through the same parser with an event handler that
// counts (nothing is built): a config of at most kMaxConfigNodes nodes emits at most
// 2 x kMaxConfigNodes + 2 events, and past that the text is refused in ~0.1 s and a few MiB.
// The tree is then loaded from the same events, which are known to end.
class EventBudget : public YAML::EventHandler {
 public:
  static constexpr size_t kMaxEvents = 2 * kMaxConfigNodes + 2;
  struct Exceeded {};
  void OnDocumentStart(const YAML::Mark&) override { tick(); }
  void OnDocumentEnd() override { tick(); }
  void OnNull(const YAML::Mark&, YAML::anchor_t) override { tick(); }
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override { tick(); }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override { tick(); }
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    tick();
  }
  void OnSequenceEnd() override { tick(); }
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override { tick(); }
  void OnMapEnd() override { tick(); }

 private:
  void tick() {
    if (++events_ > kMaxEvents) throw Exceeded{};
  }
  size_t events_ = 0;
};

// Throws YAML::Exception for a syntax error (reported by the caller with its line), InputError
// when the parse does not end within the budget.
void require_parse_ends(const std::string& text, const Origin& origin) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  EventBudget budget;
  try {
    while (parser.HandleNextDocument(budget)) {
    }
  } catch (const EventBudget::Exceeded&) {
    throw InputError(origin.describe() + ": invalid YAML: more than " + std::to_string(EventBudget::kMaxEvents) +
                     " parse events (a config has at most " + std::to_string(kMaxConfigNodes) +
                     " nodes; yaml-cpp 0.7 parses some malformed YAML without end): check its syntax (indentation, "
                     "a stray ',', ')' or '-')");
  }
}
}  // namespace

Node parse_yaml_text(const std::string& text, const Origin& origin) {
  require_utf8(text, origin);
  try {
    require_parse_ends(text, origin);
    std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.size() > 1) {
      Origin at = origin_at(origin, docs[1].Mark());
      throw InputError(at.describe() + ": a second YAML document ('---'); a config file holds one, and the rest "
                       "would be ignored");
    }
    size_t budget = kMaxConfigNodes;
    return convert(docs.empty() ? YAML::Node() : docs[0], origin, budget);
  } catch (const YAML::Exception& e) {
    Origin at = origin;
    if (at.line == 0 && e.mark.line >= 0 && origin.source.find("command line") == std::string::npos)
      at.line = e.mark.line + 1;
    throw InputError(at.describe() + ": invalid YAML: " + e.msg);
  }
}

std::string to_yaml(const Node& node) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, node);
  std::string s = out.c_str();
  if (!s.empty() && s.back() != '\n') s += '\n';
  return s;
}

std::string to_json(const Node& node, bool canonical, int indent) {
  if (canonical) return to_json_value(node).dump(-1, ' ', false);
  return to_ordered_json_value(node).dump(indent, ' ', false);
}

}  // namespace pbench::cfg
