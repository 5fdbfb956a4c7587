#!/bin/bash
# The Dockerfile, linted without a Docker daemon: known instructions only,
# a pinned base (a tag, not :latest), apt lists removed in the layer that
# makes them, no ADD of URLs, a non-root USER last, and every package it
# installs is one Debian bookworm has (apt-cache, as tools/setup.sh sees it).
set -euo pipefail
root="${TEST_SRCDIR:+$TEST_SRCDIR/$TEST_WORKSPACE}"
root="${root:-$(cd "$(dirname "$0")/../.." && pwd)}"
file="$root/contrib/docker/Dockerfile"
fail() { echo "Dockerfile: $*" >&2; exit 1; }
# Instructions, with continuation lines joined.
instructions="$(sed -e 's/#.*$//' "$file" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' | sed -e '/^[[:space:]]*$/d')"
while read -r word rest; do
  case "$word" in
    FROM|RUN|COPY|ENV|ARG|WORKDIR|USER|LABEL|EXPOSE|ENTRYPOINT|CMD|HEALTHCHECK|VOLUME|STOPSIGNAL|SHELL) ;;
    ADD) [[ "$rest" != *"://"* ]] || fail "ADD of a URL: $rest" ;;
    *) fail "unknown instruction '$word'" ;;
  esac
done <<<"$instructions"
base="$(grep -m1 '^FROM ' <<<"$instructions" | awk '{print $2}')"
[[ "$base" == *:* && "$base" != *:latest ]] || fail "FROM $base: pin a tag"
grep -q 'apt-get install' <<<"$instructions" || fail "no packages installed?"
grep 'apt-get install' <<<"$instructions" | grep -q 'rm -rf /var/lib/apt/lists' ||
  fail "apt lists left in the layer"
last_user="$(grep '^USER ' <<<"$instructions" | tail -1 | awk '{print $2}')"
[[ -n "$last_user" && "$last_user" != root && "$last_user" != 0* ]] || fail "runs as root"
for pkg in $(grep 'apt-get install' <<<"$instructions" | sed -e 's/.*--no-install-recommends//' -e 's/&&.*//'); do
  apt-cache show "$pkg" >/dev/null 2>&1 || fail "no Debian package $pkg"
done
echo "Dockerfile: ok"
