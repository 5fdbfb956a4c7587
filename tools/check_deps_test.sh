#!/usr/bin/env bash
# The dependency rules of ../shared/DESIGN.md, checked on Bazel's own graph
# (genquery outputs, one dependency label per line).
set -euo pipefail
fail=0
check() {  # check FILE WHAT PATTERN [EXCEPT]: FILE must list nothing matching PATTERN
           # (but EXCEPT).
  local hits
  if [ ! -s "$1" ]; then
    echo "MISSING: $1 (the dependency graph was not generated)"
    fail=1
    return
  fi
  hits=$(grep -E "$3" "$1" | grep -vE "${4:-^$}" || true)
  if [ -n "$hits" ]; then
    echo "FORBIDDEN: $2:"
    echo "$hits" | sed 's/^/  /'
    fail=1
  fi
}
dir="$(dirname "$0")"
check "$dir/fleetctl_deps" "fleetctl reaches past the control API" \
  '^//core/(supervisor|config|daemon|control)|yaml_cpp|libgit2|^//plugins/' \
  '^//plugins/sdk:untrusted_file'  # std-only: how anyone reads a worker's file.
check "$dir/core_deps" "core depends on a plugin implementation" \
  '^//plugins/(health|sync|recovery)'
check "$dir/proto_deps" "proto depends on something but protobuf" \
  '^//(core|cli|plugins|tests)/'
check "$dir/supervisor_deps" "the supervision core links a feature module (modules register in core/daemon/modules.cc)" \
  '^//core/modules/'
check "$dir/plugin_deps" "a built-in plugin links fleet's core or CLI (it must build as a third party's does)" \
  '^//(core|cli)/'

# No two folders of core/ depend on each other, however indirectly: the
# package-level edges, ordered by tsort, which names a loop if there is one.
if [ ! -s "$dir/core_graph" ]; then
  echo "MISSING: $dir/core_graph"
  fail=1
else
  edges=$(sed -nE 's|^ *"//(core/[^:"]+):[^"]*" -> "//(core/[^:"]+):[^"]*"$|\1 \2|p' "$dir/core_graph" |
          awk '$1 != $2' | sort -u)
  if [ -z "$edges" ]; then
    echo "MISSING: no edges in $dir/core_graph"
    fail=1
  elif ! loops=$(echo "$edges" | tsort 2>&1 >/dev/null) || [ -n "$loops" ]; then
    echo "FORBIDDEN: folders of core/ depend on each other in a cycle:"
    echo "$loops" | sed 's/^/  /'
    fail=1
  fi
fi

[ "$fail" -eq 0 ] && echo "dependency rules hold"
exit "$fail"
