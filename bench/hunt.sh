#!/usr/bin/env bash
# End-to-end benchmark: decode-only vs full hunt (D1-D4) on a generated set, with peak RSS.
#
#   bench/hunt.sh [GB]        # default 10: about 7.6 million events, 10 GB uncompressed
#
# Generates the set once under target/bench-data/hunt-<GB>gb (deterministic, seed 1), then runs
#   trailhound hunt --decode-only   (read, gunzip, parse, order, GeoIP; no detections)
#   trailhound hunt                 (the same plus D1-D4, no alert store)
# and prints events/s, MB/s (uncompressed), peak RSS and the ratio of the two speeds.
set -euo pipefail
cd "$(dirname "$0")/.."
gb=${1:-10}
events=$(( gb * 1000000000 / 1320 ))
data=target/bench-data/hunt-${gb}gb
cargo build --release -q
bin=target/release/trailhound
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
print(f"{sys.argv[4]:<12} {s['events']:>10} events  {s['decompressed_bytes']/1e9:6.2f} GB  {secs:7.1f} s  "
      f"{s['events']/secs:>9.0f} events/s  {s['decompressed_bytes']/1e6/secs:6.0f} MB/s  peak RSS {rss:6.0f} MB  "
      f"alerts {sum(s['alerts_by_rule'].values())}")
print(f"{secs}", file=open(sys.argv[1] + ".secs", "w"))
PY
  cat "$stats.secs" > "target/bench-data/last-$label.secs"
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
run decode-only --decode-only
run full-hunt
python3 - <<'PY'
d = float(open("target/bench-data/last-decode-only.secs").read()); h = float(open("target/bench-data/last-full-hunt.secs").read())
print(f"full hunt runs at {100 * d / h:.0f} % of the decode-only speed")
PY
