"""``tcp`` checks: open a TCP connection to ``host:port`` and time it."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from opsconsole.checks.engine import Outcome, State, classify_network_error, latency_state
from opsconsole.checks.spec import TcpCheck, split_address
from opsconsole.fmt import duration

if TYPE_CHECKING:
    from opsconsole.config import AppConfig


async def probe(spec: TcpCheck, config: AppConfig | None,
                details: dict[str, Any]) -> tuple[State, str, float | None, dict[str, Any]]:
    host, port = split_address(spec.address)
    started = time.monotonic()
    writer = None
    try:
        async with asyncio.timeout(float(spec.timeout)):
            _reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        raise Outcome("CRITICAL", f"timed out after {duration(spec.timeout)} connecting to "
                                   f"{spec.address}") from None
    except OSError as exc:
        raise Outcome("CRITICAL", classify_network_error(exc, host, port)) from None
    finally:
        if writer is not None:
            writer.close()
    latency = time.monotonic() - started
    state, msg = latency_state(latency, spec)
    return state, msg or f"connected to {spec.address} in {duration(latency)}", latency, details
