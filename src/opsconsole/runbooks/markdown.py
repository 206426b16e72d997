"""Markdown runbooks (``*.md``).

An optional YAML front matter (``---`` … ``---``) holds id, tags, params and defaults;
headings are sections; fenced ``sh``/``bash``/``shell`` blocks are shell steps and ``sql``
blocks are SQL steps (options after the language, e.g. ```` ```sql database=main
timeout=5s ````); ``- [ ]`` items are manual checklist steps. A step's title is the first
sentence of the paragraph before it (else its section). ``{{ name }}`` in a SQL block
becomes ``$1, $2 …`` with the names as ``args``, so values are bound, never pasted.

Never imports Textual.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from opsconsole.runbooks.model import (
    PLACEHOLDER,
    Param,
    Runbook,
    Step,
    Where,
    _rid,
    check_references,
)
from opsconsole.schema import ConfigError, Duration, Invalid, field, load_text


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
    check_references(rb, Where(path, md_lines=md_lines))
    return rb
