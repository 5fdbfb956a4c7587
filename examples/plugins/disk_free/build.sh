#!/usr/bin/env bash
# Builds the example plugin the way a third party would: the installed SDK,
# protoc for the payload protos, plain g++, and the system's protobuf-lite.
#   usage: build.sh SDK_PREFIX OUT_DIR
set -euo pipefail
sdk=${1:?usage: build.sh SDK_PREFIX OUT_DIR}
out=${2:?usage: build.sh SDK_PREFIX OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out/gen"
protoc -I"$sdk/share/fleet" --cpp_out="$out/gen" "$sdk/share/fleet/proto/fleet/plugin/v1/health.proto"
g++ -std=c++17 -O2 -shared -fPIC -fvisibility=hidden -Wl,-z,defs \
  -I"$sdk/include/fleet" -I"$out/gen" \
  "$here/disk_free.cc" "$out/gen/proto/fleet/plugin/v1/health.pb.cc" \
  -lprotobuf-lite -o "$out/libcom_example_disk_free.so"
chmod 0755 "$out/libcom_example_disk_free.so"
echo "$out/libcom_example_disk_free.so"
