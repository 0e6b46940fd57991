"""Ethernet/IPv4/UDP/ICMP frames for the link-layer paths (RFC 5944 §3.7.1, §3.7.2.3, §4.6).

A foreign agent replies to a visiting mobile node at its home address on the visited link,
delivered to the node's link-layer address: the home address is not routable there and the
agent must not ARP for it. A mobile node away from home must not broadcast ARP (§4.6), so it
sends its request to the foreign agent's link-layer address learnt from the advertisement
(§3.6.1.1). Both need whole frames, built and parsed here (RFC 791 header, RFC 768 UDP with
its pseudo-header checksum, RFC 1071 checksums via `mipd.wire.icmp.checksum`). Pure functions.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from socket import inet_aton, inet_ntoa

from mipd.dataplane.netlink import mac_to_bytes, mac_to_str
from mipd.wire.icmp import checksum

ETH_P_IP = 0x0800
IPPROTO_ICMP = 1
IPPROTO_UDP = 17
BROADCAST_MAC = b"\xff" * 6

_ETH = struct.Struct("!6s6sH")
_IP = struct.Struct("!BBHHHBBH4s4s")
_UDP = struct.Struct("!HHHH")
_PSEUDO = struct.Struct("!4s4sBBH")


def multicast_mac(group: str) -> bytes:
    """The Ethernet address of IPv4 multicast `group` (RFC 1112 §6.4: 01:00:5e + low 23 bits)."""
    a = inet_aton(group)
    return bytes((0x01, 0x00, 0x5E, a[1] & 0x7F, a[2], a[3]))


def dest_mac(dest: str, lladdr: str | None) -> bytes:
    """Where a frame to IPv4 `dest` goes: `lladdr` if given, else broadcast/multicast mapping."""
    if lladdr:
        return mac_to_bytes(lladdr)
    first = int(dest.split(".", 1)[0])
    if 224 <= first < 240:
        return multicast_mac(dest)
    return BROADCAST_MAC


def ipv4_header(source: str, dest: str, proto: int, payload_len: int, ttl: int, ident: int) -> bytes:
    """A 20-byte IPv4 header with its checksum (DF clear, no options)."""
    hdr = _IP.pack(0x45, 0, 20 + payload_len, ident & 0xFFFF, 0, ttl, proto, 0, inet_aton(source), inet_aton(dest))
    return hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]


def udp_datagram(source: str, dest: str, sport: int, dport: int, payload: bytes) -> bytes:
    """UDP header + payload with the pseudo-header checksum (0 is sent as 0xffff, RFC 768)."""
    length = 8 + len(payload)
    head = _UDP.pack(sport, dport, length, 0)
    pseudo = _PSEUDO.pack(inet_aton(source), inet_aton(dest), 0, IPPROTO_UDP, length)
    c = checksum(pseudo + head + payload) or 0xFFFF
    return _UDP.pack(sport, dport, length, c) + payload


def udp_frame(src_mac: bytes, dst_mac: bytes, source: str, dest: str, sport: int, dport: int, payload: bytes,
              ttl: int = 64, ident: int = 0) -> bytes:
    """Ethernet + IPv4 + UDP."""
    udp = udp_datagram(source, dest, sport, dport, payload)
    return _ETH.pack(dst_mac, src_mac, ETH_P_IP) + ipv4_header(source, dest, IPPROTO_UDP, len(udp), ttl, ident) + udp


def icmp_frame(src_mac: bytes, dst_mac: bytes, source: str, dest: str, message: bytes, ttl: int = 1,
               ident: int = 0) -> bytes:
    """Ethernet + IPv4 + an already-checksummed ICMP message."""
    return _ETH.pack(dst_mac, src_mac, ETH_P_IP) + ipv4_header(source, dest, IPPROTO_ICMP, len(message), ttl, ident) \
        + message


@dataclass(slots=True)
class Received:
    """An IPv4 UDP or ICMP packet taken from a frame."""

    source: str
    dest: str
    ttl: int
    proto: int
    payload: bytes  # UDP payload or the whole ICMP message
    source_port: int = 0
    dest_port: int = 0


def parse_ipv4(packet: bytes, check_udp: bool = True) -> Received | None:
    """The UDP or ICMP content of an IPv4 packet (no Ethernet header); None for anything else.

    Fragments, bad header checksums, bad UDP checksums and truncated packets are refused.
    `check_udp` False skips the UDP checksum: a packet socket sees a locally sent packet (over a
    veth, say) before checksum offload has filled it in (TP_STATUS_CSUMNOTREADY).
    """
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack_from("!H", packet, 2)[0]
    if ihl < 20 or total < ihl or total > len(packet) or checksum(packet[:ihl]) != 0:
        return None
    if struct.unpack_from("!H", packet, 6)[0] & 0x3FFF:  # MF or a fragment offset
        return None
    ttl, proto = packet[8], packet[9]
    src, dst = inet_ntoa(packet[12:16]), inet_ntoa(packet[16:20])
    body = packet[ihl:total]
    if proto == IPPROTO_ICMP:
        return Received(src, dst, ttl, proto, bytes(body))
    if proto != IPPROTO_UDP or len(body) < 8:
        return None
    sport, dport, length, csum = _UDP.unpack_from(body)
    if length < 8 or length > len(body):
        return None
    if csum and check_udp:
        pseudo = _PSEUDO.pack(packet[12:16], packet[16:20], 0, IPPROTO_UDP, length)
        if checksum(pseudo + body[:length]) != 0:
            return None
    return Received(src, dst, ttl, proto, bytes(body[8:length]), sport, dport)


def parse_frame(frame: bytes, check_udp: bool = True) -> tuple[str, Received] | None:
    """(source MAC, content) of an Ethernet frame carrying IPv4 UDP or ICMP; None otherwise."""
    if len(frame) < 14 or frame[12:14] != b"\x08\x00":
        return None
    rx = parse_ipv4(frame[14:], check_udp)
    return None if rx is None else (mac_to_str(frame[6:12]), rx)
