#!/usr/bin/env bash
# cotflow side by side with the bridges users write in Python and Node.js,
# on the same generated records and the same embedded broker; writes
# bench/COMPARISON.md (command, machine, date, versions, numbers).
#
#   bench/compare.sh [BRIDGE...]     BRIDGE: python, python-pure, node
#                                    (default: all three)
#   bench/compare.sh --report-only   writes COMPARISON.md again from the
#                                    last run's outputs (e.g. after editing
#                                    bench/COMPARISON_NOTES.md); a run keeps
#                                    only its own bridges' outputs
#
#   python       bench/bridges/python_bridge.py with confluent-kafka
#                (Debian python3-confluent-kafka: librdkafka underneath)
#   python-pure  the same bridge with kafka-python (Debian python3-kafka)
#   node         bench/bridges/node_bridge.js with KafkaJS, which Debian
#                does not package: npm installs it into the build directory
#
# Missing Debian packages are installed with apt-get (as root, or with
# sudo) by ./dev. Each bridge takes bench_pipeline's baseline place
# (--baseline-cmd) against a fresh cotflow, in turns; a pair takes 2-3
# minutes on 2 cores. Environment: BENCH_BUILD_DIR (default build);
# COMPARE_RECORDS (default 100000) records per throughput run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${BENCH_BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
out="$build/bench/compare"
records=${COMPARE_RECORDS:-100000}
report_only=
if [ "${1:-}" = --report-only ]; then
  report_only=1
  shift
fi
bridges=("$@")
[ ${#bridges[@]} -eq 0 ] && bridges=(python python-pure node)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# Missing Debian packages, installed with apt-get as ./dev does.
install_missing() { "$root/dev" install "$@"; }

# The Debian interpreter, whose dist-packages hold the Debian clients (a
# python3 earlier on PATH, e.g. pyenv's, would not see them).
python=/usr/bin/python3
node_modules="$build/bench/node/node_modules"
summary="$out/summary.txt"

for b in "${bridges[@]}"; do
  case "$b" in
    python | python-pure | node) ;;
    *) echo "unknown bridge: $b (python, python-pure, node)" >&2; exit 2 ;;
  esac
done

# What each bridge needs: installed when missing, or the script stops
# before anything ran.
prepare() { # prepare BRIDGE
  case "$1" in
    python)
      "$python" -c 'import confluent_kafka' 2>/dev/null \
        || install_missing python3 python3-confluent-kafka ;;
    python-pure)
      "$python" -c 'import kafka' 2>/dev/null \
        || install_missing python3 python3-kafka ;;
    node)
      # NodeSource's nodejs brings its own npm and conflicts with Debian's.
      command -v node >/dev/null && command -v npm >/dev/null \
        || install_missing nodejs npm
      if [ ! -d "$node_modules/kafkajs" ]; then
        echo "== npm install kafkajs" >&2
        mkdir -p "$build/bench/node"
        npm install --prefix "$build/bench/node" --no-audit --no-fund \
          --no-save kafkajs@2.2.4 >&2
      fi ;;
  esac
}

versions() { # one line per bridge: what it ran on
  case "$1" in
    python) "$python" -c 'import confluent_kafka as c, sys; print("Python %s, confluent-kafka %s (librdkafka %s)" % (sys.version.split()[0], c.version()[0], c.libversion()[0]))' ;;
    python-pure) "$python" -c 'import kafka, sys; print("Python %s, kafka-python %s" % (sys.version.split()[0], kafka.__version__))' ;;
    node) echo "Node.js $(node --version), KafkaJS $(node -p "require('$node_modules/kafkajs/package.json').version")" ;;
  esac
}

run() {
  for b in "${bridges[@]}"; do
    prepare "$b"
  done

  echo "== build" >&2
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target cotflow bench_pipeline >&2
  rm -rf "$out"
  mkdir -p "$out"
  cp "$build/cotflow" "$build/bench/bench_pipeline" "$out/"
  # What ran, for the report (also with --report-only): the date, the
  # commit, whether the tree had changes (COMPARISON.md itself aside), and
  # the machine.
  {
    echo "$started"
    git rev-parse --short HEAD 2>/dev/null || echo unknown
    [ -n "$(git status --porcelain -- . ':!bench/COMPARISON.md' 2>/dev/null)" ] \
      && echo ", with uncommitted changes" || echo
    echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")"
  } >"$out/run-info"

  : >"$summary"
  local cmd name rc
  for b in "${bridges[@]}"; do
    case "$b" in
      python)
        printf -v cmd 'exec %q %q confluent-kafka' "$python" \
          "$root/bench/bridges/python_bridge.py"
        name="Python (confluent-kafka)" ;;
      python-pure)
        printf -v cmd 'exec %q %q kafka-python' "$python" \
          "$root/bench/bridges/python_bridge.py"
        name="Python (kafka-python)" ;;
      node)
        printf -v cmd 'NODE_PATH=%q exec node %q' "$node_modules" \
          "$root/bench/bridges/node_bridge.js"
        name="Node.js (KafkaJS)" ;;
    esac
    echo "== $name" >&2
    mkdir -p "$out/$b"
    # Exit 3: a pipeline did not stop cleanly; the report says which. The
    # other bridges still run.
    rc=0
    "$out/bench_pipeline" "$out/cotflow" --records "$records" --window 30000 \
      --rates 100,1000,10000 --latency-seconds 5 --fetch-wait 5 \
      --tput-reps 3 --malformed 0 --log-dir "$out/$b" \
      --summary "$out/$b/summary.txt" --baseline-cmd "$cmd" \
      --baseline-name "$name" >"$out/$b/report.md" || rc=$?
    if [ ! -s "$out/$b/summary.txt" ]; then
      echo "bench_pipeline failed for $name (exit $rc); see $out/$b" >&2
      continue
    fi
    [ "$rc" -eq 0 ] || echo "bench_pipeline exit $rc for $name" >&2
    {
      echo "bridge=$b"
      echo "name=$name"
      echo "versions=$(versions "$b")"
      cat "$out/$b/summary.txt"
    } >>"$summary"
  done
}

if [ -n "$report_only" ]; then
  [ -s "$summary" ] && [ -s "$out/run-info" ] \
    || { echo "no complete run in $out" >&2; exit 1; }
else
  run
fi
mapfile -t bridges < <(sed -n 's/^bridge=//p' "$summary")
[ ${#bridges[@]} -gt 0 ] || { echo "no bridge ran" >&2; exit 1; }

results="$root/bench/COMPARISON.md"
mapfile -t info <"$out/run-info"
{
  echo "# cotflow side by side with Python and Node.js bridges"
  echo
  echo "Generated by \`bench/compare.sh ${bridges[*]}\` on ${info[0]}"
  echo "(commit ${info[1]}${info[2]}), ${info[3]}."
  echo
  python3 "$root/bench/compare_table.py" "$summary"
  cat "$root/bench/COMPARISON_NOTES.md"
  for b in "${bridges[@]}"; do
    echo
    echo "## The run against $(grep -A1 "^bridge=$b\$" "$summary" | sed -n 's/^name=//p')"
    echo
    sed 's/^\(#\{1,\}\) /#\1 /' "$out/$b/report.md"
  done
} >"$results.tmp"
mv "$results.tmp" "$results"
echo "wrote $results" >&2
