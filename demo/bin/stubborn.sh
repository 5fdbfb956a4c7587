#!/bin/sh
# A demo process that ignores SIGTERM: on stop, fleetd waits out the grace and
# sends SIGKILL to its whole process group.
trap 'echo "stubborn: ignoring SIGTERM"' TERM
echo "stubborn up"
while true; do sleep 1; done
