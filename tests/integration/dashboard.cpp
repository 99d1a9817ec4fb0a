// The dashboard at "/" in a real browser: headless Chromium (Debian's
// chromium package) driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe), in real time, while records flow. The protocol
// reports console messages with their level, uncaught exceptions and failed
// loads; Chromium's own --enable-logging prints every console message as
// INFO without its level and no failed loads at all, so it is not used to
// judge. A screenshot is left next to the cotflow binary as an artifact.
#include <boost/test/unit_test.hpp>

#include "pipeline/core/json.hpp"
#include "pipeline/ops/top.hpp"
#include "tests/support/broker_fixture.hpp"
#include "tests/support/child_log.hpp"
#include "tests/support/http_get.hpp"
#include "tests/support/kafka_client.hpp"
#include "tests/support/tak_receiver.hpp"

#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cotflow::test;
using namespace std::chrono_literals;

namespace {

/// Debian's chromium on the PATH, or empty.
std::string find_chromium() {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  if (path.empty())
    path = "/usr/bin:/bin";
  size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find(':', start);
    if (end == std::string::npos)
      end = path.size();
    auto dir = path.substr(start, end - start);
    auto candidate = (dir.empty() ? "." : dir) + "/chromium";
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return "";
}

/// The build directory (where the cotflow binary is): test artifacts go
/// there.
std::string build_dir() {
  return std::filesystem::path{cotflow_bin()}.parent_path().string();
}

std::string quote(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w{buf};
  v.Accept(w);
  return buf.GetString();
}

std::string base64_decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z')
      return c - 'A';
    if (c >= 'a' && c <= 'z')
      return c - 'a' + 26;
    if (c >= '0' && c <= '9')
      return c - '0' + 52;
    if (c == '+')
      return 62;
    if (c == '/')
      return 63;
    return -1;
  };
  std::string out;
  int bits = 0, acc = 0;
  for (char c : in) {
    auto v = value(c);
    if (v < 0)
      continue; // padding, newlines
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

/// Headless Chromium with one page, driven over the DevTools pipe. Console
/// errors, uncaught exceptions and failed loads of the page are collected
/// in errors().
class browser {
public:
  explicit browser(const std::string& bin) {
    char tmpl[] = "/tmp/cotflow-chromium-XXXXXX";
    if (!::mkdtemp(tmpl))
      throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    log_path_ = dir_ + "/chromium.log";
    int to[2], from[2];
    if (::pipe2(to, O_CLOEXEC) != 0 || ::pipe2(from, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    std::vector<std::string> argv = {bin,
                                     "--headless=new",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--remote-debugging-pipe",
                                     "--user-data-dir=" + dir_ + "/profile",
                                     "--no-first-run",
                                     "--no-default-browser-check",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--disable-extensions",
                                     "--disable-default-apps",
                                     "--enable-logging=stderr",
                                     "--v=0",
                                     "--window-size=1280,1000",
                                     "about:blank"};
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Its own process group: the renderer and GPU processes go with it.
      ::setpgid(0, 0);
      // The DevTools pipe: Chromium reads commands on fd 3 and writes on
      // fd 4 (moved above 4 first so that dup2 cannot clobber them).
      int in = ::fcntl(to[0], F_DUPFD, 10);
      int out = ::fcntl(from[1], F_DUPFD, 10);
      int log = ::open((dir_ + "/chromium.log").c_str(),
                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (in < 0 || out < 0 || log < 0)
        std::_Exit(126);
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
      ::dup2(in, 3);
      ::dup2(out, 4);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      std::vector<char*> args;
      for (auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      std::_Exit(127);
    }
    ::close(to[0]);
    ::close(from[1]);
    to_ = to[1];
    from_ = from[0];
    // A browser that died must fail the test, not kill it.
    std::signal(SIGPIPE, SIG_IGN);
    try {
      attach();
    } catch (...) {
      shutdown();
      throw;
    }
  }

  ~browser() {
    shutdown();
  }

  browser(const browser&) = delete;
  browser& operator=(const browser&) = delete;

  /// Opens `url` in the page.
  void open(const std::string& url) {
    call("Page.navigate", R"({"url":)" + quote(url) + "}");
  }

  /// Lets the page run for `d` (real time), collecting what it reports.
  void run_for(std::chrono::milliseconds d) {
    auto deadline = std::chrono::steady_clock::now() + d;
    while (auto msg = next_message(deadline))
      handle(*msg);
  }

  /// Evaluates `expr` in the page; its value as JSON text.
  std::string evaluate(const std::string& expr) {
    auto r = call("Runtime.evaluate", R"({"expression":)" + quote(expr)
                                        + R"(,"returnByValue":true})");
    auto& res = r["result"];
    if (res.HasMember("exceptionDetails"))
      throw std::runtime_error("evaluate " + expr + ": "
                               + to_json(res["exceptionDetails"]));
    return res["result"].HasMember("value") ? to_json(res["result"]["value"])
                                            : "null";
  }

  /// Writes a PNG of the page to `path`.
  void screenshot(const std::string& path) {
    auto r = call("Page.captureScreenshot", R"({"format":"png"})");
    std::ofstream{path, std::ios::binary}
      << base64_decode(r["result"]["data"].GetString());
  }

  const std::vector<std::string>& errors() const {
    return errors_;
  }

  /// The end of Chromium's own log (without its D-Bus complaints), for
  /// failure messages.
  std::string log_tail() const {
    std::ifstream in{log_path_};
    std::string all, line;
    while (std::getline(in, line))
      if (line.find("dbus") == std::string::npos)
        all += line + "\n";
    return all.size() > 3000 ? all.substr(all.size() - 3000) : all;
  }

private:
  /// One page, with its events on.
  void attach() {
    auto target = call("Target.createTarget", R"({"url":"about:blank"})", "");
    auto id = std::string{target["result"]["targetId"].GetString()};
    auto attached = call("Target.attachToTarget",
                         R"({"targetId":)" + quote(id) + R"(,"flatten":true})",
                         "");
    session_ = attached["result"]["sessionId"].GetString();
    call("Runtime.enable");
    call("Log.enable");
    call("Page.enable");
    call("Emulation.setDeviceMetricsOverride",
         R"({"width":1280,"height":1000,"deviceScaleFactor":1,)"
         R"("mobile":false})");
  }

  void shutdown() {
    try {
      if (!dead_)
        call("Browser.close", "{}", "", 5s);
    } catch (...) {
    }
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_)
        gone = true;
      else
        std::this_thread::sleep_for(50ms);
    }
    if (!gone) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(to_);
    ::close(from_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  rapidjson::Document call(const std::string& method,
                           const std::string& params = "{}",
                           std::optional<std::string> session = std::nullopt,
                           std::chrono::milliseconds timeout = 20s) {
    if (dead_)
      throw std::runtime_error("chromium is gone; " + method + " not sent");
    auto id = ++next_id_;
    auto s = session ? *session : session_;
    std::string msg = R"({"id":)" + std::to_string(id) + R"(,"method":)"
                      + quote(method) + R"(,"params":)" + params
                      + (s.empty() ? "" : R"(,"sessionId":)" + quote(s)) + "}";
    msg.push_back('\0');
    for (size_t done = 0; done < msg.size();) {
      auto n = ::write(to_, msg.data() + done, msg.size() - done);
      if (n <= 0) {
        dead_ = true;
        throw std::runtime_error("chromium closed its DevTools pipe");
      }
      done += static_cast<size_t>(n);
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (auto text = next_message(deadline)) {
      rapidjson::Document doc;
      doc.Parse(text->c_str());
      if (doc.HasParseError() || !doc.IsObject())
        continue;
      if (!doc.HasMember("id")) {
        handle(*text);
        continue;
      }
      if (doc["id"].GetInt() != id)
        continue;
      if (doc.HasMember("error"))
        throw std::runtime_error(method + ": " + to_json(doc["error"]));
      return doc;
    }
    throw std::runtime_error("chromium did not answer " + method);
  }

  std::optional<std::string>
  next_message(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      auto z = buf_.find('\0');
      if (z != std::string::npos) {
        auto msg = buf_.substr(0, z);
        buf_.erase(0, z + 1);
        return msg;
      }
      if (dead_)
        return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
      pollfd p{from_, POLLIN, 0};
      auto rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0)));
      if (rc < 0 && errno == EINTR)
        continue;
      if (rc <= 0)
        return std::nullopt;
      char tmp[65536];
      auto n = ::read(from_, tmp, sizeof(tmp));
      if (n <= 0) {
        dead_ = true;
        return std::nullopt;
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

  /// Events: what counts as an error of the page.
  void handle(const std::string& text) {
    rapidjson::Document ev;
    ev.Parse(text.c_str());
    if (ev.HasParseError() || !ev.IsObject() || !ev.HasMember("method"))
      return;
    std::string method = ev["method"].GetString();
    auto& p = ev["params"];
    if (method == "Runtime.exceptionThrown") {
      auto& d = p["exceptionDetails"];
      std::string what = d["text"].GetString();
      if (d.HasMember("exception") && d["exception"].HasMember("description"))
        what += std::string{" "} + d["exception"]["description"].GetString();
      errors_.push_back("exception: " + what);
    } else if (method == "Runtime.consoleAPICalled") {
      std::string type = p["type"].GetString();
      if (type != "error" && type != "assert")
        return;
      std::string what;
      for (auto& a : p["args"].GetArray()) {
        what += what.empty() ? "" : " ";
        if (a.HasMember("value"))
          what += a["value"].IsString() ? a["value"].GetString()
                                        : to_json(a["value"]);
        else if (a.HasMember("description"))
          what += a["description"].GetString();
      }
      errors_.push_back("console." + type + ": " + what);
    } else if (method == "Log.entryAdded") {
      auto& e = p["entry"];
      if (std::string{e["level"].GetString()} != "error")
        return;
      std::string what = e["text"].GetString();
      if (e.HasMember("url"))
        what += std::string{" ("} + e["url"].GetString() + ")";
      errors_.push_back("log error: " + what);
    } else if (method == "Inspector.targetCrashed") {
      errors_.push_back("the page crashed");
    }
  }

  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  bool dead_ = false;
  int next_id_ = 0;
  std::string buf_;
  std::string session_;
  std::string dir_;
  std::string log_path_;
  std::vector<std::string> errors_;
};

/// The page's elements with an id: their text, and "<id>:hidden".
std::map<std::string, std::string> page_state(browser& b) {
  auto text = b.evaluate(R"((() => {
    const o = {};
    for (const e of document.querySelectorAll('[id]')) {
      o[e.id] = e.textContent.trim();
      o[e.id + ':hidden'] = e.hidden ? 'true' : 'false';
    }
    return o;
  })())");
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  std::map<std::string, std::string> out;
  if (doc.IsObject())
    for (auto& m : doc.GetObject())
      out[m.name.GetString()] = m.value.IsString() ? m.value.GetString() : "";
  return out;
}

/// The number an element shows, NaN when it shows none ("-").
double number(const std::map<std::string, std::string>& state,
              const std::string& id) {
  auto it = state.find(id);
  if (it == state.end() || it->second.empty())
    return NAN;
  char* end = nullptr;
  auto v = std::strtod(it->second.c_str(), &end);
  return end == it->second.c_str() ? NAN : v;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v)
    out += "\n  " + s;
  return out;
}

/// Publishes small bursts in the background until destroyed.
struct trickle {
  explicit trickle(const std::string& bootstrap)
    : thread([this, bootstrap] {
        uint64_t seq = 1000000;
        while (!stop) {
          try {
            publish_generated(bootstrap, input_topic, 40, 0.0, 11, seq);
            published += 40;
          } catch (...) {
          }
          seq += 40;
          std::this_thread::sleep_for(150ms);
        }
      }) {}

  ~trickle() {
    stop = true;
    thread.join();
  }

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> published{0};
  std::thread thread;
};

std::string require_chromium() {
  auto bin = find_chromium();
  BOOST_REQUIRE_MESSAGE(!bin.empty(),
                        "chromium not found on the PATH: the dashboard test "
                        "needs Debian's chromium package (apt-get install "
                        "chromium; ./dev installs it)");
  return bin;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(dashboard, broker_fixture)

BOOST_AUTO_TEST_CASE(the_page_shows_live_numbers_without_console_errors) {
  auto chromium = require_chromium();
  tak_receiver rx;
  const std::string token = "d4sh-t0ken";
  auto run = this->run("dashboard",
                       {{"COTFLOW_TAK_DESTINATIONS",
                         "rx=tcp://127.0.0.1:" + std::to_string(rx.port())},
                        {"COTFLOW_HTTP_TOKEN", token},
                        // The outage at the end opens the breaker soon.
                        {"COTFLOW_TAK_RECONNECT_MIN_MS", "50"},
                        {"COTFLOW_TAK_RECONNECT_MAX_MS", "200"},
                        {"COTFLOW_TAK_BREAKER_OPEN_MIN_MS", "500"},
                        {"COTFLOW_TAK_BREAKER_OPEN_MAX_MS", "2000"}},
                       true);
  std::string log;
  auto port = wait_for_http_port(*run, log);
  // The page is open and self-contained; the data behind it is not open.
  auto page = http_get(port, "/");
  BOOST_REQUIRE(page);
  BOOST_CHECK_EQUAL(page->status, 200);
  BOOST_CHECK(page->body.find("<canvas") != std::string::npos);
  BOOST_CHECK_MESSAGE(page->body.find("://") == std::string::npos
                        && page->body.find(" src=") == std::string::npos,
                      "the dashboard refers to something outside itself");
  BOOST_CHECK_EQUAL(http_get(port, "/status")->status, 401);
  trickle flow{bootstrap};
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(*run, log);
      auto m = http_get(port, "/metrics");
      return m
             && cotflow::parse_prometheus(m->body)["cotflow_records_out_total"]
                  > 0;
    },
    30s));

  browser b{chromium};
  b.open("http://127.0.0.1:" + std::to_string(port) + "/#token=" + token);
  b.run_for(3500ms);
  auto first = page_state(b);
  b.run_for(3000ms);
  auto second = page_state(b);
  read_log(*run, log);
  std::string shown;
  for (auto id : {"records-in", "records-out", "rate-in", "rate-out",
                  "latency-p50", "latency-p95", "latency-p99", "batch-mean",
                  "parking-backlog", "breaker-states", "scrapes"})
    shown += std::string{"\n  "} + id + ": " + first[id] + " -> " + second[id];
  BOOST_TEST_MESSAGE("dashboard numbers, 3 s apart:" << shown);

  // It loaded and refreshes every second, with the token for /status.
  BOOST_CHECK_EQUAL(second["conn-status"], "live");
  BOOST_CHECK_EQUAL(second["notice:hidden"], "true");
  BOOST_CHECK_GE(number(first, "scrapes"), 2);
  BOOST_CHECK_GE(number(second, "scrapes"), number(first, "scrapes") + 2);
  BOOST_CHECK_EQUAL(second["version"].rfind("v", 0), 0u);
  BOOST_CHECK_EQUAL(second["ready"], "READY");
  // Live numbers: they move while records flow.
  BOOST_CHECK_GT(number(first, "records-in"), 0);
  BOOST_CHECK_GT(number(second, "records-in"), number(first, "records-in"));
  BOOST_CHECK_GT(number(second, "records-out"), number(first, "records-out"));
  BOOST_CHECK_MESSAGE(number(first, "rate-in") > 0
                        || number(second, "rate-in") > 0,
                      "no input rate shown");
  BOOST_CHECK_MESSAGE(number(first, "rate-out") > 0
                        || number(second, "rate-out") > 0,
                      "no output rate shown");
  bool latency = false;
  for (auto* s : {&first, &second}) {
    auto p50 = number(*s, "latency-p50"), p95 = number(*s, "latency-p95"),
         p99 = number(*s, "latency-p99");
    if (std::isnan(p50))
      continue;
    latency = true;
    BOOST_CHECK(p50 > 0 && p50 <= p95 && p95 <= p99);
  }
  BOOST_CHECK_MESSAGE(latency, "no latency quantiles shown");
  BOOST_CHECK_MESSAGE(number(first, "batch-mean") >= 1
                        || number(second, "batch-mean") >= 1,
                      "no batch size shown");
  // The TAK destination's breaker and parking, and the supervision tree.
  BOOST_CHECK_EQUAL(second["breaker-states"], "rx: closed");
  BOOST_CHECK_EQUAL(second["breakers-empty:hidden"], "true");
  BOOST_CHECK_EQUAL(number(second, "parking-backlog"), 0);
  BOOST_CHECK_EQUAL(second["breakers-open"], "0");
  for (auto what : {"cotflow", "source", "batcher", "encoder-0", "sink-rx",
                    "running", "restarts 0"})
    BOOST_CHECK_MESSAGE(second["supervision"].find(what) != std::string::npos,
                        what << " not in the supervision tree: "
                             << second["supervision"]);
  BOOST_CHECK(second["destinations"].find("rx") != std::string::npos);

  auto png = build_dir() + "/dashboard.png";
  b.screenshot(png);
  BOOST_CHECK_GT(std::filesystem::file_size(png), 20000u);
  BOOST_TEST_MESSAGE("dashboard screenshot: " << png);
  BOOST_CHECK_EQUAL(second["js-errors"], "0");
  BOOST_CHECK_MESSAGE(b.errors().empty(),
                      "the page reported errors:" << joined(b.errors())
                                                  << "\nchromium log:\n"
                                                  << b.log_tail());

  // The detection itself works with this Chromium: a thrown error, a
  // console.error and a failed load are all caught.
  auto before = b.errors().size();
  auto counted = number(page_state(b), "js-errors");
  b.evaluate("setTimeout(() => missingFunction(), 0);"
             "console.error('deliberate console error');"
             "fetch('no-such-path'); 0");
  b.run_for(1000ms);
  std::string caught;
  for (auto i = before; i < b.errors().size(); ++i)
    caught += b.errors()[i] + "\n";
  for (auto what : {"missingFunction", "deliberate console error", "404"})
    BOOST_CHECK_MESSAGE(caught.find(what) != std::string::npos,
                        "a deliberate error was not detected: " << what
                                                                << "\ncaught:\n"
                                                                << caught);
  // The page counts the first two itself.
  BOOST_CHECK_EQUAL(number(page_state(b), "js-errors"), counted + 2);

  // The TAK server goes away: its events are parked, and the page shows
  // what waits and the parking backlog growing while the breaker is open.
  rx.stop();
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(*run, log);
      auto m = http_get(port, "/metrics");
      return m
             && cotflow::parse_prometheus(m->body)["cotflow_records_waiting"]
                  > 0;
    },
    60s));
  b.run_for(2500ms);
  auto down = page_state(b);
  b.run_for(3000ms);
  auto later = page_state(b);
  for (auto id : {"records-out", "records-delivered", "records-waiting",
                  "parking-backlog", "parked-events", "breaker-states"})
    BOOST_TEST_MESSAGE("during the outage, 3 s apart: "
                       << id << ": " << down[id] << " -> " << later[id]);
  BOOST_CHECK_NE(later["breaker-states"], "rx: closed");
  BOOST_CHECK_GT(number(down, "records-waiting"), 0);
  BOOST_CHECK_GT(number(later, "records-waiting"),
                 number(down, "records-waiting"));
  BOOST_CHECK_GT(number(later, "parking-backlog"),
                 number(down, "parking-backlog"));
  BOOST_CHECK_GT(number(later, "records-out"), number(down, "records-out"));
  BOOST_CHECK_GE(number(later, "parked-events"),
                 number(later, "records-waiting"));

  flow.stop = true;
  run->signal(SIGTERM);
  BOOST_CHECK(run->wait(60s));
}

BOOST_AUTO_TEST_CASE(without_tak_destinations_or_token) {
  auto chromium = require_chromium();
  auto run = this->run("dashboard-plain", {}, true);
  std::string log;
  auto port = wait_for_http_port(*run, log);
  publish_generated(bootstrap, input_topic, 300, 0.0);
  BOOST_REQUIRE(eventually(
    [&] {
      read_log(*run, log);
      return all_committed("dashboard-plain");
    },
    30s));
  auto m = scrape(port);
  browser b{chromium};
  b.open("http://127.0.0.1:" + std::to_string(port) + "/");
  b.run_for(2500ms);
  auto s = page_state(b);
  BOOST_CHECK_EQUAL(s["conn-status"], "live");
  BOOST_CHECK_EQUAL(s["records-in"], "300");
  BOOST_CHECK_EQUAL(number(s, "records-out"), m["cotflow_records_out_total"]);
  BOOST_CHECK_EQUAL(s["breakers-empty"], "no TAK destinations");
  BOOST_CHECK_EQUAL(s["breakers-empty:hidden"], "false");
  BOOST_CHECK_EQUAL(s["parking-empty:hidden"], "false");
  BOOST_CHECK_EQUAL(s["chart-breakers:hidden"], "true");
  BOOST_CHECK_EQUAL(s["parking-backlog"], "no TAK destinations");
  BOOST_CHECK_EQUAL(s["breaker-states"], "");
  // No token configured: /status and /supervision answer without one.
  BOOST_CHECK_EQUAL(s["notice:hidden"], "true");
  BOOST_CHECK(s["supervision"].find("sink-kafka") != std::string::npos);
  BOOST_CHECK_EQUAL(s["js-errors"], "0");
  BOOST_CHECK_MESSAGE(b.errors().empty(),
                      "the page reported errors:" << joined(b.errors())
                                                  << "\nchromium log:\n"
                                                  << b.log_tail());
  run->signal(SIGTERM);
  BOOST_CHECK(run->wait(60s));
}

BOOST_AUTO_TEST_SUITE_END()
