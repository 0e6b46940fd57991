"""Foreign agent state machine (RFC 5944 §2.3, §3.7, §4.2.2; RFC 3024 §3-5; RFC 3012 §2-3; RFC 2794 §3).

Sans-IO, like the home agent: `start`, `on_packet`, `on_timer`, `on_icmp_error` and `on_config`
take an event and the current time and return the actions that carry it out, in order. Nothing
here reads a clock, opens a socket or draws randomness except from the injected `rng`.

The foreign agent
- advertises itself on every served link on a randomised timer and when solicited (§2.3);
- checks each Registration Request from a visiting mobile node (§3.7.2.1, RFC 3024 §4.2.1,
  RFC 3012 §3.2) and either denies it (§3.7.2.3) or relays it to the home agent (§3.7.2.2),
  keeping it as a pending registration (§3.7.1);
- matches the home agent's Registration Reply to the pending request (§3.7.3.1) and relays it to
  the mobile node (§3.7.3.2); on acceptance it installs the visitor: decapsulation of the home
  agent's tunnel, a host route to the visitor on its link (§4.2.2) and, when granted, the reverse
  tunnel (RFC 3024 §5);
- forgets a visitor whose lifetime ran out without sending anything (§3.7);
- with `aaa` settings, fetches the FA-HA SA of a home agent it has none for from the AAA server
  (protocol/aaa.py, the same cache the home agent uses, keyed by the home agent's address): the
  request waits for the lookup, then is relayed with its FHAE (§3.7.2.2, §3.5.4) and the home agent's
  reply is checked with it (§3.7.3.1). An SA fetched for a home agent authenticates that home agent
  only. While the server is unreachable a cached SA stays in use. With no SA at all (refused,
  malformed, unreachable, or a lookup that failed within the negative lifetime) the request is relayed
  without an FHAE (the home agent decides, §3.8.2.1 c) unless `require_fa_ha_auth` is set: then it is
  refused with 65, administratively prohibited (§3.7.2.3), counted, and logged once per home agent
  and interval. A lookup bound reached (protocol/aaa.py) drops the request: the node retransmits.

Choices where the RFCs leave room are documented where they are made.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from mipd.ipv4 import LIMITED_BROADCAST, UNSPECIFIED
from mipd.protocol import codes
from mipd.protocol.aaa import NEGATIVE, SWEEP_TIMER, AaaCache, AaaSettings, LookupResult
from mipd.protocol.actions import (
    Action,
    AddHostRoute,
    AddReverseTunnel,
    AddTunnel,
    ArmTimer,
    CancelTimer,
    DeleteRecord,
    Log,
    Packet,
    RemoveHostRoute,
    RemoveReverseTunnel,
    RemoveTunnel,
    SendUDP,
    StoreRecord,
)
from mipd.protocol.advertiser import Advertiser, AdvertLink, AdvertSettings, check_timing
from mipd.protocol.config import (
    ENCAPSULATIONS,
    REVERSE_TUNNEL_MODES,
    ForeignAgentConfig,
    ServedInterface,
    encap_for_flags,
)
from mipd.protocol.ratelimit import DenialGate, OncePerInterval
from mipd.security import SecurityAssociation, SecurityAssociations, sign, verify
from mipd.security.replay import low32
from mipd.wire import icmp
from mipd.wire import registration as reg
from mipd.wire.errors import TooManyExtensionsError, UnknownExtensionError, WireError
from mipd.wire.extensions import (
    ENCAP_DELIVERY,
    FHAE,
    GEN_AUTH_MN_AAA,
    MFAE,
    MHAE,
    AuthExtension,
    ChallengeExtension,
    Extension,
    GenAuthExtension,
    NAIExtension,
    PadExtension,
)

INFINITE = float("inf")
RESERVED_FLAGS = reg.FLAG_R | reg.FLAG_X  # §3.3 'r' and 'x'
REVERSE_TUNNEL_TTL = 255  # RFC 3024 §4.2.1: requests asking for T must arrive with TTL 255

DENIAL_INTERVAL = 1.0  # §3.7.2: at most one denial per second to the same mobile node
DENIAL_MEMORY = 1024  # rate-limit entries kept before the stale ones are pruned

# Reply codes of RFC 2794 §5 and RFC 3012 §10
MISSING_NAI = codes.FA_MISSING_NAI
MISSING_HOME_AGENT = codes.FA_MISSING_HOME_AGENT
MISSING_HOMEADDR = codes.FA_MISSING_HOMEADDR
UNKNOWN_CHALLENGE = codes.FA_UNKNOWN_CHALLENGE
MISSING_CHALLENGE = codes.FA_MISSING_CHALLENGE
STALE_CHALLENGE = codes.FA_STALE_CHALLENGE

ICMP_DEST_UNREACHABLE = 3
# §3.7.3: ICMP errors about a relayed request -> "home agent unreachable" codes 80-95.
_UNREACHABLE_CODES = {
    0: codes.FA_HOME_NET_UNREACHABLE,  # net unreachable
    6: codes.FA_HOME_NET_UNREACHABLE,  # destination network unknown
    9: codes.FA_HOME_NET_UNREACHABLE,  # network administratively prohibited
    11: codes.FA_HOME_NET_UNREACHABLE,  # network unreachable for TOS
    1: codes.FA_HA_HOST_UNREACHABLE,  # host unreachable
    7: codes.FA_HA_HOST_UNREACHABLE,  # destination host unknown
    10: codes.FA_HA_HOST_UNREACHABLE,  # host administratively prohibited
    12: codes.FA_HA_HOST_UNREACHABLE,  # host unreachable for TOS
    3: codes.FA_HA_PORT_UNREACHABLE,  # port unreachable
}

ADVERTISE_TIMER = "fa-advertise"  # key (ADVERTISE_TIMER, interface)
PENDING_TIMER = "fa-pending"  # key (PENDING_TIMER, node, low 32 bits of the Identification)
VISITOR_TIMER = "fa-visitor"  # key (VISITOR_TIMER, home address)
DENIAL_TIMER = ("fa-denials-repeated", "summary")  # the denial lines left out (ratelimit.DenialGate)

DIRECT = "direct"  # RFC 3024 §5.1
ENCAPSULATING = "encapsulating"  # RFC 3024 §5.2


# ---------------------------------------------------------------------------------------- records


@dataclass(slots=True)
class Visitor:
    """A visitor list entry (§3.7.1) for an accepted registration; what `StoreRecord` persists."""

    home_address: str
    nai: str | None
    care_of_address: str
    home_agent: str
    interface: str
    lladdr: str | None
    identification: int  # from the home agent's reply
    lifetime: int  # granted, seconds (0xffff = infinite)
    expires: float  # INFINITE for an infinite lifetime; counted from relaying the reply (§3.7.3.2)
    encap: str
    reverse_tunnel: bool  # T granted (RFC 3024 §4.2.2)
    delivery: str = DIRECT  # RFC 3024 §5 delivery style
    colocated: bool = False  # D: the node decapsulates itself, nothing to install here

    def remaining(self, now: float) -> int:
        return reg.lifetime_left(self.expires, now)


@dataclass(frozen=True, slots=True)
class VisitorInfo:
    """Read-only view of a visitor for mipctl (no key material)."""

    home_address: str
    nai: str | None
    care_of_address: str
    home_agent: str
    interface: str
    lladdr: str | None
    lifetime_left: int
    identification: int
    reverse_tunnel: bool
    encap: str
    delivery: str
    lifetime: int = 0  # granted, seconds (IOS `show ip mobile visitor` prints it beside the remaining time)


@dataclass(frozen=True, slots=True)
class PendingInfo:
    """Read-only view of a relayed request awaiting the home agent's reply (§3.7.1)."""

    home_address: str
    nai: str | None
    care_of_address: str
    home_agent: str
    interface: str
    lladdr: str | None
    lifetime: int  # requested
    timeout_left: float
    identification: int
    reverse_tunnel: bool
    encap: str


@dataclass(frozen=True, slots=True)
class _Requester:
    """Who sent a request and what a reply to it copies or is addressed by (§3.7.1, §3.7.2.3)."""

    home_address: str
    nai: str | None
    home_agent: str
    care_of_address: str
    identification: int
    lifetime: int  # requested
    interface: str
    lladdr: str | None
    source: str  # IP source of the request
    source_port: int  # the reply goes back to this UDP port
    local: str  # our address the request was sent to: the source of replies (§3.7.2.3)

    @property
    def node(self) -> str:
        """The node's identity: its home address, or its NAI when that is 0.0.0.0 (RFC 2794 §3)."""
        if self.home_address != UNSPECIFIED:
            return self.home_address
        return self.nai or self.source


@dataclass(slots=True)
class _Pending:
    """A relayed request (§3.7.1), kept until the reply, an ICMP error or the timeout."""

    mn: _Requester
    care_of_address: str  # the source of the relayed request (ours)
    encap: str
    reverse_tunnel: bool
    delivery: str
    colocated: bool
    challenge: bytes | None  # RFC 3012: the challenge the request answered
    challenge_relayed: bool  # it precedes the MN-AAA extension, so the home agent must echo it
    mn_spi: int | None  # the SPI whose MFAE verified: replies to the node are signed with it
    deadline: float


@dataclass(slots=True)
class _Incoming:
    """A decoded request while it is being checked; the checks fill in what they learn."""

    msg: reg.RegistrationRequest
    mn: _Requester
    iface: ServedInterface
    ttl: int
    auth_end: int = 0  # end of the last authorization-enabling extension: what is relayed
    delivery: str = DIRECT
    mn_spi: int | None = None
    challenge: bytes | None = None
    challenge_relayed: bool = False


class _Discard(Exception):
    """Drop the message without a reply, counting `counter`."""

    def __init__(self, counter: str) -> None:
        self.counter = counter


class _Denied(Exception):
    """Deny with `code` (§3.7.2.3); `lifetime` overrides the one copied from the request (69)."""

    def __init__(self, code: int, reason: str, security: bool = False, lifetime: int | None = None,
                 logged: bool = True) -> None:
        self.code = code
        self.reason = reason
        self.security = security
        self.lifetime = lifetime
        self.logged = logged  # False: the caller logs this kind of denial itself (no registration-denied line)


# ---------------------------------------------------------------------------------------- helpers


def validate_config(config: ForeignAgentConfig) -> None:
    """Refuse settings the RFCs rule out; the ValueError names the field."""
    names = [i.name for i in config.interfaces]
    if not names:
        raise ValueError("interfaces: a foreign agent serves at least one link")
    if len(set(names)) != len(names):
        raise ValueError("interfaces: an interface is listed twice")
    check_timing(config.advertisement_interval, config.advertisement_lifetime, "")
    if config.advertisement_code not in (icmp.CODE_ROUTES_ALL, icmp.CODE_MOBILITY_ONLY):
        raise ValueError(f"advertisement_code: {config.advertisement_code} is not 0 or 16 (RFC 5944 §2.1)")
    if not 0 < config.registration_lifetime <= 0xFFFF:
        raise ValueError(f"registration_lifetime: {config.registration_lifetime} is not 1-65535 s")
    if config.reverse_tunnel not in REVERSE_TUNNEL_MODES:
        raise ValueError(f"reverse_tunnel: {config.reverse_tunnel!r} is not one of {', '.join(REVERSE_TUNNEL_MODES)}")
    if not config.encapsulations <= frozenset(ENCAPSULATIONS):
        raise ValueError(f"encapsulations: {sorted(config.encapsulations)} not all in {', '.join(ENCAPSULATIONS)}")
    if config.visitor_limit < 0 or config.pending_limit < 0:
        raise ValueError("visitor_limit/pending_limit: must be 0 (unlimited) or more")
    if not config.pending_timeout > 0:
        raise ValueError(f"pending_timeout: {config.pending_timeout} s is not positive")


def _advert_links(config: ForeignAgentConfig) -> list[AdvertLink]:
    return [AdvertLink(i.name, i.address, i.prefix_length, offered_care_of_addresses(i)) for i in config.interfaces]


def _advert_settings(config: ForeignAgentConfig) -> AdvertSettings:
    return AdvertSettings(
        config.advertisement_interval,
        config.advertisement_lifetime,
        config.registration_lifetime,
        config.advertisement_code,
        config.advertise_prefix_lengths,
        config.challenge,
        config.advertise_broadcast,
    )


def offered_care_of_addresses(iface: ServedInterface) -> tuple[str, ...]:
    """The care-of addresses advertised on `iface` (§2.1.1): configured ones, else its address."""
    return iface.care_of_addresses or (iface.address,)


def home_agent_unreachable_code(icmp_type: int, icmp_code: int) -> int:
    """§3.7.3: the reply code for an ICMP error about a relayed request (80 net, 81 host, 82 port, else 88)."""
    if icmp_type != ICMP_DEST_UNREACHABLE:
        return codes.FA_HA_UNREACHABLE
    return _UNREACHABLE_CODES.get(icmp_code, codes.FA_HA_UNREACHABLE)


def _is_unicast(address: str) -> bool:
    first = int(address.split(".", 1)[0])
    return address != UNSPECIFIED and address != LIMITED_BROADCAST and first < 224


def _is_authorization_enabling(extension: Extension) -> bool:
    """MHAE, or the MN-AAA extension standing in for it (§3.7.2.2, RFC 3012 §6)."""
    return extension.type == MHAE or (isinstance(extension, GenAuthExtension) and extension.subtype == GEN_AUTH_MN_AAA)


def _is_mhae(extension: Extension) -> bool:
    return extension.type == MHAE


def _is_mn_authenticator(extension: Extension) -> bool:
    """What may authenticate a challenge for the foreign agent (RFC 3012 §3.2): MFAE or MN-AAA."""
    return extension.type == MFAE or (isinstance(extension, GenAuthExtension) and extension.subtype == GEN_AUTH_MN_AAA)


def _end_of_last(msg: reg.RegistrationRequest | reg.RegistrationReply, wanted: Any) -> int | None:
    """Offset just after the last extension for which `wanted(e)` holds, or None."""
    exts = msg.extensions
    end = None
    for i, extension in enumerate(exts):
        if wanted(extension):
            end = exts[i + 1].offset if i + 1 < len(exts) else len(msg.raw)
    return end


def _nai(msg: reg.RegistrationRequest | reg.RegistrationReply) -> str | None:
    extension = next((extension for extension in msg.extensions if isinstance(extension, NAIExtension)), None)
    return extension.nai if extension is not None else None


def _challenge(msg: reg.RegistrationRequest | reg.RegistrationReply) -> ChallengeExtension | None:
    return next((e for e in msg.extensions if isinstance(e, ChallengeExtension)), None)


def _fixed_part(data: bytes, length: int, decoder: Any) -> Any:
    """The fixed part of a message whose extensions do not parse, or None if even that is short."""
    if len(data) < length:
        return None
    try:
        return decoder(data[:length])
    except WireError:
        return None


def _dataplane(current: Visitor | None) -> dict[str, tuple[Action, Action]]:
    """What a visitor installs, as (add, remove) per part (§4.2.2, RFC 3024 §5)."""
    if current is None or current.colocated:
        return {}
    parts: dict[str, tuple[Action, Action]] = {
        "tunnel": (
            AddTunnel(current.care_of_address, current.home_agent, current.encap),
            RemoveTunnel(current.care_of_address, current.home_agent, current.encap),
        ),
        "route": (AddHostRoute(current.home_address, current.interface, current.lladdr),
                  RemoveHostRoute(current.home_address, current.interface)),
    }
    if current.reverse_tunnel:
        add = AddReverseTunnel(current.home_address, current.care_of_address, current.home_agent, current.encap,
                               current.interface, current.delivery)
        parts["reverse"] = (add, RemoveReverseTunnel(current.home_address))
    return parts


def _dataplane_changes(old: Visitor | None, new: Visitor | None) -> list[Action]:
    """The data-plane actions that turn `old`'s state into `new`'s, touching only what differs.

    A new tunnel is added before the routes move and the old one removed after, so a tunnel
    shared by other visitors keeps its reference throughout.
    """
    before, after = _dataplane(old), _dataplane(new)
    changed = {p for p in ("tunnel", "route", "reverse") if before.get(p) != after.get(p)}
    actions: list[Action] = []
    if "tunnel" in changed and "tunnel" in after:
        actions.append(after["tunnel"][0])
    for part in ("route", "reverse"):
        if part in changed:
            actions += [before[part][1]] if part in before else []
            actions += [after[part][0]] if part in after else []
    if "tunnel" in changed and "tunnel" in before:
        actions.append(before["tunnel"][1])
    return actions


# ---------------------------------------------------------------------------------------- the agent


class ForeignAgent:
    """Agent advertisement, registration relaying and the visitor list of one foreign agent."""

    def __init__(self, config: ForeignAgentConfig, sas: SecurityAssociations, rng: random.Random,
                 aaa: AaaSettings | None = None) -> None:
        validate_config(config)
        self.config = config
        self.sas = sas
        self.counters: Counter[str] = Counter()
        self.aaa = AaaCache(aaa, self.counters, subject="home_agent") if aaa is not None else None  # FA-HA SAs
        self._missing_sa_logs = OncePerInterval((aaa or AaaSettings()).failure_log_interval)  # by home agent
        self._rng = rng
        self._ifaces = {i.name: i for i in config.interfaces}
        self._own = self._own_addresses(config)
        self._now = 0.0  # time of the last event: the views' default
        self._challenge_users: dict[bytes, set[str]] = {}  # challenge -> nodes that answered it
        self.advertiser = Advertiser(rng, self.counters, ADVERTISE_TIMER, self._drop_challenge)
        self.advertiser.configure(_advert_links(config), _advert_settings(config), 0.0)
        self._last_denial: dict[str, float] = {}
        self.denials = DenialGate(config.limits, self.counters, DENIAL_TIMER)
        self._pending: dict[tuple[str, int], _Pending] = {}
        self._visitors: dict[str, Visitor] = {}  # by home address
        # what relayed acceptances not yet committed changed (track_commits): visitors before, and who was told
        self._before: dict[str, Visitor | None] | None = None
        self._told: list[_Pending] = []

    # ------------------------------------------------------------------ views (mipctl)

    def visitors(self, now: float | None = None) -> list[VisitorInfo]:
        """The visitor list; lifetimes left counted from `now` (default: the last event's time)."""
        moment = self._now if now is None else now
        return [
            VisitorInfo(
                v.home_address, v.nai, v.care_of_address, v.home_agent, v.interface, v.lladdr,
                v.remaining(moment), v.identification, v.reverse_tunnel, v.encap, v.delivery, v.lifetime,
            )
            for v in self._visitors.values()
        ]

    def pending(self, now: float | None = None) -> list[PendingInfo]:
        """Relayed requests awaiting a reply; timeouts left counted from `now` (default: last event)."""
        moment = self._now if now is None else now
        return [
            PendingInfo(
                p.mn.home_address, p.mn.nai, p.care_of_address, p.mn.home_agent, p.mn.interface, p.mn.lladdr,
                p.mn.lifetime, max(0.0, p.deadline - moment), p.mn.identification, p.reverse_tunnel, p.encap,
            )
            for p in self._pending.values()
        ]

    # ------------------------------------------------------------------ events

    def start(self, now: float) -> list[Action]:
        """Arm one advertisement timer per served link; sequence numbers restart at 0 (§2.3.2)."""
        self._now = now
        return self.advertiser.start(now)

    def on_packet(self, pkt: Packet, now: float) -> list[Action]:
        """A UDP 434 datagram (request from a visitor, reply from a home agent) or ICMP message. Never raises.

        A registration message longer than `limits.message_size` is discarded unread, and at most
        `limits.extensions` extensions are decoded (work before authentication is bounded, §3.8.2.1).
        """
        self._now = now
        self.counters["rx.packets"] += 1
        try:
            if pkt.icmp:
                return self.advertiser.on_icmp(pkt, now, self._advert_flags())
            if len(pkt.data) > self.config.limits.message_size:
                self.counters["discard.oversize"] += 1
                return []
            kind = reg.message_type(pkt.data)
            if kind not in (reg.REQUEST, reg.REPLY):
                self.counters["discard.malformed"] += 1
                return []
            actions = self._on_request(pkt, now) if kind == reg.REQUEST else self._on_reply(pkt, now)
            # lookups a request asked for; refreshes an accepted reply asked for (protocol/aaa.py)
            return actions + (self.aaa.drain() if self.aaa is not None else [])
        except Exception as e:  # a bug must not take the agent down: count it and drop the packet
            self.counters["discard.internal_error"] += 1
            return [Log("internal-error", {"error": repr(e), "source": pkt.source}, "error")]

    def on_timer(self, key: Any, now: float) -> list[Action]:
        """Advertisement due (§2.3), pending request timed out (§3.7.1), visitor expired (§3.7)."""
        self._now = now
        if key == SWEEP_TIMER and self.aaa is not None:
            return self.aaa.sweep(now)
        if not isinstance(key, tuple) or len(key) < 2:
            return []
        if self.advertiser.is_timer(key):
            return self.advertiser.on_timer(key, now, self._advert_flags())
        if key == DENIAL_TIMER:
            return self.denials.flush(now)
        if key[0] == PENDING_TIMER and len(key) == 3:
            return self._on_pending_timeout((key[1], key[2]), now)
        if key[0] == VISITOR_TIMER:
            return self._on_visitor_expiry(key[1], now)
        return []

    def on_icmp_error(self, dest: str, icmp_type: int, icmp_code: int, now: float) -> list[Action]:
        """An ICMP error came back for a request relayed to `dest` (§3.7.3): deny its pending requests."""
        self._now = now
        code = home_agent_unreachable_code(icmp_type, icmp_code)
        hits = [p for p in self._pending.values() if p.mn.home_agent == dest]
        if not hits:
            self.counters["discard.icmp_error_unmatched"] += 1
            return []
        actions: list[Action] = []
        for p in hits:
            reason = f"ICMP type {icmp_type} code {icmp_code} about the request relayed to {dest}"
            actions += self._fail(p, _Denied(code, reason), now)
        return actions

    def on_sa_lookup(self, result: LookupResult, now: float) -> list[Action]:
        """The outcome of a LookupSA for a home agent's FA-HA SA: relay the requests held for it, with an FHAE
        when SAs came (§3.7.2.2); with none, as `_relay_request` decides (without FHAE, or refused with 65)."""
        self._now = now
        if self.aaa is None:
            return []
        held, _accepted = self.aaa.on_result(result, now)
        actions = self.aaa.drain()
        for ctx in held:
            actions += self._relay_request(ctx, now, fetch=False)
        return actions

    def drop_sas(self, identity: str | None) -> int:
        """Forget FA-HA SAs fetched from AAA for home agent `identity` (None: all)."""
        return self.aaa.drop(identity) if self.aaa is not None else 0

    def on_config(self, config: ForeignAgentConfig, sas: SecurityAssociations, now: float) -> list[Action]:
        """Apply new settings (SAs, filters, limits, links, advertisement timing) keeping visitors and pending
        requests. A removed link stops being advertised; its visitors stay until they expire."""
        validate_config(config)
        self._now = now
        old = self.config
        self.config, self.sas = config, sas
        self.denials.configure(config.limits, now)
        self._ifaces = {i.name: i for i in config.interfaces}
        self._own = self._own_addresses(config)
        del old
        actions = self.advertiser.configure(_advert_links(config), _advert_settings(config), now)
        actions.append(Log("config-applied", {"links": len(self._ifaces), "visitors": len(self._visitors)}))
        return actions

    def restore(self, visitors: list[Visitor], now: float) -> list[Action]:
        """Re-install visitors loaded from storage after a restart; expired ones are dropped."""
        self._now = now
        actions: list[Action] = []
        for v in visitors:
            if v.expires <= now:
                self.counters["visitor.expired_on_restore"] += 1
                actions.append(DeleteRecord("visitor", v.home_address))
                continue
            actions += _dataplane_changes(self._visitors.get(v.home_address), v)
            self._visitors[v.home_address] = v
            if v.expires != INFINITE:
                actions.append(ArmTimer((VISITOR_TIMER, v.home_address), v.expires))
            self.counters["visitor.restored"] += 1
        return actions

    def shutdown(self) -> list[Action]:
        """Remove every tunnel and route this foreign agent installed and cancel its timers.

        Visitor records are kept (no DeleteRecord) so that `restore` can bring them back.
        """
        actions = self.advertiser.stop()
        actions += [CancelTimer((PENDING_TIMER, *key)) for key in self._pending]
        for v in self._visitors.values():
            actions += _dataplane_changes(v, None)
            if v.expires != INFINITE:
                actions.append(CancelTimer((VISITOR_TIMER, v.home_address)))
        actions.append(Log("shutdown", {"visitors": len(self._visitors), "pending": len(self._pending)}))
        self._pending.clear()
        self._visitors.clear()
        return actions

    # ------------------------------------------------------------------ commits (runtime: group commit)

    def track_commits(self) -> None:
        """Remember what each relayed acceptance changes in the visitor list until `committed` says it
        is durable, so that `on_commit_failed` can undo it."""
        self._before = {}

    def committed(self) -> None:
        """The visitor records so far are durable: nothing left to undo."""
        if self._told:
            self._told.clear()
            if self._before is not None:
                self._before.clear()

    def on_commit_failed(self, now: float) -> list[Action]:
        """The visitor records of the acceptances relayed since the last commit could not be written
        (disk full): the relayed replies were withheld; put those visitors back as they were (data
        plane and timers too) and tell each node 66, insufficient resources (RFC 5944 §3.4,
        §3.7.2.3) instead: it must not believe a registration the agent could lose."""
        before = self._before
        if before is None or not self._told:
            return []
        self._now = now
        actions: list[Action] = []
        for home, previous in before.items():
            current = self._visitors.get(home)
            actions += _dataplane_changes(current, previous)
            timer = (VISITOR_TIMER, home)
            if previous is None:
                self._visitors.pop(home, None)
                actions.append(CancelTimer(timer))
            else:
                self._visitors[home] = previous
                expires = previous.expires
                actions.append(CancelTimer(timer) if expires == INFINITE else ArmTimer(timer, expires))
        for pending in self._told:
            self.counters["rolled_back.registration"] += 1
            denied = _Denied(codes.FA_RESOURCES, "visitor not stored (state database write failed), undone")
            actions += self._deny(pending.mn, denied, now, pending.mn_spi)
        self._told.clear()
        before.clear()
        return actions

    def _note(self, pending: _Pending, home: str, old: Visitor | None) -> None:
        assert self._before is not None
        for key in (home, old.home_address if old is not None else home):
            if key not in self._before:
                self._before[key] = self._visitors.get(key)
        self._told.append(pending)

    # ------------------------------------------------------------------ agent advertisement (§2.3)

    def _advert_flags(self) -> int:
        """§2.1.1: F always; R, B, M, G as configured/current; T when reverse tunnels are offered (RFC 3024 §3.1)."""
        cfg = self.config
        flags = icmp.ADV_F
        if cfg.registration_required:
            flags |= icmp.ADV_R
        if self._busy():
            flags |= icmp.ADV_B
        if "minimal" in cfg.encapsulations:
            flags |= icmp.ADV_M
        if "gre" in cfg.encapsulations:
            flags |= icmp.ADV_G
        if cfg.reverse_tunnel != "off":
            flags |= icmp.ADV_T
        return flags

    def _drop_challenge(self, value: bytes) -> None:
        """A challenge left the advertised window: forget who answered it."""
        self._challenge_users.pop(value, None)

    def _busy(self) -> bool:
        """§2.1.1 B: no registrations from additional mobile nodes (visitor limit reached)."""
        limit = self.config.visitor_limit
        return bool(limit) and len(self._visitors) >= limit

    @staticmethod
    def _own_addresses(config: ForeignAgentConfig) -> frozenset[str]:
        return frozenset(a for i in config.interfaces for a in (i.address, *offered_care_of_addresses(i)))

    # ------------------------------------------------------------------ requests from mobile nodes (§3.7.2)

    def _on_request(self, pkt: Packet, now: float) -> list[Action]:
        self.counters["rx.request"] += 1
        iface = self._ifaces.get(pkt.interface or "")
        if iface is None:
            self.counters["discard.request_off_served_link"] += 1  # requests come from visitors on our links
            return []
        try:
            req = reg.decode_request(pkt.data, self.config.limits.extensions)
        except (UnknownExtensionError, TooManyExtensionsError) as e:
            self.counters[e.counter] += 1  # §1.9: silently discarded; too many: not worth an answer
            return []
        except WireError:
            return self._deny_unparsable_request(pkt, iface, now)
        ctx = _Incoming(req, self._requester(req, _nai(req), pkt, iface), iface, pkt.ttl)
        try:
            self._check_request(ctx)
        except _Discard as d:
            self.counters[d.counter] += 1
            return []
        except _Denied as d:
            return self._deny(ctx.mn, d, now, ctx.mn_spi)
        return self._relay_request(ctx, now)

    def _deny_unparsable_request(self, pkt: Packet, iface: ServedInterface, now: float) -> list[Action]:
        """§3.7.2.3: a request whose fixed part decodes but whose extensions do not -> 70; else discard."""
        fixed = _fixed_part(pkt.data, reg.REQUEST_FIXED_LEN, reg.decode_request)
        if fixed is None:
            self.counters["discard.malformed"] += 1
            return []
        mn = self._requester(fixed, None, pkt, iface)
        return self._deny(mn, _Denied(codes.FA_POORLY_FORMED_REQUEST, "extensions do not parse"), now)

    def _requester(
        self, req: reg.RegistrationRequest, nai: str | None, pkt: Packet, iface: ServedInterface
    ) -> _Requester:
        local = pkt.dest if pkt.dest in self._own else iface.address  # §3.7.2.3: not 224.0.0.11 etc.
        return _Requester(
            req.home_address, nai, req.home_agent, req.care_of_address, req.identification, req.lifetime,
            iface.name, pkt.lladdr, pkt.source, pkt.source_port, local,
        )

    def _check_request(self, ctx: _Incoming) -> None:
        """§3.7.2.1 validity, then service checks; raises _Denied or _Discard."""
        self._check_form(ctx)
        self._check_mn_auth(ctx)
        if self.config.challenge:
            self._check_challenge(ctx)
        self._check_service(ctx)
        self._check_resources(ctx)

    def _check_form(self, ctx: _Incoming) -> None:
        """70 poorly formed (§3.7.2.1 reserved bits, RFC 2794 §2, RFC 3024 §3.3), and find what to relay."""
        req = ctx.msg
        if req.flags & RESERVED_FLAGS:
            raise _Denied(codes.FA_POORLY_FORMED_REQUEST, "reserved flag bits set")
        if req.home_address == UNSPECIFIED and ctx.mn.nai is None:
            raise _Denied(codes.FA_POORLY_FORMED_REQUEST, "home address 0.0.0.0 without an NAI extension")
        if not _is_unicast(req.home_agent):
            raise _Denied(codes.FA_POORLY_FORMED_REQUEST, f"home agent {req.home_agent} is not a unicast address")
        auth_end = _end_of_last(req, _is_authorization_enabling)
        if auth_end is None:
            raise _Denied(codes.FA_POORLY_FORMED_REQUEST, "no MHAE or MN-AAA extension (§3.6.1.3)")
        ctx.auth_end = auth_end
        style = req.find(ENCAP_DELIVERY)
        if style is not None:
            if not req.flags & reg.FLAG_T:
                raise _Denied(codes.FA_POORLY_FORMED_REQUEST, "Encapsulating Delivery Style without T")
            if style.offset < auth_end:
                raise _Denied(codes.FA_POORLY_FORMED_REQUEST, "Encapsulating Delivery Style before the MHAE")
            ctx.delivery = ENCAPSULATING

    def _check_mn_auth(self, ctx: _Incoming) -> None:
        """§3.7.2.1: with an SA with the node, exactly one MFAE that verifies, else 67 (security exception).

        The MFAE is the last extension the node adds (§3.6.1.3): anything but padding after it is
        not covered by it, so such a request is poorly formed (70).
        """
        peer = self._mn_peer(ctx.mn)
        if peer is None:
            return
        req = ctx.msg
        mfaes = [e for e in req.extensions if isinstance(e, AuthExtension) and e.type == MFAE]
        if len(mfaes) != 1:
            self.counters["security.mn_auth_failed"] += 1
            raise _Denied(codes.FA_MN_AUTH, f"{len(mfaes)} MFAE present, exactly one required", security=True)
        mfae = mfaes[0]
        sa = self.sas.get(peer, mfae.spi)
        used = verify(sa, req.raw, mfae) if sa is not None else None
        if sa is None or used is None:
            self.counters["security.mn_auth_failed"] += 1
            raise _Denied(codes.FA_MN_AUTH, "unknown SPI" if sa is None else "bad MFAE", security=True)
        if used != sa.algorithm:
            self.counters["security.auth_fallback"] += 1
        ctx.mn_spi = sa.spi
        if any(e.offset > mfae.offset and not isinstance(e, PadExtension) for e in req.extensions):
            raise _Denied(codes.FA_POORLY_FORMED_REQUEST, "extensions after the MFAE")

    def _check_challenge(self, ctx: _Incoming) -> None:
        """RFC 3012 §3.2, when our advertisements carry challenges.

        Every request must answer a challenge (with or without an SA: the "MAY refuse" option is
        taken), one of the last CHALLENGE_WINDOW advertised on its link (104), not used by the
        node before unless it retransmits a still pending request (106), and followed by an MFAE
        or MN-AAA extension (else silently discarded).
        """
        req, node = ctx.msg, ctx.mn.node
        ext = _challenge(req)
        if ext is None:
            raise _Denied(MISSING_CHALLENGE, "no MN-FA Challenge extension")
        if not any(_is_mn_authenticator(e) and e.offset > ext.offset for e in req.extensions):
            raise _Discard("discard.challenge_unauthenticated")
        value = ext.challenge
        if value not in self.advertiser.challenges(ctx.iface.name):
            raise _Denied(UNKNOWN_CHALLENGE, "challenge is not one recently advertised on this link")
        pending = self._pending.get((node, low32(req.identification)))
        resent = pending is not None and pending.mn.identification == req.identification and pending.challenge == value
        if not resent and node in self._challenge_users.get(value, ()):
            raise _Denied(STALE_CHALLENGE, "challenge already used by this node")
        ctx.challenge = value
        ctx.challenge_relayed = ext.offset < ctx.auth_end

    def _check_service(self, ctx: _Incoming) -> None:
        """194 (§3.7.2), 77 (§3.7.2.1), 69 (§3.7.2.3), tunnelling (72/74/75/76), 65 filter (§3.7.2)."""
        req, cfg = ctx.msg, self.config
        if req.home_agent in self._own:
            raise _Denied(codes.FA_INVALID_HA_ADDRESS, "home agent address is one of ours")
        registering = req.lifetime != reg.LIFETIME_DEREGISTER
        offered = offered_care_of_addresses(ctx.iface)
        if registering and not req.flags & reg.FLAG_D and req.care_of_address not in offered:
            reason = f"care-of address {req.care_of_address} not offered on {ctx.iface.name}"
            raise _Denied(codes.FA_INVALID_COA, reason)
        if req.lifetime > cfg.registration_lifetime:
            reason = f"lifetime {req.lifetime} s > {cfg.registration_lifetime} s"
            raise _Denied(codes.FA_LIFETIME_TOO_LONG, reason, lifetime=cfg.registration_lifetime)
        if registering:
            self._check_tunnels(ctx)
        if not cfg.filters.home_agents.permits(req.home_agent):
            raise _Denied(codes.FA_PROHIBITED, f"home agent {req.home_agent} not permitted")

    def _check_tunnels(self, ctx: _Incoming) -> None:
        """§3.7.2 72; RFC 3024 §4.2.1: 74 (T not offered), 75 (T mandatory), 76 (TTL not 255).

        Deregistrations are not refused for their tunnelling flags: nothing is set up for them.
        """
        flags, cfg = ctx.msg.flags, self.config
        if flags & reg.FLAG_M and flags & reg.FLAG_G:
            raise _Denied(codes.FA_ENCAP_UNAVAILABLE, "both minimal and GRE requested")
        encap = encap_for_flags(flags)
        if encap not in cfg.encapsulations:
            raise _Denied(codes.FA_ENCAP_UNAVAILABLE, f"{encap} encapsulation not offered")
        if flags & reg.FLAG_T:
            if cfg.reverse_tunnel == "off":
                raise _Denied(codes.FA_REVERSE_TUNNEL_UNAVAILABLE, "reverse tunnelling not offered")
            if ctx.ttl != REVERSE_TUNNEL_TTL:
                raise _Denied(codes.FA_MN_TOO_DISTANT, f"IP TTL {ctx.ttl}, not {REVERSE_TUNNEL_TTL}")
        elif cfg.reverse_tunnel == "mandatory":
            raise _Denied(codes.FA_REVERSE_TUNNEL_MANDATORY, "reverse tunnelling is mandatory")

    def _check_resources(self, ctx: _Incoming) -> None:
        """§3.7.1 pending limit and the visitor limit (a node already visiting may re-register): 66.

        Pending requests of new nodes count against the visitor limit, so accepting them all
        cannot overshoot it. A limit of 0 means unlimited.
        """
        cfg, mn = self.config, ctx.mn
        key = (mn.node, low32(mn.identification))
        if cfg.pending_limit and key not in self._pending and len(self._pending) >= cfg.pending_limit:
            raise _Denied(codes.FA_RESOURCES, f"{len(self._pending)} requests pending")
        if not cfg.visitor_limit or mn.lifetime == reg.LIFETIME_DEREGISTER:
            return
        if self._find_visitor(mn.home_address, mn.nai) is not None:
            return
        pending = self._pending.values()
        newcomers = {p.mn.node for p in pending if self._find_visitor(p.mn.home_address, p.mn.nai) is None}
        if mn.node not in newcomers and len(self._visitors) + len(newcomers) >= cfg.visitor_limit:
            raise _Denied(codes.FA_RESOURCES, f"visitor limit {cfg.visitor_limit} reached")

    def _relay_request(self, ctx: _Incoming, now: float, fetch: bool = True) -> list[Action]:
        """§3.7.2.2: relay the bytes through the last authorization-enabling extension unchanged,
        drop what follows (extensions for us: MFAE, challenge, delivery style), add the FHAE when
        we share an SA with the home agent and the lifetime is not 0; then wait for the reply.
        With `fetch` and an AAA server, a request to a home agent we have no SA with waits for its lookup;
        with no SA at all it goes without FHAE, or is refused when `require_fa_ha_auth` (§3.5.4)."""
        req, mn = ctx.msg, ctx.mn
        colocated = bool(req.flags & reg.FLAG_D)
        coa = offered_care_of_addresses(ctx.iface)[0] if colocated else req.care_of_address
        payload = req.raw[: ctx.auth_end]
        ha_sas = self._ha_sas(req.home_agent)
        registering = req.lifetime != reg.LIFETIME_DEREGISTER
        if not ha_sas and registering:
            if fetch and self.aaa is not None and self.aaa.hold(req.home_agent, ctx, now) != NEGATIVE:
                return []  # waits for the lookup (on_sa_lookup), or a lookup bound dropped it (it is retransmitted)
            if self.config.require_fa_ha_auth:
                return self._refuse_without_ha_sa(ctx, now)
            self.counters["relayed.without_fhae"] += 1
        if ha_sas and registering:
            payload = sign(ha_sas[-1], payload, FHAE)  # the newest, as mobile nodes do (rotation adds last)
        key = (mn.node, low32(req.identification))
        deadline = now + self.config.pending_timeout
        self._pending[key] = _Pending(
            mn, coa, encap_for_flags(req.flags), bool(req.flags & reg.FLAG_T), ctx.delivery, colocated,
            ctx.challenge, ctx.challenge_relayed, ctx.mn_spi, deadline,
        )
        if ctx.challenge is not None:
            self._challenge_users.setdefault(ctx.challenge, set()).add(mn.node)
        self.counters["relayed.request"] += 1
        fields = {"node": mn.node, "coa": coa, "code": None, "reason": f"relayed to home agent {req.home_agent}"}
        return [
            ArmTimer((PENDING_TIMER, *key), deadline),
            Log("request-relayed", fields),
            SendUDP(req.home_agent, payload, reg.PORT, coa, reg.PORT),
        ]

    def _refuse_without_ha_sa(self, ctx: _Incoming, now: float) -> list[Action]:
        """`require_fa_ha_auth` and no FA-HA SA with the home agent (§3.5.4; none in the keys file, none from
        AAA): 65, administratively prohibited (§3.7.2.3), counted per request, one line per home agent and
        interval instead of a registration-denied line per request."""
        home_agent = ctx.msg.home_agent
        self.counters["refused.no_fa_ha_sa"] += 1
        actions: list[Action] = []
        if self._missing_sa_logs.due(home_agent, now):
            fields = {"home_agent": home_agent, "code": codes.FA_PROHIBITED,
                      "reason": "no FA-HA SA with this home agent and require_fa_ha_auth is set"}
            actions.append(Log("fa-ha-sa-missing", fields, "warning"))
        reason = f"no FA-HA SA with home agent {home_agent}"
        return actions + self._deny(ctx.mn, _Denied(codes.FA_PROHIBITED, reason, logged=False), now, ctx.mn_spi)

    # ------------------------------------------------------------------ replies from home agents (§3.7.3)

    def _on_reply(self, pkt: Packet, now: float) -> list[Action]:
        self.counters["rx.reply"] += 1
        try:
            reply = reg.decode_reply(pkt.data, self.config.limits.extensions)
        except (UnknownExtensionError, TooManyExtensionsError) as e:
            self.counters[e.counter] += 1  # §1.9; the node's request will time out (78)
            return []
        except WireError:
            return self._fail_unparsable_reply(pkt, now)
        pending = self._match(reply.home_address, reply.identification, _nai(reply))
        if pending is None:
            self.counters["discard.unmatched_reply"] += 1  # §3.7.3.1: silently discarded
            return []
        try:
            self._check_reply(reply, pending)
        except _Denied as d:
            return self._fail(pending, d, now)
        return self._relay_reply(reply, pending, now)

    def _fail_unparsable_reply(self, pkt: Packet, now: float) -> list[Action]:
        """A reply whose extensions do not parse: 71 to the node it belongs to, if any (§3.4)."""
        fixed = _fixed_part(pkt.data, reg.REPLY_FIXED_LEN, reg.decode_reply)
        pending = self._match(fixed.home_address, fixed.identification, None) if fixed is not None else None
        if pending is None:
            self.counters["discard.malformed"] += 1
            return []
        return self._fail(pending, _Denied(codes.FA_POORLY_FORMED_REPLY, "reply extensions do not parse"), now)

    def _match(self, home: str, identification: int, nai: str | None) -> _Pending | None:
        """§3.7.3.1: the pending request with this home address (the NAI disambiguating), or with
        home address 0.0.0.0 and this NAI, and the same low-order 32 bits of Identification."""
        low = low32(identification)
        if home != UNSPECIFIED:
            found = self._pending.get((home, low))
            if found is not None and (nai is None or found.mn.nai is None or found.mn.nai == nai):
                return found
        return self._pending.get((nai, low)) if nai is not None else None

    def _check_reply(self, reply: reg.RegistrationReply, pending: _Pending) -> None:
        """§3.7.3.1 (68), §3.8.3.3 (71 without MHAE), RFC 3012 §3.2 (105), RFC 2794 §3 (97-99)."""
        self._check_ha_auth(reply, pending)
        if _end_of_last(reply, _is_mhae) is None:
            raise _Denied(codes.FA_POORLY_FORMED_REPLY, "reply without MHAE")
        if pending.challenge_relayed:
            echoed = _challenge(reply)
            if echoed is None or echoed.challenge != pending.challenge:
                raise _Denied(MISSING_CHALLENGE, "reply does not echo the relayed challenge")
        if pending.mn.nai is not None and _nai(reply) is None:
            raise _Denied(MISSING_NAI, "reply without the node's NAI")
        if codes.accepted(reply.code):
            if reply.home_agent == UNSPECIFIED:
                raise _Denied(MISSING_HOME_AGENT, "accepting reply with home agent 0.0.0.0")
            if reply.home_address == UNSPECIFIED:
                raise _Denied(MISSING_HOMEADDR, "accepting reply with home address 0.0.0.0")

    def _check_ha_auth(self, reply: reg.RegistrationReply, pending: _Pending) -> None:
        """§3.7.1, §3.7.3.1: with an SA with the home agent and a nonzero lifetime, exactly one FHAE
        that verifies; else the registration is rejected with 68 (security exception)."""
        ha = pending.mn.home_agent
        if not self._ha_sas(ha) or reply.lifetime == 0:
            return
        fhaes = [e for e in reply.extensions if isinstance(e, AuthExtension) and e.type == FHAE]
        if len(fhaes) != 1:
            self.counters["security.ha_auth_failed"] += 1
            raise _Denied(codes.FA_HA_AUTH, f"{len(fhaes)} FHAE present, exactly one required", security=True)
        sa = self._ha_sa(ha, fhaes[0].spi)
        used = verify(sa, reply.raw, fhaes[0]) if sa is not None else None
        if sa is None or used is None:
            self.counters["security.ha_auth_failed"] += 1
            raise _Denied(codes.FA_HA_AUTH, "unknown SPI" if sa is None else "bad FHAE", security=True)
        if used != sa.algorithm:
            self.counters["security.auth_fallback"] += 1

    def _ha_sas(self, home_agent: str) -> list[SecurityAssociation]:
        """The FA-HA SAs with `home_agent`: the keys file's, else those fetched from AAA for it."""
        return self.sas.for_peer(home_agent) or (self.aaa.for_peer(home_agent) if self.aaa is not None else [])

    def _ha_sa(self, home_agent: str, spi: int) -> SecurityAssociation | None:
        if self.sas.has_peer(home_agent) or self.aaa is None:
            return self.sas.get(home_agent, spi)
        return self.aaa.get(home_agent, spi)

    def _relay_reply(self, reply: reg.RegistrationReply, pending: _Pending, now: float) -> list[Action]:
        """§3.7.3.2: relay the bytes through the MHAE unchanged, drop what follows (FHAE, challenge),
        add our MFAE when we share an SA with the node; update the visitor list on acceptance."""
        mn = pending.mn
        actions = self._drop_pending(pending)
        payload = self._sign_for_mn(reply.raw[: _end_of_last(reply, _is_mhae)], mn, pending.mn_spi)
        if codes.accepted(reply.code):
            actions += self._accept(reply, pending, now)
        self.counters["relayed.reply"] += 1
        self.counters[f"reply.{reply.code}"] += 1
        fields = {"node": mn.node, "coa": pending.care_of_address, "code": reply.code, "reason": codes.name(reply.code)}
        actions.append(Log("reply-relayed", fields))
        actions.append(self._send_to_mn(mn, payload, reply.home_address))
        return actions

    # ------------------------------------------------------------------ the visitor list (§3.7.1, §3.7.3.2)

    def _accept(self, reply: reg.RegistrationReply, pending: _Pending, now: float) -> list[Action]:
        """An accepting reply: create or update the visitor (lifetime = min(granted, requested, ours)),
        or remove it when the lifetime is 0 (deregistration)."""
        mn = pending.mn
        old = self._find_visitor(mn.home_address, mn.nai) or self._find_visitor(reply.home_address, None)
        if self._before is not None:
            self._note(pending, reply.home_address, old)
        lifetime = min(reply.lifetime, mn.lifetime, self.config.registration_lifetime)
        if lifetime == reg.LIFETIME_DEREGISTER:
            self.counters["accepted.deregistration"] += 1
            return self._remove_visitor(old) if old is not None else []
        self.counters["accepted.registration"] += 1
        new = Visitor(
            reply.home_address, mn.nai, pending.care_of_address, mn.home_agent, mn.interface, mn.lladdr,
            reply.identification, lifetime, INFINITE if lifetime == reg.LIFETIME_INFINITE else now + lifetime,
            pending.encap, pending.reverse_tunnel, pending.delivery, pending.colocated,
        )
        actions: list[Action] = []
        if old is not None and old.home_address != new.home_address:
            actions += self._remove_visitor(old)
            old = None
        actions += _dataplane_changes(old, new)
        if self.aaa is not None:  # an SA fetched for this home agent lives as long as the visitors it serves
            self.aaa.used(mn.home_agent, now, max(v.expires for v in (new, *self._visitors.values())
                                                  if v.home_agent == mn.home_agent))
        self._visitors[new.home_address] = new
        actions.append(StoreRecord("visitor", new))
        timer = (VISITOR_TIMER, new.home_address)
        actions.append(CancelTimer(timer) if new.expires == INFINITE else ArmTimer(timer, new.expires))
        return actions

    def _remove_visitor(self, leaving: Visitor) -> list[Action]:
        """Tear down the visitor's data plane and forget it (§3.7.3.2, §3.7)."""
        self._visitors.pop(leaving.home_address, None)
        actions = _dataplane_changes(leaving, None)
        actions.append(CancelTimer((VISITOR_TIMER, leaving.home_address)))
        actions.append(DeleteRecord("visitor", leaving.home_address))
        return actions

    def _on_visitor_expiry(self, home: str, now: float) -> list[Action]:
        """§3.7: the lifetime ran out; remove the visitor and send nothing ("MUST NOT")."""
        known = self._visitors.get(home)
        if known is None or known.expires > now:
            return []
        self.counters["visitor.expired"] += 1
        actions = self._remove_visitor(known)
        actions.append(Log("visitor-expired", {"node": known.nai or home, "coa": known.care_of_address}))
        return actions

    def _find_visitor(self, home: str, nai: str | None) -> Visitor | None:
        if home != UNSPECIFIED and home in self._visitors:
            return self._visitors[home]
        if nai is not None:
            return next((v for v in self._visitors.values() if v.nai == nai), None)
        return None

    # ------------------------------------------------------------------ pending requests and denials

    def _on_pending_timeout(self, key: tuple[str, int], now: float) -> list[Action]:
        """§3.7.1: no reply within pending_timeout -> drop the pending request and deny with 78."""
        waiting = self._pending.get(key)
        if waiting is None or waiting.deadline > now:
            return []
        self.counters["pending.timeout"] += 1
        del self._pending[key]
        reason = f"no reply from home agent {waiting.mn.home_agent} within {self.config.pending_timeout:g} s"
        return self._deny(waiting.mn, _Denied(codes.FA_TIMEOUT, reason), now, waiting.mn_spi)

    def _drop_pending(self, waiting: _Pending) -> list[Action]:
        key = (waiting.mn.node, low32(waiting.mn.identification))
        self._pending.pop(key, None)
        return [CancelTimer((PENDING_TIMER, *key))]

    def _fail(self, waiting: _Pending, denied: _Denied, now: float) -> list[Action]:
        """Reject a pending registration ourselves (68, 71, 78, 80-88, ...); the visitor entry, if
        any, is left as it was (§3.7.2)."""
        return self._drop_pending(waiting) + self._deny(waiting.mn, denied, now, waiting.mn_spi)

    def _deny(self, mn: _Requester, denied: _Denied, now: float, mn_spi: int | None = None) -> list[Action]:
        """§3.7.2.3: a Registration Reply copying Home Address, Home Agent and Identification, with our
        MFAE when we share an SA with the node; at most one per second per node (§3.7.2), and at most
        one 76 per second overall (RFC 3024 §4.2.1). The decision is logged even when the reply is not
        sent. Replies and log lines are also rate-limited per source address and in all: a flooder
        that varies the node it names is not held by §3.7.2's limit (ratelimit.DenialGate)."""
        code = denied.code
        self.counters[f"denied.{code}"] += 1
        rate_limited = self._rate_limited(mn.node, code, now)
        if rate_limited:
            self.counters["denial.rate_limited"] += 1
        send, line, extra = self.denials.admit(mn.source, now, reply=not rate_limited, line=denied.logged)
        actions: list[Action] = list(extra)
        if line:
            fields: dict[str, Any] = {"node": mn.node, "coa": mn.care_of_address, "code": code,
                                      "reason": denied.reason}
            if denied.security:
                fields["security_exception"] = True
            if not send:
                fields["reply_suppressed"] = True
            actions.append(Log("registration-denied", fields, "warning" if denied.security else "info"))
        if send:
            actions.append(self._send_to_mn(mn, self._denial_payload(mn, denied, mn_spi), None))
        return actions

    def _denial_payload(self, mn: _Requester, denied: _Denied, mn_spi: int | None) -> bytes:
        lifetime = mn.lifetime if denied.lifetime is None else denied.lifetime
        data = reg.RegistrationReply(denied.code, lifetime, mn.home_address, mn.home_agent, mn.identification).encode()
        if mn.nai is not None:
            data += NAIExtension(mn.nai).encode()  # RFC 2794: lets a node without a home address match it
        return self._sign_for_mn(data, mn, mn_spi)

    def _rate_limited(self, node: str, code: int, now: float) -> bool:
        keys = [node, "code-76"] if code == codes.FA_MN_TOO_DISTANT else [node]
        if any(now - self._last_denial.get(k, -INFINITE) < DENIAL_INTERVAL for k in keys):
            return True
        if len(self._last_denial) >= DENIAL_MEMORY:
            self._last_denial = {k: t for k, t in self._last_denial.items() if now - t < DENIAL_INTERVAL}
        for k in keys:
            self._last_denial[k] = now
        return False

    def _send_to_mn(self, mn: _Requester, payload: bytes, reply_home: str | None) -> SendUDP:
        """§3.7.2.3 addressing: to the home address (the reply's, then the request's), else the limited
        broadcast; from the address the node sent to; to its UDP source port; out its link to its
        link-layer address (its home address is not routable here)."""
        if reply_home is not None and reply_home != UNSPECIFIED:
            dest = reply_home
        elif mn.home_address != UNSPECIFIED:
            dest = mn.home_address
        else:
            dest = LIMITED_BROADCAST
        return SendUDP(dest, payload, mn.source_port, mn.local, reg.PORT, mn.interface, mn.lladdr)

    def _sign_for_mn(self, data: bytes, mn: _Requester, mn_spi: int | None) -> bytes:
        """§3.7.1/§3.7.3.2: append an MFAE when we share an SA with the node, with the SA its request
        verified with, else the oldest one (the one it most likely still holds during key rotation)."""
        peer = self._mn_peer(mn)
        if peer is None:
            return data
        sa: SecurityAssociation | None = self.sas.get(peer, mn_spi) if mn_spi is not None else None
        return sign(sa or self.sas.for_peer(peer)[0], data, MFAE)

    def _mn_peer(self, mn: _Requester) -> str | None:
        """The name we share an SA with the node under: its home address, else its NAI."""
        if mn.home_address != UNSPECIFIED and self.sas.has_peer(mn.home_address):
            return mn.home_address
        if mn.nai is not None and self.sas.has_peer(mn.nai):
            return mn.nai
        return None
