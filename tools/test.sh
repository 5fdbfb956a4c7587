#!/usr/bin/env bash
# Installs what is missing, then runs everything CI runs:
#   1. the whole suite (bazel test //...), fuzz corpora replayed included;
#   2. the whole suite again under AddressSanitizer + UBSan (--config=asan);
#   3. the threaded unit tests under ThreadSanitizer (--config=tsan);
#   4. every fuzz target for a short while (tools/fuzz.sh, clang + libFuzzer).
# FLEET_QUICK=1 runs only 1. Each part prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
log=$(mktemp)
stamp=$(mktemp)  # Test logs newer than this are this run's.
trap 'rm -f "$log" "$stamp"' EXIT
status=0
passed=0
failed=0

# Runs bazel test with the given flags; counts its targets.
suite() {
  local name=$1
  shift
  local start=$SECONDS
  echo "== $name: bazel test $*"
  set +e
  # Progress every 15 s (the .bazelrc keeps interactive builds quiet): a
  # first build on a fresh machine takes minutes and must look alive.
  bazel test --test_summary=short --show_progress --show_progress_rate_limit=15 --curses=no \
    "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  passed=$((passed + $(grep -cE '^//.* PASSED' "$log" || true)))
  failed=$((failed + $(grep -cE '^//.* (FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)' "$log" || true)))
  [ "$rc" -eq 0 ] || status=$rc
  echo "== $name: exit $rc in $((SECONDS - start))s"
}

suite "suite" //...
if [ "${FLEET_QUICK:-0}" != 1 ]; then
  # (Packaging is no memory-safety test: tools/install stays out.)
  suite "asan" --config=asan -- //... -//tools/bench/... -//tools/install/...
  suite "tsan" --config=tsan //core/plugin_host:all //core/sync:all //core/bus:all \
    //core/health:all //core/os:all //core/supervisor:clock_jump_test //core/metrics:all \
    //core/supervisor:event_journal_test
  # Exploring is not a gate: a run may find a new input any day, and CI must
  # say the same of the same commit. What a run finds is printed (with its
  # base64) to be fixed and kept in tests/fuzz/corpus, where the replay in
  # the suite above is the gate. A fuzzer that cannot be built or run fails.
  start=$SECONDS
  echo "== fuzz: tools/fuzz.sh ${FLEET_FUZZ_SECONDS:-20}"
  set +e
  bash tools/fuzz.sh "${FLEET_FUZZ_SECONDS:-20}" 2>&1 | tee "$log"
  fuzz_rc=${PIPESTATUS[0]}
  set -e
  if grep -q '^kept as ' "$log"; then
    echo "== fuzz: NEW FINDINGS above (kept as ...): fix them and commit the inputs"
    passed=$((passed + 1))
  elif [ "$fuzz_rc" -eq 0 ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    status=1
  fi
  echo "== fuzz: in $((SECONDS - start))s"
fi
# What failed, last: CI shows the end of this output.
if [ "$failed" -gt 0 ]; then
  for f in $(find -L bazel-out/*/testlogs -name test.xml -newer "$stamp" 2>/dev/null |
    xargs grep -l '<failure' 2>/dev/null | sort -u); do
    echo "== failed: ${f%/test.xml}"
    grep -A3 -E 'Failure|runs twice|Expected|Which is|Value of' "${f%.xml}.log" | head -40
  done
fi
echo "${passed} passed, ${failed} failed"
exit "$status"
