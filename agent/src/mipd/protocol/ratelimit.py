"""Token buckets per source address and in all; the gate on denial replies and their log lines.

Sans-IO like the state machines: every call takes the current time, nothing reads a clock.

A flood of requests that fail authentication must not turn the agent into an amplifier (one
signed reply per forged request) nor fill its disk with one log line each. RFC 5944 §3.7.2 limits
a foreign agent to one denial per second per mobile node; the node is named by the (unverified)
request, so a flooder that varies it is not slowed. Cisco IOS and BSD kernels (ICMP error rate
limits, RFC 1812 §4.3.2.8) limit per source and in total instead, which is what `DenialGate`
does on top: a token bucket per source address and one for all sources, for replies and (with
their own, lower rates) for log lines. Log lines over the limit are counted per source and summed
up once a second ("N more like this from X"), at most SUMMARY_SOURCES lines, the rest in one line.
`OncePerInterval` is the plainer gate for lines about one subject (a node, a home agent) that are
written at most once per interval however often the event recurs.
Per-source state is bounded (MAX_SOURCES): beyond it, sources idle long enough to have a full
bucket are forgotten (looked for at most once a second); meanwhile a new source is held by the
total bucket only.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mipd.protocol.actions import Action, ArmTimer, Log
from mipd.protocol.config import Limits

MAX_SOURCES = 4096  # per-source buckets kept
SUMMARY_INTERVAL = 1.0  # seconds between "N more like this" summaries
SUMMARY_SOURCES = 10  # summary lines naming one source; the other sources share one line
NOTHING: tuple[Action, ...] = ()


class TokenBucket:
    """`rate` tokens a second up to `burst`; `take` spends one if there is one. A rate of 0 never runs dry."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def refill(self, now: float) -> float:
        """The tokens at `now` (time that goes backwards adds none)."""
        elapsed = now - self.stamp
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.stamp = now
        return self.tokens

    def take(self, now: float) -> bool:
        if not self.rate:
            return True
        if self.refill(now) >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class SourceLimiter:
    """A token bucket per key (source address) and one for all keys; `allow` spends from both.

    `per_source` or `total` 0: that limit is off. Burst = rate (one second's worth).
    """

    __slots__ = ("per_source", "total", "_all", "_buckets", "max_sources", "_pruned")

    def __init__(self, per_source: float, total: float, now: float = 0.0, max_sources: int = MAX_SOURCES) -> None:
        self.per_source = per_source
        self.total = total
        self.max_sources = max_sources
        self._all = TokenBucket(total, total, now)
        self._buckets: dict[str, TokenBucket] = {}
        self._pruned = now

    def allow(self, source: str, now: float) -> bool:
        bucket = self._bucket(source, now) if self.per_source else None
        if bucket is not None and bucket.refill(now) < 1.0:
            return False
        if not self._all.take(now):
            return False
        if bucket is not None:
            bucket.tokens -= 1.0
        return True

    def __len__(self) -> int:
        return len(self._buckets)

    def _bucket(self, source: str, now: float) -> TokenBucket | None:
        bucket = self._buckets.get(source)
        if bucket is None:
            if len(self._buckets) >= self.max_sources and not self._prune(now):
                return None  # every tracked source is busy: this one is held by the total alone
            bucket = self._buckets[source] = TokenBucket(self.per_source, self.per_source, now)
        return bucket

    def _prune(self, now: float) -> bool:
        """Forget the sources whose bucket has refilled (idle for a second or more); any forgotten?
        At most once a second: a flood from ever new addresses must not make each datagram O(n)."""
        if now - self._pruned < 1.0 and now >= self._pruned:
            return False
        self._pruned = now
        before = len(self._buckets)
        self._buckets = {k: b for k, b in self._buckets.items() if b.refill(now) < b.burst}
        return len(self._buckets) < before


class OncePerInterval:
    """At most one `due` per key and `interval` seconds; at most `max_keys` keys remembered (beyond that,
    once the expired ones are forgotten, further keys are not due: the lines are left out, not the memory)."""

    __slots__ = ("interval", "max_keys", "_until")

    def __init__(self, interval: float, max_keys: int = MAX_SOURCES) -> None:
        self.interval = interval
        self.max_keys = max_keys
        self._until: dict[str, float] = {}

    def due(self, key: str, now: float) -> bool:
        if self._until.get(key, -1.0) > now:
            return False
        if key not in self._until and len(self._until) >= self.max_keys:
            self.forget_expired(now)
            if len(self._until) >= self.max_keys:
                return False
        self._until[key] = now + self.interval
        return True

    def forget_expired(self, now: float) -> None:
        self._until = {key: until for key, until in self._until.items() if until > now}


class DenialGate:
    """Whether a denial is answered and logged (see the module docstring); the summaries of the
    lines left out. `counters` is the state machine's: denial.reply_suppressed, denial.log_suppressed.

    The owner routes its timer `timer_key` to `flush`.
    """

    def __init__(self, limits: Limits, counters: Counter[str], timer_key: Any, now: float = 0.0) -> None:
        self.counters = counters
        self.timer_key = timer_key
        self._suppressed: Counter[str] = Counter()
        self._armed = False
        self.configure(limits, now)

    def configure(self, limits: Limits, now: float) -> None:
        """New rates (reload); buckets start full."""
        self.replies = SourceLimiter(limits.denial_replies_per_source, limits.denial_replies_total, now)
        self.lines = SourceLimiter(limits.denial_logs_per_source, limits.denial_logs_total, now)

    def admit(self, source: str, now: float, reply: bool = True,
              line: bool = True) -> tuple[bool, bool, tuple[Action, ...]]:
        """(send the reply, write the log line, actions to add: the summary timer when armed).

        `reply` False: no reply is wanted anyway (e.g. the §3.7.2 per-node limit), spend nothing on it.
        `line` False: the owner logs this kind of denial its own way (e.g. once per home agent), spend nothing.
        """
        send = reply and self.replies.allow(source, now)
        if reply and not send:
            self.counters["denial.reply_suppressed"] += 1
        if not line:
            return send, False, NOTHING
        if self.lines.allow(source, now):
            return send, True, NOTHING
        self.counters["denial.log_suppressed"] += 1
        self._suppressed[source] += 1
        if self._armed:
            return send, False, NOTHING
        self._armed = True
        return send, False, (ArmTimer(self.timer_key, now + SUMMARY_INTERVAL),)

    def flush(self, now: float) -> list[Action]:
        """The summary of the lines left out since the last one: "N more like this from X"."""
        self._armed = False
        if not self._suppressed:
            return []
        ranked = self._suppressed.most_common()
        self._suppressed = Counter()
        actions: list[Action] = []
        for source, count in ranked[:SUMMARY_SOURCES]:
            reason = f"{count} more like this from {source}, not logged"
            actions.append(Log("registration-denied-repeated", {"source": source, "count": count, "reason": reason},
                               "warning"))
        rest = ranked[SUMMARY_SOURCES:]
        if rest:
            count = sum(c for _s, c in rest)
            reason = f"{count} more like this from {len(rest)} other sources, not logged"
            actions.append(Log("registration-denied-repeated", {"source": "other", "sources": len(rest),
                                                                "count": count, "reason": reason}, "warning"))
        return actions
