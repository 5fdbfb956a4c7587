#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite (bazel test //...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
bazel test //... --test_summary=short 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -cE '^//.* PASSED' "$log" || true)
failed=$(grep -cE '^//.* (FAILED|TIMEOUT|NO STATUS|FAILED TO BUILD)' "$log" || true)
echo "${passed} passed, ${failed} failed"
exit "$status"
