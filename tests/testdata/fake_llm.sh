#!/bin/sh
# A stand-in for an LLM command-line client, for intelligence-engine tests.
# $1 says how it behaves this time:
#   good       a JSON answer with the expected keys
#   malformed  JSON cut off halfway
#   endless    answers forever
#   hang       never answers
#   ask        asks a question on stdin first (and answers with what it read)
#   ratelimit  says it is rate limited (exit 75, message on stderr)
case "$1" in
  good) echo '{"summary": "markets calm", "action": "HOLD", "confidence": 0.8}' ;;
  malformed) printf '{"summary": "markets' ;;
  endless) while :; do echo '{"token": "more"}'; done ;;
  hang) exec sleep 1000 ;;
  ask)
    printf 'Continue? [y/N] ' >&2
    read -r reply
    echo "{\"reply\": \"$reply\"}" ;;
  ratelimit) echo "Error: 429 rate limit exceeded, retry later" >&2; exit 75 ;;
  *) echo "fake_llm: unknown mode '$1'" >&2; exit 64 ;;
esac
