"""Helpers for the foreign agent tests: a small world (links, nodes, keys), request and reply
builders that sign with mipd.security exactly as a mobile node or home agent would, and
accessors for the actions a state machine returns.

Imported by test_foreign_agent.py as `fa_helpers` (pytest puts this directory on sys.path).
"""

from __future__ import annotations

import random
from typing import Any

from mipd.protocol.actions import Packet, SendICMP, SendUDP
from mipd.protocol.config import ForeignAgentConfig, ServedInterface
from mipd.protocol.foreign_agent import ForeignAgent
from mipd.security import SecurityAssociation, SecurityAssociations, sign, sign_mn_aaa
from mipd.wire import icmp
from mipd.wire import registration as reg
from mipd.wire.extensions import (
    FHAE,
    MFAE,
    MHAE,
    ChallengeExtension,
    EncapDeliveryExtension,
    Extension,
    NAIExtension,
)

# The visited link eth1 (FA 192.0.2.1, care-of address 192.0.2.1) and a second link eth2 with a
# separate care-of address. The home agent is far away at 10.1.1.1; the node's home is 10.1.1.10.
ETH1 = ServedInterface("eth1", "192.0.2.1", 24)
ETH2 = ServedInterface("eth2", "198.51.100.1", 24, ("203.0.113.7",))
COA = "192.0.2.1"
HA = "10.1.1.1"
HOME = "10.1.1.10"
MN_LLADDR = "02:00:00:00:00:10"
NAI = "alice@example.net"
ID = 0xE8FE6F80_80000000
NOW = 1_000_000.0

MN_HA = SecurityAssociation(HOME, 0x100, bytes(range(16)))  # the HA's SA with the node (not the FA's)
MN_FA = SecurityAssociation(HOME, 0x200, b"mn-fa-secret-key")
FA_HA = SecurityAssociation(HA, 0x300, b"fa-ha-secret-key")
MN_AAA = SecurityAssociation(NAI, 0x400, b"mn-aaa-secret")


def config(**kw: Any) -> ForeignAgentConfig:
    fields: dict[str, Any] = dict(interfaces=(ETH1, ETH2), registration_lifetime=1800)
    fields.update(kw)
    return ForeignAgentConfig(**fields)


def agent(*sas: SecurityAssociation, seed: int = 7, **kw: Any) -> ForeignAgent:
    return ForeignAgent(config(**kw), SecurityAssociations(list(sas)), random.Random(seed))


# ------------------------------------------------------------------------------------ requests


def request_bytes(
    *,
    flags: int = 0,
    lifetime: int = 600,
    home: str = HOME,
    ha: str = HA,
    coa: str = COA,
    ident: int = ID,
    before_mhae: list[Extension] | None = None,
    mhae: bool = True,
    after_mhae: list[Extension] | None = None,
    mfae: SecurityAssociation | None = None,
    mn_aaa: SecurityAssociation | None = None,
) -> bytes:
    """A Registration Request as a mobile node builds it (§3.6.1.3 order): fixed part, extensions
    for the HA, MHAE (signed with MN_HA), extensions for the FA, optional MN-AAA, optional MFAE."""
    data = reg.RegistrationRequest(flags, lifetime, home, ha, coa, ident).encode_fixed()
    data += b"".join(e.encode() for e in before_mhae or [])
    if mhae:
        data = sign(MN_HA, data, MHAE)
    data += b"".join(e.encode() for e in after_mhae or [])
    if mn_aaa is not None:
        data = sign_mn_aaa(mn_aaa, data)
    if mfae is not None:
        data = sign(mfae, data, MFAE)
    return data


def from_mn(data: bytes, *, iface: str = "eth1", ttl: int = 255, dest: str = COA, port: int = 49152) -> Packet:
    return Packet(data, HOME, dest, port, iface, MN_LLADDR, ttl=ttl)


def challenge_ext(value: bytes) -> ChallengeExtension:
    return ChallengeExtension(value)


def nai_ext(nai: str = NAI) -> NAIExtension:
    return NAIExtension(nai)


def encap_style() -> EncapDeliveryExtension:
    return EncapDeliveryExtension()


# ------------------------------------------------------------------------------------ replies


def reply_bytes(
    *,
    code: int = 0,
    lifetime: int = 600,
    home: str = HOME,
    ha: str = HA,
    ident: int = ID,
    before_mhae: list[Extension] | None = None,
    mhae: bool = True,
    after_mhae: list[Extension] | None = None,
    fhae: SecurityAssociation | None = None,
) -> bytes:
    """A Registration Reply as a home agent builds it (§3.8.3.3): fixed part, NAI, MHAE, then
    extensions for the FA and the FHAE."""
    data = reg.RegistrationReply(code, lifetime, home, ha, ident).encode_fixed()
    data += b"".join(e.encode() for e in before_mhae or [])
    if mhae:
        data = sign(MN_HA, data, MHAE)
    data += b"".join(e.encode() for e in after_mhae or [])
    if fhae is not None:
        data = sign(fhae, data, FHAE)
    return data


def from_ha(data: bytes, *, source: str = HA) -> Packet:
    return Packet(data, source, COA, 434, "eth0", None)


# ------------------------------------------------------------------------------------ actions


def of_type(actions: list, cls: type) -> list:
    return [a for a in actions if isinstance(a, cls)]


def only(actions: list, cls: type) -> Any:
    found = of_type(actions, cls)
    assert len(found) == 1, f"expected one {cls.__name__}, got {actions}"
    return found[0]


def sent_udp(actions: list) -> SendUDP:
    return only(actions, SendUDP)


def decoded_reply(actions: list) -> reg.RegistrationReply:
    return reg.decode_reply(sent_udp(actions).payload)


def denial_code(actions: list) -> int:
    return decoded_reply(actions).code


def advert(action: SendICMP) -> icmp.AgentAdvertisement:
    msg = icmp.decode(action.payload)
    assert isinstance(msg, icmp.AgentAdvertisement)
    return msg


def relay(fa: ForeignAgent, data: bytes, now: float = NOW, **pkt: Any) -> SendUDP:
    """Feed a request that must be relayed (to its Home Agent field); return the relayed SendUDP."""
    out = fa.on_packet(from_mn(data, **pkt), now)
    send = sent_udp(out)
    assert send.dest == reg.decode_request(data).home_agent, out
    return send
