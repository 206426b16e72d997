"""Runbooks: YAML and Markdown → frozen dataclasses, validated with file:line:col errors.

A runbook is an id, a title, tags, symptoms (``when_to_use``), parameters and ordered steps.
Step kinds: ``manual``, ``shell``, ``sql``, ``http``, ``wait`` and ``check``. ``{{ name }}``
in a step refers to a parameter (or to a variable captured by an earlier step).

Markdown runbooks (``*.md``): an optional YAML front matter (``---`` … ``---``) holds id,
tags, params and defaults; headings are sections; fenced ``sh``/``bash``/``shell`` blocks
are shell steps and ``sql`` blocks are SQL steps (options after the language, e.g.
```` ```sql database=main timeout=5s ````); ``- [ ]`` items are manual checklist steps.

Never imports Textual.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from opsconsole.schema import (
    ConfigError,
    Duration,
    Invalid,
    compose,
    field,
    load_text,
    non_negative,
    positive,
    read_text_file,
    regex,
)

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_BAD_PLACEHOLDER = re.compile(r"\{\{(?!\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\})")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

STEP_KINDS = ("manual", "shell", "sql", "http", "wait", "check")


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
    line: int | None = field(None, metadata={"internal": True})

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

    def templates(self) -> list[tuple[str, str]]:
        return [*super().templates(), ("run", self.run)]


@dataclass(frozen=True, kw_only=True)
class SqlStep(_StepBase):
    kind: Literal["sql"] = "sql"
    database: str
    sql: str
    args: list[str] = field([])
    max_rows: int = field(50, check=positive)

    def templates(self) -> list[tuple[str, str]]:
        return [*super().templates(), ("database", self.database)]

    def __check__(self) -> None:
        super().__check__()
        if PLACEHOLDER.search(self.sql):
            raise Invalid("SQL takes parameters as $1, $2 … with args: [name, …], never {{ name }}", "sql")


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
        return [*super().templates(), ("url", self.url)]


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

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

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


def _locate(root: Node | None, path: list[str | int]) -> Node | None:
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


class _Where:
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
                node = _locate(self.root, t)
                if node is None:
                    t.pop()
                    offset = None
            line, col = _position(node, offset, self.source)
            return ConfigError(self.path, line, col, message)
        step = trail[1] if len(trail) > 1 and isinstance(trail[1], int) else None
        line = self.md_lines.get(step, 1) if step is not None else 1
        return ConfigError(self.path, line, 1, message)


def _known_names(rb: Runbook) -> set[str]:
    return {p.name for p in rb.params}


def check_references(rb: Runbook, where: _Where) -> None:
    """Every ``{{ name }}`` and SQL ``args`` names a parameter or an earlier capture."""
    known = _known_names(rb)

    def walk(steps: list[Any], trail: list[str | int], known: set[str]) -> set[str]:
        for i, step in enumerate(steps):
            t = [*trail, i]
            names = set(known)
            for fname, text in step.templates():
                bad = _BAD_PLACEHOLDER.search(text)
                if bad:
                    raise where.error([*t, fname], f"{_label(t)}.{fname}: '{{{{' must be followed by a "
                                      "parameter name and '}}', like {{ pid }}", bad.start())
                for m in PLACEHOLDER.finditer(text):
                    if m.group(1) not in names:
                        raise where.error([*t, fname], _undefined(t, fname, m.group(1), names), m.start())
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

    walk(rb.steps, ["steps"], known)


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
    check_references(rb, _Where(path, root=root, source=text))
    return dataclasses.replace(rb, source=str(path))


# --------------------------------------------------------------------------- Markdown


@dataclass(frozen=True, kw_only=True)
class MarkdownMeta:
    id: str | None = field(None, check=_rid)
    title: str | None = None
    description: str = ""
    tags: list[str] = field([])
    when_to_use: str | list[str] | None = None
    params: list[Param] = field([])
    database: str | None = None  # default database for ```sql blocks
    timeout: Duration | None = None  # default step timeout


_FENCE = re.compile(r"^(\s{0,3})(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_CHECK_ITEM = re.compile(r"^\s*[-*+]\s+\[( |x|X)\]\s+(.*)$")
_SHELL_LANGS = {"sh", "bash", "shell", "console", "zsh"}
_OPTION_KEYS = {"timeout", "retries", "confirm", "database", "milestone", "id", "title",
                "dry_run", "continue_on_failure", "retry_delay"}


def _parse_options(info: str, path: Path, line: int) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    import shlex

    try:
        words = shlex.split(info)
    except ValueError as exc:
        raise ConfigError(path, line, 1, f"fence options: {exc}") from None
    for w in words:
        if "=" not in w:
            raise ConfigError(path, line, 1, f"fence option {w!r}: expected key=value "
                              f"(keys: {', '.join(sorted(_OPTION_KEYS))})")
        k, v = w.split("=", 1)
        if k not in _OPTION_KEYS:
            raise ConfigError(path, line, 1, f"unknown fence option {k!r}; expected one of: "
                              f"{', '.join(sorted(_OPTION_KEYS))}")
        opts[k] = yaml.safe_load(v) if k == "retries" or k == "continue_on_failure" else v
    return opts


def load_markdown_runbook(path: Path, text: str) -> Runbook:
    lines = text.splitlines()
    meta = MarkdownMeta()
    start = 0
    if lines and lines[0].strip() == "---":
        for j in range(1, len(lines)):
            if lines[j].strip() in ("---", "..."):
                fm = "\n" * 1 + "\n".join(lines[1:j])
                meta = load_text(fm, MarkdownMeta, path) if fm.strip() else MarkdownMeta()
                start = j + 1
                break
        else:
            raise ConfigError(path, 1, 1, "front matter: expected a closing '---' line")

    title = meta.title
    section: str | None = None
    section_count: dict[str, int] = {}
    para: list[str] = []
    desc: list[str] = []
    raw_steps: list[tuple[int, dict[str, Any]]] = []
    i = start
    while i < len(lines):
        line = lines[i]
        lineno = i + 1
        h = _HEADING.match(line)
        if h:
            level, heading = len(h.group(1)), h.group(2)
            if level == 1 and title is None:
                title = heading
            else:
                section = heading
            para = []
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            marker, lang, info = fence.group(2), fence.group(3).lower(), fence.group(4)
            body: list[str] = []
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith(marker):
                body.append(lines[j])
                j += 1
            if j >= len(lines):
                raise ConfigError(path, lineno, 1, f"code block opened with {marker} is never closed")
            if lang in _SHELL_LANGS or lang == "sql":
                opts = _parse_options(info, path, lineno)
                code = "\n".join(body).strip("\n")
                if lang == "console":
                    code = "\n".join(b[2:] if b.startswith("$ ") else b for b in body if b.startswith("$ "))
                lead = next((x.strip() for x in para if x.strip()), "")
                lead = re.split(r"(?<=[.!?:])\s", lead, maxsplit=1)[0].rstrip(".:")
                if len(lead) > 70:
                    lead = lead[:69].rstrip() + "…"
                base = opts.pop("title", None) or lead or section or title or path.stem
                n = section_count.get(base, 0) + 1
                section_count[base] = n
                step: dict[str, Any] = {
                    "title": base if n == 1 else f"{base} ({n})",
                    "text": "\n".join(para).strip(),
                    "section": section,
                }
                if meta.timeout is not None:
                    step["timeout"] = float(meta.timeout)
                if lang == "sql":
                    step.update(kind="sql", sql=code)
                    db = opts.pop("database", None) or meta.database
                    if not db:
                        raise ConfigError(path, lineno, 1, "sql block: no database; add "
                                          "database=NAME after ```sql or database: in front matter")
                    step["database"] = db
                    step["args"] = [m.group(1) for m in PLACEHOLDER.finditer(code)]
                    if step["args"]:
                        # {{ name }} in a Markdown SQL block becomes $1, $2 … (bound, not pasted)
                        order: list[str] = []

                        def sub(m: re.Match[str], order: list[str] = order) -> str:
                            if m.group(1) not in order:
                                order.append(m.group(1))
                            return f"${order.index(m.group(1)) + 1}"

                        step["sql"] = PLACEHOLDER.sub(sub, code)
                        step["args"] = order
                else:
                    step.update(kind="shell", run=code)
                step.update(opts)
                if not code.strip():
                    raise ConfigError(path, lineno, 1, "empty code block")
                raw_steps.append((lineno, step))
                para = []
            else:
                para.extend(["", *body, ""])
            i = j + 1
            continue
        item = _CHECK_ITEM.match(line)
        if item:
            raw_steps.append((lineno, {"kind": "manual", "title": item.group(2).strip(),
                                       "text": "\n".join(para).strip(), "section": section}))
            i += 1
            continue
        if section is None and title is not None and not raw_steps:
            desc.append(line)
        para.append(line)
        if not line.strip() and para and all(not x.strip() for x in para):
            para = []
        i += 1

    if title is None:
        raise ConfigError(path, 1, 1, "expected a '# Title' heading or title: in front matter")
    if not raw_steps:
        raise ConfigError(path, 1, 1, "no steps: expected ```sh / ```sql blocks or '- [ ]' items")
    steps = []
    md_lines: dict[int, int] = {}
    for n, (lineno, d) in enumerate(raw_steps):
        md_lines[n] = lineno
        try:
            steps.append(load_text(yaml.safe_dump(d, sort_keys=False), Step, path))
        except ConfigError as exc:
            raise ConfigError(path, lineno, 1, exc.message) from None
    rid = meta.id or re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-") or "runbook"
    description = meta.description or "\n".join(desc).strip()
    try:
        rb = Runbook(id=rid, title=title, description=description, tags=list(meta.tags),
                     when_to_use=meta.when_to_use, params=list(meta.params), steps=steps,
                     source=str(path))
        rb.__check__()
    except Invalid as exc:
        raise ConfigError(path, 1, 1, str(exc)) from None
    check_references(rb, _Where(path, md_lines=md_lines))
    return rb


# --------------------------------------------------------------------------- files


RUNBOOK_SUFFIXES = (".yaml", ".yml", ".md")


def load_runbook(path: str | Path) -> Runbook:
    """Load one runbook file (YAML or Markdown). Raises :class:`ConfigError`."""
    p = Path(path)
    text = read_text_file(p)
    if p.suffix.lower() == ".md":
        return load_markdown_runbook(p, text)
    return load_yaml_runbook(p, text)


def shipped_dir() -> Path:
    """The ``runbooks/`` directory shipped with opsconsole (repository top level)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "runbooks"
        if cand.is_dir() and cand != here.parent and (parent / "pyproject.toml").exists():
            return cand
    return here.parents[3] / "runbooks"


def runbook_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir()
                              if f.suffix.lower() in RUNBOOK_SUFFIXES and not f.name.startswith(".")
                              and f.name.lower() not in ("readme.md",)))
        else:
            out.append(p)
    return out


def runbook_dirs(config_dirs: list[str] | None = None) -> list[Path]:
    dirs = [shipped_dir()]
    for d in config_dirs or []:
        p = Path(d).expanduser()
        if p not in dirs:
            dirs.append(p)
    return dirs


def load_all(paths: list[Path]) -> list[Loaded]:
    """Every runbook file under ``paths``; a broken file is listed with its error, the others
    still load. A later id that repeats an earlier one is an error on the later file."""
    out: list[Loaded] = []
    seen: dict[str, Path] = {}
    for p in paths:
        if not p.exists():
            out.append(Loaded(p, None, ConfigError(p, None, None, "runbook directory or file does not exist")))
    for f in runbook_files([p for p in paths if p.exists()]):
        try:
            rb = load_runbook(f)
        except ConfigError as exc:
            out.append(Loaded(f, None, exc))
            continue
        if rb.id in seen:
            out.append(Loaded(f, None, ConfigError(f, None, None,
                                                   f"id {rb.id!r} is already used by {seen[rb.id]}")))
            continue
        seen[rb.id] = f
        out.append(Loaded(f, rb))
    return out


def find(loaded: list[Loaded], ref: str) -> Runbook:
    """A runbook by id, or by path (loaded on the spot)."""
    for item in loaded:
        if item.runbook and item.runbook.id == ref:
            return item.runbook
    p = Path(ref)
    if p.suffix.lower() in RUNBOOK_SUFFIXES or p.exists():
        return load_runbook(p)
    for item in loaded:
        if item.runbook is None and item.path.stem == ref and item.error:
            raise item.error
    ids = ", ".join(sorted(i.runbook.id for i in loaded if i.runbook))
    raise LookupError(f"no runbook {ref!r}; known: {ids}")


# --------------------------------------------------------------------------- search


def fuzzy_score(query: str, text: str) -> int | None:
    """Score ``text`` for a fuzzy ``query`` (all characters in order); None if no match.
    Higher is better: contiguous runs and word starts count more."""
    q = query.lower().strip()
    if not q:
        return 0
    t = text.lower()
    if q in t:
        idx = t.index(q)
        return 1000 - idx + (50 if idx == 0 or not t[idx - 1].isalnum() else 0)
    score = 0
    pos = -1
    first = -1
    run = 0
    for ch in q:
        if ch == " ":
            continue
        nxt = t.find(ch, pos + 1)
        if nxt < 0:
            return None
        run = run + 1 if nxt == pos + 1 else 0
        score += 5 + run * 5 + (10 if nxt == 0 or not t[nxt - 1].isalnum() else 0) - min(nxt - pos, 20) // 4
        if first < 0:
            first = nxt
        pos = nxt
    if pos - first + 1 > max(3 * len(q), len(q) + 8):
        return None  # letters spread over a long text: no match
    return score


def search(loaded: list[Loaded], query: str) -> list[Loaded]:
    """Runbooks matching ``query`` over title, tags and symptoms (best first); broken files
    match on their file name. Every word of the query must match somewhere."""
    words = query.split()
    if not words:
        return list(loaded)
    scored = []
    for n, item in enumerate(loaded):
        rb = item.runbook
        fields = [item.path.name] if rb is None else [rb.title, " ".join(rb.tags), rb.symptoms, rb.id]
        total = 0
        for w in words:
            best = None
            for n_field, (weight, f) in enumerate(zip((3, 2, 1, 2), fields, strict=False)):
                # symptoms are long prose: letters scattered over it are no match, words are
                s = fuzzy_score(w, f) if n_field != 2 or w.lower() in f.lower() else None
                if s is not None and (best is None or s * weight > best):
                    best = s * weight
            if best is None:
                break
            total += best
        else:
            scored.append((-total, n, item))
    scored.sort(key=lambda x: (x[0], x[1]))
    return [x[2] for x in scored]
