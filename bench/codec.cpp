// bench_codec: per-record cost of the codec on one core (issue 6).
//
// Pre-generates N realistic detections (pipeline/codec/generator.hpp: both
// input shapes, 1% malformed), then times, over several repetitions each:
//   decode          decoder::decode (parse + validate) of every record
//   map             cot_encoder::cot_type + uid of every decoded detection
//   map+encode      cot_encoder::encode (maps, then writes the XML)
//   map+encode, presentation on  the same with presentation rules
//                   (docs/presentation.md), timed in turns with the plain
//                   encoder (a pair of its own)
//   decode+map+encode  the whole per-record work of an encoder worker
//   XML -> TAK v1 frame  takp::encoder::append of each encoded event as a
//                   TAK Protocol version 1 stream frame: what a protocol=1
//                   destination does to each event at write time
// and reports best and median records/s and ns/record, plus heap
// allocations per record (global operator new is counted). map+encode and
// the v1 conversion are timed in turns (one repetition of each, then the
// next), so that their ratio is not a drift of the machine's speed; the
// report gives it with the bytes per event of XML and of the v1 frame.
// Plain steady_clock timing, no benchmark library. Prints Markdown on
// stdout.
//
//   bench_codec [--records N] [--reps R] [--summary FILE]
#include "config/config.hpp"
#include "pipeline/codec/cot_encoder.hpp"
#include "pipeline/codec/decoder.hpp"
#include "pipeline/codec/generator.hpp"
#include "pipeline/core/time.hpp"
#include "pipeline/tak/protocol/tak_protocol.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include <sched.h>

#include "bench/alloc_count.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

struct result {
  std::string name;
  std::vector<double> ns_per_record; // one per repetition
  double allocs_per_record = 0;
  uint64_t records = 0;
};

// Keeps the optimiser from discarding work.
volatile uint64_t g_sink = 0;

struct stage {
  std::string name;
  uint64_t records;
  std::function<uint64_t()> body;
};

/// Times the stages in turns: one warm-up each (buffers reach their steady
/// capacity), then repetition i of every stage before repetition i + 1 of
/// any, so that a machine whose speed drifts weighs on all of them alike.
std::vector<result> run_in_turns(int reps, const std::vector<stage>& stages) {
  std::vector<result> rs(stages.size());
  for (size_t s = 0; s < stages.size(); ++s) {
    rs[s].name = stages[s].name;
    rs[s].records = stages[s].records;
    stages[s].body();
  }
  for (int i = 0; i < reps; ++i)
    for (size_t s = 0; s < stages.size(); ++s) {
      auto& r = rs[s];
      auto a0 = g_allocs.load();
      auto t0 = clock_type::now();
      g_sink += stages[s].body();
      auto t1 = clock_type::now();
      auto a1 = g_allocs.load();
      r.ns_per_record.push_back(
        std::chrono::duration<double, std::nano>(t1 - t0).count()
        / static_cast<double>(r.records));
      r.allocs_per_record = static_cast<double>(a1 - a0)
                            / static_cast<double>(r.records);
    }
  for (auto& r : rs)
    std::fprintf(stderr, "  %-20s done\n", r.name.c_str());
  return rs;
}

result run(const std::string& name, int reps, uint64_t records,
           const std::function<uint64_t()>& body) {
  return run_in_turns(reps, {{name, records, body}}).front();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double best(const std::vector<double>& v) {
  return *std::min_element(v.begin(), v.end());
}

} // namespace

int main(int argc, char** argv) {
  uint64_t n = 200000;
  int reps = 7;
  std::string summary;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--records" && i + 1 < argc)
      n = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--reps" && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (a == "--summary" && i + 1 < argc)
      summary = argv[++i];
    else {
      std::fprintf(
        stderr,
        "usage: bench_codec [--records N] [--reps R] [--summary FILE]\n");
      return 2;
    }
  }

  // One core: pin to the CPU we start on so the numbers are single-core.
  int cpu = sched_getcpu();
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);

  auto cfg = cotflow::default_config();
  std::fprintf(stderr, "bench_codec: generating %llu records\n",
               static_cast<unsigned long long>(n));
  cotflow::detection_generator gen{{}};
  std::vector<cotflow::generated_record> recs(n);
  auto now = cotflow::now_ms();
  size_t bytes = 0;
  for (auto& r : recs) {
    gen.next(r, now);
    bytes += r.payload.size();
  }

  // Decoded detections for the encode-only stages.
  cotflow::decoder dec{static_cast<size_t>(cfg.pipeline.max_record_bytes)};
  std::vector<cotflow::detection> dets;
  dets.reserve(n);
  uint64_t valid = 0;
  {
    cotflow::detection d;
    for (auto& r : recs)
      if (!dec.decode(r.payload, d)) {
        dets.push_back(d);
        ++valid;
      }
  }
  cotflow::cot_encoder enc{cfg.cot};
  // The same with presentation rules (docs/presentation.md): one per
  // generated source (a sensor link for each), and per affiliation.
  cotflow::presentation_config pres;
  for (auto& d : dets) {
    auto& rule = pres.sources[d.source];
    rule.how = "m-i";
    rule.sensor.emplace();
  }
  pres.types["a-h"].color = "#FFFF0000";
  pres.types["a-f"].color = "#FF00FFFF";
  pres.types["a-u"].icon = "set/unknown/u.png";
  cotflow::cot_encoder presented{cfg.cot, pres};

  std::vector<result> results;
  std::fprintf(stderr, "bench_codec: %d repetitions per stage on cpu %d\n",
               reps, cpu);

  results.push_back(run("decode", reps, n, [&] {
    cotflow::detection d;
    uint64_t ok = 0;
    for (auto& r : recs)
      ok += !dec.decode(r.payload, d);
    return ok;
  }));

  results.push_back(run("map (type+uid)", reps, dets.size(), [&] {
    uint64_t len = 0;
    std::string uid;
    for (auto& d : dets) {
      auto t = enc.cot_type(d);
      enc.uid(d, uid);
      len += t.size() + uid.size();
    }
    return len;
  }));

  // The events as cotflow's encoder wrote them, for the conversion to TAK
  // Protocol version 1 that a protocol=1 destination does at write time.
  std::vector<std::string> xmls;
  xmls.reserve(dets.size());
  for (auto& d : dets) {
    std::string xml;
    if (enc.encode(d, now, xml) == cotflow::encode_outcome::encoded)
      xmls.push_back(std::move(xml));
  }
  // Bytes of each event as XML and as a v1 stream frame, over the same
  // events; outside the timing.
  uint64_t xml_bytes = 0, frame_bytes = 0;
  cotflow::takp::encoder proto;
  {
    std::string frame, err;
    for (auto& x : xmls) {
      frame.clear();
      if (!proto.append(x, cotflow::takp::wire_format::stream, false, frame,
                        err)) {
        std::fprintf(stderr, "bench_codec: an event does not convert: %s\n",
                     err.c_str());
        return 1;
      }
      xml_bytes += x.size();
      frame_bytes += frame.size();
    }
  }

  // A stage that encodes every detection with encoder `e`.
  auto encode = [&dets, now](const cotflow::cot_encoder* e) {
    return [&dets, now, e] {
      std::string xml;
      uint64_t len = 0;
      for (auto& d : dets) {
        e->encode(d, now, xml);
        len += xml.size();
      }
      return len;
    };
  };
  auto encode_and_convert = run_in_turns(
    reps, {{"map+encode", dets.size(), encode(&enc)},
           {"XML -> TAK v1 frame", xmls.size(), [&] {
              // As a destination's write buffer: cleared per write, here
              // per event.
              std::string frame, err;
              uint64_t len = 0;
              for (auto& x : xmls) {
                frame.clear();
                proto.append(x, cotflow::takp::wire_format::stream, false,
                             frame, err);
                len += frame.size();
              }
              return len;
            }}});
  results.push_back(encode_and_convert[0]);

  results.push_back(run("decode+map+encode", reps, n, [&] {
    cotflow::detection d;
    std::string xml;
    std::string uid;
    uint64_t len = 0;
    for (auto& r : recs) {
      if (dec.decode(r.payload, d))
        continue; // refused: would go to the dead-letter topic
      if (enc.encode(d, now, xml) == cotflow::encode_outcome::encoded) {
        enc.uid(d, uid); // the Kafka key
        len += xml.size() + uid.size();
      }
    }
    return len;
  }));
  results.push_back(encode_and_convert[1]);

  // Presentation on against off, in turns of their own: timed in turns
  // with map+encode above, the presented encoder slowed it by ~10% here
  // (other buffers and a second encoder's tables between its repetitions),
  // which is the bench's doing, not the encoder's.
  auto off_and_on = run_in_turns(
    reps, {{"map+encode, presentation off", dets.size(), encode(&enc)},
           {"map+encode, presentation on", dets.size(), encode(&presented)}});
  results.push_back(off_and_on[1]);

  std::printf("Records: %llu generated (%llu valid, %.0f bytes average "
              "input, %.0f bytes average CoT XML); %d timed repetitions per "
              "stage after one warm-up, one thread pinned to one core.\n\n",
              static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(valid),
              static_cast<double>(bytes) / static_cast<double>(n),
              xmls.empty() ? 0.0
                           : static_cast<double>(xml_bytes)
                               / static_cast<double>(xmls.size()),
              reps);
  std::printf("| stage | records/s best | records/s median | ns/record best "
              "| ns/record median | heap allocations/record |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (auto& r : results) {
    auto b = best(r.ns_per_record);
    auto m = median(r.ns_per_record);
    std::printf("| %s | %.0f | %.0f | %.0f | %.0f | %.2f |\n", r.name.c_str(),
                1e9 / b, 1e9 / m, b, m, r.allocs_per_record);
  }
  // XML encoder and v1 conversion, timed in turns: the median of the
  // ratios of each repetition's pair.
  auto& xml_enc = encode_and_convert[0];
  auto& v1 = encode_and_convert[1];
  std::vector<double> paired;
  for (size_t i = 0; i < xml_enc.ns_per_record.size(); ++i)
    paired.push_back(v1.ns_per_record[i] / xml_enc.ns_per_record[i]);
  double ns_ratio = median(paired);
  double xml_mean = xmls.empty() ? 0.0
                                 : static_cast<double>(xml_bytes)
                                     / static_cast<double>(xmls.size());
  double frame_mean = xmls.empty() ? 0.0
                                   : static_cast<double>(frame_bytes)
                                       / static_cast<double>(xmls.size());
  std::printf(
    "\nTAK Protocol version 1 (takp::encoder::append, stream frame, of the "
    "%zu encoded events): %.0f ns/event median against %.0f for the XML "
    "encoder (map+encode, timed in turns with it): **%.2fx** (median of the "
    "%zu pairs' ratios); %.1f bytes/event as a v1 frame against %.1f as "
    "XML: **%.3f**.\n",
    xmls.size(), median(v1.ns_per_record), median(xml_enc.ns_per_record),
    ns_ratio, paired.size(), frame_mean, xml_mean,
    xml_mean > 0 ? frame_mean / xml_mean : 0.0);
  auto& off = off_and_on[0];
  auto& on = off_and_on[1];
  std::vector<double> on_paired;
  for (size_t i = 0; i < off.ns_per_record.size(); ++i)
    on_paired.push_back(on.ns_per_record[i] / off.ns_per_record[i]);
  std::printf("\nPresentation (a rule per source with a sensor link, three "
              "type rules): map+encode %.0f ns/record median against %.0f "
              "without: **%.2fx** (median of the %zu pairs' ratios).\n",
              median(on.ns_per_record), median(off.ns_per_record),
              median(on_paired), on_paired.size());
  // Machine-readable key=value lines for run.sh.
  if (!summary.empty()) {
    if (auto* f = std::fopen(summary.c_str(), "a")) {
      auto full = std::find_if(results.begin(), results.end(), [](auto& r) {
        return r.name == "decode+map+encode";
      });
      std::fprintf(f, "codec_full_rps_best=%.0f\ncodec_full_rps_median=%.0f\n",
                   1e9 / best(full->ns_per_record),
                   1e9 / median(full->ns_per_record));
      std::fprintf(f,
                   "codec_events=%zu\ncodec_xml_ns=%.1f\ncodec_v1_ns=%.1f\n"
                   "codec_v1_ns_ratio=%.3f\ncodec_v1_allocs=%.2f\n"
                   "codec_xml_bytes=%.1f\ncodec_v1_bytes=%.1f\n"
                   "codec_v1_bytes_ratio=%.3f\n",
                   xmls.size(), median(xml_enc.ns_per_record),
                   median(v1.ns_per_record), ns_ratio, v1.allocs_per_record,
                   xml_mean, frame_mean,
                   xml_mean > 0 ? frame_mean / xml_mean : 0.0);
      std::fclose(f);
    }
  }
  std::printf("\n");
  return 0;
}
