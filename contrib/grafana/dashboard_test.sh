#!/bin/bash
# The Grafana dashboard: valid JSON in Grafana's dashboard shape, every
# query valid PromQL (promtool checks each as a recording rule), and every
# series it reads one fleetd serves (named in the README's series table).
set -euo pipefail
root="${TEST_SRCDIR:+$TEST_SRCDIR/$TEST_WORKSPACE}"
root="${root:-$(cd "$(dirname "$0")/../.." && pwd)}"
work="${TEST_TMPDIR:-$(mktemp -d)}"
command -v promtool >/dev/null || { echo "promtool is missing: run tools/setup.sh" >&2; exit 1; }
python3 - "$root/contrib/grafana/fleet.json" "$root/README.md" "$work/queries.yml" <<'PY'
import json, re, sys
dashboard_path, readme_path, rules_path = sys.argv[1:4]
dash = json.load(open(dashboard_path))
problems = []
for key in ("title", "uid", "panels", "templating", "schemaVersion"):
    if key not in dash:
        problems.append(f"the dashboard has no {key}")
readme = open(readme_path).read()
rules = ["groups:", "  - name: dashboard", "    rules:"]
ids = set()
for panel in dash.get("panels", []):
    title = panel.get("title", "?")
    if panel.get("id") in ids:
        problems.append(f"{title}: id {panel.get('id')} used twice")
    ids.add(panel.get("id"))
    if not panel.get("targets"):
        problems.append(f"{title}: no queries")
    for target in panel.get("targets", []):
        expr = target.get("expr", "")
        concrete = expr.replace("$job", ".*").replace("$engine", ".*")
        rules.append(f"      - record: dashboard:query_{len(rules)}")
        rules.append(f"        expr: {json.dumps(concrete)}")
        for name in set(re.findall(r"\bfleet_[a-z0-9_]+", expr)):
            family = re.sub(r"_(bucket|count|sum)$", "", name)
            if not re.search("`(" + re.escape(family) + "|" + re.escape(name) + ")[`{]", readme):
                problems.append(f"{title}: {name} is not in the README's series table")
open(rules_path, "w").write("\n".join(rules) + "\n")
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
promtool check rules "$work/queries.yml"
