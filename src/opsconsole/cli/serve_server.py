"""The web server behind ``opsconsole serve``: textual-serve's aiohttp server with a token.

Every request (the page, its static files, the websocket that drives the app) must carry
the token — ``?token=T`` on the first page (a cookie is then set for the rest, HttpOnly,
SameSite=Strict), the cookie, or ``Authorization: Bearer T`` — or gets 401. Compared in
constant time. The token is masked (``***``) in every log line this process writes
(aiohttp's access log prints the query string). Without a token (a loopback bind) nothing
is checked.

Imported only when textual-serve is installed (``pip install 'opsconsole[web]'``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from textual_serve.server import Server

COOKIE = "opsconsole_token"


class MaskToken(logging.Filter):
    """Replace the token in every log record (message and arguments) by ``***``."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if self.token:
            try:
                text = record.getMessage()
            except Exception:  # a record that cannot format: leave it to logging
                return True
            if self.token in text:
                record.msg, record.args = text.replace(self.token, "***"), None
        return True


def token_ok(request: web.Request, token: str) -> bool:
    given = [request.query.get("token", ""), request.cookies.get(COOKIE, "")]
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        given.append(auth[7:].strip())
    return any(g and hmac.compare_digest(g.encode(), token.encode()) for g in given)


class TokenServer(Server):
    """textual-serve's server, read-only command given, with a token check in front."""

    def __init__(self, command: str, host: str, port: int, *, token: str | None,
                 title: str, public_url: str | None = None) -> None:
        super().__init__(command, host=host, port=port, title=title, public_url=public_url)
        self.token = token
        self.fixed_public_url = public_url is not None

    def initialize_logging(self) -> None:
        super().initialize_logging()
        if self.token:
            mask = MaskToken(self.token)
            for handler in logging.getLogger().handlers:
                handler.addFilter(mask)
            for name in ("aiohttp.access", "aiohttp.server", "aiohttp.web", "textual-serve"):
                logging.getLogger(name).addFilter(mask)

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        if self.token:
            app.middlewares.insert(0, self._check_token)
        return app

    @web.middleware
    async def _check_token(self, request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                           ) -> web.StreamResponse:
        assert self.token is not None
        if not token_ok(request, self.token):
            return web.Response(status=401, text="401: a token is needed (?token=...)\n",
                                headers={"WWW-Authenticate": "Bearer"})
        response = await handler(request)
        if request.query.get("token") and not request.cookies.get(COOKIE) \
                and not isinstance(response, web.WebSocketResponse):
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict",
                                secure=request.secure)
        return response

    async def handle_index(self, request: web.Request) -> Any:
        # the page's URLs (static files, the websocket) on the host the browser used, so a
        # 0.0.0.0 bind works and the token cookie goes with them (unless --public-url)
        if not self.fixed_public_url:
            self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)

    async def on_startup(self, app: web.Application) -> None:
        where = self.public_url if self.fixed_public_url else f"http://{self.host}:{self.port}"
        self.console.print(f"opsconsole serve: {self.title} (read-only) on {where}"
                           + (" — token required" if self.token else ""), highlight=False)
        self.console.print("Press Ctrl+C to stop", highlight=False)

    def serve(self, debug: bool = False) -> None:
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.add_signal_handler(signal.SIGINT, self.request_exit)
            loop.add_signal_handler(signal.SIGTERM, self.request_exit)
        except NotImplementedError:
            pass
        web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False,
                    loop=loop, print=lambda *args: None)
