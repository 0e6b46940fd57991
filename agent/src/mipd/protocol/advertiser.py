"""Agent advertisement on a set of links (RFC 5944 §2.1, §2.3; RFC 3012 §2), for any agent role.

Foreign agents and home agents both advertise (§2.3: "Any mobility agent ... MUST" answer
solicitations and SHOULD advertise periodically): one randomised timer per link (§2.3.2, at most
lifetime / 3 apart), sequence numbers from 0 after start with 0xffff followed by 256 (§2.3.2),
solicitations answered at once but at most once a second per link (§2.3), and, when enabled,
a fresh RFC 3012 challenge per periodic advertisement with the last `CHALLENGE_WINDOW` kept.
The owner supplies the flags at each send, so they can follow its state (e.g. the busy bit).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mipd.ipv4 import LIMITED_BROADCAST
from mipd.protocol.actions import Action, ArmTimer, CancelTimer, Packet, SendICMP
from mipd.wire import icmp
from mipd.wire.errors import WireError

SOLICITED_INTERVAL = 1.0  # §2.3: at most one solicited advertisement per link per second
ADVERT_JITTER = 0.25  # §2.1: each interval drawn from [0.75, 1.25] x the mean, capped at lifetime / 3
FIRST_ADVERT_DELAY = 1.0  # RFC 1256 §4.2 style: the first advertisement after start, within this delay
CHALLENGE_WINDOW = 2  # RFC 3012 §9 CHALLENGE_WINDOW: recent advertised challenges still accepted
CHALLENGE_LEN = 16  # RFC 3012 §2: "SHOULD be at least 32 bits"


@dataclass(frozen=True, slots=True)
class AdvertLink:
    """A link advertised on: our router address there, its prefix length, offered care-of addresses."""

    name: str
    address: str
    prefix_length: int
    care_of_addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AdvertSettings:
    interval: float  # mean seconds between advertisements
    lifetime: int  # ICMP advertisement lifetime
    registration_lifetime: int
    code: int = icmp.CODE_MOBILITY_ONLY
    prefix_lengths: bool = True
    challenge: bool = False
    broadcast: bool = False  # 255.255.255.255 instead of 224.0.0.1


class TimingError(ValueError):
    """Advertisement timing RFC 5944 §2.1 rules out. `field` names the offending setting
    ("advertisement_interval" or "advertisement_lifetime", as in the agent configs) and `reason`
    says what is wrong with it, so a caller can name the field in its own terms (a config path)."""

    def __init__(self, field: str, reason: str, what: str = "") -> None:
        super().__init__(f"{what}{field}: {reason}")
        self.field = field
        self.reason = reason


def check_timing(interval: float, lifetime: int, what: str = "") -> None:
    """RFC 5944 §2.1: the advertisement interval SHOULD be no longer than 1/3 of the advertisement
    Lifetime, so that a mobile node can miss three advertisements before it drops the agent.

    Raises TimingError naming the field, prefixed with `what` in its message (e.g. "home_agent.").
    """
    if not interval > 0:
        raise TimingError("advertisement_interval", f"must be > 0, got {interval!r}", what)
    if not 1 <= lifetime <= 0xFFFF:
        raise TimingError("advertisement_lifetime", f"must be 1-65535, got {lifetime!r}", what)
    if interval * 3 > lifetime:
        raise TimingError(
            "advertisement_interval",
            f"{interval:g} s is more than 1/3 of the advertisement lifetime ({lifetime} s): mobile nodes "
            "must be able to miss three advertisements (RFC 5944 §2.1)",
            what,
        )


class Advertiser:
    """Advertisement timers, sequence numbers, solicitation answers and challenges of one agent."""

    def __init__(
        self,
        rng: random.Random,
        counters: Counter[str],
        timer_tag: str,
        on_challenge_dropped: Callable[[bytes], None] | None = None,
    ) -> None:
        self._rng = rng
        self._counters = counters
        self.timer_tag = timer_tag  # timer keys are (timer_tag, link name)
        self._dropped = on_challenge_dropped or (lambda _c: None)
        self.links: dict[str, AdvertLink] = {}
        self.settings: AdvertSettings | None = None
        self.started = False
        self._sequence: dict[str, int] = {}
        self._challenges: dict[str, list[bytes]] = {}  # per link, oldest first (RFC 3012 §3.2)
        self._last_solicited: dict[str, float] = {}

    def configure(self, links: list[AdvertLink], settings: AdvertSettings, now: float) -> list[Action]:
        """(Re)configure; removed links stop, new links start, all re-timed if the timing changed."""
        old_links, old = self.links, self.settings
        self.links, self.settings = {link.name: link for link in links}, settings
        actions: list[Action] = []
        for name in old_links.keys() - self.links.keys():
            actions.append(CancelTimer((self.timer_tag, name)))
            self._forget(name)
        if not settings.challenge:
            for name in list(self._challenges):
                for value in self._challenges.pop(name):
                    self._dropped(value)
        if self.started:
            retime = old is None or (old.interval, old.lifetime) != (settings.interval, settings.lifetime)
            actions += [
                ArmTimer((self.timer_tag, name), now + self._delay())
                for name in self.links
                if retime or name not in old_links
            ]
        return actions

    def start(self, now: float) -> list[Action]:
        """Arm one timer per link; sequence numbers restart at 0 (§2.3.2)."""
        self.started = True
        self._sequence.clear()
        if self.settings is None:
            return []
        first = min(FIRST_ADVERT_DELAY, self.settings.interval)
        return [ArmTimer((self.timer_tag, name), now + self._rng.uniform(0.0, first)) for name in self.links]

    def stop(self) -> list[Action]:
        actions: list[Action] = [CancelTimer((self.timer_tag, name)) for name in self.links] if self.started else []
        self.started = False
        return actions

    def is_timer(self, key: Any) -> bool:
        return isinstance(key, tuple) and len(key) == 2 and key[0] == self.timer_tag

    def on_timer(self, key: tuple[str, str], now: float, flags: int) -> list[Action]:
        """A periodic advertisement is due on a link: send it and arm the next (§2.3)."""
        link = self.links.get(key[1])
        if link is None or not self.started or self.settings is None:
            return []
        return [self.advertise(link, flags, rotate=True), ArmTimer(key, now + self._delay())]

    def on_icmp(self, pkt: Packet, now: float, flags: int) -> list[Action]:
        """§2.3: answer an Agent Solicitation on an advertised link at once.

        The answer goes to the same destination as periodic ones (224.0.0.1 or the limited
        broadcast): the solicitor's address is usually not on this link, and every other node
        there learns from it too. At most one solicited advertisement per link per second.
        """
        try:
            msg = icmp.decode(pkt.data)
        except WireError:
            self._counters["discard.malformed_icmp"] += 1
            return []
        if not isinstance(msg, icmp.AgentSolicitation):
            self._counters["rx.advertisement"] += 1  # another agent's: nothing to do
            return []
        self._counters["rx.solicitation"] += 1
        link = self.links.get(pkt.interface or "")
        if link is None or self.settings is None:
            self._counters["discard.solicitation_off_served_link"] += 1
            return []
        last = self._last_solicited.get(link.name)
        if last is not None and now - last < SOLICITED_INTERVAL:
            self._counters["solicitation.rate_limited"] += 1
            return []
        self._last_solicited[link.name] = now
        return [self.advertise(link, flags, rotate=False)]

    def advertise(self, link: AdvertLink, flags: int, rotate: bool) -> SendICMP:
        """One Agent Advertisement on `link` (§2.1, §2.1.1, §2.1.2; RFC 3012 §2)."""
        s = self.settings
        assert s is not None
        adv = icmp.AgentAdvertisement(
            lifetime=s.lifetime,
            sequence=self._take_sequence(link.name),
            registration_lifetime=s.registration_lifetime,
            flags=flags,
            care_of_addresses=list(link.care_of_addresses),
            routers=[(link.address, 0)],  # §2.3.1: only our own address
            code=s.code,
            prefix_lengths=[link.prefix_length] if s.prefix_lengths else None,
            challenge=self._current_challenge(link.name, rotate) if s.challenge else None,
        )
        self._counters["tx.advertisement"] += 1
        dest = LIMITED_BROADCAST if s.broadcast else icmp.ALL_SYSTEMS
        return SendICMP(dest, adv.encode(), link.name, link.address, ttl=1)

    def challenges(self, name: str) -> list[bytes]:
        """The challenges recently advertised on link `name` that are still acceptable."""
        return self._challenges.get(name, [])

    def _delay(self) -> float:
        """§2.1: a randomised interval around the mean, never beyond advertisement lifetime / 3."""
        assert self.settings is not None
        mean, cap = self.settings.interval, self.settings.lifetime / 3
        return self._rng.uniform(mean * (1 - ADVERT_JITTER), min(mean * (1 + ADVERT_JITTER), cap))

    def _take_sequence(self, name: str) -> int:
        """§2.3.2: 0 first, then one more each time, 0xffff followed by 256."""
        seq = self._sequence.get(name, 0)
        self._sequence[name] = icmp.next_sequence(seq)
        return seq

    def _current_challenge(self, name: str, rotate: bool) -> bytes:
        """RFC 3012 §2/§3.2: a fresh random challenge for each periodic advertisement; the last
        CHALLENGE_WINDOW stay acceptable. Solicited advertisements repeat the current one, so a
        burst of solicitations cannot push a node's challenge out of the window."""
        window = self._challenges.setdefault(name, [])
        if rotate or not window:
            window.append(self._rng.randbytes(CHALLENGE_LEN))
            while len(window) > CHALLENGE_WINDOW:
                self._dropped(window.pop(0))
        return window[-1]

    def _forget(self, name: str) -> None:
        for value in self._challenges.pop(name, ()):
            self._dropped(value)
        self._sequence.pop(name, None)
        self._last_solicited.pop(name, None)
