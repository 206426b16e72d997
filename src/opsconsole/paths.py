"""Where opsconsole's shipped files (themes, runbooks) are, however it was installed.

One rule, first match wins:

1. a source checkout: the top-level ``<kind>/`` directory next to ``pyproject.toml``, just
   above the package (``src/opsconsole`` or ``opsconsole``) — running from the repository,
   or from an editable install of it;
2. ``sys.prefix/share/opsconsole/<kind>``: where ``pip install`` (wheel data files) puts
   them, in a virtualenv or system-wide;
3. ``<dir>/opsconsole/<kind>`` for each ``$XDG_DATA_DIRS`` entry (default
   ``/usr/local/share:/usr/share``): distribution packages.

Never imports Textual.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import opsconsole

KINDS = ("themes", "runbooks")
XDG_DATA_DIRS_DEFAULT = "/usr/local/share:/usr/share"


def _checkout_root() -> Path | None:
    """The source tree the package is imported from, if it is one."""
    package = Path(opsconsole.__file__).resolve().parent
    for root in (package.parent.parent, package.parent):  # src layout, then flat layout
        if (root / "pyproject.toml").is_file():
            return root
    return None


def shipped_candidates(kind: str) -> list[Path]:
    """Every place :func:`shipped_dir` looks for ``kind``, in order."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of shipped files {kind!r}; expected one of: {', '.join(KINDS)}")
    out: list[Path] = []
    root = _checkout_root()
    if root is not None:
        out.append(root / kind)
    out.append(Path(sys.prefix) / "share" / "opsconsole" / kind)
    xdg = os.environ.get("XDG_DATA_DIRS") or XDG_DATA_DIRS_DEFAULT
    out.extend(Path(d) / "opsconsole" / kind for d in xdg.split(os.pathsep) if d)
    return out


def shipped_dir(kind: str) -> Path | None:
    """The directory of shipped ``kind`` files ("themes" or "runbooks"), or None when this
    installation has none."""
    return next((d for d in shipped_candidates(kind) if d.is_dir()), None)
