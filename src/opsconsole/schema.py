"""Strict YAML → typed objects, with every error located at file:line:column.

This is the one place that turns YAML into the frozen dataclasses the rest of opsconsole
uses (config, runbooks, themes). It never imports Textual.

Supported field types: ``str``, ``int``, ``float``, ``bool``, :class:`Duration`,
:class:`ByteSize`, ``X | None``, ``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``,
``Literal[...]``, nested dataclasses (unknown keys are errors, fields without a default are
required), and unions of dataclasses told apart by a ``kind: Literal[...]`` field.

A dataclass may define ``__check__(self) -> None`` raising :class:`Invalid` (optionally
naming a field) for rules across fields; the error is reported at that field's position.
Field metadata ``{"check": fn}`` runs ``fn(value)`` which returns an error text or None.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


class ConfigError(Exception):
    """A located error in a YAML file: ``file:line:col: message``."""

    def __init__(self, path: str | Path | None, line: int | None, column: int | None, message: str):
        self.path = str(path) if path is not None else "<input>"
        self.line = line
        self.column = column
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class Invalid(ValueError):
    """Raised by ``__check__`` or converters; ``field`` points the error at one key."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# --------------------------------------------------------------------------- scalars

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


class Duration(float):
    """Seconds, written in YAML as ``2s``, ``500ms``, ``10m``, ``26h``, ``1h30m`` or a number."""

    @classmethod
    def parse(cls, value: object) -> Duration:
        if isinstance(value, bool):
            raise Invalid("expected a duration like 2s, 500ms, 10m, 26h")
        if isinstance(value, int | float):
            if value < 0:
                raise Invalid("expected a duration that is not negative")
            return cls(float(value))
        if isinstance(value, str):
            text = value.strip().replace(" ", "")
            m = _DURATION_RE.match(text)
            if m:
                return cls(float(m.group(1)) * _DURATION_UNITS[m.group(2) or "s"])
            parts = _DURATION_PART_RE.findall(text)
            if parts and "".join(a + b for a, b in parts) == text:
                return cls(sum(float(a) * _DURATION_UNITS[b] for a, b in parts))
        raise Invalid(f"expected a duration like 2s, 500ms, 10m, 26h; got {value!r}")

    def __repr__(self) -> str:
        return f"Duration({float(self)!r})"


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?i?b?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1000, "kb": 1000, "kib": 1024, "ki": 1024,
    "m": 1000**2, "mb": 1000**2, "mib": 1024**2, "mi": 1024**2,
    "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "gi": 1024**3,
    "t": 1000**4, "tb": 1000**4, "tib": 1024**4, "ti": 1024**4,
    "p": 1000**5, "pb": 1000**5, "pib": 1024**5, "pi": 1024**5,
}


class ByteSize(int):
    """Bytes, written as ``512``, ``10MB``, ``2GiB``."""

    @classmethod
    def parse(cls, value: object) -> ByteSize:
        if isinstance(value, bool):
            raise Invalid("expected a size like 500MB or 2GiB")
        if isinstance(value, int):
            if value < 0:
                raise Invalid("expected a size that is not negative")
            return cls(value)
        if isinstance(value, str):
            m = _SIZE_RE.match(value)
            if m and m.group(2).lower() in _SIZE_UNITS:
                return cls(int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]))
        raise Invalid(f"expected a size like 500MB or 2GiB; got {value!r}")


# --------------------------------------------------------------------------- loading


class _Loader(yaml.SafeLoader):
    pass


def compose(text: str, path: str | Path | None) -> Node | None:
    """Parse YAML text into a node tree, turning syntax errors into :class:`ConfigError`."""
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{exc.context}, {problem}"
        if mark is None:
            raise ConfigError(path, None, None, f"invalid YAML: {problem}") from None
        raise ConfigError(path, mark.line + 1, mark.column + 1, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:  # pragma: no cover - defensive
        raise ConfigError(path, None, None, f"invalid YAML: {exc}") from None


def _scalar_value(node: ScalarNode) -> Any:
    loader = _Loader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is str:
        return "a string"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is Duration:
        return "a duration like 2s, 500ms, 10m"
    if tp is ByteSize:
        return "a size like 500MB"
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in get_args(tp))
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return str(tp)


@dataclass
class _Ctx:
    path: str | Path | None

    def error(self, node: Node, message: str) -> ConfigError:
        mark = node.start_mark
        return ConfigError(self.path, mark.line + 1, mark.column + 1, message)


_HINTS_CACHE: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS_CACHE.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _HINTS_CACHE[cls] = hints
    return hints


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _kind_values(cls: type) -> tuple[str, ...]:
    hint = _hints(cls).get("kind")
    if hint is None or get_origin(hint) is not Literal:
        raise TypeError(f"{cls.__name__} in a tagged union needs kind: Literal[...]")
    return tuple(get_args(hint))


def convert(node: Node, tp: Any, ctx: _Ctx, where: str = "value") -> Any:
    """Convert one YAML node to ``tp``; raises :class:`ConfigError` located at the node."""
    origin = get_origin(tp)

    if tp is Any:
        return _plain(node, ctx)

    if _is_union(tp):
        args = [a for a in get_args(tp) if a is not type(None)]
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            if type(None) in get_args(tp):
                return None
        if len(args) == 1:
            return convert(node, args[0], ctx, where)
        if all(dataclasses.is_dataclass(a) for a in args):
            return _convert_tagged(node, args, ctx, where)
        errors = []
        for a in args:
            try:
                return convert(node, a, ctx, where)
            except ConfigError as exc:
                errors.append(exc)
        raise ctx.error(node, f"{where}: expected " + " or ".join(_describe(a) for a in args))

    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(node, tp, ctx, where)

    if origin in (list, tuple):
        args = get_args(tp)
        item = args[0] if args else Any
        if not isinstance(node, SequenceNode):
            raise ctx.error(node, f"{where}: expected a list")
        items = [convert(child, item, ctx, f"{where}[{i}]") for i, child in enumerate(node.value)]
        return tuple(items) if origin is tuple else items

    if origin is dict:
        key_t, val_t = get_args(tp) or (str, Any)
        if not isinstance(node, MappingNode):
            raise ctx.error(node, f"{where}: expected a mapping")
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            key = convert(knode, key_t, ctx, f"{where} key")
            if key in out:
                raise ctx.error(knode, f"duplicate key {key!r}")
            out[key] = convert(vnode, val_t, ctx, f"{where}.{key}")
        return out

    if not isinstance(node, ScalarNode):
        raise ctx.error(node, f"{where}: expected {_describe(tp)}, got a {_node_kind(node)}")
    value = _scalar_value(node)

    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ctx.error(
                node,
                f"{where}: expected one of: {', '.join(map(str, allowed))}; got {value!r}",
            )
        return value
    if tp in (Duration, ByteSize):
        try:
            return tp.parse(value)
        except Invalid as exc:
            raise ctx.error(node, f"{where}: {exc}") from None
    if tp is bool:
        if not isinstance(value, bool):
            raise ctx.error(node, f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(node, f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ctx.error(node, f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if value is None or isinstance(value, list | dict):
            raise ctx.error(node, f"{where}: expected a string")
        if isinstance(value, bool):
            # `yes`/`no`/`on`/`off` would silently become booleans: say so.
            raise ctx.error(node, f"{where}: expected a string, got {node.value!r} (quote it)")
        return str(node.value) if not isinstance(value, str) else value
    if isinstance(tp, type) and hasattr(tp, "parse"):
        try:
            return tp.parse(value)
        except Invalid as exc:
            raise ctx.error(node, f"{where}: {exc}") from None
    raise TypeError(f"schema: unsupported type {tp!r}")  # a programming error


def _p(where: str) -> str:
    return "" if where == "value" else f"{where}: "


def _node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "mapping"
    if isinstance(node, SequenceNode):
        return "list"
    return "scalar"


def _plain(node: Node, ctx: _Ctx) -> Any:
    if isinstance(node, ScalarNode):
        return _scalar_value(node)
    if isinstance(node, SequenceNode):
        return [_plain(c, ctx) for c in node.value]
    out = {}
    for k, v in node.value:
        out[_plain(k, ctx)] = _plain(v, ctx)
    return out


def _mapping_items(node: Node, ctx: _Ctx, where: str) -> list[tuple[str, Node, Node]]:
    if not isinstance(node, MappingNode):
        raise ctx.error(node, f"{_p(where)}expected a mapping, got a {_node_kind(node)}")
    seen: set[str] = set()
    items = []
    for knode, vnode in node.value:
        if not isinstance(knode, ScalarNode):
            raise ctx.error(knode, f"{_p(where)}keys must be plain names")
        key = str(knode.value)
        if key in seen:
            raise ctx.error(knode, f"duplicate key {key!r}")
        seen.add(key)
        items.append((key, knode, vnode))
    return items


def _convert_tagged(node: Node, classes: list[type], ctx: _Ctx, where: str) -> Any:
    items = _mapping_items(node, ctx, where)
    by_kind: dict[str, type] = {}
    for cls in classes:
        for k in _kind_values(cls):
            by_kind[k] = cls
    for key, _knode, vnode in items:
        if key == "kind":
            if not isinstance(vnode, ScalarNode):
                raise ctx.error(vnode, f"{where}.kind: expected a name")
            kind = str(vnode.value)
            if kind not in by_kind:
                raise ctx.error(
                    vnode,
                    f"{where}: unknown kind {kind!r}; expected one of: {', '.join(by_kind)}",
                )
            return _convert_dataclass(node, by_kind[kind], ctx, where)
    raise ctx.error(
        node, f"{_p(where)}missing required key 'kind' (one of: {', '.join(by_kind)})"
    )


def _convert_dataclass(node: Node, cls: type, ctx: _Ctx, where: str) -> Any:
    items = _mapping_items(node, ctx, where)
    hints = _hints(cls)
    fields = {
        f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("internal")
    }
    aliases = {f.metadata.get("yaml", f.name): f.name for f in fields.values()}
    values: dict[str, Any] = {}
    key_nodes: dict[str, Node] = {}
    for key, knode, vnode in items:
        name = aliases.get(key)
        if name is None:
            known = ", ".join(sorted(aliases))
            raise ctx.error(knode, f"{_p(where)}unknown key {key!r}; expected one of: {known}")
        f = fields[name]
        sub = f"{where}.{key}" if where != "value" else key
        val = convert(vnode, hints[name], ctx, sub)
        check = f.metadata.get("check")
        if check is not None:
            problem = check(val)
            if problem:
                raise ctx.error(vnode, f"{sub}: {problem}")
        values[name] = val
        key_nodes[name] = vnode
    missing = [
        aliases_key
        for aliases_key, name in aliases.items()
        if name not in values
        and fields[name].default is dataclasses.MISSING
        and fields[name].default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ctx.error(node, f"{_p(where)}missing required key {missing[0]!r}")
    try:
        obj = cls(**values)
        check = getattr(obj, "__check__", None)
        if check is not None:
            check()
    except Invalid as exc:
        target = key_nodes.get(exc.field or "", node)
        label = f"{where}.{exc.field}" if exc.field and where != "value" else (exc.field or where)
        raise ctx.error(target, f"{label}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise ctx.error(node, f"{where}: {exc}") from None
    return obj


def load_text(text: str, tp: Any, path: str | Path | None = None, empty: Any = None) -> Any:
    """Parse and convert YAML text. An empty document converts ``empty`` (default ``{}``)."""
    node = compose(text, path)
    ctx = _Ctx(path)
    if node is None:
        if dataclasses.is_dataclass(tp):
            return tp()
        return empty
    return convert(node, tp, ctx)


def read_text_file(path: str | Path) -> str:
    """A UTF-8 text file's content; unreadable and undecodable files become ConfigError
    (a decoding error is located at its line and column)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError(p, None, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(p, line, col, "expected UTF-8 text") from None


def load_file(path: str | Path, tp: Any) -> Any:
    """Read and convert a YAML file; unreadable and undecodable files become ConfigError."""
    return load_text(read_text_file(path), tp, Path(path))


def field(default: Any = dataclasses.MISSING, *, yaml_name: str | None = None,
          check: Any = None, **kw: Any) -> Any:
    """``dataclasses.field`` with a YAML name and a value check."""
    md = dict(kw.pop("metadata", {}) or {})
    if yaml_name:
        md["yaml"] = yaml_name
    if check:
        md["check"] = check
    if default is not dataclasses.MISSING and isinstance(default, list | dict | set):
        factory = (lambda d=default: type(d)(d))  # noqa: E731
        return dataclasses.field(default_factory=factory, metadata=md, **kw)
    return dataclasses.field(default=default, metadata=md, **kw)


def positive(v: float) -> str | None:
    return None if v > 0 else "expected a value above 0"


def non_negative(v: float) -> str | None:
    return None if v >= 0 else "expected a value of 0 or more"


def percent(v: float) -> str | None:
    return None if 0 <= v <= 100 else "expected a percentage between 0 and 100"


def regex(v: str) -> str | None:
    try:
        re.compile(v)
    except re.error as exc:
        return f"expected a regular expression: {exc}"
    return None
