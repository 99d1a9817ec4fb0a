#include "pipeline/ops/top.hpp"

#include "pipeline/core/json.hpp"
#include "pipeline/core/stats.hpp"
#include "pipeline/ops/http_client.hpp"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

namespace cotflow {

std::optional<top_sample>
scrape_top(const std::string& host, int port, const std::string& token,
           std::chrono::steady_clock::time_point since) {
  auto m = http_get(host, port, "/metrics", token);
  if (!m || m->status != 200)
    return std::nullopt;
  top_sample s;
  s.at = std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
           .count();
  s.metrics = parse_prometheus(m->body);
  if (auto st = http_get(host, port, "/status", token)) {
    if (st->status == 200)
      s.status_json = st->body;
    s.unauthorized = st->status == 401;
  }
  if (auto sv = http_get(host, port, "/supervision", token)) {
    if (sv->status == 200)
      s.supervision_json = sv->body;
    s.unauthorized = s.unauthorized || sv->status == 401;
  }
  return s;
}

std::string top_unauthorized(const std::string& url) {
  return url
         + " answered 401 Unauthorized: /status and /supervision need the "
           "instance's http.token; pass it with --token TOKEN (or "
           "COTFLOW_HTTP_TOKEN)";
}

std::map<std::string, double> parse_prometheus(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto sp = line.rfind(' ');
    if (sp == std::string::npos)
      continue;
    out[line.substr(0, sp)] = std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return out;
}

double histogram_quantile(const std::map<std::string, double>& before,
                          const std::map<std::string, double>& now,
                          const std::string& name, const std::string& label,
                          double q) {
  // Buckets (upper bound, count in the interval), sorted by bound.
  std::vector<std::pair<double, double>> buckets;
  auto prefix = name + "_bucket{";
  for (auto& [key, value] : now) {
    if (key.compare(0, prefix.size(), prefix) != 0
        || key.find(label) == std::string::npos)
      continue;
    auto le = key.find("le=\"");
    if (le == std::string::npos)
      continue;
    auto bound_text = key.substr(le + 4, key.find('"', le + 4) - le - 4);
    double bound = bound_text == "+Inf" ? 1e300 : std::stod(bound_text);
    auto it = before.find(key);
    buckets.emplace_back(bound, value - (it == before.end() ? 0 : it->second));
  }
  std::sort(buckets.begin(), buckets.end());
  if (buckets.empty() || buckets.back().second <= 0)
    return -1;
  auto total = buckets.back().second;
  double prev_bound = 0, prev_count = 0;
  for (auto& [bound, count] : buckets) {
    if (count >= q * total) {
      if (bound >= 1e300)
        return prev_bound;
      // Linear inside the bucket, as Prometheus' histogram_quantile does.
      auto in_bucket = count - prev_count;
      auto frac = in_bucket > 0 ? (q * total - prev_count) / in_bucket : 1;
      return prev_bound + (bound - prev_bound) * frac;
    }
    prev_bound = bound;
    prev_count = count;
  }
  return prev_bound;
}

namespace {

double rate(const top_sample& a, const top_sample& b, const std::string& k) {
  auto dt = b.at - a.at;
  if (dt <= 0)
    return 0;
  auto x = b.metrics.count(k) ? b.metrics.at(k) : 0;
  auto y = a.metrics.count(k) ? a.metrics.at(k) : 0;
  return (x - y) / dt;
}

std::string ms(double seconds) {
  if (seconds < 0)
    return "    -";
  // Past the top bucket all that is known is "at least its bound" (the
  // quantile then reads as the bound itself).
  if (seconds >= latency_buckets().back())
    return "\u2265 "
           + std::to_string(static_cast<int>(latency_buckets().back())) + " s";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%5.1f", seconds * 1000);
  return buf;
}

// /status and /supervision come from another process, maybe of another
// version: every member is looked up and type-checked before it is read
// (RapidJSON's operator[] on a missing member, or GetString() on a value
// that is not a string, is undefined behaviour).

/// `v[key]` when `v` is an object with that member, else a null value.
const rapidjson::Value& member(const rapidjson::Value& v, const char* key) {
  static const rapidjson::Value null;
  if (!v.IsObject())
    return null;
  auto it = v.FindMember(key);
  return it == v.MemberEnd() ? null : it->value;
}

const char* text(const rapidjson::Value& v, const char* key,
                 const char* otherwise = "?") {
  auto& m = member(v, key);
  return m.IsString() ? m.GetString() : otherwise;
}

bool flag(const rapidjson::Value& v, const char* key) {
  auto& m = member(v, key);
  return m.IsBool() && m.GetBool();
}

double number(const rapidjson::Value& v, const char* key) {
  auto& m = member(v, key);
  return m.IsNumber() ? m.GetDouble() : 0;
}

long long integer(const rapidjson::Value& v, const char* key) {
  auto& m = member(v, key);
  return m.IsInt64() ? static_cast<long long>(m.GetInt64()) : 0;
}

unsigned long long count(const rapidjson::Value& v, const char* key) {
  auto& m = member(v, key);
  return m.IsUint64() ? static_cast<unsigned long long>(m.GetUint64()) : 0;
}

void tree(const rapidjson::Value& node, int depth, std::string& out) {
  if (!member(node, "name").IsString())
    return;
  char line[160];
  std::snprintf(line, sizeof(line), "  %*s%-20s %-8s restarts %-4llu %s\n",
                depth * 2, "", text(node, "name"), text(node, "state"),
                count(node, "restarts"), text(node, "last_failure", ""));
  out += line;
  if (auto& children = member(node, "children"); children.IsArray())
    for (auto& c : children.GetArray())
      tree(c, depth + 1, out);
}

/// The first line: what is watched, its version, uptime and readiness.
void header_line(const std::string& url, const rapidjson::Document& st,
                 bool have_status, std::string& out) {
  char line[256];
  std::snprintf(line, sizeof(line),
                "cotflow top  %s  %s  up %.0f s  %s  partitions %lld\n",
                url.c_str(), text(st, "version"), number(st, "uptime_s"),
                have_status ? (flag(st, "ready") ? "READY" : "NOT READY") : "?",
                integer(member(st, "kafka"), "assigned_partitions"));
  out += line;
}

/// The sum of a metric's series (every label set), as of `m`.
double sum_of(const std::map<std::string, double>& m, const std::string& name) {
  double total = 0;
  for (auto it = m.lower_bound(name);
       it != m.end() && it->first.compare(0, name.size(), name) == 0; ++it)
    if (it->first.size() == name.size() || it->first[name.size()] == '{')
      total += it->second;
  return total;
}

/// Records per second between the two samples, totals so far, and what
/// parking holds back (the definitions: pipeline/core/counts.hpp).
void record_lines(const top_sample& before, const top_sample& now,
                  std::string& out) {
  char line[256];
  auto& m = now.metrics;
  auto get = [&](const std::string& k) { return sum_of(m, k); };
  auto per_s = [&](const std::string& k) {
    auto dt = now.at - before.at;
    return dt > 0 ? (sum_of(m, k) - sum_of(before.metrics, k)) / dt : 0;
  };
  // An instance older than these counters has no delivered: its out is
  // what it called delivered.
  std::string delivered = m.count("cotflow_records_delivered_total")
                            ? "cotflow_records_delivered_total"
                            : "cotflow_records_out_total";
  const char* row = "%-10s in %-9.0f out %-9.0f delivered %-9.0f dead %-7.0f "
                    "dropped %-7.0f\n";
  for (bool totals : {false, true}) {
    auto v = [&](const std::string& k) { return totals ? get(k) : per_s(k); };
    std::snprintf(line, sizeof(line), row, totals ? "totals" : "records/s",
                  v("cotflow_records_in_total"), v("cotflow_records_out_total"),
                  v(delivered), v("cotflow_records_dead_lettered_total"),
                  v("cotflow_records_dropped_total"));
    out += line;
  }
  std::snprintf(
    line, sizeof(line),
    "parking    waiting %-9.0f parked %-9.0f replayed %-9.0f "
    "in flight %-6.0f %s\n",
    get("cotflow_records_waiting"), get("cotflow_records_parked_total"),
    get("cotflow_records_replayed_total"), get("cotflow_in_flight_records"),
    get("cotflow_consumer_paused") > 0 ? "PAUSED" : "");
  out += line;
}

/// One destination of /status: its row, its breaker and parking, and its
/// last error while it is down.
void destination_lines(const rapidjson::Value& d, const top_sample& before,
                       const top_sample& now, std::string& out) {
  char line[256];
  auto& m = now.metrics;
  std::string name = text(d, "name");
  std::string l = "destination=\"" + name + "\"";
  auto events_key = "cotflow_destination_events_total{destination=\"" + name
                    + "\",kind=\"" + text(d, "kind") + "\"}";
  const char* lat = "cotflow_end_to_end_latency_seconds";
  std::snprintf(
    line, sizeof(line), "%-16s %-6s %-5s %-9.0f %-6lld %-7llu %s %s %s\n",
    name.c_str(), text(d, "kind"), flag(d, "connected") ? "yes" : "NO",
    rate(before, now, events_key), integer(d, "queue"), count(d, "reconnects"),
    ms(histogram_quantile(before.metrics, m, lat, l, 0.5)).c_str(),
    ms(histogram_quantile(before.metrics, m, lat, l, 0.95)).c_str(),
    ms(histogram_quantile(before.metrics, m, lat, l, 0.99)).c_str());
  out += line;
  auto& b = member(d, "breaker");
  auto& p = member(d, "parking");
  if (b.IsObject() && p.IsObject()) {
    std::string state = text(b, "state");
    std::snprintf(line, sizeof(line),
                  "  breaker %-9s trips %-4llu parking %-3s backlog %lld\n",
                  state == "closed" ? "closed"
                  : state == "open" ? "OPEN"
                                    : "HALF-OPEN",
                  count(b, "trips"), flag(p, "active") ? "ON" : "off",
                  integer(p, "backlog"));
    out += line;
    std::snprintf(line, sizeof(line),
                  "  parked %-8llu replayed %-8llu waiting %-8llu dropped "
                  "%-6llu lost %llu\n",
                  count(p, "parked"), count(p, "replayed"), count(p, "waiting"),
                  count(p, "dropped"), count(p, "lost"));
    out += line;
  }
  std::string err = text(d, "last_error", "");
  if (!err.empty() && !flag(d, "connected"))
    out += "  last error: " + err.substr(0, 70) + "\n";
}

} // namespace

std::string render_top(const std::string& url, const top_sample& before,
                       const top_sample& now) {
  std::string out;
  rapidjson::Document st;
  st.Parse(now.status_json.c_str());
  bool have_status = !st.HasParseError() && st.IsObject();
  header_line(url, st, have_status, out);
  if (now.unauthorized)
    out += top_unauthorized(url) + "\n";
  record_lines(before, now, out);
  out += "\ndestination      kind   conn  events/s  queue  reconn  latency "
         "ms p50   p95   p99\n";
  if (auto& dests = member(st, "destinations"); dests.IsArray())
    for (auto& d : dests.GetArray())
      destination_lines(d, before, now, out);
  rapidjson::Document sup;
  sup.Parse(now.supervision_json.c_str());
  if (!sup.HasParseError() && sup.IsObject()) {
    out += "\nsupervision\n";
    tree(sup, 0, out);
  }
  return out;
}

} // namespace cotflow
