#!/usr/bin/env bash
# Installs what is missing, builds fleet, and runs the demo fleet with a short
# guided tour. DEMO_KEEP=1 leaves the fleet running at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
echo "building fleet (the first build on a fresh machine takes a few minutes)..."
bazel build --show_progress --show_progress_rate_limit=15 --curses=no //cli:fleetd //cli:fleetctl
bin="$(bazel info bazel-bin 2>/dev/null)/cli"
export PATH="$bin:$PATH"
export FLEET_RUN_DIR="$PWD/demo/run"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
status() { fleetctl status || true; }

if fleetctl status >/dev/null 2>&1; then fleetctl shutdown >/dev/null; fi
rm -rf demo/run demo/state demo/state.git demo/data
step "fleetd starts the demo fleet (log: demo/run/fleetd.log)"
mkdir -p demo/run
# The shared state's remote: an empty bare repository on this machine.
git init -q --bare --initial-branch=main demo/state.git
# A protected settings file (vandal will clobber it).
mkdir -p demo/data
printf '{"risk_limit": 10, "currency": "USD"}\n' > demo/data/settings.json
fleetd --config demo/fleet.yaml 2>demo/run/fleetd.log &
for _ in $(seq 100); do [ -S demo/run/ctl/fleetd.sock ] && break; sleep 0.1; done
sleep 3
status

step "SIGKILL moderator/0: fleetd notices at once and restarts it"
kill -9 "$(fleetctl status -o json | python3 -c \
  'import json,sys; s=json.load(sys.stdin); print([i["pid"] for e in s["engines"] for i in e["instances"] if i["id"]=="moderator/0"][0])')"
sleep 1.5
status

step "stop stubborn: it ignores SIGTERM, so after its 2s grace its group gets SIGKILL"
fleetctl stop stubborn
sleep 3
fleetctl events -n 8

step "shared state: each worker cycle pulled, appended to the ledger and pushed; the moderator commits its reviews with fleetctl commit"
fleetctl logs worker/0 -n 3
fleetctl logs moderator -n 2
git --git-dir demo/state.git log --format='  %h %<(12)%an %s' -8 main
echo "  ledger.txt in the remote, last lines (every worker's lines, merged by the union rule):"
git --git-dir demo/state.git show main:ledger.txt | tail -n 4 | sed 's/^/    /'

step "vandal truncated data/settings.json; recovery put the last good version back"
fleetctl events -n 200 | grep -E "file_restored" | tail -n 2 || true
echo "  demo/data/settings.json now: $(cat demo/data/settings.json)"

step "flaky keeps crashing and coming back; hanger got stuck and health restarted it; trader lost money and its kill condition stopped it for good"
sleep 4
status

step "reporter is a cron job (@every 4s, timeout 2s): its runs and their verdicts; 'fleetctl run' starts one now"
fleetctl runs reporter -n 5 || true
fleetctl run reporter || true

step "analyst is an intelligence engine (a fake LLM CLI every 5s): malformed answers are rejected, good ones delivered into the shared state"
fleetctl runs analyst -n 4 || true
echo "  reports/analysis.json in the remote: $(git --git-dir demo/state.git show main:reports/analysis.json 2>/dev/null || echo '(not yet)')"

step "the work-bus: a DAG (demo/goal.yaml) through two helper workers; 'render' has no worker, so chart is skipped and archive (all_done) still runs"
fleetctl bus submit demo/goal.yaml
sleep 6
fleetctl bus status || true

step "fleetctl health: alive, progressing, kill condition, for every instance"
fleetctl health || true

step "fleetctl brief: one screen for the operator"
fleetctl brief || true

if [ "${DEMO_KEEP:-0}" = "1" ]; then
  step "the fleet keeps running: try 'fleetctl status', 'fleetctl events -f'; stop with 'fleetctl shutdown'"
  echo "export PATH=\"$bin:\$PATH\" FLEET_RUN_DIR=\"$FLEET_RUN_DIR\""
  exit 0
fi
step "fleetctl shutdown: every engine stops in reverse dependency order"
fleetctl shutdown
