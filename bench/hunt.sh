#!/usr/bin/env bash
# End-to-end benchmark: decode-only vs full hunt (every rule) on a generated set, with peak RSS;
# then the triage an analyst gets from it: a hunt into an alert store with the HTML report, the
# open incidents, where the planted attacks rank, and the report's size.
#
#   bench/hunt.sh [GB]        # default 10: about 7.6 million events, 10 GB uncompressed
#
# Generates the set once under target/bench-data/hunt-<GB>gb (deterministic, seed 1), then runs
#   trailhound hunt --decode-only --threads 1   (read, gunzip, parse, order, GeoIP on one core)
#   trailhound hunt --decode-only   (the same on every core; no detections)
#   trailhound hunt                 (the same plus every rule, no alert store)
#   trailhound hunt --store ... --format html   (the same into a fresh SQLite store, with the report)
# and prints events/s, MB/s (uncompressed), peak RSS and the ratio of the two speeds, then the
# incidents. BIN=path/to/trailhound uses that binary (no build).
set -euo pipefail
cd "$(dirname "$0")/.."
gb=${1:-10}
events=$(( gb * 1000000000 / 1320 ))
data=target/bench-data/hunt-${gb}gb
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
fi
bin=${BIN:-target/release/trailhound}
if [ ! -f "$data/manifest.json" ]; then
  rm -rf "$data"
  echo "generating $events events (~${gb} GB uncompressed) into $data ..."
  "$bin" generate "$data" --events "$events" --days 15 --keys 200 --compression-level 1
fi
run() {
  local label=$1; shift
  local stats; stats=$(mktemp)
  /usr/bin/time -f "%e %M" -o "$stats.time" "$bin" hunt "$data/AWSLogs" --no-progress --no-store --stats "$stats" "$@" >/dev/null 2>"$stats.err" || { cat "$stats.err"; exit 1; }
  read -r secs rss_kb < "$stats.time"
  python3 - "$stats" "$secs" "$rss_kb" "$label" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); secs = float(sys.argv[2]); rss = int(sys.argv[3]) / 1024
print(f"{sys.argv[4]:<14} {s['events']:>10} events  {s['decompressed_bytes']/1e9:6.2f} GB  {secs:7.1f} s  "
      f"{s['events']/secs:>9.0f} events/s  {s['decompressed_bytes']/1e6/secs:6.0f} MB/s  peak RSS {rss:6.0f} MB  "
      f"alerts {sum(s['alerts_by_rule'].values())}")
print(f"{secs}", file=open(sys.argv[1] + ".secs", "w"))
PY
  cat "$stats.secs" > "target/bench-data/last-$label.secs"
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
run decode-1thr --decode-only --threads 1
run decode-only --decode-only
run full-hunt
python3 - <<'PY'
one = float(open("target/bench-data/last-decode-1thr.secs").read())
d = float(open("target/bench-data/last-decode-only.secs").read()); h = float(open("target/bench-data/last-full-hunt.secs").read())
print(f"decoding on every core runs at {one / d:.2f} times its single-thread speed (--threads 1)")
print(f"full hunt runs at {100 * d / h:.0f} % of the decode-only speed")
PY

# Triage: a hunt into a fresh store with the HTML report, then the ranked incidents.
store=$(mktemp -d)
/usr/bin/time -f "%e %M" -o "$store/time" "$bin" hunt "$data/AWSLogs" --no-progress --store "$store/alerts.db" \
  --format html --output "$store/report.html" >/dev/null 2>"$store/err" || { cat "$store/err"; exit 1; }
"$bin" incidents list --store "$store/alerts.db" --format jsonl > "$store/incidents.jsonl"
python3 - "$store" "$data/manifest.json" <<'PY'
import json, os, sys
d, manifest = sys.argv[1], json.load(open(sys.argv[2]))
secs, rss = open(f"{d}/time").read().split()
incidents = [json.loads(l) for l in open(f"{d}/incidents.jsonl")]
planted = [s["access_key_id"] for s in manifest["scenarios"]]
ranks = {k: next((i + 1 for i, x in enumerate(incidents) if x["subject"] == k), None) for k in planted}
print(f"triage       hunt into a store with the report: {float(secs):.1f} s, peak RSS {int(rss) / 1024:.0f} MB")
print(f"             {len(incidents)} open incidents; planted attacks rank {sorted(ranks.values(), key=lambda r: r or 10**9)} "
      f"(of {len(planted)} planted); report {os.path.getsize(f'{d}/report.html') / 1e6:.2f} MB")
for i, x in enumerate(incidents[:8]):
    print(f"  {i + 1:>2} {x['risk_score']:>3} {x['severity']:<8} {x['subject'][:44]:<44} {x['alert_count']:>5} alerts  {', '.join(x['rules'][:3])}")
PY
grep -E "^(alerts|store)" "$store/err" | cut -c1-300
rm -rf "$store"
