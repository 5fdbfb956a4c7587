#!/bin/sh
# A demo worker, one cycle per run: fleet has pulled the latest shared state
# into $FLEET_STATE_DIR before this starts, and commits and pushes what it
# leaves there after it exits. Two files: the ledger every worker appends to
# (merged line by line), and this worker's own counter.
set -e
me="$FLEET_ENGINE-$FLEET_INSTANCE"
mine="$FLEET_STATE_DIR/workers/$me.json"
mkdir -p "$FLEET_STATE_DIR/workers"
n=$(sed -n 's/.*"cycles": *\([0-9]*\).*/\1/p' "$mine" 2>/dev/null || true)
n=$(( ${n:-0} + 1 ))
printf '{"cycles": %d, "last": "%s"}\n' "$n" "$(date +%T)" > "$mine"
echo "$(date +%T) $FLEET_ENGINE/$FLEET_INSTANCE cycle $n" >> "$FLEET_STATE_DIR/ledger.txt"
echo "cycle $n: wrote the ledger ($(wc -l < "$FLEET_STATE_DIR/ledger.txt") lines seen)"
