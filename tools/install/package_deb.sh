#!/usr/bin/env bash
# Builds fleet's Debian package from the installed tree (install.sh):
#   bash tools/install/package_deb.sh [OUT_DIR]      -> OUT_DIR/fleet_VERSION-1_ARCH.deb
# Runtime libraries become package dependencies (dpkg-shlibdeps), the unit
# is /usr/lib/systemd/system/fleetd.service, and installing creates the
# system user `fleet` (for `User=fleet`, see the unit). Nothing is started:
# the service waits for /etc/fleet/fleet.yaml (an example is in
# /usr/share/fleet/examples).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$PWD}
case "$out" in /*) ;; *) out="${BUILD_WORKING_DIRECTORY:-$PWD}/$out" ;; esac
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

bash "$here/install.sh" --prefix "$stage/root/usr" --unit-prefix /usr >&2
# The SDK (headers, pkg-config, protos) ships too: third parties build
# health checks against the installed package.
install -d "$stage/root/etc/fleet" "$stage/root/var/lib/fleet"
# Debian's way: stripped binaries, compressed manuals.
strip --strip-unneeded "$stage"/root/usr/bin/* "$stage"/root/usr/lib/fleet/fleet-plugin-host \
  "$stage"/root/usr/lib/fleet/plugins/*/*.so
gzip -9n "$stage"/root/usr/share/man/man1/*.1 "$stage"/root/usr/share/man/man5/*.5

version=$("$stage/root/usr/bin/fleetctl" version | sed -n 's/^fleetctl //p')
arch=$(dpkg --print-architecture)
# dpkg-shlibdeps wants a source package around the binaries it reads.
mkdir -p "$stage/src/debian"
printf 'Source: fleet\n\nPackage: fleet\nArchitecture: any\n' >"$stage/src/debian/control"
binaries=("$stage"/root/usr/bin/* "$stage"/root/usr/lib/fleet/fleet-plugin-host
  "$stage"/root/usr/lib/fleet/plugins/*/*.so)
depends=$(cd "$stage/src" && dpkg-shlibdeps -O "${binaries[@]/#/-e}" 2>/dev/null |
  sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package_deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
size=$(du -sk "$stage/root" | cut -f1)

install -d "$stage/root/DEBIAN"
cat >"$stage/root/DEBIAN/control" <<CONTROL
Package: fleet
Version: ${version}-1
Architecture: ${arch}
Maintainer: fleet developers <fleet@localhost>
Installed-Size: ${size}
Depends: ${depends}, adduser
Recommends: git
Section: admin
Priority: optional
Homepage: https://localhost/fleet
Description: supervisor for always-on fleets of cooperating processes
 fleetd launches engines declared in YAML (daemons, cron jobs, scheduled
 LLM calls), N replicas each, restarts what dies, judges health as
 progress, keeps shared state in Git, and survives its own restarts
 without losing or duplicating the workload. fleetctl controls it.
CONTROL
cat >"$stage/root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd fleet >/dev/null; then
    adduser --system --group --home /var/lib/fleet --no-create-home \
      --gecos "fleet supervisor" fleet >/dev/null
  fi
  chown fleet:fleet /var/lib/fleet
  if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
fi
exit 0
POSTINST
cat >"$stage/root/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop fleetd.service >/dev/null 2>&1 || true
fi
exit 0
PRERM
cat >"$stage/root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
if [ "$1" = purge ] && getent passwd fleet >/dev/null; then
  deluser --system fleet >/dev/null 2>&1 || true
fi
exit 0
POSTRM
chmod 0755 "$stage"/root/DEBIAN/postinst "$stage"/root/DEBIAN/prerm "$stage"/root/DEBIAN/postrm
deb="$out/fleet_${version}-1_${arch}.deb"
dpkg-deb --build --root-owner-group "$stage/root" "$deb" >&2
echo "$deb"
