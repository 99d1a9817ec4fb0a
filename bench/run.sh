#!/usr/bin/env bash
# The benchmark of issue 6 in one command: builds cotflow and the four
# benchmark programs, runs them on the embedded broker and writes
# bench/RESULTS.md (command, machine, date, numbers, targets met or missed).
#
#   bench/run.sh [extra bench_pipeline options, e.g. --records 100000]
#
# Environment: BENCH_BUILD_DIR (default build) is the CMake build directory;
# BENCH_PARKING_ARGS adds options to bench_parking (e.g. "--stall-seconds 20").
#
# About 11 minutes on a 2-core machine. Logs of the children and the raw
# key=value summary go to $BENCH_BUILD_DIR/bench/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${BENCH_BUILD_DIR:-build}
out="$build/bench/out"
case "$out" in /*) ;; *) out="$root/$out" ;; esac
results="$root/bench/RESULTS.md"
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

get() { awk -F= -v k="$1" '$1 == k { print $2 }' "$summary"; }
num() { local v; v=$(get "$1"); echo "${v:-nan}"; }
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
exit "$parking_rc"
