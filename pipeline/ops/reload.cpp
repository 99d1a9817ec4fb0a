#include "pipeline/ops/reload.hpp"

#include "pipeline/core/log.hpp"
#include "pipeline/core/time.hpp"

#include <sys/stat.h>

namespace cotflow {

namespace {

/// Modification time of `path` (0 when it cannot be read).
int64_t mtime_of(const std::string& path) {
  struct stat sb;
  if (path.empty() || ::stat(path.c_str(), &sb) != 0)
    return 0;
  return static_cast<int64_t>(sb.st_mtim.tv_sec) * 1000000000
         + sb.st_mtim.tv_nsec;
}

} // namespace

reload_trigger::reload_trigger(std::string file, std::atomic<bool>* sighup)
  : file_(std::move(file)), sighup_(sighup), mtime_(mtime_of(file_)),
    next_check_(std::chrono::steady_clock::now()) {}

const char* reload_trigger::poll(std::chrono::steady_clock::time_point now) {
  const char* why = nullptr;
  if (sighup_ && sighup_->exchange(false))
    why = "SIGHUP";
  if (!file_.empty() && now >= next_check_) {
    next_check_ = now + std::chrono::seconds{1};
    auto m = mtime_of(file_);
    if (m != mtime_) {
      mtime_ = m;
      if (!why)
        why = "config file changed";
    }
  }
  return why;
}

bool reload_config(const std::function<load_result()>& load, config& current,
                   stats& st, const char* why) {
  reload_info info = st.last_reload();
  info.reloads += 1;
  info.at = rfc3339(now_ms());
  info.applied.clear();
  info.restart_required.clear();
  info.errors.clear();
  auto res = load();
  if (!res.ok()) {
    info.result = "refused";
    info.errors = res.errors;
    log::error("config", std::string{why}
                           + ": the new configuration is "
                             "invalid; keeping the running one ("
                           + std::to_string(res.errors.size()) + " problems)");
    for (auto& e : res.errors)
      log::error("config", e);
    st.reloaded(std::move(info));
    return false;
  }
  // The key table says which changed keys a running pipeline takes; those
  // are copied into `next`, the others are only reported.
  auto plan = plan_reload(current, res.cfg);
  auto& next = plan.next;
  info.applied = std::move(plan.applied);
  info.restart_required = std::move(plan.restart_required);
  // The combination must still hold together (max_in_flight >= batch_size
  // was checked on the new file as a whole; a mix of old restart keys and
  // new hot keys is checked here).
  if (auto errs = validate(next); !errs.empty()) {
    info.result = "refused";
    info.errors = errs;
    info.applied.clear();
    for (auto& e : errs)
      log::error("config", std::string{why} + ": " + e);
    st.reloaded(std::move(info));
    return false;
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string out;
    for (auto& x : v)
      out += (out.empty() ? "" : ", ") + x;
    return out;
  };
  if (info.applied.empty() && info.restart_required.empty()) {
    info.result = "unchanged";
    log::info("config", std::string{why} + ": configuration unchanged");
  } else {
    info.result = info.applied.empty() ? "unchanged" : "applied";
    if (!info.applied.empty())
      log::info("config", std::string{why} + ": applied " + join(info.applied));
    if (!info.restart_required.empty())
      log::warn("config", std::string{why} + ": " + join(info.restart_required)
                            + " changed but take effect only after a "
                              "restart; the running values stay");
  }
  bool changed = !info.applied.empty();
  st.reloaded(std::move(info));
  if (changed) {
    current = std::move(next);
    log::configure(current.log.level, current.log.format);
  }
  return changed;
}

} // namespace cotflow
