"""Untrusted text made safe to show: one function per place it goes. Never imports Textual.

opsconsole runs as root and draws text that anyone can write: PostgreSQL query text, runbook
step output, runbook and theme files, incident fields typed on other hosts, ``$USER``. Any of
it may carry terminal escape sequences (OSC 52 writes the clipboard, OSC 0 the window title,
CSI 2J clears the screen), a carriage return that overwrites what the line said, bidi
overrides that reorder it, Rich/Textual markup (``[@click=app.quit]``) or Markdown that forges
a heading in an export. Pick the function for the target:

==========================  ===============================================================
``for_terminal(s)``         plain terminal output (CLI ``print``, logs meant for a tty)
``one_line(s, width)``      a table cell / status line: ``for_terminal``, one line, cut
``ui.safe.rich_text(s)``   a ``rich.text.Text`` for widgets — never parsed as markup (best)
``for_rich(s)``             text spliced into *Rich* console markup (``Text.from_markup``,
                            ``Console.print``)
``for_textual(s)``          text spliced into *Textual* content markup (``Static("…")``,
                            ``Label``, ``notify``, ``Content.from_markup``)
``for_markdown(s)``         a Markdown table cell or a heading line
``for_markdown_block(s)``   a fenced Markdown block: returns ``(fence, text)``
==========================  ===============================================================

How ``for_terminal`` shows what it neutralises (compact, readable, never a control itself):

* C0 controls U+0000–U+001F become the Unicode *control pictures* U+2400+code:
  NUL → ``␀``, BEL → ``␇``, ESC → ``␛``, CR → ``␍``, LF → ``␊``, TAB → ``␉``.
  ``\\n`` and ``\\t`` may be kept (``keep_newlines``/``keep_tabs``); with ``keep_newlines`` a
  CRLF pair is first read as one newline (Windows-style output is not a spoof).
* DEL U+007F → ``␡``.
* C1 controls U+0080–U+009F (8-bit CSI ``\\x9b``, OSC ``\\x9d``, ST ``\\x9c`` …) → ``<U+009B>``.
* Invisible characters that can spoof or hide text → ``<U+XXXX>``: bidi embeddings,
  overrides and isolates (U+202A–U+202E, U+2066–U+2069), LRM/RLM/ALM (U+200E, U+200F,
  U+061C), zero-width space U+200B, word joiner and invisible operators U+2060–U+2064,
  U+2028/U+2029 (line/paragraph separators some renderers break on), BOM U+FEFF, U+180E,
  soft hyphen U+00AD, interlinear annotations U+FFF9–U+FFFB, the Unicode *tag* block
  U+E0000–U+E007F (invisible "ASCII smuggling"), and lone surrogates U+D800–U+DFFF
  (a ``surrogateescape``-decoded ``\\x9b`` byte is ``\\udc9b``: written back with
  ``surrogateescape`` it would be a raw C1 CSI again).
  ZWJ/ZWNJ (U+200D/U+200C) are kept: scripts and emoji need them and they cannot reorder.

Everything is one ``str.translate`` over a prebuilt table (plus plain ``str`` methods and
regexes with a single character class): linear time, no backtracking.
"""

from __future__ import annotations

import re

__all__ = [
    "for_terminal", "one_line", "for_rich", "for_textual",
    "for_markdown", "for_markdown_block",
]


def _visible(cp: int) -> str:
    return f"<U+{cp:04X}>"


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {cp: chr(0x2400 + cp) for cp in range(0x20)}
    table[0x7F] = "\u2421"  # ␡
    for cp in range(0x80, 0xA0):
        table[cp] = _visible(cp)
    spoofers = [0x00AD, 0x061C, 0x180E, 0x200B, 0x200E, 0x200F, 0x2028, 0x2029, 0xFEFF,
                *range(0x202A, 0x202F), *range(0x2060, 0x2065), *range(0x2066, 0x206A),
                *range(0xFFF9, 0xFFFC), *range(0xE0000, 0xE0080), *range(0xD800, 0xE000)]
    for cp in spoofers:
        table[cp] = _visible(cp)
    return table


_TABLE: dict[int, str] = _build_table()
_TABLE_KEEP_NL = {k: v for k, v in _TABLE.items() if k != 0x0A}
_TABLE_KEEP_TAB = {k: v for k, v in _TABLE.items() if k != 0x09}
_TABLE_KEEP_BOTH = {k: v for k, v in _TABLE.items() if k not in (0x09, 0x0A)}
# A printable string (str.isprintable: no Cc, Cf, Cs, Co, Cn, Zl, Zp, nor Zs other than the
# space) holds none of the characters the tables rewrite, so translating it is a copy: the
# fast path returns it as it is (issue 13: a 100,000-event export spent 0.4 s translating
# plain sentences). Checked here against the tables themselves, on this Python's Unicode data.
_PRINTABLE_IS_SAFE = not any(chr(cp).isprintable() for cp in _TABLE)
_FOLD = re.compile(r"[\t\n]+")
_BACKTICKS = re.compile(r"`+")


def for_terminal(s: str, *, keep_newlines: bool = False, keep_tabs: bool = False) -> str:
    """``s`` with every control and spoofing character made visible (see the module doc).

    The result never contains C0 (except a kept ``\\n``/``\\t``), DEL, C1, bidi controls or
    lone surrogates, so it cannot move the cursor, set the title, write the clipboard or
    reorder a line on any terminal.
    """
    if not isinstance(s, str):
        s = str(s)
    if _PRINTABLE_IS_SAFE and s.isprintable():
        return s
    if keep_newlines:
        if "\r\n" in s:
            s = s.replace("\r\n", "\n")
        return s.translate(_TABLE_KEEP_BOTH if keep_tabs else _TABLE_KEEP_NL)
    return s.translate(_TABLE_KEEP_TAB if keep_tabs else _TABLE)


def _cell_size():
    """Terminal cells one character takes: 2 for East Asian wide/full-width, 0 for
    combining marks, 1 otherwise (what terminals and Rich count; no Rich import here)."""
    import unicodedata

    def size(ch: str) -> int:
        if unicodedata.combining(ch):
            return 0
        return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1

    return size


def _fold(s: str) -> str:
    """``for_terminal`` on one line: runs of newlines/tabs become one space, ends stripped."""
    if _PRINTABLE_IS_SAFE and s.isprintable():  # no control, no newline or tab to fold
        return s.strip()
    return _FOLD.sub(" ", for_terminal(s, keep_newlines=True, keep_tabs=True)).strip()


def _cut(s: str, width: int) -> str:
    """``s`` cut to ``width`` terminal cells, the last one an ellipsis when it was cut."""
    if width <= 0:
        return ""
    if len(s) <= width and s.isascii():
        return s
    size = _cell_size()
    used, cut = 0, None
    for i, ch in enumerate(s):
        w = size(ch)
        if cut is None and used + w > width - 1:
            cut = i  # s[:i] fits in width - 1 cells, leaving one for the ellipsis
        used += w
        if used > width:
            return s[:cut] + "…"
    return s


def one_line(s: str, width: int | None = None) -> str:
    """``for_terminal``, newlines and tabs folded to single spaces, cut to ``width`` cells."""
    s = _fold(s)
    return s if width is None else _cut(s, width)


def _escape_rich(s: str) -> str:
    """Rich-markup escaping, linear: ``rich.markup.escape`` semantics without its regex.

    Rich reads ``[`` + ``[a-z#/@]`` … ``]`` (no ``[`` inside) as a tag; N backslashes before
    a tag stand for N/2 literal backslashes, an odd one escapes the tag. In plain text Rich 15
    turns ``\\[`` into ``[``. So before every ``[`` the run of N backslashes becomes 2N+1 when
    the ``[`` starts a tag, N+1 otherwise; a trailing run is doubled so a tag the caller puts
    right after keeps working (as ``rich.markup.escape`` does).
    """
    if "[" not in s and not s.endswith("\\"):
        return s
    out: list[str] = []
    pos = 0
    n = len(s)
    close = -1  # cached index of the next "]" at or after the current "["
    i = s.find("[")
    while i != -1:
        nxt = s.find("[", i + 1)
        if close != -2 and close <= i:
            close = s.find("]", i + 1)
            if close == -1:
                close = -2  # no "]" anywhere after: nothing further can be a tag
        is_tag = (i + 1 < n and (s[i + 1] in "#/@" or "a" <= s[i + 1] <= "z")
                  and close >= 0 and (nxt == -1 or close < nxt))
        j = i
        while j > pos and s[j - 1] == "\\":
            j -= 1
        backslashes = i - j
        out.append(s[pos:j])
        out.append("\\" * (2 * backslashes + 1 if is_tag else backslashes + 1))
        out.append("[")
        pos = i + 1
        i = nxt
    rest = s[pos:]
    stripped = rest.rstrip("\\")
    trailing = len(rest) - len(stripped)
    out.append(stripped + "\\" * (2 * trailing))
    return "".join(out)


def for_rich(s: str, *, keep_newlines: bool = False, keep_tabs: bool = False) -> str:
    """``for_terminal`` then escaped for Rich console markup, so ``^[0-9]+[KMG]$`` or
    ``[bold red]x[/]`` render literally. Rich also replaces ``:emoji_name:`` codes, which
    markup cannot escape: build with ``emoji=False`` or use :func:`opsconsole.ui.safe.rich_text`."""
    return _escape_rich(for_terminal(s, keep_newlines=keep_newlines, keep_tabs=keep_tabs))


def for_textual(s: str, *, keep_newlines: bool = False, keep_tabs: bool = False) -> str:
    """``for_terminal`` then escaped for Textual content markup (``Static``, ``Label``,
    ``notify``): Textual opens a tag at *any* ``[`` not preceded by a backslash
    (``[KMG]``, ``[$var]``, ``[@click=…]``), so every ``[`` becomes ``\\[``. Textual cannot
    escape a backslash right before a tag, so a trailing backslash becomes ``⧵`` (U+29F5)
    and cannot swallow the tag the caller puts after it."""
    out = for_terminal(s, keep_newlines=keep_newlines, keep_tabs=keep_tabs).replace("[", "\\[")
    if out.endswith("\\"):
        out = out[:-1] + "\u29f5"
    return out


_MD_INLINE = str.maketrans({
    "\\": "\\\\", "|": "\\|", "`": "\\`", "[": "\\[", "]": "\\]", "*": "\\*",
    "&": "&amp;", "<": "&lt;", ">": "&gt;",
})
_MD_LEADING = re.compile(r"[#+=~-]|[0-9]{1,9}(?=[.)])")


def for_markdown(s: str) -> str:
    """One Markdown table cell or heading line: ``for_terminal``, newlines folded to spaces
    (a newline cannot start a heading), ``\\``, ``|``, backticks, brackets and emphasis
    escaped, ``&``/``<``/``>`` as entities (no HTML, no blockquote), and a leading ``#``,
    ``-``, ``+``, ``=``, ``~`` or ``1.`` escaped so the field cannot start a heading, a list,
    a setext underline or a fence."""
    s = _fold(s).translate(_MD_INLINE)
    m = _MD_LEADING.match(s)
    if m:
        s = s[: m.end()] + "\\" + s[m.end():] if m.group(0)[0].isdigit() else "\\" + s
    return s


def for_markdown_block(s: str) -> tuple[str, str]:
    """A fenced block of output: ``(fence, text)`` with control characters made visible,
    newlines and tabs kept, and the backtick fence longer than any backtick run inside::

        fence, body = for_markdown_block(output)
        md = f"{fence}text\\n{body}\\n{fence}"
    """
    text = for_terminal(s, keep_newlines=True, keep_tabs=True)
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    return "`" * max(3, longest + 1), text
