#!/usr/bin/env bash
# Validates the deployment files in deploy/ as far as this machine can
# (no Docker daemon, no cluster, no systemd as PID 1):
#   a) every YAML file parses, every JSON file parses; the k8s ConfigMap's
#      cotflow.yaml and deploy/cotflow.yaml pass `cotflow config check`; the
#      stop timeouts of compose, k8s and systemd exceed the drain grace;
#      optional: promtool checks the rules and the dashboard's PromQL,
#      kubectl renders the kustomization;
#   b) `systemd-analyze verify` on the unit (ExecStart pointed at $COTFLOW_BIN)
#      prints nothing and exits 0;
#   c) every cotflow_* metric named in the Grafana dashboard and the alert
#      rules exists in a live /metrics scrape of `cotflow demo`, which then
#      drains on SIGTERM and exits 0;
#   d) the Dockerfile: every apt package it names exists here, the build
#      stage installs ./dev's package list, the runtime stage covers every
#      library `ldd cotflow` resolves, each RUN is valid shell.
# Prints PASS/FAIL/SKIP lines and, last, "N passed, M failed"; exits non-zero
# when anything failed.
set -u

SRC=${COTFLOW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${COTFLOW_BIN:-$SRC/build/cotflow}
DEPLOY=$SRC/deploy
passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip() { echo "SKIP: $*"; }
check() { # check DESCRIPTION COMMAND... : pass when the command succeeds;
  # its output is shown only on failure.
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    pass "$what"
  else
    fail "$what"
    printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
  fi
}

tmp=$(mktemp -d)
demo_pid=""
cleanup() {
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -KILL "$demo_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ ! -x "$BIN" ]; then
  fail "cotflow binary at $BIN"
  echo "$passed passed, $failed failed"
  exit 1
fi

have_python=false
have_pyyaml=false
if command -v python3 >/dev/null 2>&1; then
  have_python=true
  python3 -c 'import yaml' 2>/dev/null && have_pyyaml=true
fi

# --- a) syntax -------------------------------------------------------------
mapfile -t yaml_files < <(find "$DEPLOY" -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
mapfile -t json_files < <(find "$DEPLOY" -type f -name '*.json' | sort)
[ ${#yaml_files[@]} -ge 10 ] && pass "found ${#yaml_files[@]} YAML files" \
  || fail "expected at least 10 YAML files under deploy/, found ${#yaml_files[@]}"

if $have_pyyaml; then
  for f in "${yaml_files[@]}"; do
    check "YAML parses: ${f#$SRC/}" python3 -c '
import sys, yaml
with open(sys.argv[1]) as fh:
    docs = [d for d in yaml.safe_load_all(fh)]
sys.exit(0 if docs and all(d is not None for d in docs) else 1)' "$f"
  done
else
  skip "YAML parsing: python3 with the yaml module (Debian: python3-yaml) is missing"
fi

for f in "${json_files[@]}"; do
  if $have_python; then
    check "JSON parses: ${f#$SRC/}" python3 -m json.tool "$f" /dev/null
  elif command -v jq >/dev/null 2>&1; then
    check "JSON parses: ${f#$SRC/}" jq empty "$f"
  else
    skip "JSON parsing of ${f#$SRC/}: neither python3 nor jq"
  fi
done

check "deploy/cotflow.yaml passes cotflow config check" \
  "$BIN" config check --config "$DEPLOY/cotflow.yaml"

if $have_pyyaml; then
  if python3 - "$DEPLOY/k8s/configmap.yaml" "$tmp/k8s-cotflow.yaml" <<'EOF'
import sys, yaml
cm = yaml.safe_load(open(sys.argv[1]))
open(sys.argv[2], "w").write(cm["data"]["cotflow.yaml"])
EOF
  then
    check "k8s ConfigMap's cotflow.yaml passes cotflow config check" \
      "$BIN" config check --config "$tmp/k8s-cotflow.yaml"
  else
    fail "k8s ConfigMap has data.cotflow.yaml"
  fi

  # Stop timeouts above the drain grace (drain_timeout_ms + 10 s, after
  # which cotflow exits by itself): otherwise a SIGKILL cuts the drain.
  check "compose, k8s and systemd stop timeouts exceed drain_timeout_ms + 10 s" \
    python3 - "$DEPLOY" "$tmp/k8s-cotflow.yaml" <<'EOF'
import re, sys, yaml
deploy, cm = sys.argv[1], sys.argv[2]
drain_ms = (yaml.safe_load(open(cm)).get("pipeline") or {}).get("drain_timeout_ms", 10000)
need = drain_ms / 1000 + 10
ok = True
def secs(v):
    m = re.fullmatch(r"(\d+)(s|m)?", str(v).strip())
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)
compose = yaml.safe_load(open(f"{deploy}/docker-compose.yml"))
for name, svc in compose["services"].items():
    if name.startswith("cotflow-"):
        g = secs(svc.get("stop_grace_period", "10s"))
        if g <= need:
            print(f"  compose {name}: stop_grace_period {g}s <= {need}s"); ok = False
dep = yaml.safe_load(open(f"{deploy}/k8s/deployment.yaml"))
g = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
if g <= need:
    print(f"  k8s terminationGracePeriodSeconds {g} <= {need}"); ok = False
unit = open(f"{deploy}/systemd/cotflow.service").read()
m = re.search(r"^TimeoutStopSec=(\S+)", unit, re.M)
if not m or secs(m.group(1)) <= 20:
    print("  systemd TimeoutStopSec missing or <= 20 s (default drain)"); ok = False
sys.exit(0 if ok else 1)
EOF
else
  skip "ConfigMap config check and stop-timeout checks: python3-yaml missing"
fi

if command -v promtool >/dev/null 2>&1; then
  check "promtool check rules prometheus/alerts.yml" \
    promtool check rules "$DEPLOY/prometheus/alerts.yml"
  if $have_pyyaml; then
    # The dashboard's queries as recording rules, so promtool parses them.
    python3 - "$DEPLOY/grafana/cotflow-dashboard.json" "$tmp/dash-rules.yml" <<'EOF'
import json, sys, yaml
d = json.load(open(sys.argv[1]))
rules = []
for p in d["panels"]:
    for t in p.get("targets", []):
        rules.append({"record": f"dashboard:q{len(rules)}",
                      "expr": t["expr"].replace("$__rate_interval", "1m")})
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(sys.argv[2], "w"))
EOF
    check "promtool parses every dashboard query" \
      promtool check rules "$tmp/dash-rules.yml"
  fi
else
  skip "promtool not installed (Debian: prometheus): rules not checked by Prometheus itself"
fi

if command -v kubectl >/dev/null 2>&1; then
  if kubectl kustomize "$DEPLOY/k8s" >"$tmp/k8s.out" 2>"$tmp/k8s.err"; then
    kinds=$(grep -c '^kind:' "$tmp/k8s.out")
    [ "$kinds" -ge 6 ] && pass "kubectl kustomize deploy/k8s renders $kinds objects" \
      || fail "kubectl kustomize deploy/k8s renders only $kinds objects"
  else
    fail "kubectl kustomize deploy/k8s: $(cat "$tmp/k8s.err")"
  fi
else
  skip "kubectl not installed: kustomization not rendered"
fi

# --- b) systemd unit ---------------------------------------------------------
unit=$DEPLOY/systemd/cotflow.service
# The unit's ExecReload sends SIGHUP, which cotflow takes as a reload.
if grep -q '^ExecReload' "$unit"; then
  if grep -q 'SIGHUP' "$SRC/commands/signal_waiter.cpp" 2>/dev/null; then
    pass "systemd unit has ExecReload and cotflow handles SIGHUP (commands/signal_waiter.cpp)"
  else
    fail "systemd unit has ExecReload but cotflow does not handle SIGHUP"
  fi
else
  pass "systemd unit has no ExecReload (cotflow does not handle SIGHUP)"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
  # The unit names /usr/local/bin/cotflow; verify it against the built binary
  # so "not executable" does not hide or excuse anything else. verify exits
  # 0 even for unknown keys, so any output at all is a failure.
  mkdir -p "$tmp/unit"
  sed "s#/usr/local/bin/cotflow#$BIN#g" "$unit" >"$tmp/unit/cotflow.service"
  out=$(cd "$tmp/unit" && systemd-analyze verify "$tmp/unit/cotflow.service" 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && [ -z "$out" ]; then
    pass "systemd-analyze verify cotflow.service"
  else
    fail "systemd-analyze verify cotflow.service (exit $rc): $out"
  fi
  exposure=$(systemd-analyze security --offline=true "$tmp/unit/cotflow.service" 2>/dev/null \
    | grep -o 'Overall exposure level.*' || true)
  [ -n "$exposure" ] && echo "info: systemd-analyze security: $exposure"
else
  skip "systemd-analyze not installed"
fi

# --- c) metric names against a live /metrics ---------------------------------
http_get() { # http_get PATH -> writes "$tmp/resp.code" and "$tmp/resp.body"
  timeout 5 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$2" >&3
    cat <&3' _ "$port" "$1" >"$tmp/resp" 2>/dev/null || return 1
  head -n1 "$tmp/resp" | awk '{print $2}' >"$tmp/resp.code"
  sed '1,/^\r\{0,1\}$/d' "$tmp/resp" >"$tmp/resp.body"
}

# One TAK destination on a port where nothing listens: the breaker and
# parking series exist only for TAK destinations. Its breaker opens and its
# events park, which the drain below must cope with as well.
closed_port=1
for p in 1 9 19 47 61 89; do
  if ! timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$p" 2>/dev/null; then
    closed_port=$p
    break
  fi
done
COTFLOW_HTTP_ADDRESS=127.0.0.1:0 COTFLOW_TAK_DESTINATIONS=probe=tcp://127.0.0.1:$closed_port \
  "$BIN" demo --rate 200 --output "$tmp/demo.cot" --log-stderr \
  </dev/null >"$tmp/demo.out" 2>"$tmp/demo.err" &
demo_pid=$!
port=""
for _ in $(seq 1 100); do # 20 s
  port=$(grep -o 'operations endpoints on http://127.0.0.1:[0-9]*' "$tmp/demo.err" \
    | head -n1 | grep -o '[0-9]*$')
  [ -n "$port" ] && break
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 0.2
done
ready=false
if [ -n "$port" ]; then
  for _ in $(seq 1 150); do # 30 s
    if http_get /health/ready && [ "$(cat "$tmp/resp.code")" = 200 ]; then
      ready=true
      break
    fi
    sleep 0.2
  done
fi
if ! $ready; then
  fail "cotflow demo: operations port ${port:-not logged}, /health/ready never 200"
  tail -n 20 "$tmp/demo.err"
else
  pass "cotflow demo ready on port $port"
  sleep 1 # let every destination's series appear with traffic
  if http_get /metrics && [ "$(cat "$tmp/resp.code")" = 200 ]; then
    # Series names as exported (histograms as _bucket/_sum/_count).
    grep -v '^#' "$tmp/resp.body" | grep -o '^[a-zA-Z_:][a-zA-Z0-9_:]*' \
      | sort -u >"$tmp/exported"
    echo "info: /metrics exports $(wc -l <"$tmp/exported") series names"
    for f in grafana/cotflow-dashboard.json prometheus/alerts.yml; do
      # Every cotflow_* token, comments and descriptions included. A name is
      # found when it is one of the exported series names exactly: a
      # histogram is queried as _bucket/_sum/_count (its bare name is no
      # series), counters keep their _total.
      grep -o 'cotflow_[a-zA-Z0-9_]*' "$DEPLOY/$f" | sort -u >"$tmp/used"
      n=$(wc -l <"$tmp/used")
      missing=$(comm -23 "$tmp/used" "$tmp/exported" | tr '\n' ' ')
      if [ "$n" -lt 8 ]; then
        fail "$f names only $n cotflow metrics (extraction broken?)"
      elif [ -n "$missing" ]; then
        fail "$f names metrics cotflow does not export: $missing"
      else
        pass "all $n cotflow metric names in $f exist in /metrics"
      fi
    done
    # Information only: what the dashboard leaves out, by base name.
    sed -E 's/_(bucket|sum|count)$//' "$tmp/exported" | grep '^cotflow_' | sort -u >"$tmp/exported.base"
    grep -o 'cotflow_[a-zA-Z0-9_]*' "$DEPLOY/grafana/cotflow-dashboard.json" \
      | sed -E 's/_(bucket|sum|count)$//' | sort -u >"$tmp/used.base"
    unused=$(comm -23 "$tmp/exported.base" "$tmp/used.base" | tr '\n' ' ')
    [ -n "$unused" ] && echo "info: exported but not on the dashboard: $unused"
  else
    fail "GET /metrics"
  fi
  http_get /health/live && [ "$(cat "$tmp/resp.code")" = 200 ] \
    && pass "/health/live answers 200" || fail "/health/live"
fi
if kill -0 "$demo_pid" 2>/dev/null; then
  kill -TERM "$demo_pid"
  for _ in $(seq 1 125); do # 25 s: drain grace is 10 s + 10 s
    kill -0 "$demo_pid" 2>/dev/null || break
    sleep 0.2
  done
fi
if kill -0 "$demo_pid" 2>/dev/null; then
  fail "cotflow demo still running 25 s after SIGTERM"
else
  wait "$demo_pid"
  rc=$?
  [ $rc -eq 0 ] && pass "cotflow demo drained on SIGTERM, exit 0" \
    || { fail "cotflow demo exit $rc after SIGTERM"; tail -n 10 "$tmp/demo.err"; }
fi
demo_pid=""

# --- d) Dockerfile -------------------------------------------------------------
dockerfile=$DEPLOY/Dockerfile
# One instruction per line, continuations joined, comments dropped.
grep -v '^[[:space:]]*#' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' >"$tmp/df"
stage_packages() { # stage_packages STAGE: apt packages installed in that stage
  awk -v stage="$1" '
    /^FROM / { cur = ""; for (i = 1; i <= NF; i++) if (toupper($i) == "AS") cur = $(i + 1) }
    cur == stage && /^RUN / { print }' "$tmp/df" \
    | grep -o 'apt-get install[^&;|]*' \
    | tr ' ' '\n' | grep -v -e '^-' -e '^$' -e '^apt-get$' -e '^install$' | sort -u
}
stage_packages build >"$tmp/pk.build"
stage_packages runtime >"$tmp/pk.runtime"
if [ ! -s "$tmp/pk.build" ] || [ ! -s "$tmp/pk.runtime" ]; then
  fail "Dockerfile: no apt-get install found in the build or runtime stage"
else
  absent=""
  for p in $(cat "$tmp/pk.build" "$tmp/pk.runtime" | sort -u); do
    apt-cache show "$p" >/dev/null 2>&1 || absent="$absent $p"
  done
  [ -z "$absent" ] && pass "every apt package in the Dockerfile exists ($(cat "$tmp/pk.build" "$tmp/pk.runtime" | sort -u | wc -l) packages)" \
    || fail "Dockerfile names apt packages unknown to apt-cache:$absent"

  sed -n '/^packages=(/,/)/p' "$SRC/dev" | sed 's/packages=(//; s/)//' \
    | tr ' ' '\n' | grep -v '^$' | sort -u >"$tmp/pk.dev"
  if [ -s "$tmp/pk.dev" ] && diff -q "$tmp/pk.dev" "$tmp/pk.build" >/dev/null; then
    pass "Dockerfile build stage installs ./dev's package list"
  else
    fail "Dockerfile build stage vs ./dev packages: $(diff "$tmp/pk.dev" "$tmp/pk.build" | grep '^[<>]' | tr '\n' ' ')"
  fi

  # Every shared library the binary loads comes from a runtime package or
  # one of their dependencies.
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances $(cat "$tmp/pk.runtime") 2>/dev/null \
    | grep -v '^ ' | sed 's/:.*//' | sort -u >"$tmp/pk.closure"
  uncovered=""
  for lib in $(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'); do
    pkg=""
    for cand in "$lib" "$(readlink -f "$lib")" "/usr$lib" "${lib#/usr}"; do
      pkg=$(dpkg -S "$cand" 2>/dev/null | head -n1 | cut -d: -f1) && [ -n "$pkg" ] && break
    done
    if [ -z "$pkg" ]; then
      uncovered="$uncovered $lib(no package)"
    elif ! grep -qx "$pkg" "$tmp/pk.closure"; then
      uncovered="$uncovered $lib($pkg)"
    fi
  done
  [ -z "$uncovered" ] && pass "Dockerfile runtime packages cover every library of ldd cotflow" \
    || fail "libraries not installed by the runtime stage:$uncovered"
fi

bad_run=""
while IFS= read -r line; do
  cmd=${line#RUN }
  bash -n -c "$cmd" 2>/dev/null || bad_run="$bad_run [$cmd]"
done < <(grep '^RUN ' "$tmp/df")
[ -z "$bad_run" ] && pass "every Dockerfile RUN is valid shell" \
  || fail "RUN lines that are not valid shell:$bad_run"

opts=$(grep -o 'useradd[^&]*' "$tmp/df" | grep -o -- '--[a-z-]*' | sort -u)
missing_opts=""
for o in $opts; do
  useradd --help 2>&1 | grep -q -- "$o" || missing_opts="$missing_opts $o"
done
[ -n "$opts" ] && [ -z "$missing_opts" ] && pass "useradd options exist on this Debian" \
  || fail "useradd in the Dockerfile: options unknown here:$missing_opts"

# Build command builds only the cotflow target, and the runtime stage runs
# the binary the build stage installed, on the port it checks and exposes.
grep -q 'cmake --build [^&]*--target cotflow' "$tmp/df" \
  && grep -q 'CMAKE_BUILD_TYPE=RelWithDebInfo' "$tmp/df" \
  && pass "Dockerfile builds target cotflow, RelWithDebInfo" \
  || fail "Dockerfile build command (RelWithDebInfo, --target cotflow)"
entry=$(grep '^ENTRYPOINT' "$tmp/df" | grep -o '"/[^"]*"' | head -n1 | tr -d '"')
health_port=$(grep '^HEALTHCHECK' "$tmp/df" | grep -o '127.0.0.1:[0-9]*/health/live' | grep -o ':[0-9]*' | tr -d ':')
env_port=$(grep -o 'COTFLOW_HTTP_ADDRESS=0.0.0.0:[0-9]*' "$tmp/df" | grep -o '[0-9]*$')
if [ -n "$entry" ] && grep -q "/out$entry" "$tmp/df" && grep -q '^USER 10001' "$tmp/df" \
  && [ -n "$health_port" ] && [ "$health_port" = "$env_port" ] \
  && grep -q "^EXPOSE $env_port" "$tmp/df" && grep -qx curl "$tmp/pk.runtime"; then
  pass "Dockerfile: entrypoint $entry installed, non-root, health check on :$health_port with curl"
else
  fail "Dockerfile: entrypoint/user/health check/port inconsistent"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
