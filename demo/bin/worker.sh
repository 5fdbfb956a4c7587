#!/bin/sh
# A demo worker: each cycle it takes the shared-state lock, appends a line to
# the shared ledger, and says what it did (its log is its progress).
state="$FLEET_RUN_DIR/../state"
mkdir -p "$state"
n=0
while true; do
  n=$((n + 1))
  fleetctl lock ledger --wait 10s -- sh -c \
    "echo \"$(date +%T) $FLEET_ENGINE/$FLEET_INSTANCE cycle $n\" >> '$state/ledger.txt'"
  echo "cycle $n: wrote the ledger"
  sleep 2
done
