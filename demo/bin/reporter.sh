#!/bin/sh
# A demo cron job: counts its runs in a file beside it; every third run hangs
# (a stuck network call, say) and the engine's timeout stops it.
count_file="${FLEET_RUN_DIR:-.}/reporter.count"
n=$(( $(cat "$count_file" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$count_file"
echo "report #$n at $(date +%T)"
if [ $((n % 3)) -eq 0 ]; then
  echo "report #$n: waiting for an answer that never comes"
  exec sleep 1000
fi
