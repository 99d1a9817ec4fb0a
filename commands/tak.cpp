#include "commands/commands.hpp"

#include "pipeline/core/listen.hpp"
#include "pipeline/tak/enroll.hpp"

#include <cstdlib>
#include <fstream>
#include <iostream>

namespace cotflow::commands {

namespace {

std::string option(const option_map& opts, const std::string& name,
                   const std::string& fallback = "") {
  auto it = opts.find(name);
  return it == opts.end() ? fallback : it->second;
}

/// The password from --password-env or --password-file (never from the
/// command line, where ps and the shell history would show it).
std::optional<std::string> password(const option_map& opts, std::string& err) {
  auto env = option(opts, "password-env");
  auto file = option(opts, "password-file");
  if (env.empty() == file.empty()) {
    err = "give the password with exactly one of --password-env VAR and "
          "--password-file FILE";
    return std::nullopt;
  }
  if (!env.empty()) {
    auto v = std::getenv(env.c_str());
    if (!v) {
      err = "--password-env " + env + ": the variable is not set";
      return std::nullopt;
    }
    return std::string{v};
  }
  std::ifstream in{file};
  std::string line;
  if (!in || !std::getline(in, line)) {
    err = "--password-file " + file + ": cannot be read";
    return std::nullopt;
  }
  return line;
}

} // namespace

int cmd_tak_enroll(const command_line& line) {
  auto& opts = line.opts;
  enrollment_request req;
  req.host = option(opts, "host");
  req.user = option(opts, "user");
  req.ca = option(opts, "ca");
  req.insecure = opts.count("insecure") > 0;
  req.client_uid = option(opts, "client-uid",
                          "cotflow-" + host_name().value_or("unknown"));
  req.out_dir = option(opts, "out", "tak-certs");
  std::string err;
  std::vector<std::string> problems;
  if (req.host.empty())
    problems.push_back("--host is required");
  if (req.user.empty())
    problems.push_back("--user is required");
  auto pw = password(opts, err);
  if (!pw)
    problems.push_back(err);
  else
    req.password = *pw;
  auto port = [&](const char* name, uint16_t fallback) -> uint16_t {
    auto text = option(opts, name);
    if (text.empty())
      return fallback;
    char* end = nullptr;
    auto v = std::strtol(text.c_str(), &end, 10);
    if (*end != '\0' || v < 1 || v > 65535) {
      problems.push_back(std::string{"--"} + name
                         + " must be a port (1-65535)");
      return fallback;
    }
    return static_cast<uint16_t>(v);
  };
  req.port = port("port", 8446);
  auto stream_port = port("tak-port", 8089);
  if (!req.ca.empty() && req.insecure)
    problems.push_back("--ca and --insecure exclude each other");
  if (!problems.empty()) {
    for (auto& p : problems)
      std::cerr << "cotflow tak enroll: " << p << "\n";
    return exit_config;
  }
  auto done = enroll(req, err);
  if (!done) {
    std::cerr << "cotflow tak enroll: " << err << "\n";
    return 1;
  }
  std::cerr << "enrolled " << done->subject << " as " << req.client_uid
            << "\n  key:         " << done->key
            << "\n  certificate: " << done->cert
            << (done->ca.empty() ? "" : "\n  CA:          " + done->ca)
            << "\nthe destination URL for tak.destinations:\n";
  std::cout << "tls://" << req.host << ":" << stream_port
            << "?cert=" << done->cert << "&key=" << done->key
            << (done->ca.empty() ? "" : "&ca=" + done->ca) << "\n";
  return 0;
}

} // namespace cotflow::commands
