#!/usr/bin/env bash
# Installs what fleet needs to build and test on Debian bookworm, and nothing
# else. Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(
  bazel-bootstrap bazel-rules-java default-jdk-headless
  build-essential pkg-config git
  libabsl-dev libprotobuf-dev protobuf-compiler
  libgrpc++-dev protobuf-compiler-grpc
  libgit2-dev libyaml-cpp-dev libre2-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 procps util-linux strace tzdata systemd
  clang libclang-rt-14-dev
  prometheus
)

# Kubernetes' schemas for the export tests (kubernetes-models), pinned by
# tools/k8s/package-lock.json, into tools/k8s/node_modules (not global).
k8s_models() {
  local dir
  dir="$(cd "$(dirname "$0")/k8s" && pwd)"
  [ -d "$dir/node_modules/kubernetes-models" ] && return 0
  echo "fleet setup: installing kubernetes-models into $dir/node_modules" >&2
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# Node and npm for the Kubernetes schema tests: Debian's, unless a node is
# already there (its own npm comes with it).
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  k8s_models
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "fleet setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# prometheus (and promtool) are for the tests, which start their own
# server: the package's service is never started (policy-rc.d says no,
# where there is none already) nor enabled.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  policy=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod 755 "$policy"
  trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# (Only one this script installed: an operator's own Prometheus is theirs.)
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ] &&
  systemctl is-enabled prometheus >/dev/null 2>&1; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
k8s_models
