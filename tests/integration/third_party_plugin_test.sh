#!/usr/bin/env bash
# A third party's health check, end to end: install the SDK, build the example
# plugin with plain g++ against it, and have fleetd load it and act on it.
set -euo pipefail
R="$TEST_SRCDIR/fleet"
tmp=$(mktemp -d /tmp/fleet-3p.XXXXXX)
chmod 0755 "$tmp"
fleetd_pid=""
cleanup() {
  [ -n "$fleetd_pid" ] && kill "$fleetd_pid" 2>/dev/null && wait "$fleetd_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- fleetd log"; cat "$tmp/fleetd.log" || true; exit 1; }

bash "$R/tools/install_sdk.sh" "$tmp/sdk"
so=$(bash "$R/examples/plugins/disk_free/build.sh" "$tmp/sdk" "$tmp/out" | tail -n 1)
[ -f "$so" ] || fail "the example did not build"

cat > "$tmp/fleet.yaml" <<YAML
name: third-party
run_dir: run
plugins:
  - {file: "$so", kind: health}
engines:
  - name: roomy
    command: ["$R/tests/testdata/child"]
    health: {check: com.example.health.disk_free, period: 200ms, plugin: {path: /, min_free_mb: 1}}
  - name: cramped
    command: ["$R/tests/testdata/child"]
    backoff: {initial: 1m}
    health: {check: com.example.health.disk_free, period: 200ms, plugin: {path: /, min_free_mb: 999999999}}
YAML
"$R/cli/fleetd" --config "$tmp/fleet.yaml" 2> "$tmp/fleetd.log" &
fleetd_pid=$!
export FLEET_RUN_DIR="$tmp/run"
for _ in $(seq 200); do [ -S "$tmp/run/ctl/fleetd.sock" ] && break; sleep 0.05; done
fleetctl() { "$R/cli/fleetctl" "$@"; }

fleetctl plugins | grep -q "com.example.health.disk_free  health  1.0.0" || fail "not listed: $(fleetctl plugins)"
ok=""
for _ in $(seq 100); do
  out=$(fleetctl health || true)
  if echo "$out" | grep -qE "roomy/0 +yes +RUNNING +healthy: free space on / is [0-9]+ MB >= 1 MB" &&
     echo "$out" | grep -qE "cramped/0 +NO +BACKOFF"; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || fail "verdicts not applied: $out"
{ fleetctl status || true; } | grep -qE "cramped/0 .*unhealthy: free space on / is [0-9]+ MB < 999999999 MB" ||
  fail "no reason in status: $(fleetctl status)"
echo "third-party plugin built, loaded and acted on"
