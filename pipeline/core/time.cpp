#include "pipeline/core/time.hpp"

#include <chrono>
#include <cstring>
#include <limits>

namespace cotflow {

namespace {

// Howard Hinnant's civil-date algorithms: exact for the proleptic Gregorian
// calendar and free of time zone state.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

} // namespace

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-'
      || !digits(s, 5, 2, mo) || s[7] != '-' || !digits(s, 8, 2, d)
      || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h)
      || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':'
      || !digits(s, 17, 2, se))
    return std::nullopt;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]
      || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 60)
    return std::nullopt;
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start)
      return std::nullopt;
  }
  if (pos >= s.size())
    return std::nullopt;
  int64_t offset_min = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':'
        || !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_min = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size())
    return std::nullopt;
  auto days = days_from_civil(y, static_cast<unsigned>(mo),
                              static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + (se == 60 ? 59 : se);
  return (secs - offset_min * 60) * 1000 + frac_ms;
}

namespace {

/// The text up to the milliseconds ("YYYY-MM-DDTHH:MM:SS.") of a second.
struct second_text {
  int64_t secs = std::numeric_limits<int64_t>::min();
  char text[20];
};

} // namespace

void format_rfc3339(int64_t ms, char* p) {
  // An event carries four timestamps: its time and start (often equal),
  // its stale time (a minute or so later) and the time cotflow saw it; the
  // next event's are mostly in the same seconds. So the text of the last
  // few seconds is kept (per thread) and only the milliseconds are
  // written; the date is worked out once per day.
  constexpr size_t kept = 4;
  thread_local second_text recent[kept];
  thread_local size_t next = 0;
  thread_local int64_t last_day = std::numeric_limits<int64_t>::min();
  thread_local char ymd[10];
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto milli = static_cast<unsigned>(ms - secs * 1000);
  second_text* hit = nullptr;
  for (auto& r : recent)
    if (r.secs == secs)
      hit = &r;
  if (!hit) {
    hit = &recent[next++ % kept];
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    auto sod = static_cast<unsigned>(secs - days * 86400);
    if (days != last_day) {
      int64_t y;
      unsigned m, d;
      civil_from_days(days, y, m, d);
      auto yy = static_cast<unsigned>(y < 0 ? 0 : (y > 9999 ? 9999 : y));
      put2(ymd, yy / 100);
      put2(ymd + 2, yy % 100);
      ymd[4] = '-';
      put2(ymd + 5, m);
      ymd[7] = '-';
      put2(ymd + 8, d);
      last_day = days;
    }
    auto* t = hit->text;
    std::memcpy(t, ymd, 10);
    t[10] = 'T';
    put2(t + 11, sod / 3600);
    t[13] = ':';
    put2(t + 14, sod / 60 % 60);
    t[16] = ':';
    put2(t + 17, sod % 60);
    t[19] = '.';
    hit->secs = secs;
  }
  std::memcpy(p, hit->text, 20);
  p[20] = static_cast<char>('0' + milli / 100);
  put2(p + 21, milli % 100);
  p[23] = 'Z';
}

std::string rfc3339(int64_t ms) {
  std::string s(24, ' ');
  format_rfc3339(ms, s.data());
  return s;
}

} // namespace cotflow
