#!/bin/sh
# A demo worker that hangs after a few cycles: alive, pid and all, but no
# longer writing its log. Its health rule notices and restarts it.
for n in 1 2 3; do echo "working, cycle $n"; sleep 1; done
echo "about to get stuck"
exec sleep 100000
