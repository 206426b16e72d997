"""Fuzzy search over runbooks: title, tags, symptoms and id. Never imports Textual."""

from __future__ import annotations

from typing import Any

from opsconsole.runbooks.model import Loaded


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


# ---------------------------------------------------------------------- suggestions
# words of an alert that mean a tag's word (a rule's signal says pg, runbooks say postgres)
_ALIASES = {"pg": ("postgres",), "postgresql": ("postgres",), "mem": ("memory",),
            "fs": ("filesystem",), "conn": ("connections",), "cpu": ("cpu",),
            # the lock-chain signals (blocked_sessions, root_blocker_pid) are about locks
            "blocked": ("blocked", "locks"), "blocker": ("blocker", "locks"),
            "lock": ("locks",)}
_STOP = {"the", "and", "for", "with", "state", "value", "used", "pct", "total", "main",
         "critical", "warning", "info", "firing", "pending", "check", "host"}


def _words(text: str) -> set[str]:
    import re

    out = set()
    for word in re.findall(r"[a-z][a-z0-9]*", text.lower()):
        for w in _ALIASES.get(word, (word,)):
            if len(w) >= 3 and w not in _STOP:
                out.add(w)
    return out


def _hit(a: str, b: str) -> bool:
    """The same word, or the same stem: ``lock``/``locks``, ``blocked``/``blocker`` (a
    common start of 5 letters or more, or all of a 4-letter word)."""
    if a == b:
        return True
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n >= 5 or (n >= 4 and min(len(a), len(b)) == n)


def suggest(loaded: list[Loaded], alerts: list[dict[str, Any]]) -> list[tuple[Loaded, str]]:
    """The runbooks that fit the alerts firing (or pending) now, best first, each with the
    alert it is suggested for: for each alert in the order given (worst first), the rule's
    own ``runbook:``, then the runbooks whose tags, id or ``when_to_use`` share words with
    the alert's name, labels and condition (tags and id count double; only those within a
    word of the best fit). A pure function."""
    by_id = {i.runbook.id: i for i in loaded if i.runbook is not None}
    out: list[tuple[Loaded, str]] = []
    seen: set[str] = set()
    live = [a for a in alerts if a.get("state") in ("firing", "pending", "silenced", "nodata")]
    live.sort(key=lambda a: 0 if a.get("state") == "firing" else 1)  # stable: worst first
    for a in live:
        name = str(a.get("name", "?"))
        own = by_id.get(str(a.get("runbook") or ""))
        if own is not None and own.runbook is not None and own.runbook.id not in seen:
            seen.add(own.runbook.id)
            out.append((own, name))
        labels = a.get("labels") or {}
        words = _words(" ".join([name, str(a.get("expr") or ""),
                                 *(str(v) for k, v in labels.items()
                                   if k not in ("alertname", "severity"))]))
        scored = []
        for n, item in enumerate(loaded):
            rb = item.runbook
            if rb is None or rb.id in seen:
                continue
            strong = _words(" ".join([*rb.tags, rb.id]))
            weak = _words(rb.symptoms)
            score = sum(2 if any(_hit(w, s) for s in strong) else
                        1 if any(_hit(w, s) for s in weak) else 0 for w in words)
            if score >= 2:
                scored.append((-score, n, item))
        # only the close fits: one shared generic word (postgres, high) is not a fit
        best = -min((x[0] for x in scored), default=0)
        for _, _, item in sorted((x for x in scored if -x[0] >= best - 1),
                                 key=lambda x: (x[0], x[1])):
            assert item.runbook is not None
            seen.add(item.runbook.id)
            out.append((item, name))
    return out


def ranked(loaded: list[Loaded], query: str,
           alerts: list[dict[str, Any]] | None) -> list[tuple[Loaded, str | None]]:
    """What the picker lists: with no query, the suggestions for ``alerts`` first (marked
    with their alert), then every other runbook as :func:`search` orders them; with a
    query, :func:`search`'s order, the suggested ones still marked."""
    sugg = suggest(loaded, alerts or [])
    mark = {id(item): name for item, name in sugg}
    found = search(loaded, query)
    if query.split():
        return [(item, mark.get(id(item))) for item in found]
    first = [(item, name) for item, name in sugg]
    return first + [(item, None) for item in found if id(item) not in mark]
