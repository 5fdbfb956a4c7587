#!/usr/bin/env bash
# Fuzzes every target in tests/fuzz with libFuzzer (clang, ASan, UBSan) for
# SECONDS each (default 30), starting from its seed corpus in the repo.
# New inputs go to a scratch corpus, never into the repo; a crash stops the
# run, and its input is copied to tests/fuzz/corpus/<target>/ (the replay
# test then keeps it as a regression test) and printed as base64.
#   usage: tools/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^    name = "\(.*_fuzz\)",$/\1/p' tests/fuzz/BUILD.bazel)
fi
bazel build --config=fuzz --show_progress --show_progress_rate_limit=15 --curses=no \
  "${targets[@]/#/\/\/tests\/fuzz:}"
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "$scratch/$t.crashes"
  start=$(date +%s)
  set +e
  (cd "$scratch/$t.crashes" && "$bin/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "$scratch/$t" "$OLDPWD/tests/fuzz/corpus/$t" \
    >"$scratch/$t.log" 2>&1)
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$t.log")
  cov=$(grep -o 'cov: [0-9]*' "$scratch/$t.log" | tail -1)
  echo "$t: $(( $(date +%s) - start ))s, ${runs:-?} runs, ${cov:-cov: ?}, exit $rc"
  if [ "$rc" -ne 0 ]; then
    status=1
    tail -60 "$scratch/$t.log"
    for crash in "$scratch/$t.crashes"/*; do
      [ -f "$crash" ] || continue
      cp "$crash" "tests/fuzz/corpus/$t/$(basename "$crash")"
      echo "kept as tests/fuzz/corpus/$t/$(basename "$crash"): $(base64 -w0 "$crash")"
    done
  fi
done
exit "$status"
