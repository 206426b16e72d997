"""The waiting helper: returns the condition's value, fails with what it last saw."""

from __future__ import annotations

import asyncio

import pytest

from eventually import eventually, eventually_sync


def test_sync_returns_the_first_truthy_value():
    calls = iter([0, None, "", "ready"])
    assert eventually_sync(lambda: next(calls), timeout=5, interval=0.001) == "ready"


def test_sync_times_out_with_the_last_state():
    with pytest.raises(AssertionError, match=r"waiting for the door.*last seen:\nclosed"):
        eventually_sync(lambda: False, timeout=0.05, interval=0.01, what="the door",
                        last=lambda: "closed")


async def test_async_awaits_coroutine_conditions():
    state = {"n": 0}

    async def cond():
        state["n"] += 1
        return state["n"] >= 3 and state["n"]

    assert await eventually(cond, timeout=5, interval=0.001) == 3


async def test_async_times_out():
    with pytest.raises(AssertionError, match="timed out after 0.05s waiting for nothing"):
        await eventually(lambda: False, timeout=0.05, what="nothing")
    await asyncio.sleep(0)
