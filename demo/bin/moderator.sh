#!/bin/sh
# A demo moderator, a long-running daemon: it pulls the shared state on
# demand (fleetctl sync), reviews the ledger, and commits its review itself
# (fleetctl commit), as a worker written in shell would.
while true; do
  fleetctl sync >/dev/null
  lines=$(wc -l < "$FLEET_STATE_DIR/ledger.txt" 2>/dev/null || echo 0)
  echo "$(date +%T) the ledger has $lines entries" > "$FLEET_STATE_DIR/review.txt"
  fleetctl commit -m "moderator: reviewed $lines entries" >/dev/null
  echo "reviewed $lines ledger entries"
  sleep 3
done
