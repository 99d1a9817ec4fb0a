#!/usr/bin/env bash
# cotflow side by side with the bridges users write in Python and Node.js,
# on the same generated records and the same embedded broker; writes
# bench/COMPARISON.md (command, machine, date, versions, numbers).
#
#   bench/compare.sh [BRIDGE...]     BRIDGE: python, python-pure, node
#                                    (default: all three)
#   bench/compare.sh --report-only   writes COMPARISON.md again from the
#                                    last run's outputs (e.g. after editing
#                                    bench/COMPARISON_NOTES.md)
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

run() {
  for b in "${bridges[@]}"; do
    case "$b" in
      python) install_missing python3 python3-confluent-kafka ;;
      python-pure) install_missing python3 python3-kafka ;;
      node) # NodeSource's nodejs brings its own npm and conflicts with Debian's.
        command -v node >/dev/null && command -v npm >/dev/null \
          || install_missing nodejs npm ;;
      *) echo "unknown bridge: $b (python, python-pure, node)" >&2; exit 2 ;;
    esac
  done

  echo "== build" >&2
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target cotflow bench_pipeline >&2
  rm -rf "$out"
  mkdir -p "$out"
  cp "$build/cotflow" "$build/bench/bench_pipeline" "$out/"

  for b in "${bridges[@]}"; do
    if [ "$b" = node ] && [ ! -d "$node_modules/kafkajs" ]; then
      echo "== npm install kafkajs" >&2
      mkdir -p "$build/bench/node"
      npm install --prefix "$build/bench/node" --no-audit --no-fund \
        --no-save kafkajs@2.2.4 >&2
    fi
  done

  versions() { # one line per bridge: what it ran on
    case "$1" in
      python) "$python" -c 'import confluent_kafka as c, sys; print("Python %s, confluent-kafka %s (librdkafka %s)" % (sys.version.split()[0], c.version()[0], c.libversion()[0]))' ;;
      python-pure) "$python" -c 'import kafka, sys; print("Python %s, kafka-python %s" % (sys.version.split()[0], kafka.__version__))' ;;
      node) echo "Node.js $(node --version), KafkaJS $(node -p "require('$node_modules/kafkajs/package.json').version")" ;;
    esac
  }

  : >"$summary"
  for b in "${bridges[@]}"; do
    case "$b" in
      python) cmd="exec $python $root/bench/bridges/python_bridge.py confluent-kafka"
        name="Python (confluent-kafka)" ;;
      python-pure) cmd="exec $python $root/bench/bridges/python_bridge.py kafka-python"
        name="Python (kafka-python)" ;;
      node) cmd="NODE_PATH=$node_modules exec node $root/bench/bridges/node_bridge.js"
        name="Node.js (KafkaJS)" ;;
    esac
    echo "== $name" >&2
    mkdir -p "$out/$b"
    "$out/bench_pipeline" "$out/cotflow" --records "$records" --window 30000 \
      --rates 100,1000,10000 --latency-seconds 5 --fetch-wait 5 --tput-reps 3 \
      --malformed 0 --log-dir "$out/$b" --summary "$out/$b/summary.txt" \
      --baseline-cmd "$cmd" --baseline-name "$name" >"$out/$b/report.md"
    echo "bridge=$b" >>"$summary"
    echo "name=$name" >>"$summary"
    echo "versions=$(versions "$b")" >>"$summary"
    cat "$out/$b/summary.txt" >>"$summary"
  done
  # What ran, for --report-only: the date, the commit, and whether the
  # tree had changes then (COMPARISON.md itself aside).
  {
    echo "$started"
    git rev-parse --short HEAD 2>/dev/null || echo unknown
    [ -n "$(git status --porcelain -- . ':!bench/COMPARISON.md' 2>/dev/null)" ] \
      && echo ", with uncommitted changes" || echo
  } >"$out/run-info"
}

if [ -n "$report_only" ]; then
  [ -s "$summary" ] || { echo "no run in $out" >&2; exit 1; }
  mapfile -t bridges < <(sed -n 's/^bridge=//p' "$summary")
else
  run
fi

results="$root/bench/COMPARISON.md"
{
  echo "# cotflow side by side with Python and Node.js bridges"
  echo
  mapfile -t info <"$out/run-info"
  echo "Generated by \`bench/compare.sh ${bridges[*]}\` on ${info[0]}"
  echo "(commit ${info[1]}${info[2]}),"
  echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')),"
  echo "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")."
  echo
  python3 "$root/bench/compare_table.py" "$summary"
  cat "$root/bench/COMPARISON_NOTES.md"
  for b in "${bridges[@]}"; do
    echo
    echo "## The run against $(grep -A1 "^bridge=$b\$" "$summary" | sed -n 's/^name=//p')"
    echo
    sed 's/^\(#\{1,\}\) /#\1 /' "$out/$b/report.md"
  done
} >"$results"
echo "wrote $results" >&2
