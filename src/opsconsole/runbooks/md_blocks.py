"""The code of a wiki page's fenced block, made runnable: prompts, transcripts, placeholders.

Wiki pages show terminal sessions, not scripts: ``$ kubectl get pods`` followed by what it
printed, ``db=# select …;`` followed by a result table. This module keeps the commands and
drops what was shown as output; it finds the values the reader must fill in (``<pid>``,
``<instance label from alert>``, ``YOUR_DB_HOST``, ``$NODE_NAME`` that nothing assigns) so
they are asked for as parameters instead of being run literally.

Every function scans its input line by line with patterns that cannot backtrack far
(bounded repetitions), so a hostile page costs linear time. Never imports Textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# a shell prompt: optional "user@host:path" or "[user@host dir]", then "$ " or "# "
_SHELL_PROMPT = re.compile(
    r"^\s{0,8}(?:\[[^\]\n]{1,80}\]\s?|[\w.-]{1,64}@[\w.-]{1,64}(?::[^\s$#]{0,200})?\s?)?([$#])(?: |$)")
# a psql prompt: "db=# ", "db=> ", continuation "db-# ", "db(# ", "db'# ", in a transaction "db=*#"
_PSQL_PROMPT = re.compile(r"^\s{0,8}[\w.-]{1,63}([=\-('\"])\*?[#>](?: |$)")
_META_END = re.compile(r"\\(?:gx?|watch(?:\s+[0-9.]+)?|gset|gexec)\s*$")
# <pid>, <instance label from alert>: starts with a letter, ends with a letter or digit
_ANGLE = re.compile(r"(?<![\w<])<([A-Za-z](?:[A-Za-z0-9_ .:/-]{0,48}[A-Za-z0-9_])?)>")
_YOUR = re.compile(r"\b((?:YOUR|MY)_[A-Z0-9_]{1,48})\b")
_VAR_USE = re.compile(r"\$\{?([A-Z][A-Z0-9_]{0,63})\b")
_ASSIGN = re.compile(r"^(?:export\s+|local\s+|readonly\s+)?([A-Za-z_][A-Za-z0-9_]{0,63})=(.*)$")
_NOT_PLACEHOLDERS = {"br", "b", "i", "p", "div", "span", "html", "head", "body", "code", "pre",
                     "a", "em", "strong", "eof", "stdin", "stdout", "stderr"}
# variables every shell or login session has: never asked for
ENVIRONMENT = {"HOME", "PATH", "USER", "LOGNAME", "PWD", "OLDPWD", "SHELL", "HOSTNAME", "TERM",
               "LANG", "LC_ALL", "TMPDIR", "EDITOR", "PAGER", "UID", "EUID", "PPID", "RANDOM",
               "SECONDS", "LINENO", "IFS", "KUBECONFIG", "PGHOST", "PGPORT", "PGUSER",
               "PGDATABASE", "PGPASSWORD", "PGDATA", "PGSERVICE", "PGPASSFILE", "DISPLAY",
               "SUDO_USER", "HISTFILE", "PS1", "PS2", "OPSCONSOLE_RUNBOOK"}
_SECRETISH = ("PASSWORD", "PASSWD", "TOKEN", "SECRET", "APIKEY", "API_KEY")


@dataclass
class Wanted:
    """A value the page leaves to the reader: becomes a parameter."""

    name: str
    prompt: str
    default: str | None = None
    secret: bool = False


@dataclass
class Shell:
    run: str
    env: dict[str, str] = field(default_factory=dict)
    wanted: list[Wanted] = field(default_factory=list)
    transcript: bool = False


@dataclass
class Sql:
    sql: str
    args: list[str] = field(default_factory=list)
    wanted: list[Wanted] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def param_name(text: str) -> str:
    """``instance label from alert`` → ``instance_label_from_alert``."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "value"
    return name if not name[0].isdigit() else f"p_{name}"


# --------------------------------------------------------------------------- shell


def shell_transcript(body: str, always: bool) -> tuple[str, bool]:
    """The commands of a terminal session: prompt lines (``$ ``, ``# ``) and their
    continuations; output lines dropped. ``always``: the block is a ``console`` block (a
    session even without a ``$`` line); else a ``sh`` block is one only when it has a
    ``$ `` prompt. Returns (commands, whether the block was a session)."""
    lines = body.splitlines()
    if not always and not any(_prompt(line) == "$" for line in lines):
        return body, False
    out: list[str] = []
    continuing = False
    for line in lines:
        if continuing:
            out.append(line)
            continuing = line.rstrip().endswith("\\")
            continue
        m = _SHELL_PROMPT.match(line)
        if m:
            cmd = line[m.end():]
            if cmd.strip():
                out.append(cmd)
                continuing = cmd.rstrip().endswith("\\")
            continue
        if out and line.startswith("> "):  # PS2: the command goes on
            out[-1] += "\n" + line[2:]
    return "\n".join(out), True


def _prompt(line: str) -> str | None:
    m = _SHELL_PROMPT.match(line)
    return m.group(1) if m else None


def has_psql_prompt(body: str) -> bool:
    return any(_PSQL_PROMPT.match(line) for line in body.splitlines())


def _quote_state(line: str, upto: int) -> str:
    """'' outside quotes, "'" or '"' inside them, at ``line[upto]`` (one forward scan)."""
    state = ""
    i = 0
    while i < upto:
        c = line[i]
        if c == "\\" and state != "'":
            i += 2
            continue
        if state == "" and c in "'\"":
            state = c
        elif c == state:
            state = ""
        i += 1
    return state


def shell_params(run: str, known: set[str], assigned: dict[str, str]) -> Shell:
    """Placeholders in a shell command turned into parameters. ``<pid>`` outside quotes
    becomes ``{{ pid }}`` (one quoted word); inside quotes an environment variable set from
    the parameter. ``$NODE_NAME`` that the block never assigns is passed in the environment
    from parameter ``node_name`` (``assigned``: values earlier blocks gave it, a default);
    a line ``NODE_NAME=<node>`` declares that parameter and is dropped."""
    shell = Shell(run="")
    seen: set[str] = set()

    def want(name: str, prompt: str, default: str | None = None, secret: bool = False) -> None:
        if name not in seen and name not in known:
            seen.add(name)
            shell.wanted.append(Wanted(name, prompt, default, secret))

    local: set[str] = set()
    out: list[str] = []
    for line in run.splitlines():
        a = _ASSIGN.match(line.strip())
        if a:
            var, value = a.group(1), a.group(2).strip().strip("'\"")
            ph = _ANGLE.fullmatch(value) or _YOUR.fullmatch(value)
            if ph:  # NODE_NAME=<node>: the reader fills it in
                name = param_name(var)
                want(name, f"{var} ({ph.group(1)})", secret=_secretish(var))
                shell.env[var] = "{{ " + name + " }}"
                continue
            local.add(var)
            assigned.setdefault(var, value)
        for m in re.finditer(r"\b(?:for|read|select)\s+([A-Za-z_]\w{0,63})", line):
            local.add(m.group(1))
        out.append(_replace_angles(line, want, shell.env))
    text = "\n".join(out)
    for m in _VAR_USE.finditer(_without_single_quoted(text)):
        var = m.group(1)
        if var in local or var in ENVIRONMENT or var in shell.env or var.startswith(
                ("OPSCONSOLE_", "XDG_", "SSH_", "BASH", "LC_", "KUBE_")):
            continue
        name = param_name(var)
        default = assigned.get(var)
        if default is not None and (_ANGLE.fullmatch(default) or not default):
            default = None
        want(name, var, default, _secretish(var))
        shell.env[var] = "{{ " + name + " }}"
    shell.run = text
    return shell


def _secretish(var: str) -> bool:
    return any(s in var.upper() for s in _SECRETISH)


def _without_single_quoted(text: str) -> str:
    # $NF in awk '{print $NF}' is not the shell's
    return re.sub(r"'[^'\n]*'", "''", text)


def _replace_angles(line: str, want: object, env: dict[str, str]) -> str:
    parts: list[str] = []
    pos = 0
    for m in sorted([*_ANGLE.finditer(line), *_YOUR.finditer(line)], key=lambda m: m.start()):
        if m.start() < pos or _not_placeholder(m.group(1)):
            continue
        raw = m.group(1)
        name = param_name(raw[5:] if raw.startswith(("YOUR_", "MY_")) and m.re is _YOUR
                          else raw)
        want(name, raw, None, _secretish(raw))  # type: ignore[operator]
        start, end = m.start(), m.end()
        state = _quote_state(line, start)
        whole = (state and start > 0 and end < len(line) and line[start - 1] == state
                 and line[end] == state)
        if state == "":
            ref = "{{ " + name + " }}"
        elif whole and state in "'\"":
            start, end, ref = start - 1, end + 1, "{{ " + name + " }}"
        else:
            var = "OPSCONSOLE_P_" + name.upper()
            env[var] = "{{ " + name + " }}"
            ref = "${" + var + "}" if state == '"' else "'\"${" + var + "}\"'"
        parts.append(line[pos:start] + ref)
        pos = end
    parts.append(line[pos:])
    return "".join(parts)


def _not_placeholder(text: str) -> bool:
    return text.lower() in _NOT_PLACEHOLDERS or "://" in text


# --------------------------------------------------------------------------- SQL


def sql_transcript(body: str) -> tuple[str, list[str]]:
    """The SQL of a block: from a psql transcript (``db=# select …;`` then its output;
    continuation ``db-#``) the statements alone; psql meta-commands (``\\x``, ``\\d t``) are
    left out, each with a note, since the server would reject them."""
    notes: list[str] = []
    lines = body.splitlines()
    transcript = any(_PSQL_PROMPT.match(line) for line in lines)
    out: list[str] = []
    in_statement = False
    for line in lines:
        m = _PSQL_PROMPT.match(line) if transcript else None
        if transcript and not m:
            if not in_statement:
                continue  # output shown in the transcript
            content = line  # a continuation written without a prompt
        else:
            content = line[m.end():] if m else line
        stripped = content.strip()
        if stripped.startswith("\\"):
            notes.append(f"psql meta-command {stripped.split()[0]} left out (not SQL): {stripped}")
            in_statement = False
            continue
        end = _META_END.search(content)
        if end:
            notes.append(f"psql {content[end.start():].strip()} ending the statement "
                         "read as ';'")
            content = content[:end.start()].rstrip() + ";"
        if transcript and not stripped and not in_statement:
            continue
        out.append(content)
        in_statement = not content.rstrip().endswith(";") if transcript else True
    return "\n".join(out).strip("\n"), notes


def sql_params(sql: str, declared: set[str]) -> Sql:
    """``<pid>`` (or ``'<pid>'``) and ``{{ name }}`` of a declared parameter become
    ``$1, $2 …`` with the names as ``args``: values are bound, never pasted. ``{{ … }}``
    that names no declared parameter is left as it is."""
    result = Sql(sql="")
    order: list[str] = []
    pattern = re.compile(r"'<([A-Za-z](?:[A-Za-z0-9_ .:/-]{0,48}[A-Za-z0-9_])?)>'|"
                         + _ANGLE.pattern + r"|\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

    def sub(m: re.Match[str]) -> str:
        raw = m.group(1) or m.group(2)
        if raw is not None:
            if _not_placeholder(raw):
                return m.group(0)
            name = param_name(raw)
            if name not in declared and all(w.name != name for w in result.wanted):
                result.wanted.append(Wanted(name, raw))
        else:
            name = m.group(3)
            if name not in declared:
                return m.group(0)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    result.sql = pattern.sub(sub, sql)
    result.args = order
    return result


def split_statements(sql: str) -> list[str]:
    """``sql`` cut at each ``;`` outside quotes, comments and dollar quotes."""
    out: list[str] = []
    start = 0
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c in "'\"":
            j = sql.find(c, i + 1)
            i = n if j < 0 else j + 1
            continue
        if c == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:i + 66])
            if m:
                j = sql.find(m.group(0), i + len(m.group(0)))
                i = n if j < 0 else j + len(m.group(0))
                continue
        if c == ";":
            out.append(sql[start:i + 1].strip())
            start = i + 1
        i += 1
    if sql[start:].strip():
        out.append(sql[start:].strip())
    return [s for s in out if s.strip(" ;\n")]
