"""Replay protection of registrations (RFC 5944 §5.7, §5.7.1 timestamps, §5.7.2 nonces, §3.6.2.1
clock resynchronisation), including the NTP era rollover of 2036 (RFC 5905 §6)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mipd.security import ReplayState, SecurityAssociation, next_request_id
from mipd.security.replay import (
    clock_offset_from_reply,
    id_newer,
    ntp_seconds,
    ntp_timestamp,
    seconds_diff,
    timestamp_ok,
)
from mipd.wire import registration
from security_helpers import HOME_ADDRESS, reply

NODE = HOME_ADDRESS
NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
ROLLOVER = 2_085_978_496  # Unix time of NTP era 1 start: 2036-02-07T06:28:16Z
WINDOW = SecurityAssociation("10.1.1.10", 0x100, b"k").replay_window
M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


class ScriptedRandom(random.Random):
    """A Random whose getrandbits returns the given values in turn (then falls back to seeded)."""

    def __init__(self, values: list[int]) -> None:
        super().__init__(1)
        self.values = list(values)

    def getrandbits(self, k: int) -> int:
        return self.values.pop(0) if self.values else super().getrandbits(k)


def ts(unix_time: float, low: int = 0x123) -> int:
    """An NTP-format Identification for `unix_time` (RFC 5944 §5.7.1, RFC 5905 timestamp format),
    built here from the definition: seconds since 1900 mod 2^32, then 32 fraction bits."""
    seconds = (int(unix_time) + 2_208_988_800) % 2**32
    return seconds << 32 | int((unix_time % 1) * 2**32) & 0xFFFFF000 | low


def accept(state: ReplayState, method: str, ident: int, now: float, window: int = WINDOW) -> tuple[bool, int]:
    """What a home agent does with an authenticated request: check, then build the reply id."""
    ok = state.check(NODE, method, ident, now, window)
    return ok, state.reply_identification(NODE, method, ident, now, ok)


def reply_id_on_the_wire(code: int, ident: int) -> int:
    """The Identification a Registration Reply carries once encoded and decoded (§3.4)."""
    decoded = registration.decode(reply(code, ident))
    assert isinstance(decoded, registration.RegistrationReply)
    return decoded.identification


# --------------------------------------------------------------------------------------------
# NTP time


def test_ntp_seconds_of_known_instants() -> None:
    """RFC 5905 §6: NTP seconds count from 1900-01-01; era 0 ends 2036-02-07T06:28:16Z."""
    assert ntp_seconds(0) == 2_208_988_800
    assert ntp_seconds(NOW) == 1_700_000_000 + 2_208_988_800
    assert ntp_seconds(ROLLOVER - 1) == M32
    assert ntp_seconds(ROLLOVER) == 0
    assert ntp_seconds(ROLLOVER + 2.9) == 2


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 0.999])
def test_ntp_timestamp_fraction_and_random_low_bits(fraction: float) -> None:
    """RFC 5944 §5.7.1: NTP format, low-order fraction bits not from the time source SHOULD be
    random (here the 12 bits below microsecond resolution come from the caller's random value)."""
    ident = ntp_timestamp(NOW + fraction, 0xABC)
    assert ident >> 32 == ntp_seconds(NOW)
    assert abs((ident & M32) / 2**32 - fraction) < 1e-3
    assert ident & 0xFFF == 0xABC
    assert ntp_timestamp(NOW + fraction, 0xFFFFF) & 0xFFFFF000 == ident & 0xFFFFF000


# --------------------------------------------------------------------------------------------
# Timestamps (§5.7.1)


def test_default_window_is_seven_seconds() -> None:
    """RFC 5944 §5.7.1: a default value of 7 seconds MAY be used (SHOULD be more than 3)."""
    assert WINDOW == 7


@pytest.mark.parametrize("offset", [-7, -3, 0, 3, 7])
def test_timestamp_within_window_is_accepted(offset: int) -> None:
    """RFC 5944 §5.7.1: the timestamp MUST be close enough to the home agent's time of day."""
    assert timestamp_ok(ts(NOW + offset), NOW, WINDOW)
    assert accept(ReplayState(random.Random(1)), "timestamp", ts(NOW + offset), NOW)[0]


@pytest.mark.parametrize("offset", [-8, -60, -86_400, 8, 60, 86_400])
def test_timestamp_outside_window_is_refused_both_directions(offset: int) -> None:
    """RFC 5944 §5.7.1: too old and too far in the future are both invalid."""
    assert not timestamp_ok(ts(NOW + offset), NOW, WINDOW)
    assert not accept(ReplayState(random.Random(1)), "timestamp", ts(NOW + offset), NOW)[0]


def test_window_of_the_sa_is_used() -> None:
    """RFC 5944 §5.7.1: time tolerances are specific to a particular Mobility Security Association."""
    assert not timestamp_ok(ts(NOW - 20), NOW, WINDOW)
    assert timestamp_ok(ts(NOW - 20), NOW, 30)
    assert not timestamp_ok(ts(NOW - 4), NOW, 3)


def test_identification_must_exceed_the_last_accepted() -> None:
    """RFC 5944 §5.7.1: the timestamp MUST be greater than all previously accepted timestamps for
    the node: the same value again and an older one (still inside the window) are refused."""
    state = ReplayState(random.Random(1))
    first = ts(NOW, 0x500)
    assert accept(state, "timestamp", first, NOW) == (True, first)
    assert state.last_accepted(NODE) == first
    assert not state.check(NODE, "timestamp", first, NOW + 1, WINDOW)
    assert not state.check(NODE, "timestamp", first - 1, NOW + 1, WINDOW)
    assert not state.check(NODE, "timestamp", ts(NOW - 2), NOW + 1, WINDOW)
    assert accept(state, "timestamp", first + 1, NOW + 1) == (True, first + 1)
    assert state.last_accepted(NODE) == first + 1


def test_check_alone_records_nothing_and_nodes_are_separate() -> None:
    """RFC 5944 §5.7.1: only accepted timestamps count, per requesting mobile node."""
    state = ReplayState(random.Random(1))
    ident = ts(NOW)
    assert state.check(NODE, "timestamp", ident, NOW, WINDOW)
    assert state.check(NODE, "timestamp", ident, NOW, WINDOW)
    assert state.last_accepted(NODE) is None
    accept(state, "timestamp", ident, NOW)
    assert state.check("10.1.1.11", "timestamp", ident, NOW, WINDOW)


def test_refused_for_another_reason_is_not_recorded() -> None:
    """RFC 5944 §5.7.1: the home agent keeps accepted timestamps; a request denied for another
    reason after its Identification was valid gets its whole value back but does not advance it."""
    state = ReplayState(random.Random(1))
    ident = ts(NOW)
    assert state.reply_identification(NODE, "timestamp", ident, NOW, ok=True, record=False) == ident
    assert state.last_accepted(NODE) is None
    assert state.check(NODE, "timestamp", ident, NOW, WINDOW)


def test_failed_timestamp_reply_carries_ha_time_and_copied_low_bits() -> None:
    """RFC 5944 §5.7.1: if the timestamp is not valid, the reply (code 133) copies only the low
    32 bits and supplies the high 32 bits from the home agent's time of day."""
    state = ReplayState(random.Random(1))
    stale = ts(NOW - 3600, 0xBEEF)
    ok, reply_id = accept(state, "timestamp", stale, NOW)
    assert not ok
    on_wire = reply_id_on_the_wire(133, reply_id)
    assert on_wire >> 32 == 1_700_000_000 + 2_208_988_800
    assert on_wire & M32 == stale & M32
    assert state.last_accepted(NODE) is None


def test_valid_timestamp_reply_copies_the_whole_identification() -> None:
    """RFC 5944 §5.7.1: if the timestamp is valid, the home agent copies the entire Identification."""
    ident = ts(NOW + 0.75, 0xFED)
    ok, reply_id = accept(ReplayState(random.Random(1)), "timestamp", ident, NOW)
    assert ok and reply_id_on_the_wire(0, reply_id) == ident


# --------------------------------------------------------------------------------------------
# Nonces (§5.7.2)


def test_nonce_exchange_first_refused_then_synchronised() -> None:
    """RFC 5944 §5.7.2: the HA puts a new nonce in the high 32 bits of every reply and copies the
    low 32 bits; the node echoes the nonce in its next request; before any nonce was handed out
    nothing can be valid; a replay of an accepted request is refused."""
    ha_rng = ScriptedRandom([0x11111111, 0x22222222, 0x33333333])
    mn_rng = random.Random(7)
    state = ReplayState(ha_rng)

    first = next_request_id("nonce", NOW, None, 0, None, mn_rng)
    assert first >> 32 == 0
    ok, r1 = accept(state, "nonce", first, NOW)
    assert not ok
    r1 = reply_id_on_the_wire(133, r1)
    assert r1 == 0x11111111 << 32 | first & M32

    second = next_request_id("nonce", NOW, first, 0, r1 >> 32, mn_rng)
    assert second >> 32 == 0x11111111 and second & M32 != first & M32
    ok, r2 = accept(state, "nonce", second, NOW)
    assert ok and r2 == 0x22222222 << 32 | second & M32
    assert state.last_accepted(NODE) == second

    ok, r3 = accept(state, "nonce", second, NOW)  # an attacker replays the accepted request
    assert not ok and r3 == 0x33333333 << 32 | second & M32


def test_nonce_is_self_synchronising_after_a_failure() -> None:
    """RFC 5944 §5.7.2: a request rejected for an invalid nonce gets a reply with a new nonce,
    and the next request using it is accepted."""
    state = ReplayState(random.Random(3))
    _, handed = accept(state, "nonce", 0x0000000100000001, NOW)
    good = (handed >> 32) << 32 | 0x0000BEEF
    ok, after_good = accept(state, "nonce", good, NOW)
    assert ok
    stale = (handed >> 32) << 32 | 0x0000CAFE  # old nonce, e.g. the reply was lost
    ok, resync = accept(state, "nonce", stale, NOW)
    assert not ok and resync & M32 == 0x0000CAFE and resync >> 32 not in (handed >> 32, after_good >> 32)
    assert accept(state, "nonce", (resync >> 32) << 32 | 0x0000F00D, NOW)[0]


def test_home_agent_never_hands_out_the_same_nonce_twice_in_a_row() -> None:
    """RFC 5944 §5.7.2: the home agent uses a new high-order value for each registration message."""
    state = ReplayState(ScriptedRandom([0xAAAA, 0xAAAA, 0xAAAA, 0xBBBB]))
    first = state.reply_identification(NODE, "nonce", 1, NOW, ok=False)
    second = state.reply_identification(NODE, "nonce", 2, NOW, ok=False)
    assert (first >> 32, second >> 32) == (0xAAAA, 0xBBBB)


def test_forget_drops_the_nonce_and_the_last_identification() -> None:
    """RFC 5944 §5.7.2: without a nonce handed out, no request is valid (as after a restart)."""
    state = ReplayState(random.Random(5))
    _, handed = accept(state, "nonce", 1, NOW)
    state.forget(NODE)
    assert not state.check(NODE, "nonce", handed, NOW, WINDOW)
    assert state.last_accepted(NODE) is None


def test_none_method_accepts_and_copies() -> None:
    """RFC 5944 §5.7: whatever method is used, the low 32 bits are copied (an SA may disable replay
    checks, e.g. for a lab); the whole value comes back unchanged."""
    ok, reply_id = accept(ReplayState(random.Random(1)), "none", 0x0123456789ABCDEF, NOW)
    assert ok and reply_id == 0x0123456789ABCDEF


@given(st.integers(0, M64), st.integers(0, M64))
def test_mobile_node_nonce_low_bits_never_repeat(previous: int, seed: int) -> None:
    """RFC 5944 §5.7: an Identification MUST NOT equal the immediately preceding one (§5.7.2:
    the node uses a new low-order value for each message)."""
    rng = ScriptedRandom([previous & M32, previous & M32, seed & M32])
    ident = next_request_id("nonce", NOW, previous, 0, 0x1234, rng)
    assert ident >> 32 == 0x1234 and ident & M32 != previous & M32


# --------------------------------------------------------------------------------------------
# Mobile node: next identification and clock resynchronisation


def test_next_request_id_is_ntp_time_corrected_by_the_offset() -> None:
    """RFC 5944 §5.7.1: the node sets the Identification to its NTP time (corrected after a
    133 reply, §3.6.2.1)."""
    assert next_request_id("timestamp", NOW, None, 0, None, random.Random(1)) >> 32 == ntp_seconds(NOW)
    assert next_request_id("timestamp", NOW, None, -90, None, random.Random(1)) >> 32 == ntp_seconds(NOW - 90)


def test_next_request_id_exceeds_previous_even_if_the_clock_stepped_back() -> None:
    """RFC 5944 §5.7.1: the Identification MUST be greater than in any previous request."""
    previous = ts(NOW + 30)
    ident = next_request_id("timestamp", NOW, previous, 0, None, random.Random(1))
    assert id_newer(ident, previous) and ident - previous < 2**9


@pytest.mark.parametrize("skew", [100, -100, 3600, -45_000])
def test_clock_offset_from_a_133_reply_resynchronises(skew: int) -> None:
    """RFC 5944 §5.7.1, §3.6.2.1 and §3.6.2.3: after a 133 reply whose low 32 bits match, the node
    uses the reply's high 32 bits (the HA's time) to correct its clock, whether it ran behind or
    ahead, and the next request is accepted."""
    ha_now, mn_now = NOW + skew, NOW
    state, rng = ReplayState(random.Random(1)), random.Random(2)
    first = next_request_id("timestamp", mn_now, None, 0, None, rng)
    ok, reply_id = accept(state, "timestamp", first, ha_now)
    assert not ok and reply_id & M32 == first & M32
    reply_id = reply_id_on_the_wire(133, reply_id)
    offset = clock_offset_from_reply(reply_id, mn_now)
    assert offset == skew
    second = next_request_id("timestamp", mn_now + 1, reply_id, offset, None, rng)
    assert second >> 32 == ntp_seconds(ha_now + 1)
    assert accept(state, "timestamp", second, ha_now + 1)[0]


# --------------------------------------------------------------------------------------------
# The 2036 NTP era rollover


def test_timestamp_ok_across_the_rollover() -> None:
    """RFC 5944 §5.7.1 with RFC 5905 §6 eras: 3 s before the rollover, checked 2 s after it, is
    5 s away, within a 7 s window (and 8 s away is not)."""
    before = ts(ROLLOVER - 3)
    assert before >> 32 == M32 - 2
    assert timestamp_ok(before, ROLLOVER + 2, WINDOW)
    assert not timestamp_ok(before, ROLLOVER + 5, WINDOW)
    assert timestamp_ok(ts(ROLLOVER + 2), ROLLOVER - 3, WINDOW)


def test_id_newer_across_the_rollover() -> None:
    """RFC 5944 §5.7.1 (Identification as a sequence number) with RFC 1982 serial arithmetic: era 1
    time 0 is after era 0's last second."""
    assert id_newer(ts(ROLLOVER), ts(ROLLOVER - 1))
    assert id_newer(ts(ROLLOVER + 3), ts(ROLLOVER - 3))
    assert not id_newer(ts(ROLLOVER - 3), ts(ROLLOVER + 3))


def test_home_agent_accepts_a_sequence_across_the_rollover() -> None:
    """RFC 5944 §5.7.1: the last accepted value before 2036-02-07T06:28:16Z does not block the
    next one after it, and a replay of the pre-rollover one is refused afterwards."""
    state = ReplayState(random.Random(1))
    before, after = ts(ROLLOVER - 1), ts(ROLLOVER + 1)
    assert accept(state, "timestamp", before, ROLLOVER - 1)[0]
    assert accept(state, "timestamp", after, ROLLOVER + 1)[0]
    assert not state.check(NODE, "timestamp", before, ROLLOVER + 2, WINDOW)


def test_next_request_id_strictly_increasing_across_the_rollover() -> None:
    """RFC 5944 §5.7.1: each request's Identification is greater than the previous one, also when
    the NTP seconds wrap to 0."""
    rng, previous = random.Random(4), None
    for t in (ROLLOVER - 2.5, ROLLOVER - 1.0, ROLLOVER - 0.25, ROLLOVER, ROLLOVER + 0.5, ROLLOVER + 1.0):
        ident = next_request_id("timestamp", t, previous, 0, None, rng)
        if previous is not None:
            assert id_newer(ident, previous), t
        previous = ident
    assert previous >> 32 == 1


def test_clock_offset_across_the_rollover() -> None:
    """RFC 5944 §3.6.2.1 with RFC 5905 §6: the HA 5 s ahead, across the era boundary, is +5."""
    assert clock_offset_from_reply(ts(ROLLOVER + 3), ROLLOVER - 2) == 5
    assert clock_offset_from_reply(ts(ROLLOVER - 2), ROLLOVER + 3) == -5


# --------------------------------------------------------------------------------------------
# Properties


@given(st.integers(0, M64), st.integers(0, M64))
def test_id_newer_is_antisymmetric(a: int, b: int) -> None:
    """RFC 5944 §5.7.1 with RFC 1982 §3.2: of two different values exactly one is newer (unless
    they are exactly half the space apart, where neither is); nothing is newer than itself."""
    assert not (id_newer(a, b) and id_newer(b, a))
    if a != b and (a - b) & M64 != 2**63:
        assert id_newer(a, b) != id_newer(b, a)
    assert not id_newer(a, a)


@given(st.integers(0, M64), st.integers(1, 2**63 - 1))
def test_id_newer_after_adding(a: int, step: int) -> None:
    """RFC 1982 §3.1: adding less than half the space makes a value newer, also when it wraps."""
    assert id_newer((a + step) & M64, a)


@given(st.integers(0, M32), st.integers(-(2**31) + 1, 2**31 - 1))
def test_seconds_diff_is_antisymmetric(a: int, d: int) -> None:
    """RFC 5905 §6 era arithmetic: seconds_diff(a, b) == -seconds_diff(b, a) for |a - b| < 2^31."""
    b = (a - d) % 2**32
    assert seconds_diff(a, b) == d
    assert seconds_diff(b, a) == -d


@given(st.integers(ROLLOVER - 10**6, ROLLOVER + 10**6), st.integers(-(10**6), 10**6))
def test_seconds_diff_of_ntp_seconds_is_unix_difference(t: int, d: int) -> None:
    """RFC 5905 §6: differences of 32-bit NTP seconds are right across the 2036 era boundary."""
    assert seconds_diff(ntp_seconds(t + d), ntp_seconds(t)) == d


@given(st.sampled_from([NOW, float(ROLLOVER)]), st.integers(-20, 20), st.integers(1, 15))
def test_timestamp_ok_is_the_window(base: float, d: int, window: int) -> None:
    """RFC 5944 §5.7.1: valid exactly when within the SA's tolerance, on either side."""
    assert timestamp_ok(ts(base + d), base, window) == (abs(d) <= window)


@given(st.lists(st.floats(ROLLOVER - 30, ROLLOVER + 30, allow_nan=False), min_size=2, max_size=20),
       st.integers(0, 2**32))
def test_next_request_id_always_increases(times: list[float], seed: int) -> None:
    """RFC 5944 §5.7.1: whatever the clock does (steps back, stalls, crosses 2036), each new
    Identification is greater than the previous one."""
    rng, previous = random.Random(seed), None
    for t in times:
        ident = next_request_id("timestamp", t, previous, 0, None, rng)
        assert 0 <= ident <= M64
        if previous is not None:
            assert id_newer(ident, previous)
        previous = ident
