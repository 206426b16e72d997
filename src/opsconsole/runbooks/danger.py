"""Which commands and statements change things, so a step running them needs confirmation.

A wiki page says nothing about danger: ``select pg_terminate_backend(<pid>);`` sits next to
``select * from pg_stat_activity;``. Markdown runbooks therefore confirm, by default, every
step this module calls changing. It errs on the side of asking: a false alarm costs the
operator one typed word, a miss can cost a database.

:func:`sql_danger` and :func:`shell_danger` return a :class:`Danger` (the word the operator
types and why) or None. Both scan their input once (no backtracking patterns). Never
imports Textual.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass


@dataclass(frozen=True)
class Danger:
    word: str  # what the operator types to confirm: "terminate", "delete", "restart", …
    reason: str  # shown with the step: what it changes


# --------------------------------------------------------------------------- SQL

# statements that only read (a WITH is read-only unless it holds a data-changing verb)
_READ_ONLY = {"select", "explain", "show", "table", "values", "with", "begin", "commit",
              "rollback", "start", "end", "set", "reset", "fetch", "declare", "close",
              "listen", "discard", "prepare", "deallocate", "execute"}
# functions that change server state even when called from a SELECT
MUTATING_FUNCTIONS: dict[str, str] = {
    "pg_terminate_backend": "terminate",
    "pg_cancel_backend": "cancel",
    "pg_reload_conf": "reload",
    "pg_rotate_logfile": "rotate",
    "pg_switch_wal": "switch",
    "pg_switch_xlog": "switch",
    "pg_promote": "promote",
    "pg_wal_replay_pause": "pause",
    "pg_wal_replay_resume": "resume",
    "pg_drop_replication_slot": "drop",
    "pg_create_physical_replication_slot": "create",
    "pg_create_logical_replication_slot": "create",
    "pg_replication_slot_advance": "advance",
    "pg_stat_reset": "reset",
    "pg_stat_reset_shared": "reset",
    "pg_stat_reset_single_table_counters": "reset",
    "pg_stat_statements_reset": "reset",
    "pg_advisory_lock": "lock",
    "pg_try_advisory_lock": "lock",
    "setval": "setval",
    "nextval": "nextval",
    "lo_unlink": "delete",
    "dblink_exec": "dblink",
    "pg_file_write": "write",
    "pg_file_unlink": "delete",
}
_DATA_VERBS = {"insert", "update", "delete", "merge", "truncate"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sql_words(sql: str) -> list[str]:
    """The lower-cased words of ``sql`` outside quotes and comments (one linear scan)."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote inside the string
                        j += 2
                        continue
                    break
                j += 1
            if c == '"':  # a quoted identifier is still a name (a function may be quoted)
                out.append(sql[i + 1:j].lower())
            i = j + 1
        elif c == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:i + 66])
            if m:
                tag = m.group(0)
                j = sql.find(tag, i + len(tag))
                i = n if j < 0 else j + len(tag)
            else:
                i += 1
        elif c.isalpha() or c == "_":
            m = _WORD.match(sql, i)
            assert m is not None
            out.append(m.group(0).lower())
            i = m.end()
        else:
            if c == ";":
                out.append(";")
            i += 1
    return out


def sql_danger(sql: str) -> Danger | None:
    """Why ``sql`` (one statement or several) changes things, or None when it only reads."""
    words = sql_words(sql)
    statements: list[list[str]] = [[]]
    for w in words:
        if w == ";":
            statements.append([])
        else:
            statements[-1].append(w)
    for st in statements:
        found = _statement_danger(st)
        if found:
            return found
    return None


def _statement_danger(words: list[str]) -> Danger | None:
    if not words:
        return None
    first = words[0]
    if first not in _READ_ONLY:
        return Danger(first, f"{first.upper()} changes the database")
    if first == "explain" and "analyze" in words[:4]:
        verbs = _DATA_VERBS & set(words)
        if verbs:
            verb = sorted(verbs)[0]
            return Danger(verb, f"EXPLAIN ANALYZE runs the {verb.upper()}")
    if first == "with":
        verbs = _DATA_VERBS & set(words)
        if verbs:
            verb = sorted(verbs)[0]
            return Danger(verb, f"the WITH query holds a {verb.upper()}")
    for fn, word in MUTATING_FUNCTIONS.items():
        if fn in words:
            return Danger(word, f"{fn}() changes the server's state")
    if first in ("select", "with") and "into" in words and "insert" not in words:
        return Danger("create", "SELECT … INTO creates a table")
    for k in range(len(words) - 1):
        if words[k] == "for" and words[k + 1] in ("update", "share", "no", "key"):
            return Danger("lock", "SELECT … FOR UPDATE/SHARE locks rows")
    return None


# --------------------------------------------------------------------------- shell

# command → (subcommands that change things (None: any use does), confirmation word)
_ANY = None
SHELL_RULES: dict[str, tuple[frozenset[str] | None, str]] = {
    "kill": (_ANY, "kill"), "pkill": (_ANY, "kill"), "killall": (_ANY, "kill"),
    "skill": (_ANY, "kill"),
    "rm": (_ANY, "delete"), "rmdir": (_ANY, "delete"), "unlink": (_ANY, "delete"),
    "shred": (_ANY, "delete"),
    "reboot": (_ANY, "reboot"), "shutdown": (_ANY, "shutdown"), "halt": (_ANY, "shutdown"),
    "poweroff": (_ANY, "shutdown"),
    "dd": (_ANY, "overwrite"), "truncate": (_ANY, "truncate"), "wipefs": (_ANY, "wipe"),
    "fdisk": (_ANY, "partition"), "parted": (_ANY, "partition"), "mkswap": (_ANY, "format"),
    "swapoff": (_ANY, "swapoff"), "mv": (_ANY, "move"), "chown": (_ANY, "chown"),
    "chmod": (_ANY, "chmod"), "userdel": (_ANY, "delete"), "umount": (_ANY, "umount"),
    "systemctl": (frozenset({"stop", "restart", "disable", "kill", "mask", "reload",
                             "try-restart", "reload-or-restart", "isolate", "reboot",
                             "poweroff", "halt", "start", "enable", "daemon-reload"}), ""),
    "service": (frozenset({"stop", "restart", "reload", "force-reload", "start"}), ""),
    "kubectl": (frozenset({"delete", "scale", "drain", "cordon", "uncordon", "rollout",
                           "apply", "patch", "edit", "replace", "set", "label", "annotate",
                           "taint", "create", "expose", "autoscale", "cp"}), ""),
    "oc": (frozenset({"delete", "scale", "adm", "rollout", "apply", "patch", "edit"}), ""),
    "helm": (frozenset({"uninstall", "delete", "rollback", "upgrade", "install"}), ""),
    "docker": (frozenset({"rm", "rmi", "stop", "kill", "restart", "prune", "system",
                          "volume", "network", "container", "compose", "update", "pause"}), ""),
    "podman": (frozenset({"rm", "rmi", "stop", "kill", "restart", "prune", "system",
                          "volume", "pod", "container"}), ""),
    "docker-compose": (frozenset({"down", "stop", "restart", "rm", "kill", "up"}), ""),
    "pg_ctl": (frozenset({"stop", "restart", "promote", "kill", "reload"}), ""),
    "pg_ctlcluster": (_ANY, "restart"),
    "patronictl": (frozenset({"restart", "failover", "switchover", "reinit", "remove",
                              "pause", "resume", "reload", "edit-config"}), ""),
    "gitlab-ctl": (frozenset({"stop", "restart", "kill", "reconfigure", "hup", "term"}), ""),
    "apt": (frozenset({"remove", "purge", "install", "upgrade", "autoremove"}), ""),
    "apt-get": (frozenset({"remove", "purge", "install", "upgrade", "dist-upgrade",
                           "autoremove"}), ""),
    "yum": (frozenset({"remove", "erase", "install", "update"}), ""),
    "dnf": (frozenset({"remove", "erase", "install", "update"}), ""),
    "git": (frozenset({"reset", "clean", "push", "checkout"}), ""),
    "crontab": (frozenset({"-r", "-e"}), ""),
    "iptables": (frozenset({"-A", "-I", "-D", "-F", "-X", "-P", "-R", "-Z", "-N",
                            "--append", "--insert", "--delete", "--flush", "--policy"}), "firewall"),
    "ip6tables": (frozenset({"-A", "-I", "-D", "-F", "-X", "-P", "-R", "-Z", "-N"}), "firewall"),
    "nft": (frozenset({"add", "delete", "flush", "insert", "replace", "-f"}), "firewall"),
    "ufw": (frozenset({"allow", "deny", "reject", "delete", "enable", "disable", "reset"}), "firewall"),
    "redis-cli": (frozenset({"flushall", "flushdb", "del", "shutdown", "config"}), ""),
}
# commands whose arguments are another command (sudo kill 1 is a kill)
_WRAPPERS = {"sudo", "doas", "env", "nohup", "nice", "ionice", "time", "timeout", "exec",
             "command", "xargs", "watch", "stdbuf", "chroot", "runuser", "su"}
_OPERATORS = {";", "&&", "||", "|", "&", "(", ")", "|&", ";;"}
_REDIRECT_OK = ("/dev/null", "/dev/stdout", "/dev/stderr", "&")
_MAX_DEPTH = 3


def shell_danger(command: str, _depth: int = 0) -> Danger | None:
    """Why the shell ``command`` (a script of any length) changes things, or None."""
    text = command.replace("\\\n", " ")
    for line in text.splitlines():
        found = _line_danger(line, _depth)
        if found:
            return found
    return None


def _words(line: str) -> list[str]:
    lex = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
    lex.whitespace_split = True
    lex.commenters = "#"
    try:
        return list(lex)
    except ValueError:  # an unclosed quote: judge the plain words
        return line.split()


def _line_danger(line: str, depth: int) -> Danger | None:
    words = _words(line)
    segment: list[str] = []
    for k, w in enumerate(words):
        if w in (">", ">|") or (w.endswith(">") and set(w) <= set("0123456789>|") and ">>" not in w):
            target = words[k + 1] if k + 1 < len(words) else ""
            if target and not target.startswith(_REDIRECT_OK):
                return Danger("overwrite", f"'> {target}' overwrites the file")
            continue
        if w in _OPERATORS or set(w) <= set(";&|()<>"):
            found = _simple_danger(segment, depth)
            if found:
                return found
            segment = []
            continue
        segment.append(w)
    found = _simple_danger(segment, depth)
    if found:
        return found
    # $(…) and `…` run commands too
    for inner in re.findall(r"\$\(([^()]*)\)|`([^`]*)`", line):
        body = inner[0] or inner[1]
        if body and depth < _MAX_DEPTH:
            found = shell_danger(body, depth + 1)
            if found:
                return found
    return None


def _simple_danger(words: list[str], depth: int) -> Danger | None:
    i = 0
    while i < len(words) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[i]):
        i += 1  # VAR=value before the command
    while i < len(words) and words[i].rsplit("/", 1)[-1] in _WRAPPERS:
        i += 1
        while i < len(words) and (words[i].startswith("-") or re.match(r"^[0-9.]+[smhd]?$", words[i])
                                  or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[i])):
            # wrapper options (sudo -u postgres takes a value)
            takes_value = words[i] in ("-u", "-g", "-n", "-c", "-s", "-k", "--user", "-I")
            i += 2 if takes_value and words[i] != "-c" else 1
    if i >= len(words):
        return None
    name = words[i].rsplit("/", 1)[-1]
    args = words[i + 1:]
    if name in ("sh", "bash", "zsh", "dash") and "-c" in args and depth < _MAX_DEPTH:
        k = args.index("-c")
        return shell_danger(args[k + 1], depth + 1) if k + 1 < len(args) else None
    if name in ("psql",):
        for k, a in enumerate(args):
            if a in ("-c", "--command") and k + 1 < len(args):
                found = sql_danger(args[k + 1])
                if found:
                    return found
            elif a.startswith("--command="):
                found = sql_danger(a.split("=", 1)[1])
                if found:
                    return found
        return None
    if name in ("kubectl", "docker", "podman", "oc") and args[:1] == ["exec"] and "--" in args:
        if depth < _MAX_DEPTH:
            inner = args[args.index("--") + 1:]
            found = _simple_danger(inner, depth + 1)
            if found:
                return found
    if name.startswith("mkfs"):
        return Danger("format", f"{name} formats a filesystem")
    if name == "find" and ("-delete" in args or "-exec" in args and "rm" in args):
        return Danger("delete", "find … -delete removes files")
    if name == "sed" and any(a.startswith("-i") or a == "--in-place" for a in args):
        return Danger("edit", "sed -i edits the file in place")
    if name == "tee" and "-a" not in args and any(not a.startswith("-") and not a.startswith("/dev/")
                                                  for a in args):
        return Danger("overwrite", "tee overwrites the file")
    if name == "curl":
        for k, a in enumerate(args):
            if a in ("-X", "--request") and k + 1 < len(args) and args[k + 1].upper() != "GET":
                return Danger(args[k + 1].lower(), f"curl sends a {args[k + 1].upper()} request")
        return None
    if name == "init" and args[:1] and args[0] in ("0", "6"):
        return Danger("reboot", "init 0/6 stops the machine")
    rule = SHELL_RULES.get(name)
    if rule is None:
        return None
    subs, word = rule
    if subs is None:
        return Danger(word, f"{name} {_summary(args)}".strip())
    if name == "service":  # service NAME ACTION
        action = args[1] if len(args) > 1 else ""
        return Danger(action, f"service {' '.join(args[:2])}") if action in subs else None
    hit = next((a for a in args if a in subs or a.lower() in subs), None)
    if name in ("kubectl", "helm", "docker", "podman", "systemctl", "git", "oc", "pg_ctl",
                "patronictl", "gitlab-ctl", "apt", "apt-get", "yum", "dnf", "docker-compose"):
        # the first word that is neither an option nor an option's value is the subcommand
        first = _subcommand(args)
        hit = first if first in subs else None
        if name == "kubectl" and first == "rollout":
            second = next((a for a in args[args.index("rollout") + 1:] if not a.startswith("-")), "")
            hit = f"rollout {second}" if second in ("restart", "undo", "pause", "resume") else None
        if name in ("docker", "podman") and first in ("system", "volume", "network", "container",
                                                      "compose", "pod"):
            rest = [a for a in args[args.index(first) + 1:] if not a.startswith("-")]
            destructive = ("rm", "prune", "stop", "kill", "restart", "down", "remove")
            hit = f"{first} {rest[0]}" if rest and rest[0] in destructive else None
        if name == "git" and first == "push" and not any(a in ("-f", "--force") or
                                                         a.startswith("--force") for a in args):
            hit = None
        if name == "git" and first == "checkout" and "--" not in args and "." not in args:
            hit = None
    if hit is None:
        return None
    confirm = word or hit.split()[-1].lstrip("-").lower()
    return Danger(confirm, f"{name} {hit}")


# global options that take a value (kubectl -n NS, docker -H HOST, git -C DIR, …)
_VALUE_OPTIONS = {"-n", "--namespace", "--context", "--cluster", "--kubeconfig", "-H", "--host",
                  "-C", "-c", "-p", "--project", "-u", "--user", "-s", "--server", "-f", "--file"}


def _subcommand(args: list[str]) -> str:
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in _VALUE_OPTIONS:
            skip = True
            continue
        if not a.startswith("-"):
            return a
    return ""


def _summary(args: list[str]) -> str:
    shown = " ".join(args)
    return shown if len(shown) <= 40 else shown[:39] + "…"
