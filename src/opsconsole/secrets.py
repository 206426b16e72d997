"""Keep secrets off the screen, out of logs and out of exports. Never imports Textual."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "••••"

_KV_PASSWORD = re.compile(r"(?i)\b(password|passwd|pwd)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
_TOKENISH = re.compile(
    r"(?i)(?:"
    r"\b(?:bearer|token|api[_-]?key|secret|password|passwd|authorization)\b\s*[:=]\s*\S+"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
    r")"
)


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
    return _KV_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", dsn)


def mask_values(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """Replace every occurrence of each known secret value in ``text``."""
    for value in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def mask_tokens(text: str) -> str:
    """Mask things that look like credentials (``token=…``, bearer tokens, cloud keys)."""

    def repl(m: re.Match[str]) -> str:
        s = m.group(0)
        sep = re.search(r"[:=]\s*", s)
        return s[: sep.end()] + MASK if sep else MASK

    return _TOKENISH.sub(repl, _KV_PASSWORD.sub(lambda m: f"{m.group(1)}={MASK}", text))
