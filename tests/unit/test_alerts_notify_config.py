"""notify: targets (parsing, located errors, masked repr) and the payload shapes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from opsconsole.alerts.notify import Delivery, Notification, Notifier, make_dedup_key
from opsconsole.alerts.notify_config import (
    AlertmanagerTarget,
    CommandTarget,
    SecretRef,
    WebhookTarget,
    resolve_secret,
)
from opsconsole.alerts.notify_targets import (
    alertmanager_payload,
    command_env,
    pagerduty_payload,
    slack_payload,
)
from opsconsole.config import parse_config
from opsconsole.schema import ConfigError
from opsconsole.secrets import MASK

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_the_issue_example_parses_as_written():
    cfg = parse_config("""
notify:
  - {name: oncall, kind: webhook, url: "http://127.0.0.1:9099/hook"}
  - {name: am, kind: alertmanager, url: "http://127.0.0.1:9093"}
""")
    hook, am = cfg.notify
    assert isinstance(hook, WebhookTarget) and hook.url == "http://127.0.0.1:9099/hook"
    assert float(hook.timeout) == 5.0 and hook.retries == 3
    assert isinstance(am, AlertmanagerTarget) and am.url == "http://127.0.0.1:9093"
    assert "pending" not in hook.states and "acknowledged" not in am.states


@pytest.mark.parametrize("entry, at, message", [
    ('{name: x, kind: webhok, url: "http://a/"}', "webhok", "did you mean 'webhook'?"),
    ('{name: x, kind: webhook, url: "ftp://h/T0KSECRET"}', '"ftp', "http:// or https:// URL"),
    ('{name: x, kind: webhook}', "{", "missing required key 'url'"),
    ('{name: x, kind: webhook, url: "http://a/", retries: 50}', "50", "expected 0 to 10"),
    ('{name: x, kind: webhook, url: "http://a/", states: [firing, fried]}', "[firing",
     "unknown state 'fried'"),
    ('{name: x, kind: webhook, url: "http://a/", timeout: 0s}', "0s", "above 0"),
    ('{name: x, kind: webhook, url: "http://a/", backoff: 5s, max_backoff: 1s}', "1s}",
     "max_backoff >= backoff"),
    ('{name: x, kind: webhook, url: "http://a/", headers: {"Bad Header": v}}', "{\"Bad",
     "not a valid HTTP header name"),
    ('{name: x, kind: command, command: "notify-send hi"}', '"notify', "expected a list"),
    ('{name: x, kind: command, command: []}', "[]", "list of words"),
    ('{name: x, kind: pagerduty}', "{", "missing required key 'routing_key'"),
    ('{name: x, kind: pagerduty, routing_key: {env: A, file: /b}}', "{env",
     "routing_key: expected a string or a mapping"),
    ('{name: "a b", kind: webhook, url: "http://a/"}', '"a b"', "expected a name"),
])
def test_target_errors_are_located(entry, at, message):
    with pytest.raises(ConfigError) as err:
        parse_config(f"notify:\n  - {entry}\n")
    text = str(err.value)
    assert f"<config>:2:{5 + entry.index(at)}:" in text, text
    assert message in text
    assert "T0KSECRET" not in text


def test_duplicate_target_names_are_an_error():
    with pytest.raises(ConfigError, match="notify target names must be unique; repeated: a"):
        parse_config('notify:\n  - {name: a, kind: webhook, url: "http://h/"}\n'
                     '  - {name: a, kind: command, command: [/bin/true]}\n')


def test_repr_masks_every_secret():
    cfg = parse_config("""
notify:
  - {name: s, kind: slack, url: "https://hooks.slack.com/services/T0/B0/XyZsecret",
     headers: {Authorization: "Bearer abcdef123456"}}
  - {name: p, kind: pagerduty, routing_key: R0UTEKEYabc123}
  - {name: c, kind: command, command: [/usr/local/bin/page], env: {PAGER_TOKEN: tok-999}}
""")
    text = repr(cfg.notify) + repr(cfg)
    for secret in ("XyZsecret", "abcdef123456", "R0UTEKEYabc123", "tok-999", "/services/"):
        assert secret not in text
    assert "https://hooks.slack.com/" + MASK in text


def test_a_secret_ref_names_exactly_one_source():
    from opsconsole.schema import Invalid

    with pytest.raises(Invalid, match="exactly one of env: or file:"):
        SecretRef(env="A", file="/b").__check__()


def test_secrets_from_env_and_file(tmp_path):
    f = tmp_path / "key"
    f.write_text("line-one-secret\nignored\n")
    assert resolve_secret(SecretRef(file=str(f))) == "line-one-secret"
    assert resolve_secret(SecretRef(env="K"), {"K": "v"}) == "v"
    assert resolve_secret("inline") == "inline"


def note(state="firing", labels=None, **kw) -> Notification:
    labels = {"check": "api"} if labels is None else labels
    return Notification(alert="api-down", state=state, severity=kw.pop("severity", "critical"),
                        summary="check api is CRITICAL", at=kw.pop("at", T0),
                        dedup_key=make_dedup_key("api-down", labels, T0), labels=labels,
                        host="db1", starts_at=T0, **kw)


def test_dedup_key_is_stable_per_episode_and_short():
    a = make_dedup_key("api-down", {"check": "api", "env": "prod"}, T0)
    assert a == make_dedup_key("api-down", {"env": "prod", "check": "api"}, T0)
    assert a != make_dedup_key("api-down", {"check": "api", "env": "prod"},
                               T0 + timedelta(minutes=1))
    assert a != make_dedup_key("api-down", {"check": "web", "env": "prod"}, T0)
    assert len(make_dedup_key("x" * 300, {"k": "v" * 1000}, T0)) <= 255


def test_notification_round_trips_and_refuses_naive_times_and_unknown_states():
    n = note(value=91.5, runbook="service-down", level=2)
    d = n.to_dict()
    assert d["at"] == "2026-12-03T12:00:00Z" and d["starts_at"] == "2026-12-03T12:00:00Z"
    assert Notification.from_dict(d) == n
    with pytest.raises(ValueError, match="timezone-aware"):
        note(at=datetime(2026, 12, 3, 12, 0))
    with pytest.raises(ValueError, match="state must be one of"):
        note(state="burning")


def test_alertmanager_payload():
    (fired,) = alertmanager_payload(note(labels={"check": "api", "team-name": "ops",
                                                 "empty": ""}, runbook="service-down",
                                         description="d", value=2))
    assert fired["labels"] == {"alertname": "api-down", "check": "api", "team_name": "ops",
                               "severity": "critical", "host": "db1"}
    assert fired["annotations"] == {"summary": "check api is CRITICAL", "description": "d",
                                    "runbook": "service-down", "value": "2"}
    assert fired["startsAt"] == "2026-12-03T12:00:00Z" and "endsAt" not in fired
    later = T0 + timedelta(minutes=3)
    (res,) = alertmanager_payload(note("resolved", at=later, ends_at=later))
    assert res["endsAt"] == "2026-12-03T12:03:00Z" and res["startsAt"] == "2026-12-03T12:00:00Z"


def test_pagerduty_payload_actions():
    trig = pagerduty_payload(note(), "rk")
    assert trig["event_action"] == "trigger" and trig["routing_key"] == "rk"
    assert trig["payload"]["severity"] == "critical" and trig["payload"]["source"] == "db1"
    assert pagerduty_payload(note("acknowledged"), "rk")["event_action"] == "acknowledge"
    res = pagerduty_payload(note("resolved"), "rk")
    assert res["event_action"] == "resolve" and "payload" not in res
    assert res["dedup_key"] == trig["dedup_key"]
    assert pagerduty_payload(note(severity="bogus"), "rk")["payload"]["severity"] == "warning"


def test_slack_and_command_neutralise_hostile_text():
    n = note(labels={"check": "a\x1b[31m<@U123>"})
    body = slack_payload(n)
    assert "<@U123>" not in str(body) and "\x1b" not in str(body)
    env = command_env(note(labels={"x": "\x9b\x07"}, value="5\n6"))
    assert all("\x1b" not in v and "\x9b" not in v and "\n" not in v for v in env.values())


def test_backoff_is_exponential_capped_and_jittered():
    t = WebhookTarget(name="w", url="http://h/", backoff=0.5, max_backoff=4.0)
    n = Notifier([t], rng=random.Random(7))
    for attempt in range(1, 8):
        base = min(4.0, 0.5 * 2 ** (attempt - 1))
        delays = [n._delay(t, attempt) for _ in range(50)]
        assert all(base / 2 <= d <= base for d in delays)
        assert len(set(delays)) > 1  # jittered: retries of many alerts do not stampede


def test_delivery_sentences():
    ok = Delivery("oncall", "webhook", "api-down", "firing", 0, "k", True, 2, T0)
    assert ok.sentence() == "notified oncall (webhook) of api-down firing after 2 attempts"
    bad = Delivery("am", "alertmanager", "api-down", "escalated", 2, "k", False, 4, T0,
                   error="timed out after 5s")
    assert bad.sentence() == ("notification to am (alertmanager) of api-down escalated "
                              "(level 2) failed after 4 attempts: timed out after 5s")
    assert bad.to_dict()["at"] == "2026-12-03T12:00:00Z"


async def test_unknown_target_and_filtered_state_send_nothing():
    n = Notifier([CommandTarget(name="c", command=["/bin/true"])])
    assert n.send(note("pending")) == []  # pending is not in the default states
    assert n.send(note(), ["nope"]) == []
    (d,) = n.deliveries
    assert not d.ok and d.error == "no notify target named 'nope'"
    await n.aclose()


def test_the_readme_examples_parse():
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```yaml\n((?:notify|maintenance):.*?)```", text, re.S)
    assert len(blocks) == 2
    cfgs = [parse_config(b, "README.md") for b in blocks]
    assert [t.kind for t in cfgs[0].notify] == ["webhook", "alertmanager", "slack",
                                                "pagerduty", "command"]
    assert [w.name for w in cfgs[1].maintenance] == ["db-upgrade", "patching", "backups"]
