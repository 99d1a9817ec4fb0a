#!/usr/bin/env bash
# Redraws docs/golden/map.png: the golden events (docs/golden/*.xml, which
# conformance_golden keeps equal to what cotflow writes) read by node-CoT,
# drawn from its GeoJSON on a Leaflet page (tests/conformance/render.mjs)
# and captured with headless Chromium. Needs `npm ci --prefix
# tests/conformance` (./dev test runs it) and chromium; not run by the tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
html="$(mktemp --suffix=.html)"
profile="$(mktemp -d)"
trap 'rm -rf "$html" "$profile"' EXIT
node tests/conformance/render.mjs docs/golden/*.xml >"$html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$profile" --window-size=1000,820 \
  --virtual-time-budget=3000 --screenshot="$PWD/docs/golden/map.png" \
  "file://$html" 2>/dev/null
echo "wrote docs/golden/map.png"
