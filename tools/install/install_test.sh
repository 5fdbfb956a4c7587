#!/usr/bin/env bash
# The installed tree and the Debian package, for real:
#   1. install.sh into a prefix, move the tree, run a fleet with the built-in
#      health plugin from the moved copy;
#   2. package_deb.sh: metadata (dependencies from the binaries), contents,
#      the unit passes `systemd-analyze verify`;
#   3. as root, where no fleet package is installed: dpkg -i, then
#      `fleetctl init && fleetd & fleetctl status` in an empty directory with
#      no flags, then dpkg --purge leaves nothing behind.
set -euo pipefail
export RUNFILES_DIR=${RUNFILES_DIR:-$TEST_SRCDIR}
here="$RUNFILES_DIR/fleet/tools/install"
# Short: a unix socket's path must fit in 108 bytes.
tmp=$(mktemp -d /tmp/fleet-install.XXXXXX)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
wait_for() {  # wait_for SECONDS CMD...: until CMD succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

echo "== 1. a relocatable tree"
bash "$here/install.sh" --prefix "$tmp/first" >/dev/null
mv "$tmp/first" "$tmp/moved"
for f in bin/fleetd bin/fleetctl lib/fleet/fleet-plugin-host \
  lib/fleet/plugins/health/libfleet_health_builtin.so share/man/man1/fleetctl.1 \
  share/man/man5/fleet.yaml.5 share/bash-completion/completions/fleetctl \
  share/fleet/examples/fleet.yaml lib/systemd/system/fleetd.service \
  include/fleet/plugins/sdk/sdk.h share/pkgconfig/fleet-plugin-sdk.pc \
  share/fleet/prometheus/fleet-alerts.yml share/fleet/grafana/fleet.json; do
  [ -s "$tmp/moved/$f" ] || fail "the tree lacks $f"
done
mkdir "$tmp/fleet"
cat >"$tmp/fleet/fleet.yaml" <<'YAML'
name: moved
run_dir: run
engines:
  - name: w
    shell: 'while true; do echo tick; sleep 0.2; done'
    health: {log_max_age: 5s, period: 300ms}
YAML
(cd "$tmp/fleet" && exec "$tmp/moved/bin/fleetd" --config fleet.yaml >fleetd.log 2>&1) &
fleetd=$!
ctl() { (cd "$tmp/fleet" && "$tmp/moved/bin/fleetctl" "$@"); }
wait_for 15 sh -c "cd '$tmp/fleet' && '$tmp/moved/bin/fleetctl' health | grep -q 'yes.*RUNNING.*healthy'" ||
  { cat "$tmp/fleet/fleetd.log"; ctl health || true; fail "the moved tree's fleet is not healthy"; }
ctl plugins | grep -q "$tmp/moved/lib/fleet/plugins/health/libfleet_health_builtin.so" ||
  fail "the health plugin did not come from the moved tree: $(ctl plugins)"
ctl shutdown >/dev/null
wait "$fleetd" || fail "fleetd exited with $?"

echo "== 2. the Debian package"
deb=$(bash "$here/package_deb.sh" "$tmp/deb" 2>/dev/null)
[ -f "$deb" ] || fail "no package built"
info=$(dpkg-deb --info "$deb")
grep -q "^ Package: fleet$" <<<"$info" || fail "no Package: fleet in $info"
grep -q "^ Depends: .*libgit2" <<<"$info" || fail "libgit2 is not a dependency: $info"
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/fleetd ./usr/bin/fleetctl ./usr/lib/fleet/plugins/sync/libfleet_sync_git.so \
  ./usr/lib/systemd/system/fleetd.service ./usr/share/man/man1/fleetctl.1.gz; do
  grep -qx "$f" <<<"$contents" || fail "the package lacks $f"
done
mkdir "$tmp/unpacked"
dpkg-deb -x "$deb" "$tmp/unpacked"
grep -q "^ExecStart=/usr/bin/fleetd " "$tmp/unpacked/usr/lib/systemd/system/fleetd.service" ||
  fail "the unit does not run /usr/bin/fleetd"
if command -v systemd-analyze >/dev/null; then
  # verify resolves ExecStart on this machine: point it at the unpacked copy.
  sed "s|/usr/bin/fleetd|$tmp/unpacked/usr/bin/fleetd|" \
    "$tmp/unpacked/usr/lib/systemd/system/fleetd.service" >"$tmp/fleetd.service"
  # (--man=no: the manuals are in the package, not installed yet.)
  systemd-analyze verify --man=no "$tmp/fleetd.service" 2>&1 | tee "$tmp/verify.log"
  [ ! -s "$tmp/verify.log" ] || fail "systemd-analyze verify complained"
fi

echo "== 3. installed for real"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if [ "$(id -u)" != 0 ] || dpkg -s fleet >/dev/null 2>&1; then
  echo "skipped: needs root and no fleet package installed already"
  exit 0
fi
dpkg -i "$deb" >/dev/null || fail "dpkg -i failed"
trap 'dpkg --purge fleet >/dev/null 2>&1 || true; cleanup' EXIT
getent passwd fleet >/dev/null || fail "no fleet user"
mkdir "$tmp/empty"
cd "$tmp/empty"
unset FLEET_RUN_DIR FLEET_CONFIG
fleetctl init >/dev/null
(exec fleetd >fleetd.log 2>&1) &
fleetd=$!
wait_for 15 fleetctl status || { cat fleetd.log; fleetctl status || true; fail "status after init+fleetd"; }
fleetctl shutdown >/dev/null
wait "$fleetd" || fail "the installed fleetd exited with $?"
dpkg --purge fleet >/dev/null
trap cleanup EXIT
[ ! -e /usr/bin/fleetd ] && [ ! -e /usr/lib/fleet ] || fail "files left after purge"
! getent passwd fleet >/dev/null || fail "the fleet user was left after purge"
echo "PASS"
