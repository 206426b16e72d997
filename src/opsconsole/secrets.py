"""Keep secrets off the screen, out of logs and out of exports. Never imports Textual.

:func:`mask_tokens` masks what *looks like* a credential in free text (check output, runbook
output, incident notes, query text); :func:`mask_command_line` does the same for a process's
command line (argv words or one string); :func:`mask_values` masks values known to be secret;
:func:`safe_dsn` a connection string. What is recognised:

* PEM private key blocks (``-----BEGIN … PRIVATE KEY-----`` to its END line, or to the end of
  the text when the END is missing) → one ``MASK``;
* userinfo passwords in a URL of any scheme (``postgresql://u:pw@h``, ``redis://:pw@h``),
  Slack webhook URLs;
* token shapes: AWS access key ids (``AKIA``/``ASIA``), GitHub (``ghp_ gho_ ghu_ ghs_ ghr_``,
  ``github_pat_``), GitLab ``glpat-``, Slack ``xox[abprs]-``/``xapp-``, JWTs, ``Bearer …``;
* ``KEY=value``, ``export KEY=value``, ``KEY: value``, ``"key": "value"`` (JSON/YAML/env/
  headers/DSNs) when the key names a secret: ``*password``, ``*passwd``, ``*passphrase``,
  ``pwd``, ``*secret``, ``*token``, ``*api_key``/``apikey``, ``aws_secret_access_key``,
  ``routing_key`` (PagerDuty) and other ``*_key`` names that are keys, any upper-case
  ``*_KEY`` environment variable, ``authorization`` (the scheme word ``Bearer``/``Basic``
  stays, the credential goes), ``cookie``, signatures;
* command-line options: ``--password=x``, ``--password x`` and other secret-named long
  options, ``-u/--user user:pw`` (curl), and per program (read from the programs' help):
  ``-p`` for check_pgsql, check_mysql, check_mysql_query, check_radius, sshpass, mongo*;
  ``-P`` for check_ldap(s) and check_smtp; ``-A``/``-X``/``-C`` for check_snmp; ``-s`` for
  check_nt; ``-a``/``-b`` (user:pw) for check_http/check_curl; ``-a`` for redis-cli; ``-w``
  for the ldap* tools; and the attached ``-ppw`` of the mysql/mariadb clients (their
  ``-p word`` means *prompt*, then a database). ``-p`` is a path for check_disk, a port for
  most other plugins: it is left alone there.

Every regex is linear: each starts at a boundary enforced by a look-behind (so a run of
``a``/``=``/spaces gives one start, not one per character) and no two adjacent quantifiers
share characters; repeated scanning is done by explicit loops that always move forward.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

MASK = "••••"

__all__ = ["MASK", "safe_dsn", "mask_values", "mask_tokens", "mask_command_line"]

# --------------------------------------------------------------------------- key names

_SECRET_NAMES = frozenset({
    "pwd", "bearer", "authorization", "proxy_authorization", "credentials",
    "cookie", "set_cookie", "sig", "signature", "x_amz_signature", "x_amz_credential",
    "aws_secret_access_key", "apikey", "api_key",
})
_SECRET_SUFFIXES = ("password", "passwd", "passphrase", "_pwd", "secret", "token",
                    "api_key", "apikey", "secret_key", "private_key", "routing_key",
                    "integration_key", "service_key", "encryption_key", "master_key",
                    "signing_key", "access_key", "secret_access_key")
# long command-line options that carry a secret though their name is not one of the above
_SECRET_OPTIONS = frozenset({"pass", "authpass", "community"})
_USERPASS_OPTIONS = frozenset({"user", "proxy_user", "authorization", "proxy_authorization"})


def _secret_key(key: str) -> bool:
    k = key.lower().replace("-", "_")
    if k in _SECRET_NAMES or k.endswith(_SECRET_SUFFIXES):
        return True
    return key.isupper() and key.endswith("_KEY")  # environment style: FOO_KEY=…


# --------------------------------------------------------------------------- values

_VALUE = re.compile(r"""
    "(?:[^"\\\n]|\\.)*"?        # double-quoted (JSON, shell)
  | '(?:[^'\\\n]|\\.)*'?        # single-quoted (libpq, shell)
  | [^\s&;]+                    # a bare word
""", re.X)
_VAR_REF = re.compile(r"""["']?\$\{?[A-Za-z_][A-Za-z0-9_]*\}?["']?""")
_TRAILING = "'\",)}]>"


def _masked_value(v: str) -> str:
    """``v`` (a matched value) masked, its quotes and trailing punctuation kept."""
    if v[:1] in "\"'":
        q = v[0]
        return q + MASK + (q if len(v) > 1 and v.endswith(q) else "")
    stripped = v.rstrip(_TRAILING)
    return MASK + v[len(stripped):] if stripped else v


def _not_secret(v: str) -> bool:
    """A reference to a secret (``$VAR``), an empty value or one already masked."""
    return (not v.strip("\"'") or _VAR_REF.fullmatch(v) is not None
            or v.strip("\"'") == MASK)


# --------------------------------------------------------------------------- free text

_PEM_BEGIN = re.compile(r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_URL_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*):[^\s/]*@")
_SLACK_HOOK = re.compile(r"(https://hooks\.slack\.com/services/)T[A-Za-z0-9]+/B[A-Za-z0-9]+/[A-Za-z0-9]+")
_TOKENS = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Za-z])"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|glpat-[A-Za-z0-9_-]{16,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|xapp-[A-Za-z0-9-]{10,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r")"
)
_BEARER = re.compile(r"(?i)(?<![A-Za-z0-9_])(bearer[ \t]+)[A-Za-z0-9._~+/-]{12,}=*")
_KV = re.compile(r"""(?<![\w-])([A-Za-z_][\w-]*)(["']?[ \t]*[:=][ \t]*)""")
_AUTH_SCHEME = re.compile(r"(?i)(basic|bearer|token|digest|negotiate|ntlm|apikey|sso-key)[ \t]+")
_TO_EOL = re.compile(r"[^\r\n]*")


def _mask_pem(text: str) -> str:
    if "-----BEGIN" not in text:
        return text
    out, pos = [], 0
    while (m := _PEM_BEGIN.search(text, pos)) is not None:
        out.append(text[pos:m.start()] + MASK)
        end = _PEM_END.search(text, m.end())
        if end is None:  # truncated output: the rest is still key material
            return "".join(out)
        pos = end.end()
    out.append(text[pos:])
    return "".join(out)


def _mask_kv(text: str) -> str:
    """``key=value`` / ``key: value`` / ``"key": "value"`` whose key names a secret."""
    out, pos, scan = [], 0, 0
    while (m := _KV.search(text, scan)) is not None:
        scan = m.end()
        key, sep = m.group(1), m.group(2)
        if not _secret_key(key):
            continue
        k = key.lower().replace("-", "_")
        vstart = m.end()
        if k in ("authorization", "proxy_authorization") and ":" in sep:
            scheme = _AUTH_SCHEME.match(text, vstart)
            if scheme:
                vstart = scheme.end()
        if k in ("cookie", "set_cookie") and ":" in sep:
            v = _TO_EOL.match(text, vstart)
        else:
            v = _VALUE.match(text, vstart)
        if v is None or not v.group(0):
            continue
        value = v.group(0)
        if _not_secret(value) or (k == "pwd" and value.startswith(("/", "~"))):
            continue
        if sep.strip(" \t") == "=":  # 'password = x' reads as 'password=••••'
            sep = "="
        out.append(text[pos:m.start()] + key + sep + text[m.end():vstart])
        out.append(_masked_value(value) if k not in ("cookie", "set_cookie") else MASK)
        pos = scan = v.end()
    out.append(text[pos:])
    return "".join(out)


# --------------------------------------------------------------------------- command lines

SECRET, USERPASS, ATTACHED = "secret", "user:pw", "attached"
_GLOBAL_SHORT = {"u": USERPASS, "U": USERPASS}  # curl -u/-U user:pw (no colon: nothing)
_MYSQL = {"p": ATTACHED}
PROGRAM_OPTIONS: dict[str, dict[str, str]] = {
    "check_pgsql": {"p": SECRET}, "check_mysql": {"p": SECRET},
    "check_mysql_query": {"p": SECRET}, "check_radius": {"p": SECRET},
    "check_ldap": {"P": SECRET}, "check_ldaps": {"P": SECRET}, "check_smtp": {"P": SECRET},
    "check_snmp": {"A": SECRET, "X": SECRET, "C": SECRET}, "check_nt": {"s": SECRET},
    "check_http": {"a": USERPASS, "b": USERPASS}, "check_curl": {"a": USERPASS, "b": USERPASS},
    "sshpass": {"p": SECRET}, "redis-cli": {"a": SECRET},
    "mongo": {"p": SECRET}, "mongosh": {"p": SECRET}, "mongodump": {"p": SECRET},
    "mongorestore": {"p": SECRET}, "mongoexport": {"p": SECRET}, "mongoimport": {"p": SECRET},
    **{n: {"w": SECRET} for n in ("ldapsearch", "ldapmodify", "ldapadd", "ldapdelete",
                                  "ldapwhoami", "ldappasswd", "ldapcompare", "ldapmodrdn")},
    **{n: _MYSQL for n in ("mysql", "mysqldump", "mysqladmin", "mysqlcheck", "mysqlimport",
                           "mysqlshow", "mysqlbinlog", "mysqlpump", "mariadb", "mariadb-dump",
                           "mariadb-admin", "mariadb-check", "mariadb-import", "mariadb-show")},
}
_PROGRAMS = "|".join(re.escape(n) for n in sorted(PROGRAM_OPTIONS, key=len, reverse=True))
_CMDLINE = re.compile(
    r"(?P<sep>[\n;|&])"
    rf"|(?<![\w.-])(?P<cmd>{_PROGRAMS})(?![\w.-])"
    r"|(?<![\w-])--(?P<long>[A-Za-z][\w-]*)(?P<eq>=|[ \t]+)"
    r"|(?<!\S)-(?P<opt>[A-Za-z])(?P<att>[^\s\"']*)"
)
_WORD = re.compile(r"""'[^'\n]*'?|"(?:[^"\\\n]|\\.)*"?|[^\s'";|&]+""")


def _long_kind(name: str) -> str | None:
    n = name.lower().replace("-", "_")
    if n in _USERPASS_OPTIONS:
        return USERPASS
    if n in _SECRET_OPTIONS or _secret_key(n):
        return SECRET
    return None


def _mask_word(word: str, kind: str) -> str:
    """One option value masked: all of it, or what follows ``user:`` for ``user:pw``."""
    if kind == USERPASS:
        q = word[:1] if word[:1] in "\"'" else ""
        inner = word[len(q):]
        user, colon, pw = inner.partition(":")
        if not colon or not pw.strip("\"'"):
            return word
        return q + user + ":" + MASK + (q if q and word.endswith(q) and len(word) > 1 else "")
    return word if _not_secret(word) else _masked_value(word)


def _mask_cmdline_text(text: str) -> str:
    out, pos, scan = [], 0, 0
    spec: dict[str, str] = _GLOBAL_SHORT
    while (m := _CMDLINE.search(text, scan)) is not None:
        scan = m.end()
        if m.group("sep") is not None:
            spec = _GLOBAL_SHORT
            continue
        if m.group("cmd") is not None:
            spec = {**_GLOBAL_SHORT, **PROGRAM_OPTIONS[m.group("cmd")]}
            continue
        if m.group("long") is not None:
            kind = _long_kind(m.group("long"))
            if kind is None:
                scan = m.end("long")
                continue
            w = _WORD.match(text, m.end())
            if w is None or (m.group("eq") != "=" and w.group(0).startswith("-")):
                scan = m.end("long")
                continue
            vstart, vend = w.span()
        else:
            kind = spec.get(m.group("opt"))
            if kind is None:
                continue
            if m.group("att"):
                if kind == ATTACHED:
                    kind = SECRET
                vstart, vend = m.span("att")
            else:
                if kind == ATTACHED:
                    continue
                gap = re.match(r"[ \t]+", text[m.end():m.end() + 64])
                w = _WORD.match(text, m.end() + len(gap.group(0))) if gap else None
                if w is None:
                    continue
                vstart, vend = w.span()
        out.append(text[pos:vstart] + _mask_word(text[vstart:vend], kind))
        pos = scan = vend
    out.append(text[pos:])
    return "".join(out)


def mask_command_line(cmdline: str | Sequence[str]) -> str | list[str]:
    """A process's command line with its secrets masked (for process lists).

    ``cmdline`` is one string (returned as a string) or the argv words (returned as a list of
    the same length). With words the option rules follow getopt: a word after an option that
    takes a secret is masked whatever it looks like; every word is also run through
    :func:`mask_tokens` (``PGPASSWORD=…`` given to ``env``, URLs, a ``sh -c`` script …).
    """
    if isinstance(cmdline, str):
        return mask_tokens(cmdline)
    words = [str(w) for w in cmdline]
    out: list[str] = []
    spec: dict[str, str] = _GLOBAL_SHORT
    pending: str | None = None
    pending_long = False
    for word in words:
        if pending is not None and not (pending_long and word.startswith("-")):
            out.append(_mask_word(word, pending) if word else word)
            pending = None
            continue
        pending = None
        base = os.path.basename(word)
        if base in PROGRAM_OPTIONS:
            spec = {**_GLOBAL_SHORT, **PROGRAM_OPTIONS[base]}
            out.append(word)
            continue
        if word.startswith("--") and len(word) > 2:
            name, eq, value = word[2:].partition("=")
            kind = _long_kind(name)
            if kind and eq:
                word = f"--{name}=" + (_mask_word(value, kind) if value else "")
            elif kind:
                # its value is the next word, unless that is an option: mysql's --password
                # takes a value only as --password=…
                pending, pending_long = kind, True
        elif word.startswith("-") and len(word) > 1 and word[1] in spec:
            kind = spec[word[1]]
            if len(word) > 2:
                word = word[:2] + _mask_word(word[2:], SECRET if kind == ATTACHED else kind)
            elif kind != ATTACHED:
                pending, pending_long = kind, False  # getopt: the next word, whatever it is
        out.append(mask_tokens(word))
    return out


# --------------------------------------------------------------------------- public

def safe_dsn(dsn: str) -> str:
    """A DSN/URI fit to display: the password (URI or key=value form) is masked."""
    if "://" in dsn:
        try:
            parts = urlsplit(dsn)
        except ValueError:
            return MASK
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            if ":" in userinfo:
                userinfo = userinfo.split(":", 1)[0] + ":" + MASK
            netloc = f"{userinfo}@{hostport}"
        query = re.sub(r"(?i)(password=)[^&]*", r"\1" + MASK, parts.query)
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return _mask_kv(dsn)


def mask_values(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """Replace every occurrence of each known secret value in ``text``."""
    for value in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


# Cheap, sound pre-checks (issue 13: a 100,000-event export spent most of its time here):
# each says "this pass cannot match", never the reverse. Every _TOKENS match contains one of
# these literal prefixes; every secret key name, lowered with '-' as '_', contains a name or
# suffix (or '_key', the environment style); the command-line masks need '--' or a '-letter'
# at a word start.
_TOKEN_HINT = re.compile(r"AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|xapp-|eyJ")
_KEY_HINT = re.compile("|".join(re.escape(n) for n in sorted(
    {*_SECRET_NAMES, *_SECRET_SUFFIXES, "_key"}, key=len, reverse=True)))
_SHORT_OPT = re.compile(r"(?<!\S)-[A-Za-z]")
# every _KEY_HINT alternative contains one of these (tested): a few `in` tests skip the
# 25-way alternation (~2.5 us a sentence) for the text that names no secret at all
_KEY_WORDS = ("pass", "pwd", "secret", "token", "_key", "apikey", "sig", "bearer",
              "authorization", "credential", "cookie")


def _names_a_key(low: str) -> bool:
    return (("pass" in low or "pwd" in low or "secret" in low or "token" in low
             or "_key" in low or "apikey" in low or "sig" in low or "bearer" in low
             or "authorization" in low or "credential" in low or "cookie" in low)
            and _KEY_HINT.search(low) is not None)  # the words of _KEY_WORDS, inlined


def mask_tokens(text: str) -> str:
    """Mask what looks like a credential in free text (see the module doc for the list)."""
    if not text:
        return text
    text = _mask_pem(text)
    if "://" in text:
        text = _SLACK_HOOK.sub(lambda m: m.group(1) + MASK, text)
        text = _URL_USERINFO.sub(lambda m: m.group(1) + ":" + MASK + "@", text)
    if _TOKEN_HINT.search(text):
        text = _TOKENS.sub(MASK, text)
    low = text.lower()
    if "bearer" in low:
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    if ("=" in text or ":" in text) and _names_a_key(low.replace("-", "_")):
        text = _mask_kv(text)
    if "--" in text or _SHORT_OPT.search(text):
        text = _mask_cmdline_text(text)
    return text
