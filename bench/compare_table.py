#!/usr/bin/env python3
"""The summary table of bench/COMPARISON.md, from compare.sh's summary.txt
(one block per bridge: bridge=, name=, versions=, then bench_pipeline's
--summary lines of its one scenario, fetch-wait-5)."""
import sys

RATES = (100, 1000, 10000)


def blocks(path):
    result = []
    for line in open(path):
        key, _, value = line.rstrip("\n").partition("=")
        if key == "bridge":
            result.append({"bridge": value})
        elif result:
            result[-1][key.split(".", 1)[-1]] = value
    return result


def num(b, key, fmt="%.0f"):
    return fmt % float(b[key]) if key in b else "—"


def latency(b, prefix, rate):
    k = "%slat%d_" % (prefix, rate)
    if k + "p50" not in b:
        return "—"
    cell = "%.1f / %.1f" % (float(b[k + "p50"]), float(b[k + "p99"]))
    matched, published = b.get(k + "matched"), b.get(k + "published")
    if matched and published and matched != published:
        cell += " (%s of %s out)" % (matched, published)
    return cell


def main():
    rows = []
    for b in blocks(sys.argv[1]):
        rows.append((b["name"], num(b, "baseline_rps"), "",
                     num(b, "baseline_cpu_us", "%.1f"),
                     num(b, "baseline_rss_max_mb"))
                    + tuple(latency(b, "base_", r) for r in RATES))
        rows.append(("cotflow (same run)", num(b, "cotflow_rps"),
                     num(b, "ratio", "%.1f×"),
                     num(b, "cotflow_cpu_us_max", "%.1f"),
                     num(b, "cotflow_rss_max_mb"))
                    + tuple(latency(b, "", r) for r in RATES))
    print("| pipeline | records/s | cotflow faster by | CPU µs/record | "
          "peak RSS MB | p50 / p99 ms at 100/s | at 1,000/s | at 10,000/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    print("Records/s: median of 3 throughput runs of 100,000 records (or "
          "COMPARE_RECORDS), taken in turns with cotflow's; CPU and RSS "
          "from the throughput runs. Latency: fixed offered rates, 5 s "
          "each, publish to the output topic; '(N of M out)' means the "
          "bridge fell behind and the phase ended before its outputs did.")
    print()
    for b in blocks(sys.argv[1]):
        print("- %s: %s" % (b["name"], b.get("versions", "")))
    print()


main()
