"""Markdown runbooks (``*.md``): a wiki page runs as it is.

The page is parsed by markdown-it-py (CommonMark, plus tables, front matter, task lists
and MkDocs admonitions from mdit-py-plugins), so CommonMark decides what a fence is: fences
in list items, blockquotes (``> [!WARNING]``) and admonitions (``!!! warning``) are found,
an HTML comment never yields a step, an unclosed fence runs to the end of the page.

- The title is the front matter's ``title``, else the first heading (any level, ATX or
  setext), else the file name. Other headings are sections.
- ``sh``/``bash``/``shell``/``zsh`` fences are shell steps; ``console``/``shell-session``
  fences (and ``sh`` fences with ``$ `` prompts) are sessions: the prompt lines run, the
  output shown is not. ``sql``/``postgresql``/``psql``/``pgsql`` fences are SQL steps; a psql
  transcript becomes its statements; meta-commands (``\\x``) are left out with a note.
- Every other fence (none, ``promql``, ``yaml``, ``text`` …) and indented code is reference
  text, shown with the step it belongs to, never run.
- ``- [ ]``, ``- [x]`` and ``1. [ ]`` items are manual checklist steps.
- Placeholders (``<pid>``, ``$NODE_NAME`` that nothing assigns, ``YOUR_DB_HOST``) become
  parameters (see :mod:`opsconsole.runbooks.md_blocks`); a step that changes things
  (:mod:`opsconsole.runbooks.danger`) needs confirmation unless the fence says ``confirm=``.

Options go after the language (```` ```sql database=main timeout=5s ````); documentation
tools' own options (``title="x.sh"``, ``{.line-numbers}``, ``copy``, ``linenums="1"``) are
ignored. A step's title is the first sentence of the paragraph before it, else its section.
Never imports Textual.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.admon import admon_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

from opsconsole.runbooks import md_blocks
from opsconsole.runbooks.danger import Danger, shell_danger, sql_danger
from opsconsole.runbooks.model import Param, Runbook, Step, Where, _rid, check_references
from opsconsole.schema import ConfigError, Duration, Invalid, field, load_text


@dataclass(frozen=True, kw_only=True)
class MarkdownMeta:
    id: str | None = field(None, check=_rid)
    title: str | None = None
    description: str = ""
    tags: list[str] = field([])
    when_to_use: str | list[str] | None = None
    params: list[Param] = field([])
    database: str | None = None  # default database for SQL blocks
    timeout: Duration | None = None  # default step timeout
    # Hugo, Jekyll, MkDocs and Docusaurus keys: accepted, meaningless to a runbook
    weight: Any = None
    date: Any = None
    lastmod: Any = None
    draft: Any = None
    aliases: Any = None
    categories: Any = None
    summary: Any = None
    slug: Any = None
    toc: Any = None
    layout: Any = None
    author: Any = None
    authors: Any = None
    keywords: Any = None
    hide: Any = None
    sidebar_position: Any = None
    sidebar_label: Any = None
    nav_order: Any = None
    parent: Any = None
    permalink: Any = None
    linkTitle: Any = None  # noqa: N815 (Hugo spells it so)
    menu: Any = None


SHELL_LANGS = {"sh", "bash", "shell", "zsh"}
SESSION_LANGS = {"console", "shell-session", "shellsession", "sh-session", "terminal"}
SQL_LANGS = {"sql", "postgresql", "postgres", "psql", "pgsql", "plpgsql"}
OPTION_KEYS = {"timeout", "retries", "confirm", "database", "milestone", "id", "title",
               "dry_run", "continue_on_failure", "retry_delay", "auto_run_safe",
               "expect", "expect_rows", "expect_matches", "expect_not_matches"}
# expect=VALUE, expect_rows=N, expect_matches=REGEX: the step's expect: mapping
EXPECT_OPTIONS = {"expect": "value", "expect_rows": "rows", "expect_matches": "matches",
                  "expect_not_matches": "not_matches"}
# options of documentation tools (MkDocs, Docusaurus, Hugo, Pandoc): not runbook options
DOC_OPTION_KEYS = {"linenums", "hl_lines", "filename", "lang", "highlight", "linenostart",
                   "showlinenumbers", "caption", "name", "class", "style", "anchor"}
DANGER_ADMONITIONS = {"warning", "danger", "caution", "attention", "error", "important"}
DEFAULT_DATABASE = "main"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return (MarkdownIt("commonmark").enable("table")
            .use(front_matter_plugin).use(tasklists_plugin).use(admon_plugin))


def _plain(inline: str) -> str:
    """Inline Markdown as plain words for a title: no backticks, emphasis or link targets."""
    text = re.sub(r"\[([^\]\n]{0,200})\]\([^)\n]{0,500}\)", r"\1", inline)
    return " ".join(text.replace("`", "").replace("**", "").replace("__", "").split())


def _lead(paragraph: str) -> str:
    lead = _plain(paragraph.split("\n", 1)[0])
    lead = re.sub(r"^\[![A-Za-z]{1,12}\]\s*", "", lead)  # GitHub alert marker
    lead = re.split(r"(?<=[.!?:])\s", lead, maxsplit=1)[0].rstrip(".:")
    return lead if len(lead) <= 70 else lead[:69].rstrip() + "…"


def parse_options(info: str, path: Path, line: int, column: int) -> dict[str, Any]:
    """Runbook options from a fence's info string after the language; located errors."""
    opts: dict[str, Any] = {}
    rest = re.sub(r"\{[^{}\n]{0,500}\}", " ", info)  # {.line-numbers}, {linenos=table}
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise ConfigError(path, line, column, f"fence options: {exc}") from None
    for w in words:
        if "=" not in w:
            continue  # copy, showLineNumbers, …: a documentation tool's flag
        k, v = w.split("=", 1)
        if k.lower() in DOC_OPTION_KEYS or k.startswith("data-"):
            continue
        if k == "title" and re.fullmatch(r"[\w./-]{1,200}\.\w{1,10}", v):
            continue  # title="restart.sh": the file name a documentation tool shows
        if k not in OPTION_KEYS:
            col = column + max(info.find(w.split("=", 1)[0] + "="), 0)
            raise ConfigError(path, line, col, f"unknown fence option {k!r}; expected one of: "
                              f"{', '.join(sorted(OPTION_KEYS))}")
        if k in EXPECT_OPTIONS:
            typed = yaml.safe_load(v) if k in ("expect", "expect_rows") else v
            opts.setdefault("expect", {})[EXPECT_OPTIONS[k]] = typed
            continue
        opts[k] = yaml.safe_load(v) if k in ("retries", "continue_on_failure",
                                             "auto_run_safe") else v
    return opts


class _Builder:
    """Walks the token stream once, collecting steps as plain dicts."""

    def __init__(self, path: Path, lines: list[str], meta: MarkdownMeta):
        self.path = path
        self.lines = lines
        self.meta = meta
        self.title = meta.title
        self.sections: list[tuple[int, str]] = []
        self.steps: list[tuple[int, dict[str, Any]]] = []
        self.pending: list[str] = []  # prose and reference text since the last step
        self.paragraph = ""  # the last paragraph: the next step's title
        self.has_reference = False
        self.description: list[str] = []
        self.declared = {p.name for p in meta.params}
        self.wanted: dict[str, md_blocks.Wanted] = {}
        self.assigned: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.items: list[dict[str, Any]] = []  # open list items
        self.warnings = 0  # open warning admonitions / alerts
        self.needs_database = False
        self.containers: list[Token] = []  # open admonitions and blockquotes

    @property
    def section(self) -> str | None:
        return " › ".join(t for _, t in self.sections) or None

    # ------------------------------------------------------------------ tokens
    def walk(self, tokens: list[Token]) -> None:
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            kind = tok.type
            if kind == "heading_open":
                self.heading(int(tok.tag[1]), tokens[i + 1].content)
                i += 3
                continue
            if kind == "list_item_open":
                task = "task-list-item" in str(tok.attrs.get("class", ""))
                self.items.append({"task": task, "step": None})
            elif kind == "list_item_close":
                self.items.pop()
            elif kind == "inline" and tok.map is not None:
                self.inline(tok)
            elif kind == "fence":
                self.fence(tok)
            elif kind == "code_block":
                self.reference(tok.content, "")
            elif kind == "table_open":
                j = i
                while tokens[j].type != "table_close":
                    j += 1
                if tok.map:
                    self.reference_text("\n".join(self.lines[tok.map[0]:tok.map[1]]))
                i = j + 1
                continue
            elif kind == "admonition_open":
                if str(tok.meta.get("tag", "")).lower() in DANGER_ADMONITIONS:
                    self.warnings += 1
                    tok.meta["danger"] = True
                self.containers.append(tok)
            elif kind in ("admonition_close", "blockquote_close"):
                if self.containers.pop().meta.get("danger"):
                    self.warnings -= 1
            elif kind == "blockquote_open":
                nxt = tokens[i + 2] if i + 2 < len(tokens) else None
                alert = nxt is not None and nxt.type == "inline" and re.match(
                    r"\[!(WARNING|CAUTION|IMPORTANT|DANGER)\]", nxt.content, re.I)
                tok.meta["danger"] = bool(alert)
                self.warnings += 1 if alert else 0
                self.containers.append(tok)
            # html_block (comments, <details>): never a step, not shown
            i += 1

    def heading(self, level: int, content: str) -> None:
        self.flush()
        text = _plain(content)
        if self.title is None:
            self.title = text
            return
        if not self.steps and not self.sections and text.lower() == self.title.lower():
            return  # the front matter's title, repeated as the page's first heading
        while self.sections and self.sections[-1][0] >= level:
            self.sections.pop()
        self.sections.append((level, text))

    def inline(self, tok: Token) -> None:
        item = self.items[-1] if self.items else None
        if item is not None and item["task"] and item["step"] is None:
            assert tok.map is not None
            label = _plain(tok.content).strip()
            item["step"] = len(self.steps)
            self.steps.append((tok.map[0] + 1, {"kind": "manual", "title": label,
                                                "text": self.text(), "section": self.section}))
            self.pending, self.paragraph, self.has_reference = [], "", False
            return
        text = tok.content
        if not text.strip():
            return
        # GitHub alerts: "> [!WARNING]" shown as a word, not as link syntax; not a title
        alert = re.match(r"\[!([A-Za-z]{1,12})\]\s*", text)
        self.paragraph = text[alert.end():] if alert else text
        self.pending.append(f"{alert.group(1).capitalize()}: {self.paragraph}" if alert else text)

    def reference(self, code: str, lang: str) -> None:
        self.reference_text(f"```{lang}\n{code.rstrip()}\n```")

    def reference_text(self, text: str) -> None:
        self.pending.append(text)
        self.has_reference = True

    def text(self) -> str:
        return "\n\n".join(p.strip("\n") for p in self.pending).strip()

    def flush(self) -> None:
        """Text left over at a heading or the end: the last step's (same section), a step
        of its own when it holds reference text, else (before any step) the description."""
        if not self.pending:
            return
        text = self.text()
        if self.steps and self.steps[-1][1].get("section") == self.section:
            last = self.steps[-1][1]
            last["text"] = (last["text"] + "\n\n" + text).strip()
        elif self.has_reference:
            title = _lead(self.paragraph) or self.section or self.title or self.path.stem
            self.add_step(1, {"kind": "manual", "title": title, "text": text})
        elif not self.steps and not self.sections:
            self.description.append(text)
        self.pending, self.paragraph, self.has_reference = [], "", False

    # ------------------------------------------------------------------ fences
    def fence(self, tok: Token) -> None:
        assert tok.map is not None
        lineno = tok.map[0] + 1
        info = tok.info.strip()
        lang, _, rest = info.partition(" ")
        if lang.startswith("{"):  # Pandoc: ```{.bash .numberLines}
            m = re.search(r"\.([\w+-]{1,30})", info)
            lang, rest = (m.group(1) if m else ""), info
        lang = lang.lower()
        body = tok.content
        if lang in SESSION_LANGS and md_blocks.has_psql_prompt(body) and not any(
                md_blocks._prompt(x) for x in body.splitlines()):
            lang = "psql"
        if lang not in SHELL_LANGS | SESSION_LANGS | SQL_LANGS:
            self.reference(body, lang)
            return
        source_line = self.lines[tok.map[0]] if tok.map[0] < len(self.lines) else ""
        column = max(source_line.find(rest), 0) + 1 if rest else 1
        opts = parse_options(rest, self.path, lineno, column)
        if lang in SQL_LANGS:
            self.sql_steps(lineno, body, opts)
        else:
            self.shell_step(lineno, body, lang in SESSION_LANGS, opts)

    def shell_step(self, lineno: int, body: str, session: bool, opts: dict[str, Any]) -> None:
        run, transcript = md_blocks.shell_transcript(body, always=session)
        if not run.strip():
            if body.strip():
                self.reference(body, "console")  # output only: nothing to run
            return
        shell = md_blocks.shell_params(run, self.declared, self.assigned)
        self.want(shell.wanted)
        if not shell.run.strip():
            return  # only NODE_NAME=<node> lines: the parameters are asked for
        step: dict[str, Any] = {"kind": "shell", "run": shell.run}
        if shell.env:
            step["env"] = shell.env
        self.add_step(lineno, step, opts, shell_danger(shell.run))

    def sql_steps(self, lineno: int, body: str, opts: dict[str, Any]) -> None:
        sql, notes = md_blocks.sql_transcript(body)
        if not sql.strip():
            if notes:
                self.reference_text("\n".join(notes))
            return
        statements = md_blocks.split_statements(sql)
        parts = [md_blocks.sql_params(sql, self.declared)]
        if len(statements) > 1 and parts[0].args:
            # bound parameters need one statement per step
            parts = [md_blocks.sql_params(s, self.declared) for s in statements]
        db = opts.pop("database", None) or self.meta.database
        if not db:
            db = "{{ database }}"
            self.needs_database = True
        for n, part in enumerate(parts):
            self.want(part.wanted)
            step: dict[str, Any] = {"kind": "sql", "sql": part.sql, "args": part.args,
                                    "database": db}
            if notes and n == 0:
                step["notes"] = notes
            self.add_step(lineno, step, dict(opts), sql_danger(part.sql))

    def want(self, wanted: list[md_blocks.Wanted]) -> None:
        for w in wanted:
            if w.name not in self.declared and w.name not in self.wanted:
                self.wanted[w.name] = w

    def add_step(self, lineno: int, step: dict[str, Any], opts: dict[str, Any] | None = None,
                 danger: Danger | None = None) -> None:
        opts = dict(opts or {})
        item = self.items[-1] if self.items else None
        lead = _lead(self.paragraph)
        if item is not None and item["task"] and item["step"] is not None and \
                item["step"] == len(self.steps) - 1 and step["kind"] != "manual":
            # "1. [ ] Check replication" with its query inside: one step, titled by the item
            _, manual = self.steps.pop()
            lead = lead or manual["title"]
            self.pending = [manual["text"], *self.pending] if manual["text"] else self.pending
            item["step"] = None
        base = opts.pop("title", None) or lead or self.section or self.title or self.path.stem
        count = self.counts.get(base, 0) + 1
        self.counts[base] = count
        notes = step.pop("notes", [])
        text = self.text()
        if notes:
            text = (text + "\n\n" + "\n".join(f"Note: {x}" for x in notes)).strip()
        if self.warnings and danger is None and step["kind"] != "manual":
            danger = Danger("run", "the page warns about this step")
        if danger is not None and "confirm" not in opts and step["kind"] != "manual":
            opts["confirm"] = danger.word
            text = (text + f"\n\nNeeds confirmation: {danger.reason}.").strip()
        step = {"title": base if count == 1 else f"{base} ({count})", "text": text,
                "section": self.section, **step}
        if self.meta.timeout is not None:
            step["timeout"] = float(self.meta.timeout)
        step.update(opts)
        self.steps.append((lineno, step))
        self.pending, self.paragraph, self.has_reference = [], "", False


def load_markdown_runbook(path: Path, text: str) -> Runbook:
    """The runbook a Markdown page describes. Raises :class:`ConfigError` (file:line:col)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    tokens = _parser().parse(text)
    meta = MarkdownMeta()
    if tokens and tokens[0].type == "front_matter":
        fm = "\n" + tokens[0].content  # line numbers as in the file (after the '---')
        meta = load_text(fm, MarkdownMeta, path) if fm.strip() else MarkdownMeta()
    elif lines and lines[0].strip() == "---" and (len(lines) < 2 or lines[1].strip()):
        raise ConfigError(path, 1, 1, "front matter: expected a closing '---' line")
    b = _Builder(path, lines, meta)
    b.walk(tokens)
    b.flush()
    title = b.title or path.stem
    raw_steps = b.steps
    if not raw_steps:
        raise ConfigError(path, 1, 1, "no steps: expected ```sh / ```sql blocks or '- [ ]' items")
    params = list(meta.params)
    for w in b.wanted.values():
        params.append(Param(name=w.name, prompt=w.prompt, secret=w.secret,
                            default=None if w.secret else w.default))
    if b.needs_database and "database" not in b.declared and "database" not in b.wanted:
        params.append(Param(name="database", prompt="Database (a name from the config)",
                            default=DEFAULT_DATABASE))
    steps = []
    md_lines: dict[int, int] = {}
    for n, (lineno, d) in enumerate(raw_steps):
        md_lines[n] = lineno
        try:
            steps.append(load_text(yaml.safe_dump(d, sort_keys=False), Step, path))
        except ConfigError as exc:
            raise ConfigError(path, lineno, 1, exc.message) from None
    rid = meta.id or re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-") or "runbook"
    description = meta.description or "\n\n".join(b.description).strip()
    try:
        rb = Runbook(id=rid, title=title, description=description, tags=list(meta.tags),
                     when_to_use=meta.when_to_use, params=params, steps=steps,
                     source=str(path))
        rb.__check__()
    except Invalid as exc:
        raise ConfigError(path, 1, 1, str(exc)) from None
    check_references(rb, Where(path, md_lines=md_lines))
    return rb
