#include "pipeline/codec/generator.hpp"

#include "pipeline/core/time.hpp"

#include <cmath>
#include <cstdio>

namespace cotflow {

namespace {

struct kind_info {
  const char* classification;
  const char* affiliation;
  const char* callsign;
  double speed;
};

const kind_info kinds[] = {
  {"person", "hostile", "HOSTILE-PAX", 1.4},
  {"vehicle", "unknown", "VEH", 12.0},
  {"uav", "hostile", "UAS", 25.0},
  {"vehicle", "friend", "BLUE", 15.0},
  {"vessel", "neutral", "SHIP", 6.0},
  {"person", "friend", "TEAM", 1.2},
};

const char* sensor_names[] = {"cam-north", "cam-gate", "radar-1",  "uav-feed",
                              "ais-gw",    "eo-tower", "acoustic", "cam-pier"};

} // namespace

detection_generator::detection_generator(options opts)
  : opts_(opts), rng_(opts.seed), seq_(opts.first_seq) {
  std::uniform_real_distribution<double> off(-0.05, 0.05);
  std::uniform_real_distribution<double> course(0, 360);
  int n_sensors = std::max(1, std::min(opts_.sensors, 8));
  for (int i = 0; i < std::max(1, opts_.tracks); ++i) {
    int kind = i % static_cast<int>(std::size(kinds));
    tracks_.push_back({38.8895 + off(rng_), -77.0353 + off(rng_), course(rng_),
                       kinds[kind].speed, i % n_sensors, kind});
  }
}

void detection_generator::next(generated_record& out, int64_t now_ms) {
  auto seq = seq_++;
  auto& t = tracks_[seq % tracks_.size()];
  // Move the track about one second's worth along its course, with a turn.
  std::uniform_real_distribution<double> turn(-10, 10);
  t.course = std::fmod(t.course + turn(rng_) + 360.0, 360.0);
  double rad = t.course * M_PI / 180.0;
  t.lat += t.speed * std::cos(rad) / 111320.0;
  t.lon += t.speed * std::sin(rad)
           / (111320.0 * std::cos(t.lat * M_PI / 180.0));
  out.seq = seq;
  out.valid = true;
  char key[64];
  std::snprintf(key, sizeof(key), "trk-%zu",
                static_cast<size_t>(seq % tracks_.size()));
  out.key = key;
  std::uniform_real_distribution<double> u(0, 1);
  if (u(rng_) < opts_.malformed) {
    malformed(out, t, now_ms);
    return;
  }
  auto& k = kinds[t.kind];
  const char* sensor = sensor_names[t.sensor];
  double conf = 0.5 + 0.5 * u(rng_);
  char buf[1024];
  int n;
  if (u(rng_) < opts_.geojson) {
    auto ts = rfc3339(now_ms);
    n = std::snprintf(
      buf, sizeof(buf),
      "{\"type\":\"Feature\",\"id\":\"%s\",\"geometry\":{\"type\":\"Point\","
      "\"coordinates\":[%.7f,%.7f,%.1f]},\"properties\":{\"time\":\"%s\","
      "\"callsign\":\"%s-%zu\",\"course\":%.1f,\"speed\":%.2f,"
      "\"classification\":\"%s\",\"affiliation\":\"%s\","
      "\"confidence\":%.2f,\"source\":\"%s\",\"ce\":%.1f,"
      "\"remarks\":\"seq=%llu\"}}",
      key, t.lon, t.lat, 10.0 + u(rng_) * 5, ts.c_str(), k.callsign,
      static_cast<size_t>(seq % tracks_.size()), t.course, t.speed,
      k.classification, k.affiliation, conf, sensor, 5 + u(rng_) * 20,
      static_cast<unsigned long long>(seq));
  } else {
    n = std::snprintf(
      buf, sizeof(buf),
      "{\"id\":\"%s\",\"time\":%lld,\"lat\":%.7f,\"lon\":%.7f,\"hae\":%.1f,"
      "\"ce\":%.1f,\"le\":%.1f,\"classification\":\"%s\","
      "\"affiliation\":\"%s\",\"confidence\":%.2f,\"course\":%.1f,"
      "\"speed\":%.2f,\"callsign\":\"%s-%zu\",\"source\":\"%s\","
      "\"remarks\":\"seq=%llu\",\"model\":\"yolo-v8\"}",
      key, static_cast<long long>(now_ms), t.lat, t.lon, 12.0 + u(rng_) * 3,
      3 + u(rng_) * 10, 5 + u(rng_) * 10, k.classification, k.affiliation, conf,
      t.course, t.speed, k.callsign, static_cast<size_t>(seq % tracks_.size()),
      sensor, static_cast<unsigned long long>(seq));
  }
  out.payload.assign(buf, static_cast<size_t>(n));
}

void detection_generator::malformed(generated_record& out, const track& t,
                                    int64_t now_ms) {
  out.valid = false;
  char buf[512];
  auto seq = static_cast<unsigned long long>(out.seq);
  int n = 0;
  switch (out.seq % 7) {
    case 0: // truncated JSON
      n = std::snprintf(buf, sizeof(buf),
                        "{\"id\":\"%s\",\"remarks\":\"seq=%llu\",\"lat\":%.3f",
                        out.key.c_str(), seq, t.lat);
      break;
    case 1: // missing lat
      n = std::snprintf(buf, sizeof(buf),
                        "{\"id\":\"%s\",\"time\":%lld,\"lon\":%.7f,"
                        "\"remarks\":\"seq=%llu\"}",
                        out.key.c_str(), static_cast<long long>(now_ms), t.lon,
                        seq);
      break;
    case 2: // latitude out of range
      n = std::snprintf(buf, sizeof(buf),
                        "{\"id\":\"%s\",\"time\":%lld,\"lat\":123.4,"
                        "\"lon\":%.7f,\"remarks\":\"seq=%llu\"}",
                        out.key.c_str(), static_cast<long long>(now_ms), t.lon,
                        seq);
      break;
    case 3: // epoch seconds instead of milliseconds
      n = std::snprintf(buf, sizeof(buf),
                        "{\"id\":\"%s\",\"time\":%lld,\"lat\":%.7f,"
                        "\"lon\":%.7f,\"remarks\":\"seq=%llu\"}",
                        out.key.c_str(), static_cast<long long>(now_ms / 1000),
                        t.lat, t.lon, seq);
      break;
    case 4: // unsupported geometry (TAK draws LineStrings and Polygons)
      n = std::snprintf(
        buf, sizeof(buf),
        "{\"type\":\"Feature\",\"id\":\"%s\",\"geometry\":{\"type\":"
        "\"MultiPoint\",\"coordinates\":[[%.5f,%.5f],[%.5f,%.5f]]},"
        "\"properties\":{\"remarks\":\"seq=%llu\"}}",
        out.key.c_str(), t.lon, t.lat, t.lon + 0.01, t.lat, seq);
      break;
    case 5: // non-finite number
      n = std::snprintf(buf, sizeof(buf),
                        "{\"id\":\"%s\",\"time\":%lld,\"lat\":NaN,"
                        "\"lon\":%.7f,\"remarks\":\"seq=%llu\"}",
                        out.key.c_str(), static_cast<long long>(now_ms), t.lon,
                        seq);
      break;
    default: // not JSON at all
      n = std::snprintf(buf, sizeof(buf), "lat=%.5f lon=%.5f seq=%llu", t.lat,
                        t.lon, seq);
  }
  out.payload.assign(buf, static_cast<size_t>(n));
}

} // namespace cotflow
