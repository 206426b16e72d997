"""Runbooks as frozen dataclasses, validated with file:line:col errors; YAML loading.

A runbook is an id, a title, tags, symptoms (``when_to_use``), parameters and ordered steps.
Step kinds: ``manual``, ``shell``, ``sql``, ``http``, ``wait`` and ``check``. ``{{ name }}``
in a step refers to a parameter (or to a variable captured by an earlier step); SQL takes
its parameters as ``$1, $2 …`` with ``args:`` instead, so values are bound, never pasted.

Markdown runbooks are read by :mod:`opsconsole.runbooks.markdown`, files and directories by
:mod:`opsconsole.runbooks.library`. Never imports Textual.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from opsconsole.runbooks.conditions import Condition, check_expect
from opsconsole.runbooks.shellscan import REFUSED, TEMPLATE, Token, scan
from opsconsole.schema import (
    ConfigError,
    Duration,
    Invalid,
    compose,
    field,
    load_text,
    non_negative,
    positive,
    regex,
)

# {{ name }} is a parameter only when name is a declared parameter or capture; anything
# else ({{ .State.Status }}, {{range .items}}, {{ undeclared }}) is text, and {{{{ writes {{
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _name(v: str) -> str | None:
    return None if _NAME_RE.match(v) else "expected a name of letters, digits and _ (not starting with a digit)"


def _rid(v: str) -> str | None:
    return None if _ID_RE.match(v) else "expected an id of letters, digits, '-', '_' and '.'"


def _captures(v: dict[str, str]) -> str | None:
    for name, pattern in v.items():
        if not _NAME_RE.match(name):
            return f"capture name {name!r}: expected letters, digits and _"
        problem = regex(pattern)
        if problem:
            return f"capture {name}: {problem}"
    return None


# --------------------------------------------------------------------------- params


@dataclass(frozen=True, kw_only=True)
class Param:
    """A value the operator gives before the steps run (or that the console pre-fills)."""

    name: str = field(check=_name)
    prompt: str | None = None
    default: str | None = None
    type: Literal["string", "int", "enum"] = "string"
    pattern: str | None = field(None, check=regex)
    choices: list[str] = field([])
    secret: bool = False
    required: bool = True
    help: str | None = None

    def __check__(self) -> None:
        if self.type == "enum" and not self.choices:
            raise Invalid("an enum parameter needs choices: [a, b, ...]", "type")
        if self.choices and self.type != "enum":
            raise Invalid("choices only apply to type: enum", "choices")
        if self.secret and self.default:
            raise Invalid("a secret parameter cannot have a default (it would be stored in the file)", "default")
        if self.default is not None:
            problem = self.problem(self.default)
            if problem:
                raise Invalid(f"the default does not fit: {problem}", "default")

    @property
    def label(self) -> str:
        return self.prompt or self.name

    def problem(self, value: str) -> str | None:
        """Why ``value`` is not acceptable for this parameter, or None."""
        if value == "":
            return None if not self.required else f"{self.name}: a value is required"
        if self.type == "int" and not re.fullmatch(r"-?[0-9]+", value.strip()):
            return f"{self.name}: expected an integer, got {value if not self.secret else 'a value'!r}"
        if self.type == "enum" and value not in self.choices:
            return f"{self.name}: expected one of {', '.join(self.choices)}"
        if self.pattern and not re.search(self.pattern, value):
            shown = "the value" if self.secret else repr(value)
            return f"{self.name}: {shown} does not match the pattern {self.pattern}"
        return None

    def convert(self, value: str) -> str | int:
        return int(value.strip()) if self.type == "int" and value.strip() else value


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True, kw_only=True)
class _StepBase:
    title: str
    id: str | None = field(None, check=_rid)
    section: str | None = None
    text: str = ""
    timeout: Duration = field(Duration(60.0), check=positive)
    retries: int = field(0, check=non_negative)
    retry_delay: Duration = field(Duration(1.0))
    confirm: str | None = None
    dry_run: str | None = None
    on_failure: list[Step] = field([])
    capture: dict[str, str] = field({}, check=_captures)
    milestone: str | None = field(None, check=_name)
    continue_on_failure: bool = False
    when: Condition | None = None
    stop_when: Condition | None = None
    expect: Any = field(None, check=check_expect)
    # an alert's auto_run: may run this step unattended (runbooks.autorun); off by default
    auto_run_safe: bool = False
    line: int | None = field(None, metadata={"internal": True})

    # fields run by /bin/sh: their placeholders become environment variable references
    SHELL_FIELDS: ClassVar[tuple[str, ...]] = ()

    def __check__(self) -> None:
        if self.confirm is not None and not self.confirm.strip():
            raise Invalid("expected a confirmation word (the operator types it to run)", "confirm")

    @property
    def runs_something(self) -> bool:
        return self.kind != "manual"  # type: ignore[attr-defined]

    def templates(self) -> list[tuple[str, str]]:
        """(field name, text) pairs where ``{{ name }}`` placeholders are allowed."""
        out = [("title", self.title), ("text", self.text)]
        if self.dry_run:
            out.append(("dry_run", self.dry_run))
        return out


@dataclass(frozen=True, kw_only=True)
class ManualStep(_StepBase):
    kind: Literal["manual"] = "manual"
    checklist: list[str] = field([])


@dataclass(frozen=True, kw_only=True)
class ShellStep(_StepBase):
    kind: Literal["shell"] = "shell"
    run: str
    cwd: str | None = None
    env: dict[str, str] = field({})

    SHELL_FIELDS: ClassVar[tuple[str, ...]] = ("run", "dry_run")

    def templates(self) -> list[tuple[str, str]]:
        return [*super().templates(), ("run", self.run),
                *((f"env.{k}", v) for k, v in self.env.items())]


@dataclass(frozen=True, kw_only=True)
class SqlStep(_StepBase):
    kind: Literal["sql"] = "sql"
    database: str
    sql: str
    args: list[str] = field([])
    max_rows: int = field(50, check=positive)

    def templates(self) -> list[tuple[str, str]]:
        return [*super().templates(), ("database", self.database)]


@dataclass(frozen=True, kw_only=True)
class HttpStep(_StepBase):
    kind: Literal["http"] = "http"
    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"] = "GET"
    expect_status: int = 200
    body: str | None = None
    headers: dict[str, str] = field({})
    timeout: Duration = field(Duration(10.0), check=positive)

    def templates(self) -> list[tuple[str, str]]:
        out = [*super().templates(), ("url", self.url),
               *((f"headers.{k}", v) for k, v in self.headers.items())]
        return out + ([("body", self.body)] if self.body else [])


@dataclass(frozen=True, kw_only=True)
class WaitStep(_StepBase):
    """Poll until a condition holds: a configured check passes, a URL answers the expected
    status, or a shell command exits 0."""

    kind: Literal["wait"] = "wait"
    check: str | None = None
    url: str | None = None
    expect_status: int = 200
    until: str | None = None
    interval: Duration = field(Duration(2.0), check=positive)

    SHELL_FIELDS: ClassVar[tuple[str, ...]] = ("until",)

    def __check__(self) -> None:
        super().__check__()
        given = [n for n in ("check", "url", "until") if getattr(self, n)]
        if len(given) != 1:
            raise Invalid("a wait step needs exactly one of: check, url, until", "kind")

    def templates(self) -> list[tuple[str, str]]:
        out = super().templates()
        if self.url:
            out.append(("url", self.url))
        if self.until:
            out.append(("until", self.until))
        return out


@dataclass(frozen=True, kw_only=True)
class CheckStep(_StepBase):
    kind: Literal["check"] = "check"
    check: str


Step = ManualStep | ShellStep | SqlStep | HttpStep | WaitStep | CheckStep


# --------------------------------------------------------------------------- runbook


@dataclass(frozen=True, kw_only=True)
class Runbook:
    id: str = field(check=_rid)
    title: str
    description: str = ""
    tags: list[str] = field([])
    when_to_use: str | list[str] | None = None
    params: list[Param] = field([])
    steps: list[Step]
    source: str | None = field(None, metadata={"internal": True})

    def __check__(self) -> None:
        if not self.steps:
            raise Invalid("a runbook needs at least one step", "steps")
        names = [p.name for p in self.params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise Invalid(f"parameter names must be unique; repeated: {', '.join(dup)}", "params")

    @property
    def symptoms(self) -> str:
        if self.when_to_use is None:
            return ""
        if isinstance(self.when_to_use, list):
            return " ".join(s.strip() if s.strip().endswith((".", "!", "?")) else s.strip() + "."
                            for s in self.when_to_use)
        return self.when_to_use

    def find_step(self, ref: int | str) -> int:
        """0-based index of a step given as its 1-based number, id or title."""
        if isinstance(ref, int):
            if 1 <= ref <= len(self.steps):
                return ref - 1
            raise LookupError(f"runbook {self.id} has steps 1..{len(self.steps)}, not {ref}")
        for i, s in enumerate(self.steps):
            if s.id == ref or s.title == ref:
                return i
        raise LookupError(f"runbook {self.id} has no step {ref!r}")


@dataclass(frozen=True)
class Loaded:
    """One runbook file: the runbook, or the located error that stopped it loading."""

    path: Path
    runbook: Runbook | None
    error: ConfigError | None = None

    @property
    def ok(self) -> bool:
        return self.runbook is not None

    @property
    def title(self) -> str:
        return self.runbook.title if self.runbook else self.path.name


# --------------------------------------------------------------------------- validation


def locate(root: Node | None, path: list[str | int]) -> Node | None:
    node = root
    for part in path:
        if node is None:
            return None
        if isinstance(part, int):
            if not isinstance(node, SequenceNode) or part >= len(node.value):
                return None
            node = node.value[part]
        else:
            if not isinstance(node, MappingNode):
                return None
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.value == part:
                    node = v
                    break
            else:
                return None
    return node


def _position(node: Node | None, offset: int | None,
              source: list[str] | None = None) -> tuple[int | None, int | None]:
    if node is None:
        return None, None
    line, col = node.start_mark.line + 1, node.start_mark.column + 1
    if offset is not None and isinstance(node, ScalarNode) and node.style in (None, "'", '"'):
        text = node.value[:offset]
        if "\n" not in text:
            col += offset + (1 if node.style in ("'", '"') else 0)
    elif offset is not None and isinstance(node, ScalarNode) and node.style in ("|", ">"):
        before = node.value[:offset]
        nl = before.count("\n")
        # a block scalar's content starts on the line after the indicator
        body_line = line + 1 + nl
        indent = 0
        if source and body_line - 1 < len(source):
            text_line = source[body_line - 1]
            indent = len(text_line) - len(text_line.lstrip(" "))
        return body_line, indent + len(before) - (before.rfind("\n") + 1) + 1
    return line, col


class Where:
    """Maps a step field to file:line:col, for YAML (node tree) or Markdown (block line)."""

    def __init__(self, path: Path, root: Node | None = None, md_lines: dict[int, int] | None = None,
                 source: str = ""):
        self.path = path
        self.source = source.splitlines()
        self.root = root
        self.md_lines = md_lines or {}

    def error(self, trail: list[str | int], message: str, offset: int | None = None) -> ConfigError:
        if self.root is not None:
            node = None
            t = list(trail)
            while t and node is None:
                node = locate(self.root, t)
                if node is None:
                    t.pop()
                    offset = None
            line, col = _position(node, offset, self.source)
            return ConfigError(self.path, line, col, message)
        step = trail[1] if len(trail) > 1 and isinstance(trail[1], int) else None
        line = self.md_lines.get(step, 1) if step is not None else 1
        return ConfigError(self.path, line, 1, message)


def declared_names(rb: Runbook) -> set[str]:
    """Names ``{{ … }}`` may refer to: the parameters and every step's captures."""
    names = {p.name for p in rb.params}

    def walk(steps: list[Any]) -> None:
        for step in steps:
            names.update(step.capture)
            walk(step.on_failure)

    walk(rb.steps)
    return names


def check_references(rb: Runbook, where: Where) -> None:
    """Every ``{{ name }}`` of a declared name is usable where it stands: its value exists by
    then (a capture of an earlier step), it is not in SQL text, and in a shell command it is
    in a place where an environment variable reference is safe. SQL ``args`` name a
    parameter or an earlier capture. Other ``{{ … }}`` are text."""
    declared = declared_names(rb)
    ints = {p.name for p in rb.params if p.type == "int"}

    def walk(steps: list[Any], trail: list[str | int], known: set[str]) -> set[str]:
        for i, step in enumerate(steps):
            t = [*trail, i]
            names = set(known)
            fields = list(step.templates())
            if isinstance(step, SqlStep):
                fields.append(("sql", step.sql))
            for cname in ("when", "stop_when"):
                cond = getattr(step, cname)
                if cond is not None and cond.shell is not None:
                    fields.append((f"{cname}.shell", cond.shell))
                if cond is not None and cond.captured is not None:
                    avail = names if cname == "when" else names | set(step.capture)
                    if cond.captured not in avail:
                        raise where.error([*t, cname, "captured"], _undefined(
                            t, f"{cname}.captured", cond.captured, avail))
            for fname, text in fields:
                ftrail: list[str | int] = [*t, *fname.split(".")]
                shell = fname in step.SHELL_FIELDS or fname.endswith(".shell")
                if fname == "stop_when.shell":
                    names = names | set(step.capture)
                tokens = scan(text) if shell else [
                    _plain_token(m) for m in TEMPLATE.finditer(text)]
                for tok in tokens:
                    if tok.name is None or tok.name not in declared:
                        continue
                    problem = None
                    if tok.name not in names:
                        problem = (f"{{{{ {tok.name} }}}} is captured only by a later step; "
                                   f"available here: {', '.join(sorted(names)) or 'none'}")
                    elif fname == "sql" or (isinstance(step, SqlStep) and fname == "dry_run"):
                        problem = ("SQL takes parameters as $1, $2 … with args: [name, …], "
                                   "never {{ name }}")
                    elif shell and tok.context in REFUSED:
                        problem = f"{{{{ {tok.name} }}}} {REFUSED[tok.context]}"
                    elif shell and tok.context == "arithmetic" and tok.name not in ints:
                        problem = (f"{{{{ {tok.name} }}}} inside $(( … )) must be an int "
                                   "parameter (a shell may evaluate other text as code)")
                    if problem:
                        raise where.error(ftrail, f"{_label(t)}.{fname}: {problem}", tok.start)
            if isinstance(step, SqlStep):
                for j, arg in enumerate(step.args):
                    if arg not in names:
                        raise where.error([*t, "args", j], _undefined(t, f"args[{j}]", arg, names))
                nparams = _sql_param_count(step.sql)
                if nparams > len(step.args):
                    raise where.error([*t, "sql"], f"{_label(t)}.sql: uses ${nparams} but args lists "
                                      f"{len(step.args)} value(s)")
            walk(step.on_failure, [*t, "on_failure"], names)
            known = names | set(step.capture)
        return known

    walk(rb.steps, ["steps"], {p.name for p in rb.params})


def _plain_token(m: re.Match[str]) -> Token:
    return Token(m.start(), m.end(), m.group(1), "text")


def _label(trail: list[str | int]) -> str:
    out = ""
    for part in trail:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _undefined(trail: list[str | int], fname: str, name: str, names: set[str]) -> str:
    known = ", ".join(sorted(names)) or "none defined"
    return f"{_label(trail)}.{fname}: undefined parameter {name!r}; expected one of: {known}"


def _sql_param_count(sql: str) -> int:
    # ignore $n inside quoted strings and dollar-quoted bodies (good enough for runbooks)
    stripped = re.sub(r"'(?:[^']|'')*'", "''", sql)
    nums = [int(n) for n in re.findall(r"\$(\d+)", stripped)]
    return max(nums, default=0)


# --------------------------------------------------------------------------- YAML


def load_yaml_runbook(path: Path, text: str) -> Runbook:
    rb: Runbook = load_text(text, Runbook, path)
    root = compose(text, path)
    check_references(rb, Where(path, root=root, source=text))
    return dataclasses.replace(rb, source=str(path))
