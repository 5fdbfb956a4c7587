#!/bin/sh
# A work-bus worker: claims 'count' or 'summarise' tasks with fleetctl, does
# them (slowly enough to watch), and hands in the result.
while true; do
  task=$(fleetctl bus claim --capability count) ||
    task=$(fleetctl bus claim --capability summarise) || { sleep 0.5; continue; }
  id=$(printf '%s' "$task" | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')
  echo "working on $id"
  sleep 1
  printf 'done by %s.%s: %s\n' "$FLEET_ENGINE" "$FLEET_INSTANCE" "$id" |
    fleetctl bus complete "$id" --result -
done
