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
