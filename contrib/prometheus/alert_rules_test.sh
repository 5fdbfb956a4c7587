#!/bin/bash
# fleet's alert rules as Prometheus' own tool judges them: the file is
# valid (promtool check rules), and each alert fires on the series it is
# about and not on the others (promtool test rules, fleet-alerts.test.yml).
set -euo pipefail
dir="$(dirname "$0")"
if [[ -n "${TEST_SRCDIR:-}" ]]; then dir="$TEST_SRCDIR/$TEST_WORKSPACE/contrib/prometheus"; fi
command -v promtool >/dev/null || { echo "promtool is missing: run tools/setup.sh" >&2; exit 1; }
# promtool test rules finds rule_files relative to the test file.
work="${TEST_TMPDIR:-$(mktemp -d)}/rules"
mkdir -p "$work"
cp "$dir/fleet-alerts.yml" "$dir/fleet-alerts.test.yml" "$work/"
promtool check rules "$work/fleet-alerts.yml"
promtool test rules "$work/fleet-alerts.test.yml"
# Every alert in the file has a test that expects it to fire.
missing=0
for alert in $(sed -n 's/^ *- alert: *//p' "$work/fleet-alerts.yml"); do
  if ! grep -B1 -A1 "alertname: $alert\$" "$work/fleet-alerts.test.yml" | grep -q .; then
    echo "no test for $alert" >&2
    missing=1
  elif ! awk -v a="$alert" '$0 ~ "alertname: "a"$" {f=1; next} f && /exp_alerts:/ {found=1} /alertname:/ {f=0} END {exit !found}' "$work/fleet-alerts.test.yml"; then
    echo "no test expects $alert to fire" >&2
    missing=1
  fi
done
exit "$missing"
