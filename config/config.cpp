#include "config/config.hpp"

#include "config/keys.hpp"
#include "pipeline/core/text.hpp"
#include "pipeline/tak/url/url.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <variant>

#include <sched.h>
#include <unistd.h>

namespace cotflow {

namespace {

// The storage of keys by value type (see key_storage).
using str_ref = key_field<std::string>;
using int_ref = key_field<int64_t>;
using dbl_ref = key_field<double>;
using bool_ref = key_field<bool>;
using list_ref = key_field<std::vector<std::string>>;
using smap_ref = key_field<std::map<std::string, std::string>>;
using imap_ref = key_field<std::map<std::string, int64_t>>;
using rule_ref = key_field<presentation_rule>;
using rules_ref = key_field<std::map<std::string, presentation_rule>>;

std::optional<double> parse_double(const std::string& s) {
  if (s.empty())
    return std::nullopt;
  char* end = nullptr;
  auto v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || !std::isfinite(v))
    return std::nullopt;
  return v;
}

/// Splits at `sep` except where it is escaped with a backslash ("\,"
/// stays a comma, "\\" a backslash); empty parts are dropped.
std::vector<std::string> split_escaped(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()
        && (s[i + 1] == sep || s[i + 1] == '\\')) {
      cur += s[++i];
    } else if (s[i] == sep) {
      if (!cur.empty())
        out.push_back(cur);
      cur.clear();
    } else {
      cur += s[i];
    }
  }
  if (!cur.empty())
    out.push_back(cur);
  return out;
}

/// Resolves a value of the form ${env:NAME} or ${file:PATH} (secrets kept
/// out of config files and process listings); other values stay. Sets
/// `err` when the variable is unset or the file unreadable.
std::string resolve_secret(const std::string& v, const env_lookup& env,
                           std::string& err) {
  if (v.size() < 4 || v.compare(0, 2, "${") != 0 || v.back() != '}')
    return v;
  auto inner = v.substr(2, v.size() - 3);
  if (inner.rfind("env:", 0) == 0) {
    auto name = inner.substr(4);
    if (auto value = env(name))
      return *value;
    err = "environment variable " + name + " is not set";
    return {};
  }
  if (inner.rfind("file:", 0) == 0) {
    auto path = inner.substr(5);
    std::ifstream in{path, std::ios::binary};
    if (!in) {
      err = "cannot read " + path;
      return {};
    }
    std::string text{std::istreambuf_iterator<char>{in},
                     std::istreambuf_iterator<char>{}};
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
      text.pop_back();
    return text;
  }
  return v;
}

std::optional<std::string> apply_yaml(config& cfg, const config_key& k,
                                      const YAML::Node& node);

/// The problems of parse_rule(s) as one text for a key: one per line, a
/// sub-key's starting with a dot (".cam-north.how: ..."); see report().
std::optional<std::string> joined(const std::vector<std::string>& problems) {
  if (problems.empty())
    return std::nullopt;
  std::string out;
  for (auto& p : problems)
    out += (out.empty() ? "" : "\n") + (p[0] == ':' ? p.substr(2) : "." + p);
  return out;
}

/// Adds the problems of key `path` (one per line, see joined()) to `errs`,
/// `note` (where the value came from) after the key or sub-key they are
/// about.
void report(std::vector<std::string>& errs, const std::string& path,
            const std::string& note, const std::string& problems) {
  for (auto& line : split(problems, '\n')) {
    auto colon = line[0] == '.' ? line.find(": ") : 0;
    if (colon == std::string::npos)
      colon = line.size();
    errs.push_back(path + line.substr(0, colon) + note
                   + (line[0] == '.' ? "" : ": ") + line.substr(colon));
  }
}

/// Applies a scalar text (from YAML or the environment) to a key.
std::optional<std::string> apply_text(config& cfg, const config_key& k,
                                      const std::string& text) {
  return std::visit(
    [&](auto& get) -> std::optional<std::string> {
      using T = std::decay_t<decltype(get)>;
      if constexpr (std::is_same_v<T,
                                   rule_ref> || std::is_same_v<T, rules_ref>) {
        // From the environment: the same mapping in YAML's flow style,
        // COTFLOW_PRESENTATION_SOURCES='{cam-north: {how: m-i}}'.
        YAML::Node node;
        try {
          node = YAML::Load(text);
        } catch (const YAML::Exception& e) {
          return "expected a YAML mapping ({name: value, ...}), got '" + text
                 + "' (" + e.msg + ")";
        }
        if (!node.IsMap() && !node.IsNull())
          return "expected a YAML mapping ({name: value, ...}), got '" + text
                 + "'";
        return apply_yaml(cfg, k, node);
      } else if constexpr (std::is_same_v<T, str_ref>) {
        get(cfg) = text;
      } else if constexpr (std::is_same_v<T, int_ref>) {
        auto v = parse_int(text);
        if (!v)
          return "expected an integer, got '" + text + "'";
        get(cfg) = *v;
      } else if constexpr (std::is_same_v<T, dbl_ref>) {
        auto v = parse_double(text);
        if (!v)
          return "expected a number, got '" + text + "'";
        get(cfg) = *v;
      } else if constexpr (std::is_same_v<T, bool_ref>) {
        auto v = parse_bool(text);
        if (!v)
          return "expected true or false, got '" + text + "'";
        get(cfg) = *v;
      } else if constexpr (std::is_same_v<T, list_ref>) {
        get(cfg) = split(text, ',');
      } else if constexpr (std::is_same_v<T, smap_ref>) {
        auto& m = get(cfg);
        // Kafka properties from the environment add to (and override)
        // those of the file; the other maps are replaced as a whole.
        if (std::string{k.section} != "kafka")
          m.clear();
        for (auto& kv : split_escaped(text, ',')) {
          auto eq = kv.find('=');
          if (eq == std::string::npos || eq == 0)
            return "expected key=value pairs separated by commas, got '" + kv
                   + "'";
          m[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
      } else if constexpr (std::is_same_v<T, imap_ref>) {
        auto& m = get(cfg);
        m.clear();
        for (auto& kv : split(text, ',')) {
          auto eq = kv.find('=');
          auto v = eq == std::string::npos ? std::nullopt
                                           : parse_int(kv.substr(eq + 1));
          if (!v || eq == 0)
            return "expected key=integer pairs separated by commas, got '" + kv
                   + "'";
          m[kv.substr(0, eq)] = *v;
        }
      }
      return std::nullopt;
    },
    k.field);
}

/// Applies a YAML node to a key; returns a problem or nothing.
std::optional<std::string> apply_yaml(config& cfg, const config_key& k,
                                      const YAML::Node& node) {
  return std::visit(
    [&](auto& get) -> std::optional<std::string> {
      using T = std::decay_t<decltype(get)>;
      if constexpr (std::is_same_v<T, rule_ref>) {
        return joined(parse_rule(node, get(cfg)));
      } else if constexpr (std::is_same_v<T, rules_ref>) {
        return joined(parse_rules(node, get(cfg)));
      } else if constexpr (std::is_same_v<T, list_ref>) {
        if (node.IsScalar())
          return apply_text(cfg, k, node.Scalar());
        if (!node.IsSequence())
          return std::string{"expected a list of strings"};
        auto& v = get(cfg);
        v.clear();
        for (const auto& item : node) {
          if (!item.IsScalar())
            return std::string{"expected a list of strings"};
          v.push_back(item.Scalar());
        }
        return std::nullopt;
      } else if constexpr (std::is_same_v<
                             T, smap_ref> || std::is_same_v<T, imap_ref>) {
        if (node.IsNull()) {
          get(cfg).clear();
          return std::nullopt;
        }
        if (!node.IsMap())
          return std::string{"expected a mapping"};
        auto& m = get(cfg);
        m.clear();
        for (const auto& kv : node) {
          if (!kv.second.IsScalar())
            return "expected a scalar value for '" + kv.first.Scalar() + "'";
          if constexpr (std::is_same_v<T, smap_ref>) {
            m[kv.first.Scalar()] = kv.second.Scalar();
          } else {
            auto v = parse_int(kv.second.Scalar());
            if (!v)
              return "expected an integer for '" + kv.first.Scalar()
                     + "', got '" + kv.second.Scalar() + "'";
            m[kv.first.Scalar()] = *v;
          }
        }
        return std::nullopt;
      } else {
        if (!node.IsScalar())
          return std::string{"expected a single value"};
        return apply_text(cfg, k, node.Scalar());
      }
    },
    k.field);
}

} // namespace

std::string yaml_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

namespace {

/// Values of pass-through properties that hold secrets are never shown.
bool is_secret(const std::string& key) {
  static const char* words[] = {"password",   "secret", "key.pem",
                                "token",      "jaas",   "oauthbearer.config",
                                "credentials"};
  for (auto w : words)
    if (key.find(w) != std::string::npos)
      return true;
  return false;
}

std::string render(const config& cfg, const config_key& k) {
  auto& c = const_cast<config&>(cfg);
  return std::visit(
    [&](auto& get) -> std::string {
      using T = std::decay_t<decltype(get)>;
      std::ostringstream out;
      if constexpr (std::is_same_v<T, str_ref>) {
        auto& v = get(c);
        out << yaml_quote(is_secret(k.name) && !v.empty() ? "(hidden)" : v);
      } else if constexpr (std::is_same_v<T, int_ref>) {
        out << get(c);
      } else if constexpr (std::is_same_v<T, dbl_ref>) {
        out << get(c);
      } else if constexpr (std::is_same_v<T, bool_ref>) {
        out << (get(c) ? "true" : "false");
      } else if constexpr (std::is_same_v<T, list_ref>) {
        out << "[";
        bool first = true;
        for (auto& v : get(c)) {
          out << (first ? "" : ", ") << yaml_quote(v);
          first = false;
        }
        out << "]";
      } else if constexpr (std::is_same_v<T, rule_ref>) {
        out << render_rule(get(c));
      } else if constexpr (std::is_same_v<T, rules_ref>) {
        auto& m = get(c);
        if (m.empty())
          return "{}";
        for (auto& [key, v] : m)
          out << "\n    " << yaml_quote(key) << ": " << render_rule(v);
      } else {
        auto& m = get(c);
        if (m.empty())
          return "{}";
        for (auto& [key, v] : m) {
          out << "\n    " << yaml_quote(key) << ": ";
          if constexpr (std::is_same_v<T, smap_ref>)
            out << yaml_quote(is_secret(key) ? std::string{"(hidden)"} : v);
          else
            out << v;
        }
      }
      return out.str();
    },
    k.field);
}

/// Whether key `k` has the same value in `a` and `b`. Compares the values,
/// not their rendering: `config show` hides secrets, so two different
/// tokens would render alike.
bool same_value(const config& a, const config& b, const config_key& k) {
  return std::visit(
    [&](auto& field) {
      return field(const_cast<config&>(a)) == field(const_cast<config&>(b));
    },
    k.field);
}

/// Copies the value of key `k` from `from` into `to`.
void copy_value(config& to, const config& from, const config_key& k) {
  std::visit([&](auto& field) { field(to) = field(const_cast<config&>(from)); },
             k.field);
}

/// Where a quoted scalar that starts at `i` of `text` ends (the index after
/// its closing quote), or npos when it is never closed.
size_t quoted_end(const std::string& text, size_t i) {
  char quote = text[i];
  for (++i; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\')
      ++i; // an escape: the next character is never the end
    else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'')
        ++i; // '' is a quote inside a single-quoted scalar
      else
        return i + 1;
    }
  }
  return std::string::npos;
}

/// yaml-cpp (0.7) reads some text that a strict YAML reader (libyaml,
/// js-yaml) refuses, and reads it as something else than was meant:
///   - a quoted value never closed takes the rest of the file, folded into
///     one line (kafka.brokers swallowed every key after it);
///   - a key given twice in one mapping: both are kept, the second wins
///     here, and another reader may keep the first.
/// Walks the parsed `node` and the `text` it came from (the positions of
/// its scalars are byte offsets after a byte order mark) and reports both,
/// with the line, under `path`.
void check_strict(const YAML::Node& node, const std::string& text,
                  const std::string& path, std::vector<std::string>& errs) {
  auto line = [](const YAML::Node& n) {
    return "line " + std::to_string(n.Mark().line + 1);
  };
  auto where = [&](const YAML::Node& n) {
    return (path.empty() ? std::string{} : path + ": ") + line(n);
  };
  if (node.IsScalar()) {
    if (node.Mark().is_null())
      return;
    size_t i = (text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0)
               + static_cast<size_t>(node.Mark().pos);
    // A tag or an anchor may come first (!!str "...", &a "...").
    while (i < text.size() && (text[i] == '!' || text[i] == '&')) {
      while (i < text.size()
             && !std::isspace(static_cast<unsigned char>(text[i])))
        ++i;
      while (i < text.size()
             && std::isspace(static_cast<unsigned char>(text[i])))
        ++i;
    }
    if (i < text.size() && (text[i] == '"' || text[i] == '\'')
        && quoted_end(text, i) == std::string::npos)
      errs.push_back(where(node) + ", column "
                     + std::to_string(node.Mark().column + 1)
                     + ": the quote opened here is never closed (the rest of "
                       "the file would become part of this value)");
    return;
  }
  if (node.IsSequence()) {
    for (const auto& item : node)
      check_strict(item, text, path, errs);
    return;
  }
  if (!node.IsMap())
    return;
  std::map<std::string, int> seen; // key -> its first line
  for (const auto& kv : node) {
    check_strict(kv.first, text, path, errs);
    if (kv.first.IsScalar()) {
      auto key = kv.first.Scalar();
      auto sub = path.empty() ? key : path + "." + key;
      auto first = seen.emplace(key, kv.first.Mark().line + 1);
      if (!first.second)
        errs.push_back(sub + ": given twice in one mapping (lines "
                       + std::to_string(first.first->second) + " and "
                       + std::to_string(kv.first.Mark().line + 1)
                       + "); a YAML key may appear once");
      check_strict(kv.second, text, sub, errs);
    } else {
      check_strict(kv.second, text, path, errs);
    }
  }
}

bool is_type_suffix(const std::string& s) {
  static const std::regex re{"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$"};
  return std::regex_match(s, re);
}

} // namespace

/// Edits (insert, delete, replace one character) from `a` to `b`.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min(
        {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

/// " (did you mean X?)" for the candidate nearest to `unknown`, when it is
/// near enough to be a misspelling of it (at most a third of it changed);
/// else nothing.
std::string did_you_mean(const std::string& unknown,
                         const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t best_d = 0;
  for (auto& c : candidates) {
    auto d = edit_distance(unknown, c);
    if (!best || d < best_d) {
      best = &c;
      best_d = d;
    }
  }
  if (!best || best_d > std::max<size_t>(2, unknown.size() / 3))
    return {};
  return " (did you mean " + *best + "?)";
}

config default_config() {
  config c;
  for (auto& k : config_keys()) {
    k.set_default(c);
    c.sources[k.path()] = "default";
  }
  return c;
}

env_lookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (auto v = std::getenv(name.c_str()))
      return std::string{v};
    return std::nullopt;
  };
}

std::vector<std::string> process_env_names() {
  std::vector<std::string> names;
  for (char** e = environ; e && *e; ++e) {
    std::string var = *e;
    if (var.rfind("COTFLOW_", 0) == 0)
      names.push_back(var.substr(0, var.find('=')));
  }
  return names;
}

std::vector<std::string>
unknown_env_vars(const std::vector<std::string>& names) {
  // Names of the test tooling that happen to start like a section's
  // variables (tests/CMakeLists.txt): not overrides, never warned about.
  static const std::set<std::string> not_keys = {"COTFLOW_COT_XSD"};
  std::vector<std::string> known;
  std::set<std::string> prefixes;
  for (auto& k : config_keys()) {
    known.push_back(k.env_name());
    auto p = k.env_name();
    prefixes.insert(p.substr(0, p.size() - std::string{k.name}.size()));
  }
  std::vector<std::string> out;
  for (auto& name : names) {
    bool claims_a_key = std::any_of(
      prefixes.begin(), prefixes.end(),
      [&](auto& p) { return name.size() > p.size() && name.rfind(p, 0) == 0; });
    if (!claims_a_key || not_keys.count(name)
        || std::find(known.begin(), known.end(), name) != known.end())
      continue;
    out.push_back(name + ": not a configuration key, ignored"
                  + did_you_mean(name, known));
  }
  return out;
}

std::optional<std::string> find_config_file(const std::string& explicit_path) {
  if (!explicit_path.empty())
    return explicit_path;
  std::vector<std::string> candidates = {"./cotflow.yaml",
                                         "/etc/cotflow/cotflow.yaml"};
  if (auto home = std::getenv("HOME"))
    candidates.push_back(std::string{home} + "/.config/cotflow/cotflow.yaml");
  for (auto& c : candidates)
    if (std::ifstream{c}.good())
      return c;
  return std::nullopt;
}

load_result load_config_text(const std::string& yaml, const std::string& file,
                             const env_lookup& env,
                             const std::vector<std::string>& env_names) {
  load_result res;
  res.cfg = default_config();
  res.cfg.file = file;
  res.warnings = unknown_env_vars(env_names);
  auto where = file.empty() ? std::string{"config"} : file;
  YAML::Node root;
  try {
    auto docs = YAML::LoadAll(yaml);
    // yaml-cpp's Load() reads the first document and ignores the others.
    if (docs.size() > 1) {
      res.errors.push_back(where
                           + ": not valid YAML: " + std::to_string(docs.size())
                           + " documents (---) where one is expected");
      return res;
    }
    if (!docs.empty())
      root = docs.front();
  } catch (const YAML::Exception& e) {
    res.errors.push_back(where + ": not valid YAML: " + e.what());
    return res;
  }
  {
    std::vector<std::string> strict;
    check_strict(root, yaml, "", strict);
    for (auto& e : strict)
      res.errors.push_back(where + ": not valid YAML: " + e);
    if (!strict.empty())
      return res;
  }
  if (root && !root.IsNull() && !root.IsMap()) {
    res.errors.push_back(where + ": the top level must be a mapping");
    return res;
  }
  if (root.IsMap()) {
    for (const auto& sec : root) {
      auto sname = sec.first.Scalar();
      bool known_section = std::any_of(
        config_keys().begin(), config_keys().end(),
        [&](const config_key& k) { return sname == k.section; });
      if (!known_section) {
        std::vector<std::string> sections;
        for (auto& k : config_keys())
          if (sections.empty() || sections.back() != k.section)
            sections.push_back(k.section);
        res.errors.push_back(sname + ": unknown section"
                             + did_you_mean(sname, sections));
        continue;
      }
      if (sec.second.IsNull())
        continue;
      if (!sec.second.IsMap()) {
        res.errors.push_back(sname + ": expected a mapping");
        continue;
      }
      for (const auto& kv : sec.second) {
        auto kname = kv.first.Scalar();
        auto it = std::find_if(config_keys().begin(), config_keys().end(),
                               [&](const config_key& k) {
                                 return sname == k.section && kname == k.name;
                               });
        if (it == config_keys().end()) {
          std::vector<std::string> paths;
          for (auto& k : config_keys())
            paths.push_back(k.path());
          res.errors.push_back(sname + "." + kname + ": unknown key"
                               + did_you_mean(sname + "." + kname, paths));
          continue;
        }
        if (auto err = apply_yaml(res.cfg, *it, kv.second))
          report(res.errors, it->path(), "", *err);
        else
          res.cfg.sources[it->path()] = "file";
      }
    }
  }
  for (auto& k : config_keys()) {
    auto name = k.env_name();
    if (auto v = env(name)) {
      if (auto err = apply_text(res.cfg, k, *v))
        report(res.errors, k.path(), " (from " + name + ")", *err);
      else
        res.cfg.sources[k.path()] = "env " + name;
    }
  }
  // Secrets by reference: ${env:NAME} or ${file:PATH}.
  for (auto& [key, value] : res.cfg.kafka.properties) {
    std::string err;
    value = resolve_secret(value, env, err);
    if (!err.empty())
      res.errors.push_back("kafka.properties." + key + ": " + err);
  }
  {
    std::string err;
    res.cfg.http.token = resolve_secret(res.cfg.http.token, env, err);
    if (!err.empty())
      res.errors.push_back("http.token: " + err);
  }
  for (auto& e : validate(res.cfg))
    res.errors.push_back(e);
  return res;
}

load_result load_config(const std::string& explicit_path, const env_lookup& env,
                        const std::vector<std::string>& env_names) {
  auto file = find_config_file(explicit_path);
  if (!file)
    return load_config_text("", "", env, env_names);
  auto refused = [&](const std::string& why) {
    load_result res;
    res.cfg = default_config();
    res.errors.push_back(*file + ": " + why);
    return res;
  };
  // A directory opens and reads as empty text: it would be taken for a
  // file of defaults.
  std::error_code ec;
  if (std::filesystem::is_directory(*file, ec))
    return refused("is a directory, not a config file");
  std::ifstream in{*file};
  if (!in)
    return refused("cannot read the config file");
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    return refused("cannot read the config file");
  return load_config_text(buf.str(), *file, env, env_names);
}

namespace {

void need(std::vector<std::string>& errs, bool ok, const std::string& msg) {
  if (!ok)
    errs.push_back(msg);
}

void check_kafka_topics(const config& c, std::vector<std::string>& errs) {
  for (auto& t : c.kafka.input_topics)
    need(errs, t != c.kafka.output_topic && t != c.kafka.dead_letter_topic,
         "kafka.input_topics: '" + t
           + "' is also an output topic (that would loop)");
  for (auto& [k, v] : c.kafka.properties) {
    static const char* owned[] = {
      "enable.auto.commit", "group.id", "bootstrap.servers",
      "enable.auto.offset.store", "auto.commit.interval.ms"};
    for (auto o : owned)
      need(errs, k != o,
           "kafka.properties." + k
             + ": set by cotflow itself (offsets are committed only "
               "after delivery"
             + (k == "auto.commit.interval.ms"
                  ? "; pipeline.commit_interval_ms sets it)"
                  : ")"));
  }
}

void check_cot(const config& c, std::vector<std::string>& errs) {
  need(errs, is_cot_type_prefix(c.cot.default_type),
       "cot.default_type: '" + c.cot.default_type
         + "' is not a CoT type like a-u-G");
  for (auto& [prefix, s] : c.cot.stale_by_type) {
    need(errs, is_cot_type_prefix(prefix),
         "cot.stale_by_type." + prefix + ": not a CoT type prefix like a-h-G");
    // Each entry has the bounds of cot.stale_s.
    static const config_key& stale_s = *find_key("cot.stale_s");
    config entry;
    entry.cot.stale_s = s;
    need(errs, !stale_s.check(entry),
         "cot.stale_by_type." + prefix + ": " + std::to_string(s)
           + " is out of range " + stale_s.bounds);
  }
  for (auto& [cls, suffix] : c.cot.classification_types)
    need(errs, is_type_suffix(suffix),
         "cot.classification_types." + cls + ": '" + suffix
           + "' is not a CoT type suffix like G-E-V");
  for (auto& [aff, code] : c.cot.affiliation_codes)
    need(errs,
         code.size() == 1 && std::islower(static_cast<unsigned char>(code[0])),
         "cot.affiliation_codes." + aff + ": '" + code
           + "' must be one lower-case letter");
  // Part of every uid and Kafka key, as ids are: no control characters
  // (the decoder refuses ids with them, pipeline/codec/xml_text).
  need(errs,
       std::none_of(c.cot.uid_prefix.begin(), c.cot.uid_prefix.end(),
                    [](char ch) {
                      auto u = static_cast<unsigned char>(ch);
                      return u < 0x20 || u == 0x7F;
                    }),
       "cot.uid_prefix: must not hold control characters (it starts every "
       "uid and Kafka key)");
}

void check_presentation(const config& c, std::vector<std::string>& errs) {
  const auto& p = c.presentation;
  for (auto& [source, rule] : p.sources)
    check_rule(rule, rule_place::source, "presentation.sources." + source,
               errs);
  for (auto& [prefix, rule] : p.types) {
    need(errs, is_cot_type_prefix(prefix),
         "presentation.types." + prefix + ": not a CoT type prefix like a-h-G");
    check_rule(rule, rule_place::type, "presentation.types." + prefix, errs);
  }
  check_rule(p.low_confidence, rule_place::low_confidence,
             "presentation.low_confidence", errs);
  // A flagged record is only ever shown differently when it is kept.
  need(errs,
       p.low_confidence == presentation_rule{}
         || c.cot.low_confidence == "flag",
       "presentation.low_confidence: applies only with cot.low_confidence: "
       "flag (records below cot.min_confidence are dropped)");
}

void check_destinations(const config& c, std::vector<std::string>& errs) {
  need(errs,
       c.sinks.kafka || !c.sinks.file.empty() || !c.tak.destinations.empty(),
       "sinks: no destination (enable sinks.kafka, set sinks.file or add "
       "tak.destinations)");
  need(errs, !c.sinks.kafka || !c.kafka.output_topic.empty(),
       "kafka.output_topic: must not be empty while sinks.kafka is on");
  for (auto& [name, url] : c.tak.destinations) {
    std::vector<std::string> problems;
    parse_tak_url(url, problems);
    for (auto& p : problems)
      errs.push_back("tak.destinations." + name + ": " + p);
  }
  // One acknowledgement bit per destination (Kafka, file, TAK) and two
  // marking parked and dropped records: at most 30 destinations in all.
  need(errs, c.tak.destinations.size() <= 28,
       "tak.destinations: at most 28 destinations");
  need(errs, c.tak.reconnect_max_ms >= c.tak.reconnect_min_ms,
       "tak.reconnect_max_ms: must be at least tak.reconnect_min_ms");
  need(errs, c.tak.breaker_open_max_ms >= c.tak.breaker_open_min_ms,
       "tak.breaker_open_max_ms: must be at least tak.breaker_open_min_ms");
}

void check_parking_topics(const config& c, std::vector<std::string>& errs) {
  if (c.kafka.parking_topic.empty())
    return;
  // Each destination's parking topic is "<prefix>.<name>": a Kafka topic
  // name, so the name too is made of a topic's characters.
  auto legal = [](const std::string& t) {
    if (t.empty() || t.size() > 200)
      return false;
    for (unsigned char ch : t)
      if (!std::isalnum(ch) && ch != '.' && ch != '_' && ch != '-')
        return false;
    return true;
  };
  // The prefix alone is checked as a key (a topic name).
  for (auto& [name, url] : c.tak.destinations) {
    need(errs, legal(name),
         "tak.destinations." + name
           + ": a destination name must be 1-200 characters "
             "of [A-Za-z0-9._-] (it names its parking topic)");
    auto topic = c.kafka.parking_topic + "." + name;
    if (legal(name) && !topic_name_problem(c.kafka.parking_topic))
      if (auto problem = topic_name_problem(topic))
        errs.push_back("tak.destinations." + name + ": its parking topic "
                       + *problem);
    for (auto& t : c.kafka.input_topics)
      need(errs, t != topic,
           "kafka.input_topics: '" + t
             + "' is the parking topic of destination " + name);
  }
}

/// An address to listen on (`key` names it): host:port, or empty (off).
void check_listen_address(const std::string& key, const std::string& address,
                          std::vector<std::string>& errs) {
  if (address.empty())
    return;
  auto colon = address.rfind(':');
  int64_t port = -1; // (not an optional: GCC 12 saw it maybe unset)
  if (colon != std::string::npos)
    if (auto p = parse_int(address.substr(colon + 1)))
      port = *p;
  need(errs,
       colon != std::string::npos && colon > 0 && port >= 0 && port <= 65535,
       key + ": '" + address + "' must be host:port");
}

void check_http_addresses(const config& c, std::vector<std::string>& errs) {
  check_listen_address("http.address", c.http.address, errs);
  check_listen_address("ingest.address", c.ingest.address, errs);
  // (Port 0 picks a free port for each.)
  auto port_zero = c.ingest.address.size() > 2
                   && c.ingest.address.compare(c.ingest.address.size() - 2, 2,
                                               ":0")
                        == 0;
  need(errs, c.ingest.tls_client_ca.empty() || !c.ingest.tls_cert.empty(),
       "ingest.tls_client_ca: needs ingest.tls_cert (client certificates are "
       "asked for only over TLS)");
  if (!c.ingest.address.empty() && c.ingest.address == c.http.address
      && !port_zero)
    errs.push_back("ingest.address: '" + c.ingest.address
                   + "' is http.address too: the ingest needs a port of its "
                     "own");
}

} // namespace

std::vector<std::string> validate(const config& c) {
  std::vector<std::string> errs;
  // Each key's own bounds, as the table declares them.
  for (auto& k : config_keys())
    if (auto problem = k.check(c))
      errs.push_back(*problem);
  // Rules about a key's format, or between keys, follow; the order of the
  // checks is the order of their messages.
  check_kafka_topics(c, errs);
  // A member holding a revoke near its session timeout was seen to lose
  // its membership (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION on the commit
  // that was to hand the partitions over).
  need(errs, c.kafka.revoke_drain_ms < c.kafka.session_timeout_ms,
       "kafka.revoke_drain_ms: must be below kafka.session_timeout_ms");
  need(errs, c.pipeline.max_in_flight >= c.pipeline.batch_size,
       "pipeline.max_in_flight: must be at least pipeline.batch_size");
  check_cot(c, errs);
  check_presentation(c, errs);
  check_destinations(c, errs);
  check_parking_topics(c, errs);
  if (!c.faults.destination_down.empty())
    need(errs, c.tak.destinations.count(c.faults.destination_down) == 1,
         "faults.destination_down: '" + c.faults.destination_down
           + "' is not a TAK destination");
  check_http_addresses(c, errs);
  need(errs, c.supervision.backoff_max_ms >= c.supervision.backoff_min_ms,
       "supervision.backoff_max_ms: must be at least backoff_min_ms");
  return errs;
}

std::string show_config(const config& cfg) {
  std::ostringstream out;
  out << "# effective cotflow configuration"
      << (cfg.file.empty() ? " (no file: defaults and environment)"
                           : " from " + cfg.file)
      << "\n";
  const char* section = "";
  for (auto& k : config_keys()) {
    if (std::string{section} != k.section) {
      section = k.section;
      out << section << ":\n";
    }
    auto src = cfg.sources.count(k.path()) ? cfg.sources.at(k.path())
                                           : "default";
    out << "  # " << k.description << " [" << src << "; " << k.env_name()
        << "]\n";
    out << "  " << k.name << ": " << render(cfg, k) << "\n";
  }
  return out.str();
}

std::vector<std::string> changed_keys(const config& a, const config& b) {
  std::vector<std::string> out;
  for (auto& k : config_keys())
    if (!same_value(a, b, k))
      out.push_back(k.path());
  return out;
}

bool hot_reloadable(const std::string& key) {
  auto k = find_key(key);
  return k && k->hot();
}

reload_plan plan_reload(const config& running, const config& loaded) {
  reload_plan plan;
  plan.next = running;
  for (auto& k : config_keys()) {
    if (same_value(running, loaded, k))
      continue;
    if (!k.hot()) {
      plan.restart_required.push_back(k.path());
      continue;
    }
    plan.applied.push_back(k.path());
    copy_value(plan.next, loaded, k);
    plan.next.sources[k.path()] = loaded.sources.count(k.path())
                                    ? loaded.sources.at(k.path())
                                    : "default";
  }
  return plan;
}

int64_t encoder_count(const pipeline_config& cfg) {
  if (cfg.encoders > 0)
    return cfg.encoders;
  return static_cast<int64_t>(usable_cpus());
}

unsigned cpus_of_quota(const std::string& cpu_max) {
  std::istringstream in{cpu_max};
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || period <= 0 || quota == "max")
    return 0;
  char* end = nullptr;
  auto q = std::strtoll(quota.c_str(), &end, 10);
  if (end == quota.c_str() || *end != '\0' || q <= 0)
    return 0;
  return static_cast<unsigned>((q + period - 1) / period);
}

namespace {

std::string read_first_line(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  std::getline(in, line);
  return line;
}

/// The tightest CFS quota on this process's cgroup and its ancestors; 0 for
/// none found.
unsigned quota_cpus() {
  unsigned best = 0;
  auto take = [&best](unsigned n) {
    if (n > 0 && (best == 0 || n < best))
      best = n;
  };
  // cgroup v2: "0::/path" in /proc/self/cgroup. Inside a container with its
  // own cgroup namespace the path is "/" and the container's limit is at
  // the mount's root.
  std::ifstream cg{"/proc/self/cgroup"};
  std::string line;
  while (std::getline(cg, line)) {
    if (line.rfind("0::", 0) != 0)
      continue;
    auto path = line.substr(3);
    for (;;) {
      auto dir = "/sys/fs/cgroup" + (path == "/" ? std::string{} : path);
      take(cpus_of_quota(read_first_line(dir + "/cpu.max")));
      if (path.empty() || path == "/")
        break;
      auto slash = path.rfind('/');
      path = slash == 0 || slash == std::string::npos ? "/"
                                                      : path.substr(0, slash);
    }
  }
  // cgroup v1, as mounted in a container.
  for (const char* dir : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"})
    take(cpus_of_quota(
      read_first_line(std::string{dir} + "/cpu.cfs_quota_us") + " "
      + read_first_line(std::string{dir} + "/cpu.cfs_period_us")));
  return best;
}

} // namespace

unsigned usable_cpus() {
  unsigned n = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    n = static_cast<unsigned>(CPU_COUNT(&set));
  if (n == 0)
    n = std::thread::hardware_concurrency();
  if (auto q = quota_cpus(); q > 0 && q < n)
    n = q;
  return n > 0 ? n : 1;
}

} // namespace cotflow
