"""Work beside the event loop (mipd.runtime.background): results, errors, and the switch interval."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest
from mipd.runtime import background


def test_the_result_and_the_error_reach_the_loop_and_the_interval_comes_back() -> None:
    before = sys.getswitchinterval()
    seen: list[float] = []

    def work(x: int) -> int:
        seen.append(sys.getswitchinterval())
        return x * 2

    def fail() -> None:
        raise ValueError("bad entry")

    async def main() -> int:
        with pytest.raises(ValueError, match="bad entry"):
            await background.in_thread(fail, name="t-fail")
        return await background.in_thread(work, 21, name="t-work")

    assert asyncio.run(main()) == 42
    assert seen == [pytest.approx(background.SWITCH_INTERVAL, abs=2e-6)]  # kept in whole microseconds
    assert sys.getswitchinterval() == before


def test_concurrent_uses_share_the_short_interval_until_the_last_ends() -> None:
    before = sys.getswitchinterval()
    first_in, second_out = threading.Event(), threading.Event()
    during: list[float] = []

    def first() -> None:
        with background.short_gil_turns():
            first_in.set()
            second_out.wait(5)
            during.append(sys.getswitchinterval())  # the second ended: still short

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(5)
    with background.short_gil_turns(0.001):  # a longer one does not lengthen it
        during.append(sys.getswitchinterval())
    second_out.set()
    t.join(5)
    assert during == [pytest.approx(background.SWITCH_INTERVAL, abs=2e-6)] * 2
    assert sys.getswitchinterval() == before


def test_an_interval_already_shorter_is_kept() -> None:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.0001)
    try:
        with background.short_gil_turns():
            assert sys.getswitchinterval() == pytest.approx(0.0001, abs=2e-6)
        assert sys.getswitchinterval() == pytest.approx(0.0001, abs=2e-6)
    finally:
        sys.setswitchinterval(before)
