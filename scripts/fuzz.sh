#!/usr/bin/env bash
# Runs every fuzz target for a bounded time over its committed seeds (fuzz/seeds/TARGET, which
# also hold every crash ever found, so each run replays them) and a scratch corpus. Any crash,
# timeout or out-of-memory fails the script, with the input saved under fuzz/artifacts/TARGET/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 30 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); stable Rust with RUSTC_BOOTSTRAP=1
# (see docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-30}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(decode config sigma api_query checkpoint)
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build
for t in "${targets[@]}"; do
  rm -rf "artifacts/$t"
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "fuzz: $t for ${seconds}s"
  cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
    -print_final_stats=1 2>&1 | grep -E "^(#[0-9]+ *DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|artifact_prefix|Test unit written)" || true
  # cargo fuzz exits non-zero on a finding; the pipe above hides it, so check the artifacts.
  if compgen -G "artifacts/$t/*" >/dev/null; then
    echo "fuzz: $t found an input that fails: $(ls "artifacts/$t")" >&2
    exit 1
  fi
done
echo "fuzz: no finding"
