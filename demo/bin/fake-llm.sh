#!/bin/sh
# A stand-in for an LLM command-line client. It reads the shared ledger and
# "answers" in JSON; every second call it answers malformed JSON, which the
# engine's output checks reject (nothing is delivered from that run).
count_file="${FLEET_RUN_DIR:-.}/fake-llm.count"
n=$(( $(cat "$count_file" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$count_file"
lines=$(wc -l < "${FLEET_STATE_DIR:-.}/ledger.txt" 2>/dev/null || echo 0)
echo "thinking about $lines ledger lines (call $n)" >&2
if [ $((n % 2)) -eq 0 ]; then
  printf '{"summary": "the ledger has %s lines", "action": ' "$lines"
  exit 0
fi
printf '{"summary": "the ledger has %s lines", "action": "HOLD", "call": %s}\n' "$lines" "$n"
