"""One scrape of a Prometheus text-exposition endpoint, bounded in time and size, parsed by
``prometheus_client``'s own parser (the format is never hand-parsed here).

:func:`scrape` is blocking (run it in a thread, never on the UI loop); it never raises: a
refused, timed-out, oversized or unparsable scrape is a :class:`Scrape` with ``ok=False``
and the reason, and reads as NO DATA downstream, not as zero.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

MAX_BYTES = 16 * 1024 * 1024
SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class Scrape:
    at: float
    ok: bool
    error: str = ""
    # sample name -> [(labels, value)]
    samples: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)
    bytes: int = 0

    @property
    def series(self) -> int:
        return sum(len(v) for v in self.samples.values())


def parse_text(text: str, at: float = 0.0) -> Scrape:
    """Exposition text → a Scrape (``ok=False`` with the parser's reason when it is bad)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    try:
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                out.setdefault(s.name, []).append((s.labels, float(s.value)))
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        return Scrape(at, False, f"cannot parse the exposition: {str(exc)[:200]}")
    return Scrape(at, True, samples=out, bytes=len(text))


def scrape(url: str, timeout: float = 5.0, max_bytes: int = MAX_BYTES,
           headers: dict[str, str] | None = None, clock: float | None = None) -> Scrape:
    """GET ``url`` within ``timeout`` seconds (connect + whole body) and at most
    ``max_bytes``; parse it."""
    import httpx

    at = time.time() if clock is None else clock
    deadline = time.monotonic() + timeout
    try:
        with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False) as client:
            with client.stream("GET", url, headers={"Accept": "text/plain", **(headers or {})}
                               ) as resp:
                if resp.status_code != 200:
                    return Scrape(at, False, f"HTTP {resp.status_code}")
                chunks: list[bytes] = []
                size = 0
                for chunk in resp.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        return Scrape(at, False, f"body over {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        return Scrape(at, False, f"timed out after {timeout:g}s")
                    chunks.append(chunk)
    except httpx.TimeoutException:
        return Scrape(at, False, f"timed out after {timeout:g}s")
    except (httpx.HTTPError, OSError) as exc:
        return Scrape(at, False, f"{type(exc).__name__}: {str(exc)[:200]}")
    try:
        text = b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        return Scrape(at, False, "the body is not UTF-8")
    return parse_text(text, at)
