#include "commands/options.hpp"

#include "config/config.hpp"

#include <algorithm>
#include <set>

namespace cotflow::commands {

const std::vector<command_spec>& command_table() {
  static const std::vector<command_spec> table{
    {"run", "", "run the pipeline until a stop signal",
     "kafka.brokers: embedded starts a broker in the process first.",
     "cotflow run --config /etc/cotflow/cotflow.yaml"},
    {"demo", "",
     "embedded broker, generated detections, the pipeline, a TAK server "
     "and a live summary line",
     "The CoT events go to a file, a Kafka topic and a TAK-like server in "
     "the process (destination demo-tak on loopback), which goes down for "
     "20 s once a minute unless --no-outage: its circuit breaker opens, its "
     "events are parked in Kafka and replayed when it is back (an open "
     "breaker probes after 5 s unless tak.breaker_open_min_ms is set). "
     "Runs until "
     "Ctrl-C, or with --count N until the N detections are delivered "
     "(those parked for a TAK destination once they are replayed): then it "
     "prints the totals and exits 0 when every one reached its sinks (the "
     "CoT destinations, or the dead-letter topic for the deliberately "
     "malformed ones) and the demo's TAK server got every one delivered, "
     "else 1. Logs go to --log-file unless --log-stderr.",
     "cotflow demo --rate 500 --tak udp://239.2.3.1:6969"},
    {"broker", "",
     "run the embedded Kafka-protocol broker alone; prints its bootstrap "
     "address",
     "", "cotflow broker --partitions 3"},
    {"loadgen", "",
     "publish generated detections at --rate for --count N or --seconds N",
     "Into the first of kafka.input_topics at kafka.brokers.",
     "cotflow loadgen --rate 500 --seconds 60 --malformed 0.01"},
    {"top", "",
     "live view of a running instance: rates, latency, destinations, "
     "supervision tree",
     "q or Ctrl-C quits. An instance with an http.token wants it: --token.",
     "cotflow top --url http://127.0.0.1:9180 --token T"},
    {"tail", "",
     "print the CoT events (or dead letters) passing a running instance",
     "As they pass, one per line, filtered by --uid, --type (a CoT type "
     "prefix) and --source; --dead-letters shows the dead letters instead "
     "(reason, detail, topic/partition/offset, the record). The pipeline "
     "never waits for the viewer: what it cannot keep up with is dropped, "
     "and a \"# N lines dropped\" line on stderr says so. Stops after "
     "--count lines, on Ctrl-C, or when the instance goes. The instance's "
     "http.token applies (--token).",
     "cotflow tail --type a-h --count 20"},
    {"validate", "FILE|-",
     "check NDJSON detection records offline as the pipeline would",
     "Each line of FILE (- for stdin) is decoded and encoded with the "
     "pipeline's decoder and encoder and the configured cot.* settings. "
     "Prints each line's CoT event, or \"line N: refused: REASON "
     "(detail)\" with the reason the dead-letter headers would carry, or "
     "\"line N: dropped: REASON\" for what the pipeline drops and counts "
     "(stale, too old, low confidence). Empty lines are skipped. A GeoJSON "
     "Feature without time gets the receive time (now), as in the pipeline "
     "when a record has no Kafka timestamp; a note on stderr says so. Exit "
     "0 when every line becomes an event, 1 when any is refused or "
     "dropped, 2 on a bad configuration or a file that cannot be read.",
     "cotflow validate detections.ndjson"},
    // `config` alone is the first of its sub-commands.
    {"config check", "",
     "validate the configuration and what run checks at start",
     "Kafka client settings and sinks.file are checked too, without "
     "connecting. Lists every problem (exit 2).",
     "cotflow config check --config /etc/cotflow/cotflow.yaml"},
    {"config show", "",
     "print the effective configuration and where each key came from", "",
     "cotflow config show --config cotflow.yaml"},
    {"tak enroll", "",
     "get a client certificate from a TAK Server's enrollment port",
     "As ATAK and PyTAK enroll: asks the server (port 8446) what a "
     "certificate's subject holds, makes a key and a certificate request "
     "here (the key never leaves this machine), has the server sign it with "
     "the user's name and password, and writes the key (mode 0600), the "
     "certificate and the server's CA as PEM files into --out. Prints the "
     "tls:// destination URL that uses them. The password comes from an "
     "environment variable or a file, never from the command line. Exit 0 "
     "enrolled, 1 refused or unreachable, 2 usage.",
     "TAK_PASSWORD=... cotflow tak enroll --host tak.example.org --user "
     "alice --password-env TAK_PASSWORD --ca tak-ca.pem"},
    {"completion", "bash", "print the bash completion script",
     "Generated from the same tables as --help.",
     "source <(cotflow completion bash)"},
    {"man", "", "print the manual page (roff)", "", "cotflow man | man -l -"},
    {"help", "[COMMAND]", "print the usage, or the help of COMMAND", "",
     "cotflow help demo"},
    {"version", "", "print the version", "", "cotflow version"},
  };
  return table;
}

const std::vector<option_spec>& option_table() {
  static const std::vector<option_spec> table{
    {"config", "PATH",
     "config file (default search: ./cotflow.yaml, "
     "/etc/cotflow/cotflow.yaml, ~/.config/cotflow/cotflow.yaml); COTFLOW_* "
     "environment variables override it",
     "run,demo,broker,loadgen,top,tail,validate,config check,config show"},
    {"partitions", "N",
     "partitions per input and output topic of the embedded broker "
     "(default 6)",
     "run,demo,broker"},
    {"rate", "N", "detections per second (default 200)", "demo"},
    {"count", "N",
     "publish N detections, then exit once every one is delivered", "demo"},
    {"output", "PATH", "CoT file (default ./cotflow-demo.cot)", "demo"},
    {"tak", "URL",
     "also deliver to this TAK server (tcp://HOST:8087, "
     "tls://HOST:8089?cert=...) or ATAK multicast (udp://239.2.3.1:6969), "
     "as destination 'tak'",
     "demo"},
    {"no-outage", "", "keep the demo's TAK server up", "demo"},
    {"outage-every", "MS",
     "the demo's TAK server goes down this often, in milliseconds (default "
     "60000)",
     "demo"},
    {"outage-for", "MS",
     "and stays down this long (default 20000; less than --outage-every)",
     "demo"},
    {"log-file", "PATH", "where the logs go (default ./cotflow-demo.log)",
     "demo"},
    {"log-stderr", "", "logs on stderr instead of --log-file", "demo"},
    {"rate", "N", "records per second; 0 = as fast as possible (default 1000)",
     "loadgen"},
    {"count", "N", "stop after N records", "loadgen"},
    {"seconds", "N", "stop after N seconds", "loadgen"},
    {"malformed", "F", "share of malformed records, 0..1 (default 0.01)",
     "loadgen"},
    {"geojson", "F",
     "share of the valid records sent as GeoJSON Features, 0..1 (default "
     "0.25)",
     "loadgen"},
    {"tracks", "N", "moving objects (default 40)", "loadgen"},
    {"sensors", "N", "sensors the records come from (default 5)", "loadgen"},
    {"seed", "N", "seed of the generator (default 42)", "loadgen"},
    {"url", "URL",
     "the instance's operations port, http://host:port (default "
     "http.address)",
     "top,tail"},
    {"token", "T",
     "bearer token of the operations endpoints (default http.token)",
     "top,tail"},
    {"uid", "UID", "only the events of this uid", "tail"},
    {"type", "PREFIX", "only events whose CoT type starts so (a-h)", "tail"},
    {"source", "S", "only events of this source", "tail"},
    {"dead-letters", "", "the dead letters instead of the events", "tail"},
    {"count", "N", "stop after N lines", "tail"},
    {"frames", "N", "stop after N frames (default: until Ctrl-C)", "top"},
    {"host", "HOST", "the TAK Server's name or address", "tak enroll"},
    {"port", "N", "its enrollment port (default 8446)", "tak enroll"},
    {"tak-port", "N",
     "its streaming TLS port, for the printed URL (default 8089)",
     "tak enroll"},
    {"user", "NAME", "the TAK user to enroll as", "tak enroll"},
    {"password-env", "VAR", "environment variable holding the password",
     "tak enroll"},
    {"password-file", "FILE", "file whose first line is the password",
     "tak enroll"},
    {"ca", "PEM",
     "CA certificates to verify the server with (default: the "
     "system's)",
     "tak enroll"},
    {"insecure", "",
     "do not verify the server (a first enrollment without its CA)",
     "tak enroll"},
    {"client-uid", "ID",
     "the client uid the server records (default cotflow-<host name>)",
     "tak enroll"},
    {"out", "DIR", "where the files go (default ./tak-certs)", "tak enroll"},
    {"help", "", "print this help", "*", "h"},
  };
  return table;
}

namespace {

/// The width the help is wrapped to.
constexpr size_t width = 79;

bool takes(const option_spec& o, std::string_view command) {
  if (o.commands == "*")
    return true;
  for (auto rest = o.commands; !rest.empty();) {
    auto comma = rest.find(',');
    if (rest.substr(0, comma) == command)
      return true;
    rest.remove_prefix(comma == rest.npos ? rest.size() : comma + 1);
  }
  return false;
}

/// The sub-commands of `family` ("config": check, show), in table order;
/// empty when it has none.
std::vector<std::string_view> subcommands(std::string_view family) {
  std::vector<std::string_view> subs;
  for (auto& c : command_table())
    if (c.name.size() > family.size() && c.name[family.size()] == ' '
        && c.name.substr(0, family.size()) == family)
      subs.push_back(c.name.substr(family.size() + 1));
  return subs;
}

bool is_family(std::string_view name) {
  return !subcommands(name).empty();
}

/// The first words of the commands: "run", ..., "config", ...
std::vector<std::string> command_words() {
  std::vector<std::string> words;
  for (auto& c : command_table()) {
    std::string word{c.name.substr(0, c.name.find(' '))};
    if (std::find(words.begin(), words.end(), word) == words.end())
      words.push_back(word);
  }
  return words;
}

const option_spec* find_option(const std::vector<const option_spec*>& opts,
                               std::string_view name, bool short_name) {
  for (auto* o : opts)
    if ((short_name ? o->short_name : o->name) == name)
      return o;
  return nullptr;
}

/// "--name" and "-x" of each option of `opts`.
std::vector<std::string>
spellings(const std::vector<const option_spec*>& opts) {
  std::vector<std::string> out;
  for (auto* o : opts) {
    out.push_back("--" + std::string{o->name});
    if (!o->short_name.empty())
      out.push_back("-" + std::string{o->short_name});
  }
  return out;
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (auto& w : words)
    out += (out.empty() ? "" : " ") + w;
  return out;
}

/// Whether `args` is a list of literal words ("bash"), not a placeholder.
bool literal_words(std::string_view args) {
  return !args.empty() && args[0] != '['
         && std::none_of(args.begin(), args.end(),
                         [](char c) { return c >= 'A' && c <= 'Z'; });
}

/// The arguments of a parsed command line against its command's spec.
bool check_arguments(const command_line& line, std::string& err) {
  auto who = "cotflow " + line.command;
  auto see = "\nsee: " + who + " --help";
  auto& spec = *find_command(line.command);
  auto& pos = line.positional;
  for (auto& [name, value] : line.opts)
    if (!find_option(options_of(line.command), name, false)) {
      err = who + ": unknown option --" + name + see;
      return false;
    }
  if (line.command == "help") {
    auto topic = join(pos);
    if (topic.empty() || find_command(topic) || is_family(topic))
      return true;
    err = "cotflow help: unknown command '" + topic + "'"
          + did_you_mean(topic, command_words()) + see;
    return false;
  }
  if (spec.args.empty() && !pos.empty()) {
    err = who + ": unexpected argument '" + pos.front() + "'" + see;
    return false;
  }
  if (!spec.args.empty() && pos.size() != 1) {
    err = who
          + (pos.empty() ? ": needs " + std::string{spec.args}
                         : ": unexpected argument '" + pos[1] + "'")
          + see;
    return false;
  }
  if (literal_words(spec.args)) {
    std::vector<std::string> words;
    for (auto rest = spec.args; !rest.empty();) {
      auto bar = rest.find('|');
      words.emplace_back(rest.substr(0, bar));
      rest.remove_prefix(bar == rest.npos ? rest.size() : bar + 1);
    }
    if (std::find(words.begin(), words.end(), pos.front()) == words.end()) {
      err = who + ": unknown argument '" + pos.front() + "'"
            + did_you_mean(pos.front(), words) + see;
      return false;
    }
  }
  return true;
}

/// Appends `text` wrapped at `width`, from column `indent` (where `out`
/// is) and every further line indented as much.
void wrap(std::string& out, std::string_view text, size_t indent) {
  auto column = indent;
  bool first = true;
  while (!text.empty()) {
    auto word = text.substr(0, text.find(' '));
    text.remove_prefix(std::min(text.size(), word.size() + 1));
    if (word.empty())
      continue;
    if (!first && column + 1 + word.size() > width) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (!first) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
    first = false;
  }
  out += '\n';
}

/// "  left   text" with `text` wrapped from column `col`.
void item(std::string& out, std::string_view left, std::string_view text,
          size_t col) {
  out += "  ";
  out += left;
  if (left.size() + 4 > col) {
    out += "\n" + std::string(col, ' ');
  } else {
    out += std::string(col - 2 - left.size(), ' ');
  }
  wrap(out, text, col);
}

/// "--rate N", "-h, --help".
std::string option_left(const option_spec& o) {
  std::string s;
  if (!o.short_name.empty())
    s += "-" + std::string{o.short_name} + ", ";
  s += "--" + std::string{o.name};
  if (!o.value.empty())
    s += " " + std::string{o.value};
  return s;
}

/// "cotflow demo [OPTIONS]", "cotflow validate [OPTIONS] FILE|-".
std::string synopsis(const command_spec& c) {
  std::string s = "cotflow " + std::string{c.name};
  if (options_of(c.name).size() > 1) // more than --help
    s += " [OPTIONS]";
  if (!c.args.empty())
    s += " " + std::string{c.args};
  return s;
}

/// `text` for roff: backslashes and dashes escaped, a leading control
/// character made text.
std::string roff(std::string_view text) {
  std::string out;
  if (!text.empty() && (text[0] == '.' || text[0] == '\''))
    out += "\\&";
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  return out;
}

/// The man page's item of an option: "\fB\-\-rate\fR \fIN\fR".
std::string roff_option(const option_spec& o) {
  std::string s;
  if (!o.short_name.empty())
    s += "\\fB\\-" + roff(o.short_name) + "\\fR, ";
  s += "\\fB\\-\\-" + roff(o.name) + "\\fR";
  if (!o.value.empty())
    s += " \\fI" + roff(o.value) + "\\fR";
  return s;
}

} // namespace

const command_spec* find_command(std::string_view name) {
  for (auto& c : command_table())
    if (c.name == name)
      return &c;
  return nullptr;
}

std::vector<const option_spec*> options_of(std::string_view command) {
  auto subs = subcommands(command);
  std::vector<const option_spec*> out;
  for (auto& o : option_table()) {
    bool any = takes(o, command);
    for (auto sub : subs)
      any = any || takes(o, std::string{command} + " " + std::string{sub});
    if (any)
      out.push_back(&o);
  }
  return out;
}

std::optional<command_line>
parse_command_line(const std::vector<std::string>& args, std::string& err) {
  command_line line;
  if (args.empty())
    return line;
  line.command = args[0];
  if (line.command == "-h" || line.command == "--help")
    line.command = "help";
  else if (line.command == "-V" || line.command == "--version")
    line.command = "version";
  if (!find_command(line.command) && !is_family(line.command)) {
    err = "cotflow: unknown command '" + args[0] + "'"
          + did_you_mean(args[0], command_words()) + "\nsee: cotflow --help";
    return std::nullopt;
  }
  auto who = "cotflow " + line.command;
  auto known = options_of(line.command);
  for (size_t i = 1; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a.size() < 2 || a[0] != '-') { // "-" is stdin
      line.positional.push_back(a);
      continue;
    }
    bool is_long = a[1] == '-';
    auto eq = is_long ? a.find('=') : std::string::npos;
    auto name = a.substr(is_long ? 2 : 1, eq == a.npos ? a.npos : eq - 2);
    auto* spec = find_option(known, name, !is_long);
    if (!spec) {
      err = who + ": unknown option " + a.substr(0, eq)
            + did_you_mean(a.substr(0, eq), spellings(known)) + "\nsee: " + who
            + " --help";
      return std::nullopt;
    }
    auto key = std::string{spec->name};
    if (spec->value.empty() && eq != a.npos) {
      err = who + ": option --" + key + " takes no value";
      return std::nullopt;
    }
    if (spec->value.empty()) {
      line.opts[key] = "";
    } else if (eq != a.npos) {
      line.opts[key] = a.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      line.opts[key] = args[++i];
    } else {
      err = who + ": option --" + key + " needs a value ("
            + std::string{spec->value} + ")";
      return std::nullopt;
    }
  }
  line.help = line.opts.erase("help") > 0;
  if (auto subs = subcommands(line.command); !subs.empty()) {
    auto& pos = line.positional;
    if (!pos.empty()
        && std::find(subs.begin(), subs.end(), pos.front()) != subs.end()) {
      line.command += " " + pos.front();
      pos.erase(pos.begin());
    } else if (!pos.empty() && !line.help) {
      std::vector<std::string> names{subs.begin(), subs.end()};
      err = who + ": unknown sub-command '" + pos.front() + "'"
            + did_you_mean(pos.front(), names) + "\nsee: " + who + " --help";
      return std::nullopt;
    } else if (!line.help) {
      line.command += " " + std::string{subs.front()};
    }
  }
  if (!line.help && !check_arguments(line, err))
    return std::nullopt;
  if (line.command == "help" && line.positional.size() > 1)
    line.positional = {join(line.positional)}; // "config check"
  return line;
}

std::string usage() {
  std::string out = "usage: cotflow COMMAND [OPTIONS] [ARGUMENTS]\n"
                    "       cotflow COMMAND --help   (its options and an "
                    "example)\n\n"
                    "Kafka detections to Cursor-on-Target events.\n\n"
                    "commands:\n";
  for (auto& c : command_table())
    item(out, c.name, c.summary, 18);
  out += "\noptions:\n";
  item(out, "-h, --help", "print this usage", 18);
  item(out, "-V, --version", "print the version", 18);
  return out;
}

std::string command_help(std::string_view command) {
  if (command.empty())
    return usage();
  if (!find_command(command)) {
    std::string out;
    for (auto sub : subcommands(command))
      out += (out.empty() ? "" : "\n")
             + command_help(std::string{command} + " " + std::string{sub});
    return out;
  }
  auto& c = *find_command(command);
  std::string out = "usage: " + synopsis(c) + "\n\n";
  wrap(out, c.summary, 0);
  if (!c.details.empty()) {
    out += "\n";
    wrap(out, c.details, 0);
  }
  out += "\noptions:\n";
  for (auto* o : options_of(command))
    item(out, option_left(*o), o->help, 22);
  out += "\nexample:\n  " + std::string{c.example} + "\n";
  return out;
}

std::string bash_completion() {
  std::set<std::string> file_values;
  std::set<std::string> other_values;
  for (auto& o : option_table())
    if (o.value == "PATH" || o.value == "FILE")
      file_values.insert("--" + std::string{o.name});
    else if (!o.value.empty())
      other_values.insert("--" + std::string{o.name});
  auto alternatives = [](const std::set<std::string>& s) {
    std::string out;
    for (auto& v : s)
      out += (out.empty() ? "" : "|") + v;
    return out;
  };
  auto words = command_words();
  std::string out
    = "# bash completion of cotflow, generated by `cotflow completion bash`\n"
      "# from its option tables. Load it with\n"
      "#   source <(cotflow completion bash)\n"
      "# or save it as ~/.local/share/bash-completion/completions/cotflow.\n"
      "_cotflow() {\n"
      "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
      "  local opts='' args='' files=''\n"
      "  COMPREPLY=()\n"
      "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
      "    COMPREPLY=($(compgen -W '"
      + join(words)
      + " -h --help -V --version' -- \"$cur\"))\n"
        "    return\n"
        "  fi\n"
        "  case $prev in\n"
        "    "
      + alternatives(file_values)
      + ")\n"
        "      COMPREPLY=($(compgen -f -- \"$cur\"))\n"
        "      return ;;\n"
        "    "
      + alternatives(other_values)
      + ")\n"
        "      return ;;\n"
        "  esac\n"
        "  case ${COMP_WORDS[1]} in\n";
  for (auto& w : words) {
    out += "    " + w + ")\n      opts='" + join(spellings(options_of(w)))
           + "'\n";
    auto subs = subcommands(w);
    std::string_view args = subs.empty() ? find_command(w)->args : "";
    if (!subs.empty())
      out += "      [ \"$COMP_CWORD\" -eq 2 ] && args='"
             + join({subs.begin(), subs.end()}) + "'\n";
    else if (w == "help")
      out += "      [ \"$COMP_CWORD\" -eq 2 ] && args='" + join(words) + "'\n";
    else if (literal_words(args))
      out += "      args='" + std::string{args} + "'\n";
    else if (!args.empty())
      out += "      files=1\n";
    out += "      ;;\n";
  }
  out += "  esac\n"
         "  if [[ $cur == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
         "  elif [ -n \"$files\" ]; then\n"
         "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
         "  else\n"
         "    COMPREPLY=($(compgen -W \"$args\" -- \"$cur\"))\n"
         "  fi\n"
         "}\n"
         "complete -F _cotflow cotflow\n";
  return out;
}

std::string man_page(std::string_view version) {
  std::string out = ".TH COTFLOW 1 \"\" \"cotflow " + roff(version)
                    + "\" \"User Commands\"\n"
                      ".SH NAME\n"
                      "cotflow \\- Kafka detections to Cursor\\-on\\-Target "
                      "events\n"
                      ".SH SYNOPSIS\n"
                      ".B cotflow\n"
                      ".I COMMAND\n"
                      ".RI [ OPTIONS ]\n"
                      ".RI [ ARGUMENTS ]\n"
                      ".br\n"
                      ".B cotflow\n"
                      ".I COMMAND\n"
                      ".B \\-\\-help\n"
                      ".SH DESCRIPTION\n"
                      "cotflow reads detections (flat JSON or GeoJSON "
                      "features) from Kafka, turns them into "
                      "Cursor\\-on\\-Target events and delivers them at "
                      "least once to Kafka, a file and TAK servers; records "
                      "it cannot convert go to a dead\\-letter topic with "
                      "the reason.\n"
                      ".SH COMMANDS\n";
  for (auto& c : command_table()) {
    out += ".SS " + roff(synopsis(c)) + "\n" + roff(c.summary) + ".\n";
    if (!c.details.empty())
      out += roff(c.details) + "\n";
    for (auto* o : options_of(c.name))
      out += ".TP\n" + roff_option(*o) + "\n" + roff(o->help) + "\n";
    out += ".PP\nExample:\n.RS\n.nf\n" + roff(c.example) + "\n.fi\n.RE\n";
  }
  out += ".SH OPTIONS\n"
         ".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\n"
         "print the usage; after a command, its help\n"
         ".TP\n\\fB\\-V\\fR, \\fB\\-\\-version\\fR\n"
         "print the version\n"
         ".SH EXIT STATUS\n"
         "0 on success, 1 on a failure (for validate: a record refused or "
         "dropped), 2 on a bad configuration or command line.\n"
         ".SH ENVIRONMENT\n"
         "Every configuration key can be set as COTFLOW_SECTION_KEY, e.g. "
         "COTFLOW_KAFKA_BROKERS for kafka.brokers; "
         "\\fBcotflow config show\\fR says where each value came from.\n"
         ".SH FILES\n"
         ".TP\n\\&./cotflow.yaml, /etc/cotflow/cotflow.yaml, "
         "~/.config/cotflow/cotflow.yaml\n"
         "the configuration, the first found unless \\fB\\-\\-config\\fR "
         "names one\n";
  return out;
}

} // namespace cotflow::commands
