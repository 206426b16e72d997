"""Fuzzy search over runbooks: title, tags, symptoms and id. Never imports Textual."""

from __future__ import annotations

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
