"""Keyed timers for the state machines' ArmTimer / CancelTimer actions.

The state machines speak wall-clock time (Unix seconds, what replay protection needs, RFC 5944
§5.7.1); asyncio schedules on its monotonic clock. `arm` converts once, at arming time. One
handle per (role, key): arming again replaces the earlier timer, as ArmTimer specifies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from typing import Any


class Timers:
    """Timers keyed by (role, key) that call `fire(role, key)` when due."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fire: Callable[[str, Any], None],
                 clock: Callable[[], float] = time.time) -> None:
        self._loop = loop
        self._fire = fire
        self._clock = clock
        self._handles: dict[tuple[str, Hashable], asyncio.TimerHandle] = {}

    def arm(self, role: str, key: Hashable, at: float) -> None:
        slot = (role, key)
        old = self._handles.get(slot)
        if old is not None:
            old.cancel()
        when = self._loop.time() + max(0.0, at - self._clock())
        self._handles[slot] = self._loop.call_at(when, self._run, slot)

    def cancel(self, role: str, key: Hashable) -> None:
        handle = self._handles.pop((role, key), None)
        if handle is not None:
            handle.cancel()

    def cancel_all(self) -> None:
        for handle in self._handles.values():
            handle.cancel()
        self._handles.clear()

    def armed(self, role: str, key: Hashable) -> bool:
        return (role, key) in self._handles

    def __len__(self) -> int:
        return len(self._handles)

    def _run(self, slot: tuple[str, Hashable]) -> None:
        self._handles.pop(slot, None)
        self._fire(slot[0], slot[1])
