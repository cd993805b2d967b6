#!/usr/bin/env bash
# The standing race: Trailhound and Suzaku 0.2.1 (Yamato Security's single-threaded Rust Sigma
# engine for CloudTrail) in turn on the same data with the same rules folder (rules/sigma).
#
#   bench/peers.sh [SET ...]     # SET: 1 or 10 (the generated 1 GB / 10 GB sets), real
#                                #      (../shared/data); default: 1 real
#
# For each set it prints wall time, CPU time and peak RSS of each tool, the ratios, and per Sigma
# rule the events each tool's detection matched (Trailhound's `sigma_matched_events` statistic,
# Suzaku's CSV rows by RuleID), flagging every rule on which they differ; docs/sigma.md explains
# the differences. Results go in bench/results/ by hand, with the machine line printed first.
#
# Suzaku is built from ../shared/peers/suzaku-0.2.1 (its source as published; its crates come
# from the registry) in a copy outside this repository: $PEERS_DIR, default
# ~/.cache/trailhound-peers. Nothing of it enters the repository. BIN=path/to/trailhound uses that
# binary (no build). Trailhound runs with the shipped rules plus the two that are off by default,
# so that both tools run every rule of the folder; it writes a fresh SQLite store (the full hunt
# a user runs), with --threads as given in TRAILHOUND_THREADS (default: every core).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
sets=("$@")
[ ${#sets[@]} -gt 0 ] || sets=(1 real)
peers=${PEERS_DIR:-$HOME/.cache/trailhound-peers}
suzaku_src=$repo/../shared/peers/suzaku-0.2.1
suzaku_dir=$peers/suzaku-0.2.1
suzaku=$suzaku_dir/target/release/suzaku
case "$(realpath -m "$peers")/" in
  "$repo"/*) echo "PEERS_DIR must be outside the repository" >&2; exit 2 ;;
esac

if [ -z "${BIN:-}" ]; then
  cargo build --release -q
fi
bin=$(realpath "${BIN:-target/release/trailhound}")
if [ ! -x "$suzaku" ]; then
  echo "building Suzaku 0.2.1 in $suzaku_dir ..." >&2
  mkdir -p "$peers"
  rm -rf "$suzaku_dir"
  cp -r "$suzaku_src" "$suzaku_dir"
  chmod -R u+w "$suzaku_dir"
  (cd "$suzaku_dir" && cargo build --release --locked -q)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/race.toml" <<'EOF'
# Every rule of rules/sigma, as Suzaku runs them: the two shipped off by default too.
[sigma]
enable = ["37e1e3d8-3bd8-4f8e-904c-42ac8138c884", "77caf516-34e5-4df9-b4db-20744fea0a60"]
EOF

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB"
echo "trailhound: $("$bin" --version)   suzaku: $("$suzaku" --version 2>/dev/null | head -1 || echo 0.2.1)"

for set in "${sets[@]}"; do
  case $set in
    real) data=$(realpath "$repo/../shared/data") ;;
    *)
      data=$repo/target/bench-data/hunt-${set}gb
      if [ ! -f "$data/manifest.json" ]; then
        rm -rf "$data"
        events=$(( set * 1000000000 / 1320 ))
        echo "generating $events events (~${set} GB uncompressed) into $data ..." >&2
        "$bin" generate "$data" --events "$events" --days 15 --keys 200 --compression-level 1 >/dev/null
      fi
      data=$data/AWSLogs
      ;;
  esac
  echo
  echo "== set $set: $data"
  rm -f "$work/alerts.db" "$work/stats.json"
  /usr/bin/time -f "%e %U %S %M" -o "$work/th.time" "$bin" hunt "$data" --no-progress \
    --config "$work/race.toml" --store "$work/alerts.db" --format jsonl --output /dev/null \
    --stats "$work/stats.json" ${TRAILHOUND_THREADS:+--threads "$TRAILHOUND_THREADS"} 2>"$work/th.err" \
    || { cat "$work/th.err"; exit 1; }
  rm -f "$work/suzaku.csv"
  # Suzaku reads config/default_profile.yaml relative to the working directory.
  (cd "$suzaku_dir" && /usr/bin/time -f "%e %U %S %M" -o "$work/sz.time" "$suzaku" aws-ct-timeline \
    -d "$data" -r "$repo/rules/sigma" -o "$work/suzaku.csv" -C -K -q -T -N >"$work/sz.out" 2>&1) \
    || { cat "$work/sz.out"; exit 1; }
  python3 - "$work" "$repo/rules/sigma" <<'PY'
import csv, json, os, re, sys
work, rules_dir = sys.argv[1], sys.argv[2]
def timing(name):
    wall, user, sys_, rss = open(f"{work}/{name}.time").read().split()
    return float(wall), float(user) + float(sys_), int(rss) / 1024
stats = json.load(open(f"{work}/stats.json"))
tw, tc, tr = timing("th"); sw, sc, sr = timing("sz")
print(f"{'':<11} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
print(f"{'trailhound':<11} {tw:8.2f} {tc:8.2f} {tr:12.0f}   {stats['events']} events, "
      f"{sum(stats['alerts_by_rule'].values())} alerts, {stats['decompressed_bytes'] / 1e6 / tw:.0f} MB/s")
print(f"{'suzaku':<11} {sw:8.2f} {sc:8.2f} {sr:12.0f}")
print(f"{'ratio':<11} {tw / sw:8.3f} {tc / sc:8.3f} {tr / sr:12.2f}   (trailhound / suzaku; wall: {sw / tw:.1f}x faster)")
# Titles of the rules in the folder, by id.
titles = {}
for root, _, files in os.walk(rules_dir):
    for f in files:
        if f.endswith((".yml", ".yaml")):
            text = open(os.path.join(root, f), encoding="utf-8").read()
            i = re.search(r"^id:\s*(\S+)", text, re.M); t = re.search(r"^title:\s*(.+)$", text, re.M)
            if i and t:
                titles.setdefault(i.group(1).strip("'\""), t.group(1).strip().strip("'\""))
ours = stats.get("sigma_matched_events", {})
theirs = {}
with open(f"{work}/suzaku.csv", newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        theirs[row["RuleID"]] = theirs.get(row["RuleID"], 0) + 1
ids = sorted(set(ours) | set(theirs), key=lambda i: (-(ours.get(i, 0) + theirs.get(i, 0)), i))
same = [i for i in ids if ours.get(i, 0) == theirs.get(i, 0)]
print(f"matched events per rule: {len(ids)} rules matched anything, {len(same)} agree, "
      f"{len(ids) - len(same)} differ; in all trailhound {sum(ours.values())}, suzaku {sum(theirs.values())}")
print(f"  {'trailhound':>10} {'suzaku':>10}  rule")
for i in ids:
    a, b = ours.get(i, 0), theirs.get(i, 0)
    flag = "  " if a == b else "≠ "
    print(f"{flag}{a:>10} {b:>10}  {i[:36]:<36} {titles.get(i, '')[:60]}")
PY
done
