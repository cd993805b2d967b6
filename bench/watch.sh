#!/usr/bin/env bash
# Continuous-mode benchmark: does `trailhound watch` keep up with a steady stream of new files?
#
#   bench/watch.sh [EVENTS_PER_S] [SECONDS]     # default 1000 events/s for 60 s
#
# Uses the decode bench's generated set (target/bench-data/300000: 300,000 events over 15 days in
# the S3 layout, about 11 events per file), delivers its files into a watched folder in delivery
# order at the given event rate (each file written aside and renamed into place), with
# `trailhound watch --interval 1` running on it with every rule (D1-D5 and the Sigma rules).
# Every second it samples the lag: events delivered minus events the watcher has checkpointed.
# Prints the delivered rate, the lag (max, at the end), and how long after the last delivery the
# checkpoint held everything.
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-1000}
secs=${2:-60}
cargo build --release -q
bin=$PWD/target/release/trailhound
data=target/bench-data/300000
[ -f "$data/manifest.json" ] || "$bin" generate "$data" --events 300000
work=$(mktemp -d)
trap 'kill $watcher 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/watched"
"$bin" watch "$work/watched" --store "$work/w.db" --interval 1 >/dev/null 2>"$work/log" &
watcher=$!
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
python3 - "$data" "$work" "$rate" "$secs" <<'PY'
import gzip, json, os, re, sqlite3, sys, time
data, work, rate, secs = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
files = []
for root, _, names in os.walk(os.path.join(data, "AWSLogs")):
    for n in names:
        m = re.search(r"_(\d{8}T\d{4}Z)_", n)
        if m and n.endswith(".json.gz"):
            files.append((m.group(1), os.path.join(root, n)))
files.sort()
def events(path):
    with gzip.open(path) as f:
        return len(json.load(f)["Records"])
def checkpointed(db):
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        keys = [r[0] for r in c.execute("SELECT key FROM watched_files")]
        c.close()
        return keys
    except sqlite3.Error:
        return []
db = os.path.join(work, "w.db")
count = {}
start = time.time(); sent = 0; i = 0; lags = []; next_sample = start + 1
while time.time() - start < secs and i < len(files):
    # Deliver what is due at this moment.
    while i < len(files) and sent < rate * (time.time() - start):
        src = files[i][1]
        rel = os.path.relpath(src, data)
        dst = os.path.join(work, "watched", rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        tmp = os.path.join(os.path.dirname(dst), "." + os.path.basename(dst) + ".part")
        with open(src, "rb") as a, open(tmp, "wb") as b:
            b.write(a.read())
        os.rename(tmp, dst)
        n = events(src); count[dst] = n; sent += n; i += 1
    if time.time() >= next_sample:
        done = sum(count.get(k, 0) for k in checkpointed(db))
        lags.append(sent - done)
        next_sample += 1
    time.sleep(0.01)
elapsed = time.time() - start
end = time.time()
while True:
    done = sum(count.get(k, 0) for k in checkpointed(db))
    if done >= sent or time.time() - end > 300:
        break
    time.sleep(0.2)
catch_up = time.time() - end
print(f"delivered {sent} events in {i} files over {elapsed:.0f} s: {sent/elapsed:.0f} events/s")
print(f"lag (events delivered, not yet processed), sampled each second: max {max(lags)}, "
      f"median {sorted(lags)[len(lags)//2]}, at the end {lags[-1]}")
print(f"all delivered events processed {catch_up:.1f} s after the last delivery "
      f"({'kept up' if catch_up < 5 else 'fell behind'}; the poll interval is 1 s)")
PY
kill -TERM $watcher; wait $watcher || true
grep -c "new files" "$work/log" | xargs echo "batches:"
