"""Helpers for the mobile node state machine tests: a home network, two foreign agents, SAs,
advertisement and reply builders (wire codec + mipd.security.sign), and action filters.

Imported as `mn_helpers` (pytest puts this directory on sys.path).
"""

from __future__ import annotations

import random
from typing import Any, TypeVar

from mipd.protocol.actions import ArmTimer, Log, Packet, SendUDP
from mipd.protocol.config import MobileNodeConfig
from mipd.protocol.mobile_node import SEND_TIMER, MobileNode
from mipd.security import SecurityAssociation, SecurityAssociations, sign, verify
from mipd.wire import MFAE, MHAE, AgentAdvertisement, AuthExtension, RegistrationReply, RegistrationRequest, icmp
from mipd.wire import registration as reg

NOW = 1_780_000_000.0  # a fixed Unix time (2026)

HOME = "10.1.1.10"
HA = "10.1.1.1"
HOME_GW = "10.1.1.254"
HA_MAC = "02:00:00:00:01:01"

FA1 = "192.0.2.1"
FA1_COA = "192.0.2.1"
FA1_MAC = "02:00:00:00:02:01"
FA2 = "198.51.100.1"
FA2_COA = "198.51.100.2"
FA2_MAC = "02:00:00:00:03:01"

KEY = bytes(range(16))
SA_HOME = SecurityAssociation(HOME, 0x100, KEY)
SA_FA1 = SecurityAssociation(FA1, 0x200, b"fa1-shared-secret")

T = TypeVar("T")


def config(**kw: Any) -> MobileNodeConfig:
    base: dict[str, Any] = dict(home_address=HOME, home_agent=HA, home_prefix_length=24, home_gateway=HOME_GW)
    base.update(kw)
    return MobileNodeConfig(**base)


def node(*sas: SecurityAssociation, seed: int = 7, **kw: Any) -> MobileNode:
    return MobileNode(config(**kw), SecurityAssociations(list(sas) or [SA_HOME]), random.Random(seed))


def advert(
    source: str = FA1,
    *,
    coas: list[str] | None = None,
    flags: int = icmp.ADV_F,
    seq: int = 1,
    lifetime: int = 15,
    reg_lifetime: int = 1800,
    prefix: int | None = None,
    challenge: bytes | None = None,
    interface: str = "eth0",
    lladdr: str | None = None,
) -> Packet:
    """An agent advertisement from `source` (its only router address), as a received Packet."""
    if coas is None:
        coas = [source] if flags & icmp.ADV_F else []
    if lladdr is None:
        lladdr = {FA1: FA1_MAC, FA2: FA2_MAC, HA: HA_MAC}.get(source, "02:00:00:00:09:09")
    adv = AgentAdvertisement(
        lifetime,
        sequence=seq,
        registration_lifetime=reg_lifetime,
        flags=flags,
        care_of_addresses=coas,
        routers=[(source, 0)],
        prefix_lengths=None if prefix is None else [prefix],
        challenge=challenge,
    )
    return Packet(adv.encode(), source, "224.0.0.1", interface=interface, lladdr=lladdr, icmp=True, ttl=1)


def home_advert(source: str = HA, **kw: Any) -> Packet:
    return advert(source, flags=icmp.ADV_H, **kw)


def of_type(actions: list[Any], cls: type[T]) -> list[T]:
    return [a for a in actions if isinstance(a, cls)]


def index_of(actions: list[Any], cls: type) -> int:
    return next(i for i, a in enumerate(actions) if isinstance(a, cls))


def requests(actions: list[Any]) -> list[tuple[SendUDP, RegistrationRequest]]:
    """Every registration request sent, decoded with the wire codec."""
    out = []
    for a in of_type(actions, SendUDP):
        msg = reg.decode(a.payload)
        assert isinstance(msg, RegistrationRequest)
        out.append((a, msg))
    return out


def the_request(actions: list[Any]) -> tuple[SendUDP, RegistrationRequest]:
    sent = requests(actions)
    assert len(sent) == 1, f"expected one request, got {len(sent)}: {actions}"
    return sent[0]


def auth_ext(msg: RegistrationRequest | RegistrationReply, ext_type: int) -> AuthExtension:
    exts = [e for e in msg.extensions if isinstance(e, AuthExtension) and e.type == ext_type]
    assert len(exts) == 1
    return exts[0]


def mhae_ok(req: RegistrationRequest, sa: SecurityAssociation = SA_HOME) -> bool:
    ext = auth_ext(req, MHAE)
    return ext.spi == sa.spi and verify(sa, req.raw, ext) is not None


def reply_packet(
    req: RegistrationRequest,
    code: int = 0,
    *,
    lifetime: int | None = None,
    ident: int | None = None,
    home_agent: str | None = None,
    sa: SecurityAssociation | None = SA_HOME,
    fa_sa: SecurityAssociation | None = None,
    source: str = FA1,
    extensions: list[Any] | None = None,
) -> Packet:
    """A Registration Reply to `req`, MHAE-signed with `sa` (None: unsigned, as an FA denial)."""
    rep = RegistrationReply(
        code,
        req.lifetime if lifetime is None else lifetime,
        req.home_address,
        home_agent or req.home_agent,
        req.identification if ident is None else ident,
        list(extensions or []),
    )
    data = rep.encode()
    if sa is not None:
        data = sign(sa, data, MHAE)
    if fa_sa is not None:
        data = sign(fa_sa, data, MFAE)
    return Packet(data, source, req.home_address, interface="eth0")


def send_timer_at(actions: list[Any]) -> float | None:
    """When the last (re)transmission timer in `actions` is armed for."""
    arms = [a.at for a in of_type(actions, ArmTimer) if a.key == SEND_TIMER]
    return arms[-1] if arms else None


def timer_at(actions: list[Any], key: Any) -> float | None:
    arms = [a.at for a in of_type(actions, ArmTimer) if a.key == key]
    return arms[-1] if arms else None


def decisions(actions: list[Any]) -> list[Log]:
    return [a for a in of_type(actions, Log) if a.event in ("registration", "deregistration")]


def registered_with_fa1(mn: MobileNode, now: float = NOW, **advert_kw: Any) -> RegistrationRequest:
    """Drive `mn` to an accepted registration through FA1; returns the request that was accepted."""
    _, req = the_request(mn.on_packet(advert(FA1, **advert_kw), now))
    mn.on_packet(reply_packet(req), now + 0.2)
    assert mn.status(now + 0.2).registered
    return req


class Driver:
    """A MobileNode plus the last registration request it sent (decoded), to answer it."""

    def __init__(self, mn: MobileNode) -> None:
        self.mn = mn
        self.last: RegistrationRequest | None = None

    def _record(self, actions: list[Any]) -> list[Any]:
        sent = requests(actions)
        if sent:
            self.last = sent[-1][1]
        return actions

    def feed(self, pkt: Packet, now: float) -> list[Any]:
        return self._record(self.mn.on_packet(pkt, now))

    def fire(self, key: Any, now: float) -> list[Any]:
        return self._record(self.mn.on_timer(key, now))

    def reply(self, code: int, now: float, **kw: Any) -> list[Any]:
        """Answer the last request with `code` (MHAE-signed unless sa=None is passed)."""
        assert self.last is not None
        return self._record(self.mn.on_packet(reply_packet(self.last, code, **kw), now))

    def resend(self, actions: list[Any], not_before: float) -> tuple[float, list[Any]]:
        """Fire the send timer armed in `actions`; it must not be earlier than `not_before` and
        must send exactly one request."""
        at = send_timer_at(actions)
        assert at is not None and at >= not_before, (at, not_before)
        out = self.fire(SEND_TIMER, at)
        assert len(requests(out)) == 1, out
        return at, out


class Wire:
    """Carries packets between a mobile node, a foreign agent and a home agent (the project's own
    state machines), by destination address, with every armed timer fired in time order.

    The mobile node sits on the FA's link `fa_link` (its interface "eth0"); the HA is reachable
    from everyone by unicast. Data-plane actions are collected per machine, not carried out.
    """

    MN_MAC = "02:00:00:00:00:10"

    def __init__(self, mn: Any, ha: Any, fa: Any = None, fa_address: str = FA1, fa_link: str = "eth1") -> None:
        self.machines = {"mn": mn, "ha": ha, "fa": fa}
        self.fa_address, self.fa_link = fa_address, fa_link
        self.timers: dict[tuple[str, Any], float] = {}
        self.actions: dict[str, list[Any]] = {"mn": [], "ha": [], "fa": []}
        self.now = NOW
        self.clock_skew = {"mn": 0.0, "ha": 0.0, "fa": 0.0}  # each machine's clock error

    def _t(self, who: str) -> float:
        return self.now + self.clock_skew[who]

    def execute(self, who: str, actions: list[Any]) -> None:
        from mipd.protocol.actions import ArmTimer, CancelTimer, SendICMP

        queue = [(who, a) for a in actions]
        while queue:
            sender, act = queue.pop(0)
            self.actions[sender].append(act)
            if isinstance(act, ArmTimer):
                self.timers[(sender, act.key)] = act.at - self.clock_skew[sender]
            elif isinstance(act, CancelTimer):
                self.timers.pop((sender, act.key), None)
            elif isinstance(act, (SendUDP, SendICMP)):
                for target, pkt in self._route(sender, act):
                    queue += [(target, a) for a in self.machines[target].on_packet(pkt, self._t(target))]

    def _route(self, sender: str, act: Any) -> list[tuple[str, Packet]]:
        from mipd.protocol.actions import SendICMP

        fa_on, icmp_ = self.machines["fa"] is not None, isinstance(act, SendICMP)
        src = act.source or (self.fa_address if sender == "fa" else HA if sender == "ha" else HOME)
        if sender == "mn" and act.interface == "eth0" and fa_on and (icmp_ or act.dest == self.fa_address):
            ttl = act.ttl if act.ttl is not None else 64
            return [
                (
                    "fa",
                    Packet(act.payload, src, act.dest, interface=self.fa_link, lladdr=self.MN_MAC, icmp=icmp_, ttl=ttl),
                )
            ]
        if sender == "fa" and (icmp_ or act.interface == self.fa_link):
            return [
                (
                    "mn",
                    Packet(
                        act.payload, src, act.dest, interface="eth0", lladdr=FA1_MAC, icmp=icmp_, ttl=1 if icmp_ else 64
                    ),
                )
            ]
        if act.dest == HA and sender != "ha":
            return [("ha", Packet(act.payload, src, HA, source_port=act.source_port))]
        if sender == "ha" and fa_on and act.dest == self.fa_address:
            return [("fa", Packet(act.payload, HA, act.dest))]
        if sender == "ha":
            return [("mn", Packet(act.payload, HA, act.dest, interface="eth0"))]
        return []

    def run(self, until: float) -> None:
        """Advance time to `until` (true time), firing due timers in order."""
        while True:
            due = [(at, k) for k, at in self.timers.items() if at <= until]
            if not due:
                break
            at, (who, key) = min(due, key=lambda x: x[0])
            del self.timers[(who, key)]
            self.now = max(self.now, at)
            self.execute(who, self.machines[who].on_timer(key, self._t(who)))
        self.now = max(self.now, until)
