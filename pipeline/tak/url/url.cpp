#include "pipeline/tak/url/url.hpp"

#include "pipeline/core/text.hpp"

#include <cctype>
#include <fstream>
#include <map>
#include <set>

namespace cotflow {

namespace {

/// Scheme, host and port of `url` (and the TLS server name, the host until
/// an option says otherwise); what follows '?' goes to `query`.
bool parse_address(const std::string& url, tak_url& out, std::string& query,
                   std::string& err) {
  auto sep = url.find("://");
  if (sep == std::string::npos) {
    err = "'" + url + "' is not a URL like tcp://host:8087";
    return false;
  }
  out.scheme = url.substr(0, sep);
  if (out.scheme != "tcp" && out.scheme != "udp" && out.scheme != "tls") {
    err = "scheme '" + out.scheme + "' must be tcp, tls or udp";
    return false;
  }
  auto rest = url.substr(sep + 3);
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  std::string port_text;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size()
        || rest[close + 1] != ':') {
      err = "'" + url + "': expected [ipv6]:port";
      return false;
    }
    out.host = rest.substr(1, close - 1);
    port_text = rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string::npos) {
      err = "'" + url + "' has no port";
      return false;
    }
    out.host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
  }
  auto port = parse_int(port_text);
  if (out.host.empty() || !port || *port < 1 || *port > 65535) {
    err = "'" + url + "' needs a host and a port in 1..65535";
    return false;
  }
  out.port = static_cast<uint16_t>(*port);
  if (out.scheme == "tls")
    out.server_name = out.host;
  return true;
}

/// The one-letter code of an affiliation given by name or by letter.
std::optional<std::string> affiliation_code(const std::string& a) {
  static const std::map<std::string, std::string> words = {
    {"pending", "p"}, {"unknown", "u"}, {"assumed_friend", "a"},
    {"friend", "f"},  {"neutral", "n"}, {"suspect", "s"},
    {"hostile", "h"}, {"joker", "j"},   {"faker", "k"},
    {"none", "o"},    {"other", "x"}};
  if (words.count(a))
    return words.at(a);
  if (a.size() == 1 && std::islower(static_cast<unsigned char>(a[0])))
    return a;
  return std::nullopt;
}

// One branch per option the query may hold, the scheme's own first: a
// flat list to look an option up in, which a split by scheme would only
// spread over more functions.
bool apply_option(tak_url& out, const std::string& key, const std::string& val,
                  std::string& err) {
  if (out.scheme == "udp" && key == "ttl") {
    auto ttl = parse_int(val);
    if (!ttl || *ttl < 0 || *ttl > 255) {
      err = "ttl must be 0..255";
      return false;
    }
    out.ttl = static_cast<int>(*ttl);
  } else if (out.scheme == "udp" && key == "interface") {
    out.interface = val;
  } else if (out.scheme == "tls" && key == "verify") {
    auto v = parse_bool(val);
    if (!v) {
      err = "verify must be true or false";
      return false;
    }
    out.verify = *v;
  } else if (out.scheme == "tls" && key == "server_name") {
    out.server_name = val;
  } else if (out.scheme == "tls"
             && (key == "password_env" || key == "ca_password_env")) {
    (key == "password_env" ? out.password_env : out.ca_password_env) = val;
  } else if (out.scheme == "tls"
             && (key == "ca" || key == "cert" || key == "key" || key == "p12"
                 || key == "password_file" || key == "ca_p12"
                 || key == "ca_password_file")) {
    if (!std::ifstream{val}.good()) {
      err = key + " file '" + val + "' cannot be read";
      return false;
    }
    (key == "ca"                 ? out.ca
     : key == "cert"             ? out.cert
     : key == "key"              ? out.key
     : key == "p12"              ? out.p12
     : key == "ca_p12"           ? out.ca_p12
     : key == "ca_password_file" ? out.ca_password_file
                                 : out.password_file)
      = val;
  } else if (key == "types" || key == "sources") {
    auto& list = key == "types" ? out.types : out.sources;
    list = split(val, '|');
    if (list.empty()) {
      err = key + " needs at least one value (a|b|c)";
      return false;
    }
    if (key == "types")
      for (auto& t : list)
        if (!is_cot_type_prefix(t)) {
          err = "types: '" + t + "' is not a CoT type prefix like a-h";
          return false;
        }
  } else if (key == "affiliations") {
    for (auto& a : split(val, '|')) {
      auto code = affiliation_code(a);
      if (!code) {
        err = "affiliations: '" + a + "' is not an affiliation";
        return false;
      }
      out.affiliations.push_back(*code);
    }
  } else if (out.scheme != "udp" && key == "ping") {
    auto v = parse_bool(val);
    if (!v) {
      err = "ping must be true or false";
      return false;
    }
    out.ping = *v;
  } else if (key == "dest_callsigns" || key == "dest_groups"
             || key == "dest_missions") {
    auto& list = key == "dest_callsigns" ? out.dest_callsigns
                 : key == "dest_groups"  ? out.dest_groups
                                         : out.dest_missions;
    list = split(val, '|');
    if (list.empty()) {
      err = key + " needs at least one value (a|b|c)";
      return false;
    }
  } else if (key == "archive" || (out.scheme != "udp" && key == "hello")) {
    auto v = parse_bool(val);
    if (!v) {
      err = key + " must be true or false";
      return false;
    }
    if (key == "archive")
      out.archive = *v;
    else
      out.hello = *v;
  } else if (key == "protocol") {
    bool udp = out.scheme == "udp";
    if (val == "xml")
      out.protocol = tak_protocol_choice::xml;
    else if (!udp && val == "negotiate")
      out.protocol = tak_protocol_choice::negotiate;
    else if (!udp && val == "1")
      out.protocol = tak_protocol_choice::v1;
    else if (udp && val == "mesh")
      out.protocol = tak_protocol_choice::mesh;
    else {
      err = std::string{"protocol must be "}
            + (udp ? "xml or mesh" : "xml, negotiate or 1") + " for "
            + out.scheme + "://";
      return false;
    }
  } else if (key == "coalesce") {
    auto v = parse_bool(val);
    if (!v) {
      err = "coalesce must be true or false";
      return false;
    }
    out.coalesce = *v;
  } else if (key == "password") {
    err = "a password never goes into the URL: use password_env or "
          "password_file";
    return false;
  } else {
    err = "unknown option '" + key + "' for " + out.scheme + "://";
    return false;
  }
  return true;
}

/// TLS options that exclude or need each other; `given` holds the file
/// options the query named, read or not.
void check_tls_options(const std::set<std::string>& given,
                       std::vector<std::string>& errs) {
  if (given.count("cert") != given.count("key"))
    errs.push_back("cert and key go together");
  if (given.count("p12") && given.count("cert"))
    errs.push_back("use either p12 or cert and key");
  if (given.count("ca") && given.count("ca_p12"))
    errs.push_back("use either ca or ca_p12");
}

} // namespace

std::optional<tak_url> parse_tak_url(const std::string& url,
                                     std::vector<std::string>& errs) {
  tak_url out;
  std::string query;
  std::string err;
  auto before = errs.size();
  if (!parse_address(url, out, query, err)) {
    errs.push_back(err);
    // Without a known scheme the options mean nothing.
    if (out.scheme != "tcp" && out.scheme != "udp" && out.scheme != "tls")
      return std::nullopt;
  }
  std::set<std::string> given;
  for (auto& kv : split(query, '&')) {
    auto eq = kv.find('=');
    auto key = kv.substr(0, eq);
    auto val = eq == std::string::npos ? std::string{} : kv.substr(eq + 1);
    given.insert(key);
    if (!apply_option(out, key, val, err))
      errs.push_back(err);
  }
  if (out.scheme == "tls")
    check_tls_options(given, errs);
  if (errs.size() != before)
    return std::nullopt;
  return out;
}

std::optional<tak_url> parse_tak_url(const std::string& url, std::string& err) {
  std::vector<std::string> errs;
  auto out = parse_tak_url(url, errs);
  if (!out) {
    err.clear();
    for (auto& e : errs)
      err += (err.empty() ? "" : "; ") + e;
  }
  return out;
}

} // namespace cotflow
