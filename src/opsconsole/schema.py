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

Hostile input is bounded (see :class:`opsconsole.yamlsafe.Limits`, which composes and reads): files are read with
:func:`opsconsole.files.read_bounded` (regular files up to 1 MiB unless the caller allows
more), and composing refuses alias bombs, deep nesting and oversized documents before any
conversion walks them. Every failure is a located :class:`ConfigError`, never a traceback.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import re
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from opsconsole.units import (  # noqa: F401 - re-exported: schema's public names
    _INT_MAX,
    ByteSize,
    Duration,
    Invalid,
    _finite,
    _short,
    did_you_mean,
)
from opsconsole.yamlsafe import (  # noqa: F401 - re-exported: schema's public names
    DEFAULT_LIMITS,
    MAX_FILE_BYTES,
    ConfigError,
    Limits,
    compose,
    read_text_file,
)

# --------------------------------------------------------------------------- loading


def _scalar_value(node: ScalarNode, ctx: _Ctx | None = None) -> Any:
    """The Python value of a scalar (as SafeLoader would build it); a value Python refuses
    (an integer of 5000 digits, the date 2001-02-30, bad base64) is a located error."""
    try:
        return SafeConstructor().construct_object(node, deep=True)
    except (ValueError, OverflowError, TypeError, yaml.YAMLError) as exc:
        if ctx is None:
            ctx = _Ctx(None)
        if node.tag == "tag:yaml.org,2002:int":
            raise ctx.error(node, f"integer too large ({len(node.value)} digits)") from None
        if node.tag == "tag:yaml.org,2002:float":
            raise ctx.error(node, f"number too large ({len(node.value)} characters)") from None
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise ctx.error(node, f"invalid value {_short(node.value)}: {problem}") from None


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
    limits: Limits = DEFAULT_LIMITS
    visited: int = 0
    depth: int = 0

    lines: list[str] | None = None  # the source, to place an offset inside a block scalar

    def error(self, node: Node, message: str, offset: int | None = None) -> ConfigError:
        """Located at ``node``; with ``offset``, at that character of a scalar's value
        (one-line plain or quoted scalars, and ``|`` blocks; elsewhere the node's start)."""
        mark = node.start_mark
        line, col = mark.line + 1, mark.column + 1
        if offset is not None and isinstance(node, ScalarNode):
            before = str(node.value)[:offset]
            if node.style in (None, "'", '"') and "\n" not in before and mark.line == node.end_mark.line:
                col += offset + (1 if node.style in ("'", '"') else 0)
            elif node.style == "|":
                first = line  # the block's first content line (1-based: line + 1)
                line = line + 1 + before.count("\n")
                indent = 0  # the block's indentation: its first non-empty line's
                for text in (self.lines or [])[first:]:
                    if text.strip():
                        indent = len(text) - len(text.lstrip(" "))
                        break
                col = indent + len(before) - (before.rfind("\n") + 1) + 1
        return ConfigError(self.path, line, col, message)

    def enter(self, node: Node) -> None:
        """Count one node walked; refuse huge or deep trees (also ones not composed here,
        e.g. with aliases making a cycle). Union alternatives may walk a node more than
        once, hence the slack on ``max_nodes``."""
        self.visited += 1
        if self.visited > 4 * self.limits.max_nodes:
            raise self.error(node, f"document too large (the limit is "
                                   f"{self.limits.max_nodes} nodes)")
        self.depth += 1
        if self.depth > self.limits.max_depth:
            self.depth -= 1
            raise self.error(node, f"nested too deeply (the limit is "
                                   f"{self.limits.max_depth} levels)")


_HINTS_CACHE: dict[tuple[type, str], Any] = {}


def _hint(cls: type, name: str) -> Any:
    """The type of field ``name`` of dataclass ``cls`` (None when it has no annotation),
    resolved as :func:`typing.get_type_hints` would, but one field at a time and only when
    first asked for: a section absent from the file never resolves its annotation. Field
    metadata ``{"types": (module, ...)}`` (see :func:`field`) names the modules whose names
    the annotation uses, imported only then (so ``config`` need not import the alert, SLO
    or check specs for a file without those sections)."""
    key = (cls, name)
    try:
        return _HINTS_CACHE[key]
    except KeyError:
        pass
    for base in cls.__mro__:
        ann = base.__dict__.get("__annotations__", {})
        if name in ann:
            break
    else:
        return None
    value = ann[name]
    if isinstance(value, str):
        ns = {**vars(base), **vars(sys.modules[base.__module__])}
        f = base.__dict__.get("__dataclass_fields__", {}).get(name)
        for module in (f.metadata.get("types", ()) if f is not None else ()):
            ns.update(vars(importlib.import_module(module)))
        holder = types.SimpleNamespace(__annotations__={name: value})
        value = typing.get_type_hints(holder, globalns=ns)[name]
    elif value is None:
        value = type(None)
    _HINTS_CACHE[key] = value
    return value


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _kind_values(cls: type) -> tuple[str, ...]:
    hint = _hint(cls, "kind")
    if hint is None or get_origin(hint) is not Literal:
        raise TypeError(f"{cls.__name__} in a tagged union needs kind: Literal[...]")
    return tuple(get_args(hint))


def convert(node: Node, tp: Any, ctx: _Ctx, where: str = "value") -> Any:
    """Convert one YAML node to ``tp``; raises :class:`ConfigError` located at the node."""
    ctx.enter(node)
    try:
        return _convert(node, tp, ctx, where)
    finally:
        ctx.depth -= 1


def _convert(node: Node, tp: Any, ctx: _Ctx, where: str) -> Any:
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
    value = _scalar_value(node, ctx)

    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            guess = did_you_mean(value, allowed)
            hint = f"; did you mean {guess!r}?" if guess is not None else ""
            raise ctx.error(
                node,
                f"{where}: expected one of: {', '.join(map(str, allowed))}; "
                f"got {_short(value)}{hint}",
            )
        return value
    if tp in (Duration, ByteSize):
        try:
            return tp.parse(value)
        except Invalid as exc:
            raise ctx.error(node, f"{where}: {exc}") from None
    if tp is bool:
        if not isinstance(value, bool):
            raise ctx.error(node, f"{where}: expected true or false, got {_short(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ctx.error(node, f"{where}: expected an integer, got {_short(value)}")
        if abs(value) > _INT_MAX:
            raise ctx.error(node, f"{where}: integer too large (the limit is 2**63-1)")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ctx.error(node, f"{where}: expected a number, got {_short(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ctx.error(node, f"{where}: expected a finite number, got {_short(node.value)}")
        return number
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
        except Invalid as exc:  # an ``offset`` (alert conditions, templates) points inside
            raise ctx.error(node, f"{where}: {exc}", getattr(exc, "offset", None)) from None
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
    ctx.enter(node)
    try:
        if isinstance(node, ScalarNode):
            return _scalar_value(node, ctx)
        if isinstance(node, SequenceNode):
            return [_plain(c, ctx) for c in node.value]
        out = {}
        for k, v in node.value:
            key = _plain(k, ctx)
            try:
                out[key] = _plain(v, ctx)
            except TypeError:  # an unhashable key: a list or mapping used as a key
                raise ctx.error(k, "keys must be plain values, not lists or mappings") from None
        return out
    finally:
        ctx.depth -= 1


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
                known = ", ".join(by_kind)
                guess = did_you_mean(kind, by_kind)
                tail = (f"; did you mean {guess!r}? (expected one of: {known})" if guess
                        else f"; expected one of: {known}")
                raise ctx.error(vnode, f"{where}: unknown kind {_short(kind)}{tail}")
            return _convert_dataclass(node, by_kind[kind], ctx, where)
    raise ctx.error(
        node, f"{_p(where)}missing required key 'kind' (one of: {', '.join(by_kind)})"
    )


def _convert_dataclass(node: Node, cls: type, ctx: _Ctx, where: str) -> Any:
    items = _mapping_items(node, ctx, where)
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
            guess = did_you_mean(key, sorted(aliases))
            tail = (f"; did you mean {guess!r}? (expected one of: {known})" if guess
                    else f"; expected one of: {known}")
            raise ctx.error(knode, f"{_p(where)}unknown key {_short(key)}{tail}")
        f = fields[name]
        sub = f"{where}.{key}" if where != "value" else key
        val = convert(vnode, _hint(cls, name), ctx, sub)
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
        # a cross-section rule may point deeper: ``exc.path`` (list indexes, keys) below the
        # field, and ``exc.offset`` inside that scalar (an alert condition's signal)
        for step in getattr(exc, "path", ()) or ():
            target = _child(target, step) or target
        label = f"{where}.{exc.field}" if exc.field and where != "value" else (exc.field or where)
        raise ctx.error(target, f"{label}: {exc}", getattr(exc, "offset", None)) from None
    except (TypeError, ValueError) as exc:
        raise ctx.error(node, f"{where}: {exc}") from None
    return obj


def _child(node: Node, step: str | int) -> Node | None:
    """The item ``step`` of a list node or the value of key ``step`` of a mapping node."""
    if isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        return node.value[step]
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == step:
                return v
    return None


def load_text(text: str, tp: Any, path: str | Path | None = None, empty: Any = None, *,
              limits: Limits | None = None) -> Any:
    """Parse and convert YAML text. An empty document converts ``empty`` (default ``{}``)."""
    limits = limits or DEFAULT_LIMITS
    node = compose(text, path, limits)
    ctx = _Ctx(path, limits, lines=text.splitlines())
    if node is None:
        if dataclasses.is_dataclass(tp):
            return tp()
        return empty
    try:
        return convert(node, tp, ctx)
    except RecursionError:  # pragma: no cover - Limits.max_depth keeps well below this
        raise ConfigError(path, None, None, "nested too deeply") from None


def load_file(path: str | Path, tp: Any, *, limit: int = MAX_FILE_BYTES,
              limits: Limits | None = None) -> Any:
    """Read and convert a YAML file; unreadable, undecodable and oversized files become
    ConfigError. ``limit``: the largest file accepted, in bytes (runbooks may pass more)."""
    return load_text(read_text_file(path, limit=limit), tp, Path(path), limits=limits)


def field(default: Any = dataclasses.MISSING, *, yaml_name: str | None = None,
          check: Any = None, types: tuple[str, ...] = (), **kw: Any) -> Any:
    """``dataclasses.field`` with a YAML name and a value check. ``types``: the modules
    whose names the field's (string) annotation uses, when the defining module does not
    import them at run time; imported when the field is first read from YAML."""
    md = dict(kw.pop("metadata", {}) or {})
    if yaml_name:
        md["yaml"] = yaml_name
    if check:
        md["check"] = check
    if types:
        md["types"] = tuple(types)
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
