#!/usr/bin/env bash
# The benchmark of issue 6 in one command: builds cotflow and the four
# benchmark programs, runs them on the embedded broker and writes
# bench/RESULTS.md (command, machine, date, numbers, targets met or missed),
# with the TAK Protocol v1 figures of issue 21.
#
#   bench/run.sh [extra bench_pipeline options, e.g. --records 100000]
#
# Environment: BENCH_BUILD_DIR (default build) is the CMake build directory;
# BENCH_PARKING_ARGS adds options to bench_parking (e.g. "--stall-seconds 20");
# BENCH_TAKP_ARGS to the protocol=xml/protocol=1 runs of bench_pipeline
# (e.g. "--tput-reps 3"). BENCH_ONLY=takp runs only bench_codec and those
# (~2 minutes) and writes the TAK Protocol v1 section to
# $BENCH_BUILD_DIR/bench/out/RESULTS-takp.md, leaving bench/RESULTS.md alone.
#
# About 13 minutes on a 2-core machine. Logs of the children and the raw
# key=value summary go to $BENCH_BUILD_DIR/bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${BENCH_BUILD_DIR:-build}
out="$build/bench/out"
case "$out" in /*) ;; *) out="$root/$out" ;; esac
results="$root/bench/RESULTS.md"
only=${BENCH_ONLY:-}
case "$only" in
  "" | takp) ;;
  *) echo "BENCH_ONLY: only 'takp' (or nothing) is known" >&2; exit 2 ;;
esac
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$(date +%s)
# Changes in the tree when the run starts (this run's own outputs, RESULTS.md
# and latency.svg, would count otherwise).
dirty=$(git status --porcelain 2>/dev/null | wc -l | tr -d ' ')

echo "== build" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target cotflow bench_codec \
  bench_actor_hop bench_pipeline bench_parking >&2

rm -rf "$out"
mkdir -p "$out"
# Run copies: the build directory is shared, and a rebuild during the run
# must not swap the binary under test between scenarios.
cp "$build/cotflow" "$build/bench/bench_codec" \
  "$build/bench/bench_actor_hop" "$build/bench/bench_pipeline" \
  "$build/bench/bench_parking" "$out/"
cotflow_sha=$(sha256sum "$out/cotflow" | cut -c1-12)
summary="$out/summary.txt"
: >"$summary"

echo "== bench_codec" >&2
"$out/bench_codec" --records 200000 --reps 7 --summary "$summary" \
  >"$out/codec.md"

# TAK Protocol v1 against XML (issue 21): the two TAK destinations of
# cotflow in turns, at fetch.wait.max.ms=5 as the issue-6 scenario of that
# name, so that the mock broker's held fetches do not set the pace.
echo "== bench_pipeline --tak-protocols" >&2
# shellcheck disable=SC2206
takp_args=(--tak-protocols --records 600000 --window 30000 --fetch-wait 5
  --tput-reps 5 --log-dir "$out" --summary "$summary" ${BENCH_TAKP_ARGS:-})
takp_rc=0
"$out/bench_pipeline" "$out/cotflow" "${takp_args[@]}" \
  >"$out/takp.md" || takp_rc=$?

get() { awk -F= -v k="$1" '$1 == k { print $2 }' "$summary"; }
num() { local v; v=$(get "$1"); echo "${v:-nan}"; }
# fmt VALUE [DECIMALS]: the number rounded, or "nan".
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { if (v == "nan" || v == "") print "nan"; else printf "%.*f", d, v }'; }

# The section of RESULTS.md on TAK Protocol v1.
takp_section() {
  local s=fetch-wait-5
  echo "## TAK Protocol v1 against XML (issue 21)"
  echo
  echo "- Commands: \`bench_codec --records 200000 --reps 7\` (its table above, or in"
  echo "  codec.md) and \`bench_pipeline cotflow ${takp_args[*]/#$out/${build}/bench/out}\`"
  echo "  (from \`bench/run.sh\`; \`BENCH_ONLY=takp bench/run.sh\` runs only these)"
  echo
  echo "Events stay CoT XML until a destination writes them; a protocol=1 destination"
  echo "converts each one (\`takp::encoder::append\`: the XML read back, a TakMessage"
  echo "filled and serialized as a stream frame), so per event it pays the XML encoder"
  echo "and the conversion. Ratios are of figures measured in turns in the same run."
  echo
  echo "| figure | XML | TAK Protocol v1 | v1 / XML |"
  echo "|---|---:|---:|---:|"
  echo "| ns/event on one core: XML encoder (map+encode) / conversion of its XML to a v1 stream frame (medians of the repetitions, in turns; ratio: median of the pairs' ratios) | $(fmt "$(num codec_xml_ns)") | $(fmt "$(num codec_v1_ns)") | $(fmt "$(num codec_v1_ns_ratio)" 2) |"
  echo "| heap allocations/event of the conversion | | $(fmt "$(num codec_v1_allocs)" 2) | |"
  echo "| bytes/event as encoded (mean over the same $(num codec_events) events; issue 21 expects ~0.75) | $(fmt "$(num codec_xml_bytes)" 1) | $(fmt "$(num codec_v1_bytes)" 1) | $(fmt "$(num codec_v1_bytes_ratio)" 3) |"
  echo "| bytes/event read by the receiver, end to end | $(fmt "$(num $s.takp_xml_bytes)" 1) | $(fmt "$(num $s.takp_v1_bytes)" 1) | $(awk -v x="$(num $s.takp_xml_bytes)" -v v="$(num $s.takp_v1_bytes)" 'BEGIN { if (x == "nan" || v == "nan" || x == 0) print "nan"; else printf "%.3f", v / x }') |"
  echo "| records/s end to end, to the Kafka output and the receiver (medians of the runs, in turns; ratio of the medians, median of the pairs' in brackets) | $(fmt "$(num $s.takp_xml_rps)") | $(fmt "$(num $s.takp_v1_rps)") | $(fmt "$(num $s.takp_ratio)" 2) ($(fmt "$(num $s.takp_ratio_pairs)" 2)) |"
  echo "| cotflow CPU µs/record end to end (run of the median) | $(fmt "$(num $s.takp_xml_cpu_us)" 1) | $(fmt "$(num $s.takp_v1_cpu_us)" 1) | |"
  echo "| records missing / duplicated at the receiver (of $(num $s.takp_xml_expected) each) | $(num $s.takp_xml_missing) / $(num $s.takp_xml_duplicates) | $(num $s.takp_v1_missing) / $(num $s.takp_v1_duplicates) | |"
  echo
  cat "$out/takp.md"
  if [ "$takp_rc" != 0 ]; then
    echo "**bench_pipeline --tak-protocols exited with code $takp_rc** (3 = an instance"
    echo "did not exit 0 on SIGTERM; 4 = a record was missing at a receiver or a"
    echo "receiver saw broken framing; see ${build}/bench/out/)."
    echo
  fi
}

if [ "$only" = takp ]; then
  {
    echo "# TAK Protocol v1 benchmark (issue 21), this section only"
    echo
    echo "Generated by \`BENCH_ONLY=takp bench/run.sh\` on $started, commit"
    echo "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$( [ "$dirty" != 0 ] && echo " plus ${dirty} uncommitted changes"),"
    echo "$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)."
    echo
    echo "## Codec, one core (\`bench_codec\`)"
    echo
    cat "$out/codec.md"
    takp_section
  } >"$out/RESULTS-takp.md"
  echo "== wrote $out/RESULTS-takp.md ($(( $(date +%s) - t0 )) s)" >&2
  exit "$takp_rc"
fi

echo "== bench_actor_hop" >&2
# About 10 s on 2 cores.
hop_rc=0
"$out/bench_actor_hop" --batches 100000 --reps 7 --summary "$summary" \
  >"$out/actor_hop.md" || hop_rc=$?

echo "== bench_pipeline" >&2
# 600,000 records per throughput run: at 300,000 the passthrough's runs
# last under half a second, and what a run costs at its start and end
# weighs on its rate: in four interleaved rounds the ratio (each a median
# of 3 pairs) spread over 0.48-0.60 at 300,000 and 0.50-0.53 at 600,000
# (bench/ANALYSIS.md, eighth session).
pipeline_args=(--records 600000 --window 30000 --rates 100,300,1000,3000,10000
  --latency-seconds 5 --fetch-wait default,5 --tput-reps 5 --log-dir "$out"
  --dump-latency "$out" --summary "$summary" --plot "$out/latency.svg")
# perf(1) profiles cotflow's throughput phases when it is installed and
# allowed (kernel.perf_event_paranoid); otherwise the profile is skipped.
perf_bin=$(command -v perf || true)
if [ -n "$perf_bin" ] && "$perf_bin" record -q -o /dev/null -- true \
  >/dev/null 2>&1; then
  pipeline_args+=(--perf "$perf_bin")
else
  perf_bin=
fi
pipeline_args+=("$@")
pipeline_rc=0
"$out/bench_pipeline" "$out/cotflow" "${pipeline_args[@]}" \
  >"$out/pipeline.md" || pipeline_rc=$?

# The plot goes next to RESULTS.md, which shows it.
[ -f "$out/latency.svg" ] && cp "$out/latency.svg" "$root/bench/latency.svg"

# The profile: self time by symbol and by library, cotflow at full speed.
profile="$out/profile.md"
: >"$profile"
for s in fetch-wait-5 default; do
  data="$out/perf-$s.data"
  [ -n "$perf_bin" ] && [ -s "$data" ] || continue
  samples=$("$perf_bin" report -i "$data" --stdio --no-children -g none \
    --sort dso 2>/dev/null | awk '/^# Samples:/ { print $3; exit }')
  {
    echo "Scenario \`$s\`, one extra throughput run of the same size, not counted in the tables above, \`perf record -g -F 2999\`"
    echo "on the cotflow process: ${samples:-?} samples. Self time; symbols under 1% left out."
    echo
    echo "| % self | library | symbol |"
    echo "|---:|---|---|"
    # Template arguments folded to <> so that a symbol fits a table cell.
    "$perf_bin" report -i "$data" --stdio --no-children -g none \
      --fields overhead,dso,sym --percent-limit 1 2>/dev/null |
      awk '/^#/ || NF < 3 { next }
        { pct = $1; dso = $2; $1 = ""; $2 = ""; $3 = ""; sub(/^ +/, "")
          while (gsub(/<[^<>]*>/, "\001")) {}
          gsub(/\001/, "<>")
          gsub(/\|/, "\\|"); if (length($0) > 100) $0 = substr($0, 1, 97) "..."
          printf "| %s | %s | `%s` |\n", pct, dso, $0 }' | head -30
    echo
    echo "By library:"
    echo
    echo "| % self | library |"
    echo "|---:|---|"
    "$perf_bin" report -i "$data" --stdio --no-children -g none \
      --sort dso --percent-limit 0.5 2>/dev/null |
      awk '/^#/ || NF < 2 { next } { printf "| %s | %s |\n", $1, $2 }'
    echo
  } >>"$profile"
  break
done

echo "== bench_parking" >&2
# shellcheck disable=SC2206
parking_args=(--scenarios replay,stall-refused,stall-blackhole
  --replay-records 200000 --parking-partitions 64 --stall-rate 10000
  --stall-seconds 60 --log-dir "$out" --summary "$summary"
  ${BENCH_PARKING_ARGS:-})
parking_rc=0
"$out/bench_parking" "$out/cotflow" "${parking_args[@]}" \
  >"$out/parking.md" || parking_rc=$?

# verdict VALUE OP LIMIT UNIT: "met" / "missed" and the distance.
verdict() {
  awk -v v="$1" -v op="$2" -v l="$3" -v u="$4" '
    function f(x) { return (x >= 1000 || x <= -1000) ? sprintf("%.0f", x) : sprintf("%.3g", x) }
    BEGIN {
      if (v == "nan" || v == "") { print "not measured"; exit }
      ok = (op == ">=") ? (v >= l) : (v <= l)
      if (ok) printf "**met**: %s %s", f(v), u
      else if (op == ">=")
        printf "**missed** by %s %s: %s %s = %.0f%% of the target", f(l - v), u, f(v), u, 100 * v / l
      else
        printf "**missed** by %s %s: %s %s = %.2fx the limit", f(v - l), u, f(v), u, v / l
    }'
}

# yes_no VALUE: 1 -> met, 0 -> missed, else not measured.
yes_no() {
  case "$1" in
    1) echo "**met**: $2" ;;
    0) echo "**missed**: $3" ;;
    *) echo "not measured" ;;
  esac
}

runtime=$(( $(date +%s) - t0 ))
cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
rdkafka=$(pkg-config --modversion rdkafka 2>/dev/null || echo unknown)

d=default
f=fetch-wait-5
{
  echo "# Benchmark results (issue 6)"
  echo
  echo "Generated by \`bench/run.sh\` — do not edit by hand; re-run it."
  echo
  echo "- Command: \`bench/run.sh$( (($#)) && printf ' %q' "$@")\` (from the repository root;"
  echo "  builds, copies the binaries to ${build}/bench/out/ and runs \`bench_codec --records 200000 --reps 7\`,"
  echo "  \`bench_actor_hop --batches 100000 --reps 7\`,"
  echo "  \`bench_pipeline cotflow ${pipeline_args[*]/#$out/${build}/bench/out}\`"
  echo "  \`bench_pipeline cotflow ${takp_args[*]/#$out/${build}/bench/out}\`"
  echo "  and \`bench_parking cotflow ${parking_args[*]/#$out/${build}/bench/out}\`)"
  echo "- Date: $started, total run time ${runtime} s"
  echo "- Machine: $(nproc) cores, ${cpu_model}, $(awk '/MemTotal/ { printf "%.1f GB RAM", $2 / 1048576 }' /proc/meminfo),"
  echo "  kernel $(uname -r) ($(uname -m))"
  echo "- Code: commit ${commit}$( [ "$dirty" != 0 ] && echo " plus ${dirty} uncommitted changes") at build time, cotflow binary sha256 ${cotflow_sha}…, RelWithDebInfo,"
  echo "  librdkafka ${rdkafka}, embedded broker = librdkafka mock cluster"
  echo
  echo "## Targets of issue 6"
  echo
  echo "Scenario \`default\` is cotflow exactly as shipped (\`--config /dev/null\`); \`fetch-wait-5\`"
  echo "sets \`fetch.wait.max.ms=5\` on both pipelines' clients, because the mock broker holds"
  echo "an empty fetch for the whole \`fetch.wait.max.ms\` (500 ms by default) even when data"
  echo "arrives meanwhile — a real Kafka broker answers as soon as data arrives (see ANALYSIS)."
  echo
  echo "| target | scenario | verdict |"
  echo "|---|---|---|"
  for s in $d $f; do
    echo "| end to end ≥ 100,000 records/s (median of 5 runs) | $s | $(verdict "$(num $s.cotflow_rps)" ">=" 100000 records/s) |"
  done
  for s in $d $f; do
    echo "| end to end ≥ 50% of the passthrough baseline (medians of 5 runs each) | $s | $(verdict "$(awk -v r="$(num $s.ratio)" 'BEGIN { if (r == "nan") print "nan"; else printf "%.1f", 100 * r }')" ">=" 50 "% of baseline") |"
  done
  for s in $d $f; do
    echo "| at 10,000/s: p50 ≤ 10 ms (Kafka output) | $s | $(verdict "$(num $s.lat10000_p50)" "<=" 10 ms) |"
    echo "| at 10,000/s: p99 ≤ 25 ms (Kafka output) | $s | $(verdict "$(num $s.lat10000_p99)" "<=" 25 ms) |"
    echo "| at 10,000/s: p50 ≤ 10 ms (TAK destination) | $s | $(verdict "$(num $s.lat10000_tak_p50)" "<=" 10 ms) |"
    echo "| at 10,000/s: p99 ≤ 25 ms (TAK destination) | $s | $(verdict "$(num $s.lat10000_tak_p99)" "<=" 25 ms) |"
  done
  for s in $d $f; do
    echo "| at 100/s: p99 ≤ batch age (100 ms) + 10 ms (Kafka output) | $s | $(verdict "$(num $s.lat100_p99)" "<=" 110 ms) |"
    echo "| at 100/s: p99 ≤ batch age (100 ms) + 10 ms (TAK destination) | $s | $(verdict "$(num $s.lat100_tak_p99)" "<=" 110 ms) |"
  done
  echo "| decode + map + encode ≥ 500,000 records/s on one core (median of 7) | — | $(verdict "$(num codec_full_rps_median)" ">=" 500000 records/s) |"
  for s in $d $f; do
    echo "| peak RSS ≤ 100 MB at 10,000/s | $s | $(verdict "$(num $s.lat10000_rss_mb)" "<=" 100 MB) |"
  done
  echo "| parking replay ≥ 50,000 records/s to a local TCP receiver (200,000 parked) | replay | $(verdict "$(num replay.rps)" ">=" 50000 records/s) |"
  for m in refused blackhole; do
    echo "| peak RSS ≤ 150 MB at 10,000/s with one TAK destination down for 60 s | stall-$m | $(verdict "$(num stall-$m.rss_peak_mb)" "<=" 150 MB) |"
  done
  for m in refused blackhole; do
    echo "| Kafka output and the live TAK destination kept flowing, source never paused | stall-$m | $(yes_no "$(get stall-$m.flowing)" \
      "min over 5 s windows $(num stall-$m.kafka_min5_rps | cut -d. -f1)/s to Kafka, $(num stall-$m.up_min5_rps | cut -d. -f1)/s to the live destination, source paused: $( [ "$(get stall-$m.paused_max)" = 1 ] && echo yes || echo never)" \
      "min over 5 s windows $(num stall-$m.kafka_min5_rps | cut -d. -f1)/s to Kafka, $(num stall-$m.up_min5_rps | cut -d. -f1)/s to the live destination (offered 10000/s), source paused: $( [ "$(get stall-$m.paused_max)" = 1 ] && echo yes || echo never)") |"
  done
  echo
  echo "\`stall-refused\` is the destination of the issue (down: connects refused);"
  echo "\`stall-blackhole\` is a hung server that accepts connections and never reads."
  echo
  echo "## Codec, one core (\`bench_codec\`)"
  echo
  cat "$out/codec.md"
  echo "## Actor hop per batch (\`bench_actor_hop\`)"
  echo
  cat "$out/actor_hop.md"
  if [ "$hop_rc" != 0 ]; then
    echo "**bench_actor_hop exited with code $hop_rc** (1 = a batch was lost,"
    echo "duplicated or reordered; 2 = bad arguments)."
    echo
  fi
  echo "## End to end (\`bench_pipeline\`)"
  echo
  cat "$out/pipeline.md"
  if [ -f "$out/latency.svg" ]; then
    echo "### Latency percentiles against the offered rate"
    echo
    echo "![latency percentiles against offered rate, both scenarios](latency.svg)"
    echo
    echo "Solid: cotflow p50/p95/p99; dashed: the passthrough baseline p50/p99;"
    echo "crosses: the targets of issue 6. Log scales on both axes."
    echo
  fi
  echo "## Where cotflow's CPU goes (\`perf\`)"
  echo
  if [ -s "$profile" ]; then
    cat "$profile"
  else
    echo "Not measured: \`perf\` is not installed or not allowed here"
    echo "(\`kernel.perf_event_paranoid\`)."
    echo
  fi
  if [ "$pipeline_rc" != 0 ]; then
    echo "**bench_pipeline exited with code $pipeline_rc** (3 = a pipeline did not exit 0"
    echo "on SIGTERM; see the shutdown lines above and the logs in ${build}/bench/out/)."
    echo
  fi
  takp_section
  echo "## TAK destination down: parking and replay (\`bench_parking\`)"
  echo
  cat "$out/parking.md"
  if [ "$parking_rc" != 0 ]; then
    echo "**bench_parking exited with code $parking_rc** (3 = cotflow did not exit 0"
    echo "on SIGTERM; see the lines above and the logs in ${build}/bench/out/)."
    echo
  fi
  if [ -f bench/ANALYSIS.md ]; then
    cat bench/ANALYSIS.md
  fi
} >"$results"

echo "== wrote $results (${runtime} s)" >&2
[ "$pipeline_rc" != 0 ] && exit "$pipeline_rc"
[ "$takp_rc" != 0 ] && exit "$takp_rc"
exit "$parking_rc"
