"""Layer 0: IPv4 and UDP bytes: the Internet checksum, headers built and parsed (RFC 791, 768, 1071).

The one home of IP-level bytes, below both the wire layer (ICMP checksums) and the data plane
(tunnel headers), which is why it is a module of its own and not part of either: the data plane
imports none of wire, security and protocol (docs/architecture.md). The runtime builds its
link-layer frames on it. Pure functions; imports nothing of mipd.

Builders take addresses as 4-byte ``bytes`` (``socket.inet_aton``); packets may be ``bytes``,
``bytearray`` or ``memoryview``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from socket import inet_aton, inet_ntoa

# RFC 1122 §3.2.1.3 (a): "this host on this network", never a destination; bound to, any local
# address; with prefix length 0, the default route.
UNSPECIFIED = "0.0.0.0"
LIMITED_BROADCAST = "255.255.255.255"  # RFC 1122 §3.2.1.3 (c): never forwarded

IPPROTO_ICMP = 1
IPPROTO_UDP = 17

IP_DF = 0x4000  # RFC 791 §3.1 flags: Don't Fragment
IP_MF = 0x2000  # More Fragments
IP_OFFSET = 0x1FFF  # Fragment Offset, in 8-byte units

HEADER = struct.Struct("!BBHHHBBH4s4s")  # RFC 791 §3.1, no options
UDP_HEADER = struct.Struct("!HHHH")  # RFC 768
_PSEUDO = struct.Struct("!4s4sBBH")  # RFC 768: the pseudo-header the UDP checksum covers
_U16 = struct.Struct("!H")


def checksum(data: bytes | bytearray | memoryview) -> int:
    """Internet checksum (RFC 1071) of `data` (never modifies `data`).

    The one's complement sum of 16-bit words equals the big-endian integer of the data modulo
    0xffff (2**16 ≡ 1), which CPython computes in C, so this is fast for long data too.
    """
    if len(data) & 1:
        data = bytes(data) + b"\x00"
    value = int.from_bytes(data, "big")
    folded = value % 0xFFFF
    if folded == 0 and value:
        folded = 0xFFFF
    return ~folded & 0xFFFF


def ipv4_header(
    src: bytes,
    dst: bytes,
    proto: int,
    *,
    tos: int = 0,
    ttl: int = 64,
    df: bool = False,
    ident: int = 0,
    total_length: int = 0,
    with_checksum: bool = True,
) -> bytes:
    """A 20-byte IPv4 header, no options (RFC 791 §3.1), with its checksum unless told not to."""
    hdr = bytearray(HEADER.pack(0x45, tos, total_length, ident, IP_DF if df else 0, ttl, proto, 0, src, dst))
    if with_checksum:
        _U16.pack_into(hdr, 10, checksum(hdr))
    return bytes(hdr)


def finish_header(hdr: bytearray, total: int) -> bytearray:
    """Set Total Length and the header checksum of the IPv4 header at the start of `hdr` (the
    checksum covers the IP header only, not what may follow it in `hdr`, RFC 791 §3.1)."""
    _U16.pack_into(hdr, 2, total)
    hdr[10] = hdr[11] = 0
    _U16.pack_into(hdr, 10, checksum(hdr[: (hdr[0] & 0x0F) << 2]))
    return hdr


def header_length(packet: bytes | bytearray | memoryview) -> int | None:
    """IHL in bytes of a plausible IPv4 datagram (version 4, 20 <= IHL <= its length), else None."""
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) << 2
    if ihl < 20 or ihl > len(packet):
        return None
    return ihl


def udp_datagram(source: str, dest: str, sport: int, dport: int, payload: bytes) -> bytes:
    """UDP header + payload with the pseudo-header checksum (0 is sent as 0xffff, RFC 768)."""
    length = 8 + len(payload)
    head = UDP_HEADER.pack(sport, dport, length, 0)
    pseudo = _PSEUDO.pack(inet_aton(source), inet_aton(dest), 0, IPPROTO_UDP, length)
    udp_checksum = checksum(pseudo + head + payload) or 0xFFFF
    return UDP_HEADER.pack(sport, dport, length, udp_checksum) + payload


@dataclass(slots=True)
class Received:
    """An IPv4 UDP or ICMP packet, as `parse` found it."""

    source: str
    dest: str
    ttl: int
    proto: int
    payload: bytes  # UDP payload or the whole ICMP message
    source_port: int = 0
    dest_port: int = 0


def parse(packet: bytes, check_udp: bool = True) -> Received | None:
    """The UDP or ICMP content of an IPv4 packet; None for anything else.

    Fragments, bad header checksums, bad UDP checksums and truncated packets are refused.
    `check_udp` False skips the UDP checksum: a packet socket sees a locally sent packet (over a
    veth, say) before checksum offload has filled it in (TP_STATUS_CSUMNOTREADY).
    """
    ihl = header_length(packet)
    if ihl is None:
        return None
    total = _U16.unpack_from(packet, 2)[0]
    if total < ihl or total > len(packet) or checksum(packet[:ihl]) != 0:
        return None
    if _U16.unpack_from(packet, 6)[0] & (IP_MF | IP_OFFSET):  # RFC 791: a fragment
        return None
    ttl, proto = packet[8], packet[9]
    src, dst = inet_ntoa(packet[12:16]), inet_ntoa(packet[16:20])
    body = packet[ihl:total]
    if proto == IPPROTO_ICMP:
        return Received(src, dst, ttl, proto, bytes(body))
    if proto != IPPROTO_UDP or len(body) < 8:
        return None
    sport, dport, length, udp_checksum = UDP_HEADER.unpack_from(body)
    if length < 8 or length > len(body):
        return None
    if udp_checksum and check_udp:
        pseudo = _PSEUDO.pack(packet[12:16], packet[16:20], 0, IPPROTO_UDP, length)
        if checksum(pseudo + body[:length]) != 0:
            return None
    return Received(src, dst, ttl, proto, bytes(body[8:length]), sport, dport)
