"""Mobility security associations held on an AAA server: what the home agent asks for and caches.

RFC 5944 §3.8.2.1 a: a home agent needs an SA with the node to authenticate its request; where
the keys live on an AAA server (Cisco IOS ``aaa authorization ipmobile``, ``ip mobile host ...
aaa load-sa``) the home agent asks for the node's SA when it has none. Sans-IO like the state
machines: the home agent calls `hold` with a request it cannot authenticate yet, this class
answers with a `LookupSA` action (queued in `outbox`, drained into the home agent's actions);
the runtime carries it out (RADIUS, mipd.runtime.radius) and feeds the outcome back as a
`LookupResult` (`HomeAgent.on_sa_lookup`), which releases the held requests.

Bounds (an unknown-node flood must not become an AAA flood): at most `pending_lookups` lookups
in flight, `pending_per_node` requests held per node (more requests for a node that is being
looked up share that one lookup), `lookup_rate` new lookups a second, and a failed lookup is
remembered for `negative_lifetime` seconds (negative cache). An SA fetched for identity X
(address or NAI) has X as its peer, so it authenticates only what X may hold
(`HomeAgentConfig.holds`, RFC 2794). Cached SAs live until the node's binding ends (`cache_lifetime`
None, IOS ``load-sa``) or a fixed time, refreshed in the background when used within
`refresh_margin` of that; while the AAA server is unreachable a cached SA stays in use.

The foreign agent uses the same cache for its FA-HA SAs (RFC 5944 §3.7.2.2, §3.5.4), keyed by the
home agent's address (`subject` "home_agent" names it in the log lines); `hold` tells it whether the
request waits (HELD), was dropped by a bound (DROPPED, the node retransmits) or met a recent failure
(NEGATIVE), so it can apply its own policy for a home agent it has no SA with.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from mipd.protocol.actions import Action, ArmTimer, Log
from mipd.protocol.ratelimit import OncePerInterval, TokenBucket
from mipd.security import SecurityAssociation, fingerprint

SWEEP_TIMER = "aaa-sweep"
SWEEP_INTERVAL = 30.0  # seconds between drops of expired cache and negative entries
INFINITE = float("inf")
ACCEPT, REJECT, UNREACHABLE, MALFORMED = "accept", "reject", "unreachable", "malformed"
OUTCOMES = (ACCEPT, REJECT, UNREACHABLE, MALFORMED)
HELD, DROPPED, NEGATIVE = "held", "dropped", "negative"  # what `hold` did with a request
MAX_FAILURE_LOGS = 4096  # nodes whose last failure line is remembered (logged once per interval)


@dataclass(frozen=True, slots=True)
class AaaSettings:
    """How the home agent uses SAs fetched from AAA (the `radius:` section of the configuration)."""

    cache_lifetime: float | None = None  # None: until the node's binding ends (IOS load-sa); else seconds
    unbound_lifetime: float = 300.0  # binding mode: an SA with no binding is dropped after this long
    refresh_margin: float = 60.0  # fixed lifetime: refreshed when used this close to its expiry
    negative_lifetime: float = 30.0  # a failed lookup is not repeated for this long
    pending_lookups: int = 64  # lookups in flight, in total
    pending_per_node: int = 4  # requests held for one node while its lookup runs
    lookup_rate: float = 50.0  # new lookups per second (token bucket, burst the same); 0: no limit
    failure_log_interval: float = 60.0  # one log line per node and interval for failed lookups


@dataclass(slots=True)
class LookupSA:
    """Action: fetch the SAs of `identity` (home address or NAI) from the AAA server."""

    identity: str
    refresh: bool = False


@dataclass(frozen=True, slots=True)
class LookupResult:
    """Event: the outcome of a LookupSA. `reason` is for the log and never holds key material."""

    identity: str
    outcome: str  # accept | reject | unreachable | malformed
    sas: tuple[SecurityAssociation, ...] = ()
    server: str | None = None
    reason: str = ""


@dataclass(slots=True)
class CachedSAs:
    identity: str
    sas: tuple[SecurityAssociation, ...]
    server: str | None
    fetched_at: float
    expires: float
    refreshing: bool = False


@dataclass(slots=True)
class _Pending:
    held: list[Any] = field(default_factory=list)


class AaaCache:
    """SAs fetched from AAA by identity, lookups in flight with the requests they hold, negative entries."""

    def __init__(self, settings: AaaSettings, counters: Counter[str], now: float = 0.0,
                 subject: str = "node") -> None:
        self.settings = settings
        self.subject = subject  # what an identity names, in log lines: "node" (HA) or "home_agent" (FA)
        self.counters = counters
        self.outbox: list[Action] = []
        self._cached: dict[str, CachedSAs] = {}
        self._by_key: dict[tuple[str, int], SecurityAssociation] = {}
        self._pending: dict[str, _Pending] = {}
        self._refreshing = 0
        self._negative: dict[str, float] = {}
        self._failure_logs = OncePerInterval(settings.failure_log_interval, MAX_FAILURE_LOGS)
        self._rate = TokenBucket(settings.lookup_rate, max(1.0, settings.lookup_rate), now)
        self._sweep_at = INFINITE

    # ------------------------------------------------------------------ queries

    def get(self, peer: str, spi: int) -> SecurityAssociation | None:
        return self._by_key.get((peer, spi))

    def for_peer(self, peer: str) -> list[SecurityAssociation]:
        entry = self._cached.get(peer)
        return list(entry.sas) if entry is not None else []

    def entries(self) -> list[CachedSAs]:
        return list(self._cached.values())

    def pending(self) -> int:
        return len(self._pending)

    def asked(self, identity: str) -> bool:
        """Is a lookup or a refresh of `identity` ours (a LookupResult for it is for this cache)?"""
        entry = self._cached.get(identity)
        return identity in self._pending or (entry is not None and entry.refreshing)

    def drain(self) -> list[Action]:
        out, self.outbox = self.outbox, []
        return out

    # ------------------------------------------------------------------ decisions

    def hold(self, identity: str, item: Any, now: float) -> str:
        """A request for `identity` that no SA authenticates yet: hold it for a lookup (HELD), or not (counted):
        a lookup of it failed lately (NEGATIVE), or a bound is reached (DROPPED)."""
        s = self.settings
        until = self._negative.get(identity)
        if until is not None:
            if until > now:
                self.counters["aaa.negative_cached"] += 1
                return NEGATIVE
            del self._negative[identity]
        pending = self._pending.get(identity)
        if pending is not None:
            if len(pending.held) >= s.pending_per_node:
                self.counters["aaa.held_over_limit"] += 1
                return DROPPED
            pending.held.append(item)
            self.counters["aaa.lookup_shared"] += 1
            return HELD
        if len(self._pending) + self._refreshing >= s.pending_lookups:
            self.counters["aaa.pending_full"] += 1
            return DROPPED
        if not self._rate.take(now):
            self.counters["aaa.over_rate"] += 1
            return DROPPED
        self._pending[identity] = _Pending([item])
        self.counters["aaa.lookup"] += 1
        self.outbox.append(LookupSA(identity))
        return HELD

    def used(self, identity: str, now: float, bound_until: float | None) -> None:
        """An SA of `identity` authenticated a registration that leaves its bindings ending at `bound_until`
        (None: no binding left). Binding mode: the SA lives as long; fixed mode: a refresh when it is due."""
        entry = self._cached.get(identity)
        if entry is None:
            return
        s = self.settings
        if s.cache_lifetime is None:
            entry.expires = now + s.unbound_lifetime if bound_until is None else max(bound_until, now)
            if bound_until is None:
                self._drop(identity)  # deregistered: the next registration fetches the SA again
            return
        if entry.expires - now <= s.refresh_margin and not entry.refreshing:
            if len(self._pending) + self._refreshing < s.pending_lookups:
                entry.refreshing = True
                self._refreshing += 1
                self.counters["aaa.refresh"] += 1
                self.outbox.append(LookupSA(identity, refresh=True))

    def on_result(self, result: LookupResult, now: float) -> tuple[list[Any], bool]:
        """Apply a lookup's outcome: the requests it held, and whether SAs came (process them again)
        or not (refuse them)."""
        identity = result.identity
        pending = self._pending.pop(identity, None)
        entry = self._cached.get(identity)
        if entry is not None and entry.refreshing:
            entry.refreshing = False
            self._refreshing -= 1
        self.counters[f"aaa.result.{result.outcome}"] += 1
        s = self.settings
        if result.outcome == ACCEPT and result.sas:
            self._drop(identity)
            expires = now + (s.unbound_lifetime if s.cache_lifetime is None else s.cache_lifetime)
            self._cached[identity] = CachedSAs(identity, result.sas, result.server, now, expires)
            for sa in result.sas:
                self._by_key[(sa.peer, sa.spi)] = sa
            self.outbox.append(
                Log(
                    "aaa-sa-fetched",
                    {
                        self.subject: identity,
                        "server": result.server,
                        "spis": [sa.spi for sa in result.sas],
                        "keys": [fingerprint(sa.key) for sa in result.sas],
                    },
                )
            )
            self._arm_sweep(now)
            return (pending.held if pending is not None else []), True
        if entry is not None and result.outcome == UNREACHABLE:
            entry.expires = max(entry.expires, now + s.refresh_margin)  # keep serving the nodes it has
        elif entry is not None:
            self._drop(identity)  # rejected or malformed now: the old SA no longer counts
        held = len(pending.held) if pending is not None else 0
        self.counters["aaa.denied_requests"] += held
        if pending is not None:
            self._negative[identity] = now + s.negative_lifetime
            self._arm_sweep(now)
        self._log_failure(result, held, now)
        return (pending.held if pending is not None else []), False

    def drop(self, identity: str | None) -> int:
        """Forget the cached SAs of `identity` (None: of every node) so the next registration fetches them."""
        names = list(self._cached) if identity is None else [identity] if identity in self._cached else []
        for name in names:
            self._drop(name)
        if identity is None:
            self._negative.clear()
        else:
            self._negative.pop(identity, None)
        return len(names)

    def sweep(self, now: float) -> list[Action]:
        """SWEEP_TIMER: drop expired entries (fixed mode: only once no refresh keeps them) and negative ones."""
        self._sweep_at = INFINITE
        for identity, entry in list(self._cached.items()):
            if entry.expires <= now and not entry.refreshing:
                self._drop(identity)
                self.counters["aaa.expired"] += 1
        self._negative = {k: t for k, t in self._negative.items() if t > now}
        self._failure_logs.forget_expired(now)
        actions: list[Action] = []
        if self._cached or self._negative:
            self._sweep_at = now + SWEEP_INTERVAL
            actions.append(ArmTimer(SWEEP_TIMER, self._sweep_at))
        return actions

    def configure(self, settings: AaaSettings, now: float) -> None:
        self.settings = settings
        self._rate = TokenBucket(settings.lookup_rate, max(1.0, settings.lookup_rate), now)
        self._failure_logs.interval = settings.failure_log_interval

    # ------------------------------------------------------------------ internals

    def _drop(self, identity: str) -> None:
        entry = self._cached.pop(identity, None)
        if entry is None:
            return
        for sa in entry.sas:
            self._by_key.pop((sa.peer, sa.spi), None)
        if entry.refreshing:
            self._refreshing -= 1

    def _arm_sweep(self, now: float) -> None:
        if self._sweep_at == INFINITE:
            self._sweep_at = now + SWEEP_INTERVAL
            self.outbox.append(ArmTimer(SWEEP_TIMER, self._sweep_at))

    def _log_failure(self, result: LookupResult, held: int, now: float) -> None:
        """One line per identity and `failure_log_interval` (the rest are counted only)."""
        if not self._failure_logs.due(result.identity, now):
            self.counters["aaa.failure_log_suppressed"] += 1
            return
        level = "warning" if result.outcome in (MALFORMED, UNREACHABLE) else "info"
        self.outbox.append(
            Log(
                "aaa-lookup-failed",
                {
                    self.subject: result.identity,
                    "outcome": result.outcome,
                    "server": result.server,
                    "reason": result.reason,
                    "requests_held": held,
                },
                level,
            )
        )
