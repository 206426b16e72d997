"""Blank a secret in this process's own command line, so ``ps`` and ``/proc/PID/cmdline``
stop showing it (what libpq-based tools advise; Python has no API for it).

The kernel shows the argument area of the process's stack (``arg_start``..``arg_end`` in
``/proc/self/stat``); a process may write its own memory through ``/proc/self/mem``. The
secret's bytes are replaced in place with ``*`` of the same length. Before this runs the
secret was visible for a moment; use ``--dsn-file``, ``PGPASSWORD`` or ``~/.pgpass`` to
never show it at all.
"""

from __future__ import annotations


def scrub_process_argv(secret: str) -> bool:
    """Replace every occurrence of ``secret`` in the process's command line; True when the
    command line no longer holds it (False where /proc is not available or writable)."""
    if not secret:
        return False
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2:].split()
        arg_start, arg_end = int(fields[45]), int(fields[46])  # fields 48 and 49 of stat(5)
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(arg_start)
            region = mem.read(arg_end - arg_start)
            raw = secret.encode()
            if raw not in region:
                return True
            mem.seek(arg_start)
            mem.write(region.replace(raw, b"*" * len(raw)))
    except (OSError, ValueError, IndexError):
        return False
    return True
