"""Config validation: good configs parse into typed objects; every kind of bad input is an
error at the right file:line:column with what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsconsole.config import (
    AppConfig,
    ConfigError,
    database_targets,
    load_config,
    parse_config,
    resolve_config_path,
    resolve_data_dir,
)
from opsconsole.postgres.config import DatabaseTarget
from opsconsole.schema import ByteSize, Duration, Invalid

REPO = Path(__file__).resolve().parents[2]


def err(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    return info.value


def test_defaults_are_glances_like():
    cfg = AppConfig()
    assert cfg.refresh == 2.0
    assert (cfg.thresholds.cpu.careful, cfg.thresholds.cpu.warning, cfg.thresholds.cpu.critical) == (50, 70, 90)
    assert (cfg.thresholds.load.careful, cfg.thresholds.load.warning, cfg.thresholds.load.critical) == (0.7, 1.0, 5.0)
    assert cfg.thresholds.disk.level(91) == "critical"
    assert cfg.thresholds.disk.level(71) == "warning"
    assert cfg.thresholds.disk.level(55) == "careful"
    assert cfg.thresholds.disk.level(10) == "ok"


def test_good_config_parses_typed():
    cfg = parse_config(
        """
refresh: 500ms
theme: opsconsole-light
read_only: true
thresholds:
  cpu: {careful: 60, warning: 80, critical: 95}
resources:
  top: 25
  sort: memory
keys:
  zoom: Z
"""
    )
    assert cfg.refresh == 0.5 and isinstance(cfg.refresh, Duration)
    assert cfg.theme == "opsconsole-light" and cfg.read_only is True
    assert cfg.thresholds.cpu.critical == 95
    assert cfg.thresholds.memory.critical == 90  # untouched defaults stay
    assert cfg.resources.top == 25 and cfg.resources.sort == "memory"
    assert cfg.keys == {"zoom": "Z"}


def test_empty_file_is_defaults():
    assert parse_config("") == AppConfig()
    assert parse_config("# only a comment\n") == AppConfig()


@pytest.mark.parametrize(
    "text, line, col, words",
    [
        ("refresh: 2s\nrefersh: 5s\n", 2, 1, ["unknown key 'refersh'", "expected one of", "refresh"]),
        ("refresh: soon\n", 1, 10, ["refresh", "expected a duration"]),
        ("read_only: maybe\n", 1, 12, ["read_only", "expected true or false"]),
        ("resources:\n  top: ten\n", 2, 8, ["resources.top", "expected an integer"]),
        ("resources:\n  top: 0\n", 2, 8, ["resources.top", "above 0"]),
        ("resources:\n  sort: pid\n", 2, 9, ["resources.sort", "cpu or memory"]),
        ("thresholds:\n  cpu:\n    careful: 80\n    warning: 70\n    critical: 90\n", 3, 5,
         ["thresholds.cpu", "careful <= warning <= critical"]),
        ("thresholds:\n  cpu: {careful: 1, warning: 2}\n", 2, 8, ["missing required key 'critical'"]),
        ("thresholds: [1, 2]\n", 1, 13, ["thresholds", "expected a mapping"]),
        ("theme: yes\n", 1, 8, ["theme", "expected a string", "quote it"]),
        ("refresh: 2s\nrefresh: 3s\n", 2, 1, ["duplicate key 'refresh'"]),
        ("refresh: [2s\n", 2, 1, ["invalid YAML"]),
        ("keys:\n  zoom: [z]\n", 2, 9, ["keys.zoom", "expected a string"]),
        ("keys:\n  zom: Z\n", 2, 3, ["unknown binding id 'zom'", "did you mean 'zoom'?"]),
        ("keys:\n  zoom: Z\n  pasue: x\n", 3, 3, ["unknown binding id 'pasue'", "'pause'"]),
        ("keys:\n  xyzzy: Z\n", 2, 3, ["unknown binding id 'xyzzy'", "expected one of:", "zoom"]),
        ("keys:\n  runbook-hotkey-0: f6\n", 2, 3, ["no hotkeys: entry 0"]),
        ("checks:\n  - name: a\n    kind: htp\n", 3, 11, ["unknown kind 'htp'", "http"]),
        ("checks:\n  - kind: tcp\n    address: 127.0.0.1:1\n", 2, 5, ["missing required key 'name'"]),
    ],
)
def test_bad_config_is_located(text, line, col, words):
    e = err(text)
    assert (e.path, e.line, e.column) == ("c.yaml", line, col), str(e)
    for w in words:
        assert w in str(e), str(e)
    assert str(e).startswith(f"c.yaml:{line}:{col}: ")


def test_non_utf8_file_is_located(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_bytes(b"refresh: 2s\ntheme: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(p)
    assert (info.value.line, info.value.column) == (2, 11)
    assert "UTF-8" in str(info.value)


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_example_config_ships_and_is_valid():
    cfg = load_config(REPO / "config.example.yaml")
    assert cfg.source and cfg.source.endswith("config.example.yaml")


def test_config_path_precedence(tmp_path):
    xdg = tmp_path / "xdg"
    (xdg / "opsconsole").mkdir(parents=True)
    (xdg / "opsconsole" / "config.yaml").write_text("refresh: 3s\n")
    env = {"XDG_CONFIG_HOME": str(xdg), "HOME": str(tmp_path)}
    assert resolve_config_path(None, env) == xdg / "opsconsole" / "config.yaml"
    env["OPSCONSOLE_CONFIG"] = "/etc/ops.yaml"
    assert resolve_config_path(None, env) == Path("/etc/ops.yaml")
    assert resolve_config_path("cli.yaml", env) == Path("cli.yaml")
    assert resolve_config_path(None, {"HOME": str(tmp_path / "empty")}) is None


def test_data_dir_precedence(tmp_path):
    cfg = parse_config("data_dir: /srv/ops\n")
    assert resolve_data_dir("/cli", cfg, {}) == Path("/cli")
    assert resolve_data_dir(None, cfg, {"OPSCONSOLE_DATA_DIR": "/env"}) == Path("/env")
    assert resolve_data_dir(None, cfg, {}) == Path("/srv/ops")
    assert resolve_data_dir(None, AppConfig(), {"XDG_DATA_HOME": "/xdg"}) == Path("/xdg/opsconsole")


@pytest.mark.parametrize("text, seconds", [("2s", 2), ("500ms", 0.5), ("10m", 600), ("26h", 93600),
                                           ("1h30m", 5400), (3, 3), ("1.5s", 1.5), ("2d", 172800)])
def test_durations(text, seconds):
    assert Duration.parse(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["2 parsecs", "-1s", "", "s", True, -3])
def test_bad_durations(bad):
    with pytest.raises(Invalid):
        Duration.parse(bad)


def test_sizes():
    assert ByteSize.parse("10MB") == 10_000_000
    assert ByteSize.parse("2GiB") == 2 * 1024**3
    assert ByteSize.parse(512) == 512
    with pytest.raises(Invalid):
        ByteSize.parse("lots")


def test_database_targets_put_the_dsn_target_first_then_the_configured_ones():
    cfg = AppConfig(databases=[DatabaseTarget("main", "postgresql://db1/app"),
                               DatabaseTarget("reports", "postgresql://db2/reports")])
    assert database_targets(cfg, None) == cfg.databases
    assert database_targets(AppConfig(), None) == []
    dsn = "postgresql://monitor@db9:5433/orders"
    got = database_targets(cfg, dsn)
    assert [t.name for t in got] == ["orders@db9:5433", "main", "reports"]
    assert got[0] == DatabaseTarget.from_dsn(dsn)
    # a configured target named like the --dsn one: the command line wins
    clash = AppConfig(databases=[DatabaseTarget("orders@db9:5433", "postgresql://other/orders"),
                                 DatabaseTarget("main", "postgresql://db1/app")])
    got = database_targets(clash, dsn)
    assert [(t.name, t.dsn) for t in got] == [("orders@db9:5433", dsn),
                                              ("main", "postgresql://db1/app")]


def test_binding_ids_are_the_ui_binding_ids():
    """config.BINDING_IDS (Textual-free) lists exactly the ids of the ui's ActionSpecs and
    Bindings, so ``keys:`` accepts every binding and nothing else."""
    import importlib
    import inspect
    import pkgutil

    from textual.binding import Binding

    import opsconsole.ui
    from opsconsole.config import BINDING_IDS
    from opsconsole.ui.actions import ActionSpec

    found: set[str] = set()
    for info in pkgutil.walk_packages(opsconsole.ui.__path__, "opsconsole.ui."):
        mod = importlib.import_module(info.name)
        lists = [v for v in vars(mod).values() if isinstance(v, tuple | list)]
        for cls in vars(mod).values():
            if inspect.isclass(cls) and cls.__module__ == mod.__name__:
                lists += [cls.__dict__.get("ACTIONS") or (), cls.__dict__.get("BINDINGS") or ()]
        for items in lists:
            for item in items:
                if isinstance(item, ActionSpec | Binding) and item.id:
                    found.add(item.id)
    assert "zoom" in found and "incident-note" in found and "modal-cancel" in found
    assert len(BINDING_IDS) == len(set(BINDING_IDS))
    assert set(BINDING_IDS) == found


def test_runbook_hotkey_ids_may_be_remapped():
    cfg = parse_config("hotkeys:\n  - key: f5\n    runbook: walk\nkeys:\n  runbook-hotkey-0: f6\n")
    assert cfg.keys == {"runbook-hotkey-0": "f6"}
