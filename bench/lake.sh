#!/usr/bin/env bash
# Scale-out benchmark: D1-D5 with the embedded engine, DataFusion in process (raw objects and the
# Parquet lake) and a Ballista cluster of one scheduler and two executors on this machine, on the
# same generated data; plus the Parquet lake's size against the raw gzip.
#
#   bench/lake.sh [EVENTS]     # default 300000 events (the scenario set's attacks included)
#   BIN=path/to/trailhound bench/lake.sh [EVENTS]   # a binary built earlier (with `lake`)
#
# Builds the `lake-bench` profile (release without fat LTO) with the `lake` feature, generates
# the set once under target/bench-data/lake-<EVENTS>, checks that every engine returns the same
# alerts, and prints events/s (wall clock, end to end: listing, decoding, the rules, D5).
set -euo pipefail
cd "$(dirname "$0")/.."
events=${1:-300000}
data=target/bench-data/lake-$events
lake=target/bench-data/lake-$events-parquet
if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  cargo build --profile lake-bench --features lake -q -p trailhound
  bin=target/lake-bench/trailhound
fi
if [ ! -f "$data/manifest.json" ]; then
  rm -rf "$data" "$lake"
  "$bin" generate "$data" --events "$events" --seed 7 >/dev/null
fi
out=$(mktemp -d)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "data: $events generated events, $(find "$data/AWSLogs" -name '*.json.gz' | wc -l) objects"

run() { # label, then hunt arguments
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  "$bin" hunt --no-store --no-progress --format jsonl "$@" >"$out/$label.jsonl" 2>"$out/$label.err" \
    || { cat "$out/$label.err"; exit 1; }
  end=$(date +%s.%N)
  python3 - "$label" "$start" "$end" "$events" "$out/$label.jsonl" <<'PY'
import sys
label, start, end, events, path = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
secs = end - start
alerts = sum(1 for _ in open(path))
print(f"| {label:<28} | {secs:8.1f} s | {events/secs:>10,.0f} | {alerts:>6} |")
PY
  sort "$out/$label.jsonl" > "$out/$label.sorted"
  if [ "$label" != embedded ] && ! cmp -s "$out/embedded.sorted" "$out/$label.sorted"; then
    echo "DIFFERENT ALERTS: $label"; exit 1
  fi
}

# Every engine reads from the page cache: the first one would otherwise pay the disk alone.
find "$data" -type f -exec cat {} + >/dev/null
echo
echo "| engine                       |     time |   events/s | alerts |"
echo "| ---------------------------- | -------: | ---------: | -----: |"
run embedded --no-sigma "$data"
run datafusion-raw --engine datafusion "$data"
rm -rf "$lake"
start=$(date +%s.%N)
"$bin" convert "$data" --out "$lake" 2>"$out/convert.err" || { cat "$out/convert.err"; exit 1; }
convert_secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)")
run datafusion-parquet --parquet "$lake"

# The cluster: one scheduler, two executors with one task slot each (this machine has 2 cores).
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sched=$(port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
"$bin" scheduler --bind "127.0.0.1:$sched" 2>"$out/scheduler.log" & pids+=($!)
sleep 2
for i in 1 2; do
  "$bin" executor --scheduler "127.0.0.1:$sched" --port "$(port)" --grpc-port "$(port)" \
    --concurrent-tasks 1 --work-dir "$out" 2>"$out/executor-$i.log" & pids+=($!)
done
sleep 3
run cluster-2-executors-raw --cluster "df://127.0.0.1:$sched" "$data"
run cluster-2-executors-parquet --cluster "df://127.0.0.1:$sched" --parquet "$lake"

raw=$(find "$data/AWSLogs" -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {print s}')
pq=$(find "$lake" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s}')
python3 - "$raw" "$pq" "$(find "$lake" -name '*.parquet' | wc -l)" <<'PY'
import sys
raw, pq, files = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print(f"\nraw gzip: {raw/1e6:.1f} MB; Parquet lake: {pq/1e6:.1f} MB in {files} files ({pq/raw:.1%} of the gzip)")
PY
echo "convert to the lake: $convert_secs s"
echo "all engines returned the same alerts"
