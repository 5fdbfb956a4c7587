#!/usr/bin/env bash
# Installs fleet's plugin SDK for third parties: the C ABI header, the
# header-only C++ SDK and the plugin payload protos.
#   usage: tools/install_sdk.sh PREFIX     (e.g. /usr/local)
# Result: PREFIX/include/fleet/plugins/sdk/{fleet_plugin.h,sdk.h,untrusted_file.h}
#         PREFIX/share/fleet/proto/fleet/plugin/v1/*.proto
set -euo pipefail
prefix=${1:?usage: tools/install_sdk.sh PREFIX}
src=$(cd "$(dirname "$0")/.." && pwd)
install -d "$prefix/include/fleet/plugins/sdk" "$prefix/share/fleet/proto/fleet/plugin/v1"
install -m 0644 "$src/plugins/sdk/fleet_plugin.h" "$src/plugins/sdk/sdk.h" \
  "$prefix/include/fleet/plugins/sdk/"
install -m 0644 "$src"/proto/fleet/plugin/v1/*.proto "$prefix/share/fleet/proto/fleet/plugin/v1/"
echo "fleet plugin SDK installed under $prefix (include/fleet, share/fleet/proto)"
