#!/bin/sh
# A demo moderator: starts only once every worker runs, then reviews the ledger.
state="$FLEET_RUN_DIR/../state"
while true; do
  lines=$(wc -l < "$state/ledger.txt" 2>/dev/null || echo 0)
  echo "ledger has $lines entries"
  sleep 3
done
