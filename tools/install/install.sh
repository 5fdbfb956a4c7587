#!/usr/bin/env bash
# Installs fleet into a relocatable tree:
#   PREFIX/bin/{fleetd,fleetctl}
#   PREFIX/lib/fleet/fleet-plugin-host, PREFIX/lib/fleet/plugins/KIND/*.so
#   PREFIX/include/fleet/plugins/sdk/*.h, PREFIX/share/pkgconfig/fleet-plugin-sdk.pc
#   PREFIX/share/fleet/proto/..., PREFIX/share/fleet/examples/fleet.yaml
#   PREFIX/share/fleet/prometheus/fleet-alerts.yml, PREFIX/share/fleet/grafana/fleet.json
#   PREFIX/share/man/man1/{fleetd,fleetctl}.1, PREFIX/share/man/man5/fleet.yaml.5
#   PREFIX/share/bash-completion/completions/fleetctl
#   PREFIX/share/zsh/vendor-completions/_fleetctl
#   PREFIX/lib/systemd/system/fleetd.service
# fleetd finds its plugins and helper relative to itself, so the tree works
# wherever it is moved (the unit names the prefix given here).
#
#   bazel run //:install -- --prefix DIR [--unit-prefix DIR]
#   bash tools/install/install.sh --prefix DIR     (builds first)
# --unit-prefix: the prefix the unit's ExecStart names (default: --prefix;
# a package stages into one directory and installs to /usr).
set -euo pipefail

prefix="" unit_prefix=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --unit-prefix) unit_prefix=$2; shift 2 ;;
    --unit-prefix=*) unit_prefix=${1#--unit-prefix=}; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; exit 2; }
# Under `bazel run` a relative prefix is the caller's, not the runfiles'.
case "$prefix" in /*) ;; *) prefix="${BUILD_WORKING_DIRECTORY:-$PWD}/$prefix" ;; esac
unit_prefix=${unit_prefix:-$prefix}

# Where the built files are: this target's runfiles under `bazel run`, else
# a build of the workspace this script is in.
if [ -n "${RUNFILES_DIR:-}" ] && [ -d "$RUNFILES_DIR/fleet" ]; then
  src="$RUNFILES_DIR/fleet"
elif [ -d "$0.runfiles/fleet" ]; then
  src="$0.runfiles/fleet"
else
  workspace=$(cd "$(dirname "$0")/../.." && pwd)
  (cd "$workspace" && bazel build --show_progress_rate_limit=15 //tools/install:files >&2)
  src="$(cd "$workspace" && bazel info bazel-bin 2>/dev/null)"
  srcdir="$workspace"
fi
srcdir=${srcdir:-$src}

install -d "$prefix/bin" "$prefix/lib/fleet/plugins/health" "$prefix/lib/fleet/plugins/sync" \
  "$prefix/lib/fleet/plugins/recovery" "$prefix/share/man/man1" "$prefix/share/man/man5" \
  "$prefix/share/bash-completion/completions" "$prefix/share/zsh/vendor-completions" \
  "$prefix/share/fleet/examples" "$prefix/lib/systemd/system" "$prefix/share/pkgconfig" \
  "$prefix/share/fleet/prometheus" "$prefix/share/fleet/grafana"
install -m 0755 "$src/cli/fleetd" "$src/cli/fleetctl" "$prefix/bin/"
install -m 0755 "$src/cli/fleet-plugin-host" "$prefix/lib/fleet/"
install -m 0644 "$src/plugins/health/libfleet_health_builtin.so" "$prefix/lib/fleet/plugins/health/"
install -m 0644 "$src/plugins/sync/libfleet_sync_git.so" "$prefix/lib/fleet/plugins/sync/"
install -m 0644 "$src/plugins/recovery/libfleet_recovery_files.so" \
  "$prefix/lib/fleet/plugins/recovery/"
bash "$srcdir/tools/install_sdk.sh" "$prefix" >/dev/null
sed "s|@PREFIX@|$prefix|g" "$srcdir/tools/install/fleet-plugin-sdk.pc.in" \
  >"$prefix/share/pkgconfig/fleet-plugin-sdk.pc"

# Generated from fleetctl's own command table.
fleetctl="$prefix/bin/fleetctl"
"$fleetctl" man >"$prefix/share/man/man1/fleetctl.1"
"$fleetctl" completion bash >"$prefix/share/bash-completion/completions/fleetctl"
"$fleetctl" completion zsh >"$prefix/share/zsh/vendor-completions/_fleetctl"
install -m 0644 "$srcdir/tools/install/fleetd.1" "$prefix/share/man/man1/"
install -m 0644 "$srcdir/tools/install/fleet.yaml.5" "$prefix/share/man/man5/"
install -m 0644 "$srcdir/contrib/prometheus/fleet-alerts.yml" "$prefix/share/fleet/prometheus/"
install -m 0644 "$srcdir/contrib/grafana/fleet.json" "$prefix/share/fleet/grafana/"
rm -f "$prefix/share/fleet/examples/fleet.yaml"
(cd "$prefix/share/fleet/examples" && "$fleetctl" init fleet.yaml >/dev/null)
sed "s|@PREFIX@|$unit_prefix|g" "$srcdir/tools/install/fleetd.service.in" \
  >"$prefix/lib/systemd/system/fleetd.service"
chmod 0644 "$prefix"/share/man/man1/* "$prefix"/share/man/man5/* \
  "$prefix/lib/systemd/system/fleetd.service"
echo "fleet installed under $prefix (bin/fleetd, bin/fleetctl, lib/fleet, share)"
