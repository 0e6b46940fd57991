"""Agent discovery messages (RFC 5944 §2; ICMP Router Discovery, RFC 1256).

Agent Advertisement = ICMP Router Advertisement (type 9, code 0 or 16) followed by the
Mobility Agent Advertisement Extension (type 16, §2.1.1), optionally Prefix-Lengths (19,
§2.1.2), Challenge (24, RFC 3012 §2) and one-byte padding (0, §2.1.3).
Agent Solicitation = ICMP Router Solicitation (type 10, §2.2).
These functions handle the ICMP message itself (no IP header); checksums (RFC 1071,
`mipd.ipv4.checksum`) are computed on encode and verified on decode.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from socket import inet_aton, inet_ntoa

from mipd.ipv4 import checksum
from mipd.wire.errors import UnknownExtensionError, WireError

ICMP_ROUTER_ADVERTISEMENT = 9
ICMP_ROUTER_SOLICITATION = 10
CODE_ROUTES_ALL = 0  # also routes common traffic
CODE_MOBILITY_ONLY = 16  # does not route common traffic (RFC 5944 §2.1)

EXT_PAD = 0
EXT_MOBILITY_AGENT = 16
EXT_PREFIX_LENGTHS = 19
EXT_CHALLENGE = 24

# Mobility Agent Advertisement Extension flags (RFC 5944 §2.1.1, App. F bit positions).
ADV_R = 0x8000  # registration required
ADV_B = 0x4000  # busy
ADV_H = 0x2000  # home agent
ADV_F = 0x1000  # foreign agent
ADV_M = 0x0800  # minimal encapsulation
ADV_G = 0x0400  # GRE encapsulation
ADV_r = 0x0200  # reserved, sent as zero
ADV_T = 0x0100  # reverse tunnelling (RFC 3024)
ADV_U = 0x0080  # UDP tunnelling (RFC 3519)
ADV_X = 0x0040  # registration revocation (RFC 3543)
ADV_I = 0x0020  # regional registration (RFC 4857)

ALL_SYSTEMS = "224.0.0.1"  # §2.1 (RFC 1256 §3): where multicast advertisements go
AGENTS_GROUP = "224.0.0.11"  # §2.3: the Mobile-Agents group every mobility agent listens to

SEQUENCE_ROLLOVER = 256  # after 0xffff the sequence continues at 256 (§2.3.2)

_RA = struct.Struct("!BBHBBH")
_MOB = struct.Struct("!BBHHH")


def _with_checksum(msg: bytearray) -> bytes:
    struct.pack_into("!H", msg, 2, checksum(bytes(msg)))
    return bytes(msg)


def next_sequence(seq: int) -> int:
    """The sequence number after `seq`: 0xffff rolls over to 256, not 0 (§2.3.2)."""
    return SEQUENCE_ROLLOVER if seq >= 0xFFFF else seq + 1


@dataclass(slots=True)
class AgentAdvertisement:
    """A Router Advertisement, with the mobility agent fields when it carries extension 16."""

    lifetime: int  # ICMP advertisement lifetime, seconds
    sequence: int = 0
    registration_lifetime: int = 0
    flags: int = 0
    care_of_addresses: list[str] = field(default_factory=list)
    routers: list[tuple[str, int]] = field(default_factory=list)  # (address, preference)
    code: int = CODE_MOBILITY_ONLY
    prefix_lengths: list[int] | None = None
    challenge: bytes | None = None
    is_agent: bool = True  # False for a plain router advertisement (no extension 16)
    unknown: list[tuple[int, bytes]] = field(default_factory=list)  # skippable types 128-255

    def encode(self) -> bytes:
        msg = bytearray(_RA.pack(ICMP_ROUTER_ADVERTISEMENT, self.code, 0, len(self.routers), 2, self.lifetime))
        for addr, pref in self.routers:
            msg += inet_aton(addr) + struct.pack("!i", pref)
        if self.is_agent:
            msg += _MOB.pack(
                EXT_MOBILITY_AGENT,
                6 + 4 * len(self.care_of_addresses),
                self.sequence,
                self.registration_lifetime,
                self.flags,
            )
            for coa in self.care_of_addresses:
                msg += inet_aton(coa)
        if self.prefix_lengths is not None:
            msg += bytes((EXT_PREFIX_LENGTHS, len(self.prefix_lengths), *self.prefix_lengths))
        if self.challenge is not None:
            msg += bytes((EXT_CHALLENGE, len(self.challenge))) + self.challenge
        for t, data in self.unknown:
            msg += bytes((t, len(data))) + data
        return _with_checksum(msg)


@dataclass(slots=True)
class AgentSolicitation:
    """ICMP Router Solicitation (type 10, code 0), sent with TTL 1 (§2.2)."""

    def encode(self) -> bytes:
        return _with_checksum(bytearray(b"\x0a\x00\x00\x00\x00\x00\x00\x00"))


def decode(data: bytes) -> AgentAdvertisement | AgentSolicitation:
    """Decode an ICMP agent advertisement or solicitation. Raises WireError only.

    Accepts any bytes-like object (bytes, bytearray, memoryview); never modifies it.
    """
    data = bytes(data)
    if len(data) < 8:
        raise WireError(f"ICMP message of {len(data)} bytes, needs at least 8", len(data))
    if checksum(data) != 0:
        raise WireError("bad ICMP checksum", 2)
    icmp_type, code = data[0], data[1]
    if icmp_type == ICMP_ROUTER_SOLICITATION:
        if code != 0:
            raise WireError(f"solicitation code {code}, expected 0", 1)
        return AgentSolicitation()
    if icmp_type != ICMP_ROUTER_ADVERTISEMENT:
        raise WireError(f"ICMP type {icmp_type} is not an agent advertisement (9) or solicitation (10)", 0)
    return _decode_advertisement(data, code)


def _decode_advertisement(data: bytes, code: int) -> AgentAdvertisement:
    _, _, _, num, entry_size, lifetime = _RA.unpack_from(data)
    if entry_size < 2:
        raise WireError(f"address entry size {entry_size}, must be at least 2", 5)
    total = len(data)
    offset = 8
    end_routers = offset + num * entry_size * 4
    if end_routers > total:
        raise WireError(f"{num} router addresses do not fit in {total} bytes", 4)
    routers = []
    for _ in range(num):
        routers.append((inet_ntoa(data[offset : offset + 4]), struct.unpack_from("!i", data, offset + 4)[0]))
        offset += entry_size * 4
    adv = AgentAdvertisement(lifetime, code=code, routers=routers, is_agent=False)
    while offset < total:
        ext_type = data[offset]
        if ext_type == EXT_PAD:
            offset += 1
            continue
        if offset + 2 > total:
            raise WireError(f"extension type {ext_type} truncated before its length", offset)
        length = data[offset + 1]
        end = offset + 2 + length
        if end > total:
            raise WireError(f"extension type {ext_type} length {length} runs past the end", offset + 1)
        if ext_type == EXT_MOBILITY_AGENT:
            if length < 6 or (length - 6) % 4:
                raise WireError(f"mobility agent extension length {length} is not 6 + 4N", offset + 1)
            if adv.is_agent:
                raise WireError("duplicate mobility agent extension", offset)
            _, _, adv.sequence, adv.registration_lifetime, adv.flags = _MOB.unpack_from(data, offset)
            adv.care_of_addresses = [inet_ntoa(data[j : j + 4]) for j in range(offset + 8, end, 4)]
            adv.is_agent = True
        elif ext_type == EXT_PREFIX_LENGTHS:
            adv.prefix_lengths = list(data[offset + 2 : end])
        elif ext_type == EXT_CHALLENGE:
            adv.challenge = data[offset + 2 : end]
        elif ext_type >= 128:
            adv.unknown.append((ext_type, data[offset + 2 : end]))
        else:
            raise UnknownExtensionError(ext_type, offset)
        offset = end
    return adv
