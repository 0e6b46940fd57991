"""Work on a thread beside the event loop (a reload's parse) that does not hold the loop's replies up.

A thread running Python code holds the GIL. The loop thread gives it up at every system call (each
receive, send, SQLite step) and then waits for it back, and CPython hands it over only once the
switch interval has passed (`sys.getswitchinterval`, 5 ms by default). A batch of registrations
takes several such round trips, so the loop fell behind while a reload parsed: with 100,000 SAs
(1,000 changed) and 1,000 registrations/s, p99 reply latency during the reload was 107-347 ms
(benchmarks/reload_service.py --changed 1000, five runs). While a background thread runs, the
interval is `SWITCH_INTERVAL` instead: p99 4.1-5.8 ms, the reload about 20% longer (1.42-1.43 against
1.08-1.21 s). The interval is process-wide; the last background thread to end restores it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

SWITCH_INTERVAL = 0.0002  # seconds: the longest the loop waits for the GIL while a background thread runs

_lock = threading.Lock()
_running = 0
_restore = sys.getswitchinterval()


@contextlib.contextmanager
def short_gil_turns(interval: float = SWITCH_INTERVAL) -> Iterator[None]:
    """The interpreter's switch interval at most `interval` while the body runs (nested and concurrent
    uses share it; the interval in force before the first one comes back after the last)."""
    global _running, _restore
    with _lock:
        if _running == 0:
            _restore = sys.getswitchinterval()
        _running += 1
        sys.setswitchinterval(min(interval, sys.getswitchinterval()))
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0:
                sys.setswitchinterval(_restore)


def in_thread(func: Callable[..., Any], *args: Any, name: str) -> asyncio.Future[Any]:
    """func(*args) on a new daemon thread with short GIL turns; its result (or exception) in a future of
    the running loop. A daemon thread, so a reload still parsing never holds up the process's exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return  # cancelled meanwhile (shutdown)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def target() -> None:
        try:
            with short_gil_turns():
                value, error = func(*args), None
        except BaseException as e:  # handed to the loop
            value, error = None, e
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future
