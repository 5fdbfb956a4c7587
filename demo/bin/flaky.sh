#!/bin/sh
# A demo bot that crashes now and then: fleetd restarts it with backoff.
echo "flaky bot up (pid $$)"
sleep $(( $(od -An -N1 -tu1 /dev/urandom) % 6 + 2 ))
echo "flaky bot: something broke" >&2
exit 1
