"""The issue's seed alert rules (issue 14), as the tests of opsconsole.alerts use them."""

# The example, as written.
EXAMPLE = """\
notify:
  - {name: oncall, kind: webhook, url: "http://127.0.0.1:9099/hook"}
  - {name: am, kind: alertmanager, url: "http://127.0.0.1:9093"}
alerts:
  - name: api-down
    expr: check.api.state == CRITICAL
    for: 30s
    severity: critical
    notify: [oncall, am]
    runbook: service-down
    declare: SEV2
  - name: high-cpu
    expr: host.cpu > 80
    for: 5m
    clear: host.cpu < 70
    severity: warning
    escalate:
      - {after: 0m, notify: [oncall]}
      - {after: 15m, notify: [am]}
  - name: pg-pool
    expr: pg.main.connections_used_pct > 80
    for: 2m
    severity: warning
    runbook: pg-connection-saturation
"""
