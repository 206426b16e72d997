"""``opsconsole serve [--host 127.0.0.1] [--port 8080] [--wall] [--token T]``: the console
(or the wall) in a browser, with textual-serve (``pip install 'opsconsole[web]'``).

Always read-only: each browser connection runs ``opsconsole --read-only`` (or ``opsconsole
wall``, read-only by construction) — no flag changes that. Bound to 127.0.0.1 by default;
any other address needs a token (``--token``, ``$OPSCONSOLE_SERVE_TOKEN``, or one is made
and printed once, to the terminal only); requests without it get 401 (see
:mod:`.serve_server`). Exit status: 0 stopped · 2 bad input or textual-serve missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import os
import secrets
import shlex
import sys
from collections.abc import Callable
from typing import Any

TOKEN_ENV = "OPSCONSOLE_SERVE_TOKEN"


def register(sub: Any, subcommand_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "serve", help="serve the console (or the wall) to browsers, read-only "
        "(needs: pip install 'opsconsole[web]')",
        description="Serve the console, read-only, to web browsers with textual-serve (one "
        "read-only console per browser tab; --wall serves the war-room wall view instead). "
        "Bound to 127.0.0.1 unless --host says otherwise; another address needs a token "
        f"(--token, ${TOKEN_ENV}, or one is generated and printed once): requests without "
        "it get 401. Behind an authenticating reverse proxy, give --public-url.")
    subcommand_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; "
                   "anything but loopback requires a token)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--wall", action="store_true", help="serve the war-room wall view "
                   "instead of the console")
    p.add_argument("--token", metavar="T", help=f"the token browsers must give (?token=T, "
                   f"then a cookie; or Authorization: Bearer T). Prefer ${TOKEN_ENV}: a "
                   "command line is visible to every user in ps")
    p.add_argument("--public-url", metavar="URL", help="the URL browsers reach this server "
                   "at, when it is behind a reverse proxy (e.g. https://ops.example.com/wall)")
    p.set_defaults(run=run)


def is_loopback(host: str) -> bool:
    if host.strip().lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def served_command(args: argparse.Namespace, data_dir: str) -> str:
    """The command each browser connection runs: read-only whatever the flags; every
    argument quoted (a path never becomes shell syntax)."""
    argv = [sys.executable, "-m", "opsconsole"]
    argv += ["wall"] if args.wall else ["--read-only"]
    if getattr(args, "config", None):
        argv += ["--config", os.path.abspath(args.config)]
    argv += ["--data-dir", data_dir]
    return " ".join(shlex.quote(a) for a in argv)


def _say_once(text: str) -> None:
    """To the terminal itself (not to a log that stdout/stderr may be sent to)."""
    try:
        with open("/dev/tty", "w", encoding="utf-8") as tty:
            tty.write(text + "\n")
            return
    except OSError:
        pass
    print(text, file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from opsconsole.cli.common import EXIT_USAGE, load_or_exit
    from opsconsole.config import resolve_data_dir

    if importlib.util.find_spec("textual_serve") is None:
        print("opsconsole serve: textual-serve is not installed; install the web extra: "
              "pip install 'opsconsole[web]'", file=sys.stderr)
        return EXIT_USAGE
    if not 0 < args.port < 65536:
        print(f"opsconsole serve: --port {args.port}: expected 1..65535", file=sys.stderr)
        return EXIT_USAGE
    cfg = load_or_exit(args.config)
    data_dir = str(resolve_data_dir(args.data_dir, cfg).absolute())
    env_token = os.environ.pop(TOKEN_ENV, "")  # the served apps do not inherit it
    token = args.token or env_token or None
    if args.token:
        from opsconsole.cli.procargv import scrub_process_argv

        scrub_process_argv(args.token)
        sys.argv[:] = ["***" if a == args.token else a for a in sys.argv]
    if token is None and not is_loopback(args.host):
        token = secrets.token_urlsafe(24)
        _say_once(f"opsconsole serve: --host {args.host} is not loopback: browsers need this "
                  f"token (shown once): {token}\n  open http://{args.host}:{args.port}/"
                  f"?token={token}")
    from opsconsole.cli.serve_server import TokenServer

    server = TokenServer(served_command(args, data_dir), args.host, args.port, token=token,
                         title="opsconsole wall" if args.wall else "opsconsole (read-only)",
                         public_url=args.public_url)
    server.serve()
    return 0
