"""Hostile YAML gives a located ConfigError quickly: alias bombs, deep nesting, NUL bytes,
huge numbers, non-finite numbers, oversized and non-regular files. Also "did you mean"."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from eventually import deadline
from opsconsole import schema
from opsconsole.schema import ByteSize, ConfigError, Duration, Limits, field, load_file, load_text

REPO = Path(__file__).resolve().parents[2]




@dataclass(frozen=True)
class Inner:
    name: str = ""
    weight: float = 1.0


@dataclass(frozen=True)
class Http:
    kind: Literal["http"]
    url: str = ""


@dataclass(frozen=True)
class Tcp:
    kind: Literal["tcp"]
    address: str = ""


@dataclass(frozen=True)
class Cfg:
    refresh: Duration = field(Duration(2.0))
    top: int = 40
    ratio: float = 0.5
    size: ByteSize = field(ByteSize(0))
    sort: Literal["cpu", "memory"] = "cpu"
    inner: Inner = field(default_factory=Inner)
    items: list[Any] = field(default_factory=list)
    extra: Any = None
    checks: list[Http | Tcp] = field(default_factory=list)


def err(text: str, tp: Any = Cfg, **kw: Any) -> ConfigError:
    with deadline(), pytest.raises(ConfigError) as ei:
        load_text(text, tp, "c.yaml", **kw)
    e = ei.value
    assert str(e).startswith("c.yaml"), str(e)
    return e


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "extra:\n" + "".join(f"  {line}\n" for line in lines)


# --------------------------------------------------------------------------- aliases


def test_billion_laughs_644_bytes_fails_fast_and_located():
    text = billion_laughs(9, 9)
    assert len(text) < 1000
    t0 = time.monotonic()
    e = err(text)
    assert time.monotonic() - t0 < 1.0
    assert "expansion too large" in e.message
    assert e.line is not None and e.line > 1 and e.column is not None


def test_bigger_bomb_never_finished_before_fails_fast():
    text = billion_laughs(10, 12)
    e = err(text)
    assert "expansion too large" in e.message


def test_bomb_in_a_typed_list_fails_too():
    text = "items:\n  - &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 8):
        text += f"  - &b{i} [" + ", ".join([f"*{'a' if i == 1 else f'b{i - 1}'}"] * 10) + "]\n"
    e = err(text)
    assert "expansion too large" in e.message


def test_too_many_aliases():
    text = "extra:\n  a: &a x\n  l: [" + ", ".join(["*a"] * 101) + "]\n"
    e = err(text)
    assert "too many aliases" in e.message
    assert e.line == 3


def test_a_few_aliases_are_fine():
    cfg = load_text("extra:\n  base: &b {x: 1}\n  copy: *b\n", Cfg, "c.yaml")
    assert cfg.extra == {"base": {"x": 1}, "copy": {"x": 1}}


def test_recursive_alias_is_refused():
    e = err("extra: &a [1, *a]\n")
    assert "recursive" in e.message
    assert (e.line, e.column) == (1, 15)


def test_limits_can_be_passed():
    text = "extra: [" + ", ".join(str(i) for i in range(50)) + "]\n"
    assert len(load_text(text, Cfg, "c.yaml").extra) == 50
    e = err(text, limits=Limits(max_nodes=20))
    assert "document too large" in e.message


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize("text", [
    "extra: " + "[" * 600 + "]" * 600 + "\n",
    "extra: " + "{a: " * 600 + "1" + "}" * 600 + "\n",
    "".join("  " * i + "a:\n" for i in range(600)),
])
def test_deep_nesting_is_a_located_error_not_recursion_error(text):
    e = err(text, Any)
    assert "nested too deeply" in e.message
    assert e.line is not None


def test_depth_through_aliases_is_bounded():
    deep = "[" * 40 + "]" * 40
    text = f"extra:\n  a: &a {deep}\n  b: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
    e = err(text)
    assert "nested too deeply through alias" in e.message


# --------------------------------------------------------------------------- characters


def test_nul_byte_is_located():
    e = err("refresh: 2s\ntop: 4\x000\n")
    assert (e.line, e.column) == (2, 7)
    assert "NUL" in e.message


def test_control_character_is_located():
    e = err("refresh: 2s\n\n  \x1b[31m: x\n")
    assert (e.line, e.column) == (3, 3)
    assert "control character" in e.message


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("text, words", [
    ("refresh: 1e99999\n", ["refresh", "expected a duration"]),
    ("refresh: 1.0e+99999\n", ["refresh", "expected a finite number"]),
    ("refresh: .inf\n", ["refresh", "expected a finite number"]),
    ("refresh: -.inf\n", ["refresh", "finite"]),
    ("refresh: .nan\n", ["refresh", "expected a finite number"]),
    ("refresh: " + "9" * 400 + "s\n", ["refresh", "expected a finite number"]),
    ("refresh: " + "9" * 400 + "\n", ["refresh", "expected a finite number"]),
    ("ratio: .inf\n", ["ratio", "expected a finite number"]),
    ("ratio: .nan\n", ["ratio", "expected a finite number"]),
    ("ratio: 1.0e+99999\n", ["ratio", "expected a finite number"]),
    ("ratio: " + "9" * 400 + "\n", ["ratio", "expected a finite number"]),
    ("top: " + "9" * 5000 + "\n", ["integer too large"]),
    ("top: " + "9" * 100 + "\n", ["top", "integer too large"]),
    ("size: " + "9" * 400 + "GB\n", ["size", "too large"]),
    ("size: " + "9" * 100 + "\n", ["size", "too large"]),
    ("extra: " + "9" * 5000 + "\n", ["integer too large"]),
    ("extra: 2001-02-30\n", ["invalid value"]),
    ("extra: !!binary 'a'\n", ["invalid value"]),
])
def test_bad_numbers_are_located(text, words):
    e = err(text)
    assert e.line == 1 and e.column is not None, str(e)
    for w in words:
        assert w in str(e), str(e)
    assert len(str(e)) < 400  # a 5000-digit value is not echoed back whole


def test_ordinary_numbers_still_work():
    cfg = load_text("refresh: 1h30m\ntop: 12\nratio: 0.25\nsize: 2GiB\n", Cfg, "c.yaml")
    assert (cfg.refresh, cfg.top, cfg.ratio, cfg.size) == (5400.0, 12, 0.25, 2 * 1024**3)


# --------------------------------------------------------------------------- files


def test_file_over_the_cap_is_refused_without_parsing(tmp_path):
    f = tmp_path / "config.yaml"
    f.write_text("refresh: 2s\n" + "# padding\n" * 110_000)
    with deadline(), pytest.raises(ConfigError) as ei:
        load_file(f, Cfg)
    assert "the limit is 1048576" in str(ei.value)
    assert str(ei.value).startswith(f"{f}: is ")
    # a caller (runbooks) may allow more
    assert load_file(f, Cfg, limit=4 * 1024 * 1024).refresh == 2.0


def test_read_text_file_refuses_dev_zero_and_a_fifo(tmp_path):
    with deadline(), pytest.raises(ConfigError, match="character device"):
        schema.read_text_file("/dev/zero")
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    with deadline(), pytest.raises(ConfigError, match="FIFO"):
        load_file(fifo, Cfg)
    with deadline(), pytest.raises(ConfigError, match="directory"):
        load_file(tmp_path, Cfg)


def test_undecodable_file_still_located(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_bytes(b"refresh: 2s\ntop: \xff\n")
    with pytest.raises(ConfigError) as ei:
        load_file(f, Cfg)
    assert (ei.value.line, ei.value.column) == (2, 6)


def test_every_shipped_yaml_is_within_the_limits():
    paths = [*sorted((REPO / "runbooks").glob("*.yaml")), *sorted((REPO / "themes").glob("*.yaml")),
             REPO / "config.example.yaml", *sorted((REPO / "tests").rglob("*.yaml"))]
    assert len(paths) > 10
    for p in paths:
        text = schema.read_text_file(p)
        try:
            schema.compose(text, p)
        except ConfigError as exc:
            assert "limit" not in exc.message and "too" not in exc.message, str(exc)


# --------------------------------------------------------------------------- did you mean


def test_unknown_key_suggests_the_nearest():
    e = err("refesh: 2s\n")
    assert e.message.startswith("unknown key 'refesh'; did you mean 'refresh'? (expected one of: ")
    assert "items, ratio, refresh" in e.message


def test_unknown_key_nested_suggests_too():
    e = err("inner:\n  wieght: 2\n")
    assert str(e) == ("c.yaml:2:3: inner: unknown key 'wieght'; did you mean 'weight'? "
                      "(expected one of: name, weight)")


def test_unknown_key_far_from_everything_keeps_the_old_message():
    e = err("zzzzqqq: 1\n")
    assert e.message.startswith("unknown key 'zzzzqqq'; expected one of: checks, extra")
    assert "did you mean" not in e.message


def test_unknown_kind_suggests_the_nearest():
    e = err("checks:\n  - kind: htp\n")
    assert "unknown kind 'htp'; did you mean 'http'? (expected one of: http, tcp)" in str(e)
    assert (e.line, e.column) == (2, 11)


def test_unknown_literal_suggests_the_nearest():
    e = err("sort: memroy\n")
    assert "sort: expected one of: cpu, memory; got 'memroy'; did you mean 'memory'?" in str(e)
    e = err("sort: pid\n")
    assert "did you mean" not in str(e)
