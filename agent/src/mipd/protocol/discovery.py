"""Agent discovery and movement detection for the mobile node (RFC 5944 §2.4; RFC 1256).

Sans-IO, like the state machine that uses it (`mipd.protocol.mobile_node`): every call takes the
current time, actions come back in the order they must be carried out, and the only randomness
is the node's injected `rng`. It keeps

- every agent heard, per interface (`HeardAgent`): what its latest advertisement said, its
  advertisement lifetime (Algorithm 1, §2.4.2.1: an agent timer per agent) and its sequence
  number (§2.4.4: a lower one below 256 means the agent rebooted);
- every link the node may roam on (`Link`): up or down, its address, prefix and gateway, and its
  solicitation state (§2.4: up to three solicitations at one per second, then binary exponential
  backoff up to a maximum of one minute, randomised above the nominal values so the limits
  always hold; only while no agent is heard);
- the movement tests: home or not (§2.3, §2.4.3), network prefix change (Algorithm 2,
  §2.4.2.2), and where the node can be attached now (`choose`: home first, then where it is while
  that still works, then a co-located address or the most recently heard usable foreign agent).

What a move means for registration, ARP and the data plane is the mobile node's business.
"""

from __future__ import annotations

import ipaddress
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from mipd.protocol.actions import Action, ArmTimer, CancelTimer, Packet, SendICMP
from mipd.protocol.config import MobileNodeConfig
from mipd.protocol.filters import addr_int
from mipd.wire import icmp

HOME = "home"
FOREIGN = "foreign-agent"
COLOCATED = "colocated"

MAX_INITIAL_SOLICITATIONS = 3  # §2.4: "three initial solicitations at ... one per second"
MAX_SOLICIT_INTERVAL = 60.0  # §2.4: the maximum interval "SHOULD be at least one minute"
SOLICIT_JITTER = 0.2  # §2.4 / RFC 1256: randomised, here upwards only so the rate limits hold
SEQUENCE_REBOOT_LIMIT = 256  # §2.4.4: a lower sequence number below 256 means a reboot
_M32 = 0xFFFFFFFF

AgentKey = tuple[str, str]  # (interface, agent address)
Networks = tuple[tuple[int, int], ...]  # (network, mask) pairs


def solicit_timer(interface: str) -> tuple[str, str, str]:
    return ("mn", "solicit", interface)


def agent_timer(key: AgentKey) -> tuple[str, str, str, str]:
    return ("mn", "agent", *key)


@dataclass(slots=True)
class Adaptation:
    """What denials taught the node (§3.6.2.3, RFC 3024 §4.1.2), for one agent or the home agent."""

    lifetime_cap: int | None = None  # 69 / 130: ask for at most this
    reverse: bool | None = None  # 74/137: T dropped (False); 75/138: T forced (True)
    ipip_only: bool = False  # 72/139: no M/G


@dataclass(slots=True)
class HeardAgent:
    """A mobility agent heard on one interface (§2.4): what its latest advertisement said."""

    address: str  # IP source of the advertisement (§3.6.1.1: where requests go)
    interface: str
    lladdr: str | None  # link-layer source, for requests without broadcast ARP (§4.6)
    flags: int
    sequence: int
    registration_lifetime: int
    care_of_addresses: tuple[str, ...]
    routers: tuple[str, ...]
    networks: Networks | None  # (network, mask) per router; None: no prefixes
    challenge: bytes | None
    heard_at: float
    expires_at: float
    adapt: Adaptation = field(default_factory=Adaptation)
    coa_index: int = 0  # §2.4: after an FA denial, "retry ... with each subsequent advertised address"
    hold_until: float = 0.0
    challenge_errors: int = 0
    refused_challenge: bytes | None = None  # RFC 3012 §3.1: the FA refused it; wait for a new one

    @property
    def key(self) -> AgentKey:
        return (self.interface, self.address)

    def alive(self, now: float) -> bool:
        """§2.4.2.1: valid until its advertised ICMP Lifetime runs out."""
        return now < self.expires_at

    def usable_fa(self, now: float) -> bool:
        """A foreign agent that can take a registration now (F set, a care-of address, §2.1.1)."""
        return (
            bool(self.flags & icmp.ADV_F)
            and self.coa_index < len(self.care_of_addresses)
            and self.registration_lifetime > 0
            and self.alive(now)
            and now >= self.hold_until
        )

    @property
    def care_of(self) -> str:
        """§2.4: the first advertised care-of address, or the next one after an FA denial."""
        if not self.care_of_addresses:
            return ""
        return self.care_of_addresses[min(self.coa_index, len(self.care_of_addresses) - 1)]


@dataclass(frozen=True, slots=True)
class Attachment:
    """Where the node is registering: at home, via a foreign agent, or with a co-located address.

    `relay` is the foreign agent the request goes through (FA care-of address, or a co-located
    address on a link whose agent sets R, §2.4.1); None when talking to the home agent directly.
    """

    kind: str
    interface: str
    care_of: str
    relay: AgentKey | None = None


@dataclass(slots=True)
class Link:
    """One interface the node may roam on, and its solicitation state (§2.4)."""

    name: str
    up: bool = True
    address: str | None = None
    prefix_length: int | None = None
    gateway: str | None = None
    soliciting: bool = False
    solicitations: int = 0  # sent in the current search
    fast_restart: bool = True  # §2.4: the next search may start at the initial rate again
    searched: bool = False  # the initial rapid phase ended without any advertisement


def _network(address: str, prefix_length: int | None) -> tuple[int, int] | None:
    if prefix_length is None or not 0 <= prefix_length <= 32:
        return None
    mask = (_M32 << (32 - prefix_length)) & _M32
    return addr_int(address) & mask, mask


def _overlap(first: Iterable[tuple[int, int]], second: Iterable[tuple[int, int]]) -> bool:
    """Do two sets of prefixes share any address?"""
    seconds = list(second)
    return any((na & (ma & mb)) == (nb & (ma & mb)) for na, ma in first for nb, mb in seconds)


def _advertised_networks(adv: icmp.AgentAdvertisement) -> Networks | None:
    """§2.1.2: one prefix length per router address; unusable unless they pair up and are valid."""
    lengths = adv.prefix_lengths
    if lengths is None or not adv.routers or len(lengths) != len(adv.routers):
        return None
    nets = [_network(addr, n) for (addr, _), n in zip(adv.routers, lengths, strict=True)]
    if any(n is None for n in nets):
        return None
    return tuple(n for n in nets if n is not None)


def _valid_address(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


class Discovery:
    """The agents one mobile node hears and the links it hears them on (RFC 5944 §2.4).

    `home_agent` arguments are the address the node registers with now: the configured one, or
    the unicast address a 136 reply named (§3.6.2.3).
    """

    def __init__(self, config: MobileNodeConfig, rng: random.Random, counters: Counter[str]) -> None:
        self.config = config
        self.rng = rng
        self.counters = counters
        self.links: dict[str, Link] = {name: Link(name) for name in config.interfaces}
        self.agents: dict[AgentKey, HeardAgent] = {}

    def relay(self, att: Attachment) -> HeardAgent | None:
        """The foreign agent `att` registers through, if any and still heard."""
        return self.agents.get(att.relay) if att.relay is not None else None

    # ------------------------------------------------------------------ links

    def link_down(self, link: Link) -> list[Action]:
        """The link is gone: its address, its search and its agents go too."""
        link.up, link.address, link.prefix_length, link.gateway = False, None, None, None
        link.soliciting, link.searched = False, False
        link.fast_restart = True
        return [CancelTimer(solicit_timer(link.name)), *self.forget_agents(link.name)]

    def link_up(
        self, link: Link, address: str | None, prefix_length: int | None, gateway: str | None
    ) -> tuple[bool, list[Action]]:
        """The link came up, or its address changed; True when that is a new link (§2.4: a positive
        indication of a move). A link that was down forgets what was heard on it before."""
        was_up, old_address = link.up, link.address
        link.up, link.address, link.gateway = True, _valid_address(address), _valid_address(gateway)
        link.prefix_length = prefix_length if prefix_length is not None and 0 <= prefix_length <= 32 else None
        new_link = not was_up or link.address != old_address
        actions: list[Action] = []
        if not was_up:
            link.searched = False
            actions += self.forget_agents(link.name)
        if new_link:
            link.fast_restart = True
        return new_link, actions

    def registered(self) -> None:
        """§2.4: after a registration the next search may start at the initial rate again."""
        for link in self.links.values():
            link.fast_restart = True

    # ------------------------------------------------------------------ advertisements (§2.4)

    def advertisement(self, pkt: Packet) -> icmp.AgentAdvertisement | None:
        """The agent advertisement in an ICMP packet, or None (counted) for anything the node ignores.
        Raises `WireError` for what does not decode."""
        msg = icmp.decode(pkt.data)
        if not isinstance(msg, icmp.AgentAdvertisement):
            self.counters["ignore.solicitation"] += 1
            return None
        if not msg.is_agent:
            self.counters["ignore.router_advertisement"] += 1  # §2.4: no mobility extension
            return None
        if pkt.interface not in self.links or not self.links[pkt.interface].up:
            self.counters["discard.advertisement_unknown_interface"] += 1
            return None
        if not msg.flags & (icmp.ADV_F | icmp.ADV_H):
            self.counters["discard.advertisement_no_service"] += 1  # §2.1.1: F or H MUST be set
            return None
        self.counters["rx.advertisement"] += 1
        return msg

    def heard(self, pkt: Packet, adv: icmp.AgentAdvertisement, now: float) -> tuple[HeardAgent, bool, list[Action]]:
        """Record an advertisement: (the agent, whether it rebooted (§2.4.4), actions). The search on
        its link stops (§2.4: solicit only in the absence of advertisements) and the agent's timer
        runs to the end of its advertisement lifetime (§2.4.2.1), unless that is 0 (withdrawn)."""
        agent, rebooted = self._record(pkt, adv, now)
        link = self.links[agent.interface]
        actions: list[Action] = []
        if link.soliciting:
            link.soliciting = False
            actions.append(CancelTimer(solicit_timer(link.name)))
        if adv.lifetime != 0:
            actions.append(ArmTimer(agent_timer(agent.key), agent.expires_at))
        return agent, rebooted, actions

    def _record(self, pkt: Packet, adv: icmp.AgentAdvertisement, now: float) -> tuple[HeardAgent, bool]:
        """Remember what the advertisement says; True if the agent rebooted (§2.4.4)."""
        key = (pkt.interface or "", pkt.source)
        old = self.agents.get(key)
        rebooted = old is not None and adv.sequence < old.sequence and adv.sequence < SEQUENCE_REBOOT_LIMIT
        coas = tuple(adv.care_of_addresses)
        agent = HeardAgent(
            address=pkt.source,
            interface=key[0],
            lladdr=pkt.lladdr,
            flags=adv.flags,
            sequence=adv.sequence,
            registration_lifetime=adv.registration_lifetime,
            care_of_addresses=coas,
            routers=tuple(a for a, _ in adv.routers),
            networks=_advertised_networks(adv),
            challenge=adv.challenge,
            heard_at=now,
            expires_at=now + adv.lifetime,
        )
        if old is not None:
            agent.adapt, agent.hold_until, agent.challenge_errors = old.adapt, old.hold_until, old.challenge_errors
            agent.refused_challenge = old.refused_challenge
            agent.coa_index = old.coa_index if old.care_of_addresses == coas else 0
        self.agents[key] = agent
        return agent, rebooted

    def expired(self, key: AgentKey, now: float) -> HeardAgent | None:
        """The agent whose timer fired, if its advertisement lifetime has run out (§2.4.2.1)."""
        agent = self.agents.get(key)
        if agent is None or agent.alive(now):
            return None
        self.counters["agent.expired"] += 1
        return agent

    def forget(self, key: AgentKey) -> list[Action]:
        """Lost contact with one agent (§2.4.2.1)."""
        self.agents.pop(key, None)
        return [CancelTimer(agent_timer(key))]

    def forget_agents(self, interface: str) -> list[Action]:
        keys = [k for k in self.agents if k[0] == interface]
        for k in keys:
            del self.agents[k]
        return [CancelTimer(agent_timer(k)) for k in keys]

    # ------------------------------------------------------------------ movement detection (§2.4.2, §2.4.3)

    def is_home_advertisement(self, agent: HeardAgent, home_agent: str) -> bool:
        """§2.3, §2.4.3: H set by our home agent, or by an agent on our home network."""
        if not agent.flags & icmp.ADV_H:
            return False
        ha = {self.config.home_agent, home_agent}
        if agent.address in ha or ha.intersection(agent.routers):
            return True
        return self.in_home_network(agent.address)

    def in_home_network(self, address: str) -> bool:
        home = _network(self.config.home_address, self.config.home_prefix_length)
        return home is not None and _overlap([home], [(addr_int(address), _M32)])

    def moved_by_prefix(self, agent: HeardAgent, target: Attachment) -> bool:
        """§2.4.2.2: a new agent on the same link whose prefixes do not include our current ones."""
        if agent.interface != target.interface or agent.key == target.relay or agent.networks is None:
            return False
        current = self._current_networks(target)
        return current is not None and not _overlap(agent.networks, current)

    def _current_networks(self, target: Attachment) -> Networks | None:
        """The network prefixes of where we are: the current agent's (§2.4.2.2: only when it sent
        them), the home network's, or our co-located address's when its prefix is known."""
        if target.kind == FOREIGN:
            relay = self.relay(target)
            return relay.networks if relay else None
        if target.kind == HOME:
            home = _network(self.config.home_address, self.config.home_prefix_length)
            return (home,) if home else None
        link = self.links[target.interface]
        own = _network(target.care_of, link.prefix_length) if link.address == target.care_of else None
        return (own,) if own else None

    def leave_network(self, target: Attachment, home_agent: str) -> list[Action]:
        """We moved off the current network (§2.4.2.2): forget what belonged to it."""
        link = self.links[target.interface]
        if target.kind == FOREIGN and target.relay in self.agents:
            return self.forget(target.relay)
        if target.kind == HOME:
            on_link = [a for a in self.agents.values() if a.interface == link.name]
            gone = [a.key for a in on_link if self.is_home_advertisement(a, home_agent)]
            for key in gone:
                del self.agents[key]
            return [CancelTimer(agent_timer(key)) for key in gone]
        if link.address == target.care_of:
            link.address = None  # the co-located address belongs to the network we left
        return []

    # ------------------------------------------------------------------ solicitation (§2.4)

    def needs_search(self, link: Link, now: float, target: Attachment | None) -> bool:
        """§2.4: solicit only when no agent is heard and no care-of address is known otherwise."""
        if not link.up:
            return False
        if any(a.interface == link.name and a.alive(now) for a in self.agents.values()):
            return False
        colocated_here = (target is not None and target.kind == COLOCATED and target.interface == link.name
                          and target.relay is None)
        return not colocated_here

    def start_search(self, link: Link, now: float, fast: bool, target: Attachment | None) -> list[Action]:
        if link.soliciting or not self.needs_search(link, now, target):
            return []
        link.soliciting = True
        if fast or link.fast_restart:
            link.solicitations, link.searched = 0, False  # §2.4: new link, or registered since
        link.fast_restart = False
        return self._solicit(link, now)

    def _solicit(self, link: Link, now: float) -> list[Action]:
        """Send one Agent Solicitation (TTL 1, §2.2) and arm the next one."""
        link.solicitations += 1
        self.counters["tx.solicitation"] += 1
        sent = link.solicitations
        if sent < MAX_INITIAL_SOLICITATIONS:
            nominal = self.config.solicit_interval
        else:
            backoff = 2 ** (sent - MAX_INITIAL_SOLICITATIONS + 1)
            nominal = min(MAX_SOLICIT_INTERVAL, self.config.solicit_interval * backoff)
        wait = nominal * (1.0 + self.rng.uniform(0.0, SOLICIT_JITTER))
        source = link.address or self.config.home_address
        return [
            SendICMP(icmp.AGENTS_GROUP, icmp.AgentSolicitation().encode(), link.name, source=source, ttl=1),
            ArmTimer(solicit_timer(link.name), now + wait),
        ]

    def end_initial_search(self, link: Link) -> bool:
        """True once, when the initial solicitations went unanswered: a link without an agent."""
        if link.solicitations >= MAX_INITIAL_SOLICITATIONS and not link.searched:
            link.searched = True
            return True
        return False

    def continue_search(self, link: Link, now: float, target: Attachment | None) -> list[Action]:
        """The solicitation timer fired: the next solicitation, or the end of the search."""
        if not self.needs_search(link, now, target):
            link.soliciting = False
            return []
        return self._solicit(link, now)

    # ------------------------------------------------------------------ where the node can be attached

    def choose(
        self, now: float, target: Attachment | None, prefer: HeardAgent | None, home_agent: str
    ) -> Attachment | None:
        """Home first (§2.4.3); otherwise stay where we are (`target`) while it still works (§3.6);
        else the best other place."""
        home = self._home_interface(now, home_agent)
        if home is not None:
            return Attachment(HOME, home, self.config.home_address)
        if target is not None and target.kind != HOME and self.still_valid(target, now):
            return target
        if prefer is not None and prefer.usable_fa(now):
            return self._via_agent(prefer, now)
        return self._best_away(now)

    def _home_interface(self, now: float, home_agent: str) -> str | None:
        """§2.4.3: the interface a live advertisement from our home agent was heard on. (The
        interface's own address says nothing: a roaming node keeps its home address configured.)"""
        for a in self.agents.values():
            if a.alive(now) and self.links[a.interface].up and self.is_home_advertisement(a, home_agent):
                return a.interface
        return None

    def still_valid(self, target: Attachment, now: float) -> bool:
        link = self.links.get(target.interface)
        if link is None or not link.up:
            return False
        if target.kind == COLOCATED:
            if link.address != target.care_of:
                return False
            return target == self._colocated_attachment(link, now)
        relay = self.relay(target)
        return relay is not None and relay.usable_fa(now) and relay.care_of == target.care_of

    def _best_away(self, now: float) -> Attachment | None:
        """A co-located address if configured (§3.6.1.2), else the most recently heard usable
        foreign agent (§2.4.2.1), else a co-located address on a link no agent answered on."""
        if self.config.colocated:
            for link in self.links.values():
                att = self._colocated_attachment(link, now)
                if att is not None:
                    return att
        fas = [agent for agent in self.agents.values() if agent.usable_fa(now) and self.links[agent.interface].up]
        fas = [agent for agent in fas if not agent.flags & icmp.ADV_B]  # §2.1.1: busy, takes no new nodes
        if fas:
            return self._via_agent(max(fas, key=lambda agent: agent.heard_at), now)
        for link in self.links.values():
            if link.searched and not any(agent.interface == link.name for agent in self.agents.values()):
                att = self._colocated_attachment(link, now)
                if att is not None:
                    return att
        return None

    def _via_agent(self, agent: HeardAgent, now: float) -> Attachment:
        """Register through `agent` (or, configured co-located, with our address on its link)."""
        colocated = self._colocated_attachment(self.links[agent.interface], now) if self.config.colocated else None
        return colocated or Attachment(FOREIGN, agent.interface, agent.care_of, agent.key)

    def _colocated_attachment(self, link: Link, now: float) -> Attachment | None:
        """A co-located care-of address on `link`, through the foreign agent there if it sets R
        (§2.4.1: "SHOULD register through the foreign agent")."""
        if not link.up or link.address is None or self.in_home_network(link.address):
            return None
        required = [
            agent for agent in self.agents.values()
            if agent.interface == link.name and agent.flags & icmp.ADV_R and agent.usable_fa(now)
        ]
        relay = max(required, key=lambda agent: agent.heard_at).key if required else None
        return Attachment(COLOCATED, link.name, link.address, relay)
