"""Replay protection for registrations (RFC 5944 §5.7).

Identification values are 64-bit NTP timestamps (RFC 5905: seconds since 1900 in the high 32
bits, fraction in the low 32) or nonce pairs. NTP seconds wrap in February 2036 (era 1); every
comparison here is done modulo 2^32 / 2^64 (serial-number arithmetic, RFC 1982), so it keeps
working across the rollover as long as the values compared are within 68 years of each other.
Time is always passed in (Unix seconds as float): nothing here reads a clock.
"""

from __future__ import annotations

import random

NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF
_HALF32 = 1 << 31
_HALF64 = 1 << 63


def ntp_seconds(unix_time: float) -> int:
    """The 32-bit NTP seconds field for `unix_time` (wraps at the 2036 era boundary)."""
    return (int(unix_time) + NTP_UNIX_OFFSET) & _M32


def ntp_timestamp(unix_time: float, low_random: int = 0) -> int:
    """64-bit NTP timestamp; fraction bits below microsecond resolution taken from `low_random`.

    RFC 5944 §5.7.1: low-order bits not available from the time source SHOULD be random.
    """
    frac = int((unix_time % 1.0) * 1_000_000) * 4294 & 0xFFFFF000  # ~20 bits of microseconds
    return (ntp_seconds(unix_time) << 32) | frac | (low_random & 0xFFF)


def seconds_diff(ntp_secs_a: int, ntp_secs_b: int) -> int:
    """a - b in seconds for two 32-bit NTP second counts, correct across the era rollover."""
    return ((ntp_secs_a - ntp_secs_b + _HALF32) & _M32) - _HALF32


def id_newer(a: int, b: int) -> bool:
    """True if 64-bit identification `a` is strictly after `b` (serial arithmetic, RFC 1982)."""
    d = (a - b) & _M64
    return 0 < d < _HALF64


def timestamp_ok(identification: int, now: float, window: int) -> bool:
    """Is the timestamp's time within `window` seconds of `now` (§5.7.1)?"""
    return abs(seconds_diff(identification >> 32, ntp_seconds(now))) <= window


def low32(identification: int) -> int:
    return identification & _M32


class ReplayState:
    """What a home agent remembers per mobile node to refuse replays (§5.7.1, §5.7.2).

    Keyed by the node's identity (home address or NAI). For timestamps: the last accepted
    Identification. For nonces: the nonce the HA handed out last, which the node's next request
    must carry in its high 32 bits.
    """

    __slots__ = ("_last", "_nonce", "_rng")

    def __init__(self, rng: random.Random) -> None:
        self._last: dict[str, int] = {}
        self._nonce: dict[str, int] = {}
        self._rng = rng

    def check(self, node: str, method: str, identification: int, now: float, window: int) -> bool:
        """Is `identification` fresh for `node` under `method`? Does not record anything."""
        if method == "timestamp":
            last = self._last.get(node)
            fresh = last is None or id_newer(identification, last)
            return fresh and timestamp_ok(identification, now, window)
        if method == "nonce":
            nonce = self._nonce.get(node)
            last = self._last.get(node)
            return nonce is not None and identification >> 32 == nonce and identification != last
        return True  # "none": replay protection disabled for this SA

    def reply_identification(
        self, node: str, method: str, identification: int, now: float, ok: bool, record: bool = True
    ) -> int:
        """The Identification for the reply; records `identification` as accepted when `ok` and `record`.

        Timestamps: the request's whole value when valid; otherwise the HA's time in the high
        32 bits and the request's low 32 bits (code 133 follows). A request refused for another
        reason after a valid identification gets its whole value back but is not recorded
        (`record` False): only accepted registrations advance the sequence. Nonces: a new nonce in the
        high 32 bits and the request's low 32 bits, whatever the outcome (self-synchronising).
        """
        if ok and record:
            self._last[node] = identification
        if method == "nonce":
            nonce = self._new_nonce(node)
            self._nonce[node] = nonce
            return (nonce << 32) | (identification & _M32)
        if ok or method != "timestamp":
            return identification
        return (ntp_seconds(now) << 32) | (identification & _M32)

    def _new_nonce(self, node: str) -> int:
        """A random nonce different from the one `node` was given last (§5.7.2: "a new nonce")."""
        previous = self._nonce.get(node)
        nonce = self._rng.getrandbits(32)
        while nonce == previous:
            nonce = self._rng.getrandbits(32)
        return nonce

    def seed(self, node: str, identification: int) -> None:
        """Remember `identification` as the last one accepted from `node` (state restored after a restart)."""
        self._last[node] = identification

    def restore_last(self, node: str, identification: int | None) -> None:
        """Put back the last accepted Identification as it was before an acceptance that was undone
        (its record could not be stored); None: there was none."""
        if identification is None:
            self._last.pop(node, None)
        else:
            self._last[node] = identification

    def forget(self, node: str) -> None:
        self._last.pop(node, None)
        self._nonce.pop(node, None)

    def last_accepted(self, node: str) -> int | None:
        return self._last.get(node)


def next_request_id(
    method: str, now: float, previous: int | None, clock_offset: int, nonce: int | None, rng: random.Random
) -> int:
    """A mobile node's next Identification (§5.7).

    Timestamps: NTP time corrected by `clock_offset` (learnt from a 133 reply), strictly greater
    than `previous`. After a verified 133 reply, pass as `previous` the last Identification the
    HA accepted (or the reply's, which carries the HA's time), not the refused request: a node
    whose clock ran ahead of the HA's must be able to go back to the HA's time (§3.6.2.3, code
    133: the node "MUST adjust the parameters it uses to compute the Identification field based
    upon the information in the Registration Reply"); the HA only needs more than what it
    accepted (§5.7.1).
    Nonces: the HA's last nonce in the high 32 bits (0 before the first reply) and fresh random
    low 32 bits, never equal to the previous request.
    """
    if method == "nonce":
        ident = ((nonce or 0) << 32) | rng.getrandbits(32)
        while previous is not None and low32(ident) == low32(previous):
            ident = ((nonce or 0) << 32) | rng.getrandbits(32)
        return ident
    ident = ntp_timestamp(now + clock_offset, rng.getrandbits(12))
    if previous is not None and not id_newer(ident, previous):
        ident = (previous + 1 + rng.getrandbits(8)) & _M64
    return ident


def clock_offset_from_reply(reply_id: int, now: float) -> int:
    """The offset (HA time - our time, seconds) a 133 reply tells (§5.7.1, §3.6.2.1)."""
    return seconds_diff(reply_id >> 32, ntp_seconds(now))
