#include "framework/config/compose.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "framework/config/yaml_io.hpp"
#include "framework/util/errors.hpp"

namespace fs = std::filesystem;

namespace pbench::cfg {

std::string display_path(const fs::path& p) {
  std::error_code ec;
  fs::path rel = fs::proximate(p, fs::current_path(ec), ec);
  std::string r = ec ? p.string() : rel.string();
  return r.size() <= p.string().size() ? r : p.string();
}

namespace {

BuiltinGroupOptions& builtin_groups() {
  static BuiltinGroupOptions provider;
  return provider;
}

std::vector<std::string> builtin_options(const std::string& group) {
  return builtin_groups().options ? builtin_groups().options(group) : std::vector<std::string>{};
}

bool is_builtin_option(const std::string& group, const std::string& option) {
  const std::vector<std::string> options = builtin_options(group);
  return std::find(options.begin(), options.end(), option) != options.end();
}

void sort_unique(std::vector<std::string>& names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
}

}  // namespace

void set_builtin_group_options(BuiltinGroupOptions provider) { builtin_groups() = std::move(provider); }

std::vector<std::string> config_groups(const fs::path& primary) {
  std::vector<std::string> groups;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(primary.parent_path().empty() ? "." : primary.parent_path(), ec))
    if (entry.is_directory()) groups.push_back(entry.path().filename().string());
  for (const auto& group : builtin_groups().groups) groups.push_back(group);
  sort_unique(groups);
  return groups;
}

std::vector<std::string> group_options(const fs::path& primary, const std::string& group) {
  std::vector<std::string> options = builtin_options(group);
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(primary.parent_path() / group, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml")
      options.push_back(entry.path().stem().string());
  sort_unique(options);
  return options;
}

bool is_group_key(const fs::path& primary, const std::string& key) {
  if (key.find('.') != std::string::npos || key.empty()) return false;
  std::error_code ec;
  return fs::is_directory(primary.parent_path() / key, ec) || !builtin_options(key).empty();
}

namespace {

struct DefaultEntry {
  enum class Kind { Self, Config, Group } kind;
  std::string group;               // Group
  std::optional<std::string> option;  // Group (nullopt = `group: null`) or Config name
  bool is_override = false;
  Origin origin;
};

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "(none)" : out;
}

std::vector<DefaultEntry> parse_defaults(const Node* defaults, const std::string& file) {
  std::vector<DefaultEntry> entries;
  if (!defaults) return entries;
  if (!defaults->is_list())
    throw InputError(defaults->origin().describe() + ": defaults: expected a list, got " + defaults->describe_value());
  for (const Node& item : defaults->items()) {
    DefaultEntry e;
    e.origin = item.origin();
    if (item.is_string()) {
      if (item.as_string() == "_self_") {
        e.kind = DefaultEntry::Kind::Self;
      } else {
        e.kind = DefaultEntry::Kind::Config;
        e.option = item.as_string();
      }
    } else if (item.is_map() && item.size() == 1) {
      std::string key = item.keys()[0];
      const Node& value = item.values()[0];
      e.kind = DefaultEntry::Kind::Group;
      if (key.rfind("override ", 0) == 0) {
        e.is_override = true;
        key = key.substr(9);
      } else if (key.rfind("optional ", 0) == 0) {
        key = key.substr(9);
      }
      e.group = key;
      if (value.is_null()) {
        e.option.reset();
      } else if (value.is_scalar()) {
        e.option = value.scalar_text();
      } else {
        throw InputError(item.origin().describe() + ": defaults: " + key + ": expected one option name, got " +
                         value.describe_value());
      }
    } else {
      throw InputError(item.origin().describe() + ": defaults: entries are '_self_', a config name, or 'group: option'; got " +
                       item.describe_value() + " in " + file);
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

Node wrap_in_package(const Node& content, const std::string& package) {
  if (package.empty()) return content;
  Node root = Node::map(content.origin());
  assign(root, package, content, true);
  return root;
}

class Composer {
 public:
  Composer(fs::path primary, std::map<std::string, std::optional<std::string>> cli_choices,
           std::vector<DefaultEntry> appended)
      : primary_(std::move(primary)), root_(primary_.parent_path()), cli_choices_(std::move(cli_choices)),
        appended_(std::move(appended)) {}

  ComposeResult run() {
    ComposeResult result;
    result.primary_display = display_path(primary_);
    std::error_code ec;
    open_files_.push_back(fs::weakly_canonical(primary_, ec));
    Node raw = load_yaml_file(primary_, result.primary_display);
    if (!raw.is_map() && !raw.is_null())
      throw InputError(result.primary_display + ": expected a map at the top level, got " + raw.describe_value());
    if (raw.is_null()) raw = Node::map(Origin{result.primary_display, 0});
    std::vector<DefaultEntry> entries = parse_defaults(raw.find("defaults"), result.primary_display);
    // Overrides written in the experiment file's own defaults list.
    for (const auto& e : entries)
      if (e.kind == DefaultEntry::Kind::Group && e.is_override) file_overrides_[e.group] = e.option;
    entries.erase(std::remove_if(entries.begin(), entries.end(), [](const DefaultEntry& e) { return e.is_override; }),
                  entries.end());
    entries.insert(entries.end(), appended_.begin(), appended_.end());
    if (const Node* sweep = raw.find("sweep")) result.sweep = *sweep;
    raw.erase("defaults");
    raw.erase("sweep");
    result.config = compose_entries(entries, raw, "", result.primary_display, root_, result.choices);
    for (const auto& [group, option] : file_overrides_)
      if (!visited_.count(group))
        throw InputError(result.primary_display + ": defaults: 'override " + group +
                         "' but no config in the defaults list selects group '" + group + "'");
    return result;
  }

  const std::set<std::string>& visited() const { return visited_; }

 private:
  Node compose_entries(std::vector<DefaultEntry> entries, const Node& own, const std::string& package,
                       const std::string& file, const fs::path& dir,
                       std::vector<std::pair<std::string, std::string>>& choices) {
    bool has_self = std::any_of(entries.begin(), entries.end(),
                                [](const DefaultEntry& e) { return e.kind == DefaultEntry::Kind::Self; });
    if (!has_self) entries.push_back(DefaultEntry{DefaultEntry::Kind::Self, "", std::nullopt, false, {}});
    Node result = Node::map(Origin{file, 0});
    for (const auto& e : entries) {
      switch (e.kind) {
        case DefaultEntry::Kind::Self:
          merge_into(result, wrap_in_package(own, package));
          break;
        case DefaultEntry::Kind::Config: {
          std::string name = *e.option;
          if (name.size() < 5 || name.substr(name.size() - 5) != ".yaml") name += ".yaml";
          merge_into(result, compose_file(dir / name, package, choices, e.origin));
          break;
        }
        case DefaultEntry::Kind::Group: {
          if (++depth_guard_ > 64) throw InputError(file + ": defaults: nesting deeper than 64 (a cycle?)");
          visited_.insert(e.group);
          std::optional<std::string> option = e.option;
          if (auto it = file_overrides_.find(e.group); it != file_overrides_.end()) option = it->second;
          if (auto it = cli_choices_.find(e.group); it != cli_choices_.end()) option = it->second;
          if (!option) break;  // `group: null` or deleted with ~group
          fs::path path = root_ / e.group / (*option + ".yaml");
          std::error_code ec;
          std::string pkg = e.group;
          std::replace(pkg.begin(), pkg.end(), '/', '.');
          // A file of the folder wins over a built-in option of the same name (a user's preset).
          const bool from_file = fs::is_regular_file(path, ec);
          if (!from_file && !is_builtin_option(e.group, *option))
            throw InputError(e.origin.describe() + ": defaults: " + e.group + ": no config '" + *option + "' in " +
                             display_path(root_ / e.group) + "/; available: " +
                             join_names(group_options(primary_, e.group)));
          choices.emplace_back(e.group, *option);
          merge_into(result, from_file ? compose_file(path, pkg, choices, e.origin)
                                       : wrap_in_package(builtin_groups().config(e.group, *option), pkg));
          --depth_guard_;
          break;
        }
      }
    }
    return result;
  }

  Node compose_file(const fs::path& path, const std::string& package,
                    std::vector<std::pair<std::string, std::string>>& choices, const Origin& from) {
    std::string display = display_path(path);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
      throw InputError(from.describe() + ": defaults: config file " + display + " does not exist");
    // A file that includes itself, directly or through others, would recurse until the
    // stack overflows (group cycles are caught by depth_guard_; plain files by this chain).
    fs::path canonical = fs::weakly_canonical(path, ec);
    for (size_t i = 0; i < open_files_.size(); ++i)
      if (open_files_[i] == canonical) {
        std::string chain;
        for (size_t j = i; j < open_files_.size(); ++j) chain += display_path(open_files_[j]) + " -> ";
        throw InputError(from.describe() + ": defaults: " + display + " includes itself (" + chain + display +
                         "); remove one of these entries");
      }
    open_files_.push_back(canonical);
    struct Pop {
      std::vector<fs::path>& v;
      ~Pop() { v.pop_back(); }
    } pop{open_files_};
    Node raw = load_yaml_file(path, display);
    if (raw.is_null()) raw = Node::map(Origin{display, 0});
    if (!raw.is_map()) throw InputError(display + ": expected a map at the top level, got " + raw.describe_value());
    std::vector<DefaultEntry> entries = parse_defaults(raw.find("defaults"), display);
    for (const auto& e : entries)
      if (e.is_override)
        throw InputError(e.origin.describe() + ": 'override' entries belong in the experiment file's defaults list");
    raw.erase("defaults");
    if (raw.find("sweep"))
      throw InputError(display + ": a `sweep:` block is only read from the experiment file itself");
    return compose_entries(entries, raw, package, display, path.parent_path(), choices);
  }

  fs::path primary_;
  fs::path root_;
  std::map<std::string, std::optional<std::string>> cli_choices_;
  std::map<std::string, std::optional<std::string>> file_overrides_;
  std::vector<DefaultEntry> appended_;
  std::set<std::string> visited_;
  std::vector<fs::path> open_files_;  // the chain of files being composed, outermost first
  int depth_guard_ = 0;
};

void apply_value_override(Node& config, Node& sweep, const Override& o, const std::string& composed_from) {
  bool is_sweep_key = o.key == "sweep" || o.key.rfind("sweep.", 0) == 0;
  Node& target = is_sweep_key ? sweep : config;
  std::string key = is_sweep_key ? (o.key == "sweep" ? "" : o.key.substr(6)) : o.key;
  if (is_sweep_key && target.is_null()) target = Node::map();
  const Node* existing = key.empty() ? &target : lookup(target, key);
  std::string where = "command line '" + o.text + "'";
  switch (o.op) {
    case Override::Op::Set:
      if (!existing)
        throw InputError(where + ": key '" + o.key + "' is not in the config composed from " + composed_from +
                         "; use +" + o.key + "=VALUE to add it, or ++" + o.key + "=VALUE to add or override");
      if (!assign(target, key, o.values.at(0), false))
        throw InputError(where + ": cannot set '" + o.key + "'");
      break;
    case Override::Op::Add:
      if (existing)
        throw InputError(where + ": key '" + o.key + "' already exists (value " + existing->describe_value() +
                         "); use " + o.key + "=VALUE to override it");
      [[fallthrough]];
    case Override::Op::ForceAdd:
      if (!assign(target, key, o.values.at(0), true))
        throw InputError(where + ": cannot add '" + o.key + "': a parent key is not a map");
      break;
    case Override::Op::Delete:
      if (!existing) throw InputError(where + ": cannot delete '" + o.key + "': no such key");
      if (!o.values.empty() && !(*existing == o.values[0]))
        throw InputError(where + ": cannot delete '" + o.key + "': its value is " + existing->describe_value() +
                         ", not " + o.values[0].describe_value());
      remove(target, key);
      break;
  }
}

}  // namespace

ComposeResult compose(const fs::path& primary_in, const std::vector<Override>& overrides) {
  fs::path primary = fs::absolute(primary_in).lexically_normal();
  std::error_code ec;
  if (!fs::is_regular_file(primary, ec))
    throw InputError(display_path(primary_in) + ": experiment file not found");

  std::map<std::string, std::optional<std::string>> choices;
  std::vector<const Override*> group_ops, value_ops;
  for (const Override& o : overrides) {
    if (o.sweep && o.values.size() != 1)
      throw InputError("command line '" + o.text + "': sweep values must be expanded before composing");
    (is_group_key(primary, o.key) ? group_ops : value_ops).push_back(&o);
  }
  for (const Override* o : group_ops) {
    if (o->op == Override::Op::Delete) {
      choices[o->key] = std::nullopt;
    } else {
      const Node& v = o->values.at(0);
      if (!v.is_scalar() || v.is_null())
        throw InputError("command line '" + o->text + "': " + o->key + " is a config group; choose one of: " +
                         join_names(group_options(primary, o->key)));
      choices[o->key] = v.scalar_text();
    }
  }
  // Pass 1: which groups does the defaults tree select (with the choices made)?
  Composer probe(primary, choices, {});
  probe.run();
  std::vector<DefaultEntry> appended;
  for (const Override* o : group_ops) {
    bool present = probe.visited().count(o->key) > 0;
    std::string where = "command line '" + o->text + "'";
    if ((o->op == Override::Op::Set || o->op == Override::Op::Delete) && !present)
      throw InputError(where + ": group '" + o->key + "' is not in the defaults list of " + display_path(primary) +
                       "; use +" + o->key + "=OPTION to add it");
    if (o->op == Override::Op::Add && present)
      throw InputError(where + ": group '" + o->key + "' is already in the defaults list; use " + o->key +
                       "=OPTION to change it");
    if ((o->op == Override::Op::Add || o->op == Override::Op::ForceAdd) && !present)
      appended.push_back(DefaultEntry{DefaultEntry::Kind::Group, o->key, choices[o->key], false,
                                      Origin{"command line '" + o->text + "'", 0}});
  }
  Composer composer(primary, choices, appended);
  ComposeResult result = composer.run();
  for (const Override* o : value_ops) apply_value_override(result.config, result.sweep, *o, result.primary_display);
  return result;
}

}  // namespace pbench::cfg
