#!/usr/bin/env bash
# Builds and runs fleet's benchmarks; they print numbers (they are not tests).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/setup.sh
bazel build //tools/bench:all
bin="$(bazel info bazel-bin 2>/dev/null)"
ulimit -n 65536 2>/dev/null || true
"$bin/tools/bench/supervise_bench" "$@"
"$bin/tools/bench/health_bench"
"$bin/tools/bench/sync_bench"
"$bin/tools/bench/recovery_bench"
"$bin/tools/bench/cron_bench"
"$bin/tools/bench/bus_bench"
