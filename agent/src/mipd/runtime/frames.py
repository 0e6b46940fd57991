"""Ethernet/IPv4/UDP/ICMP frames for the link-layer paths (RFC 5944 §3.7.1, §3.7.2.3, §4.6).

A foreign agent replies to a visiting mobile node at its home address on the visited link,
delivered to the node's link-layer address: the home address is not routable there and the
agent must not ARP for it. A mobile node away from home must not broadcast ARP (§4.6), so it
sends its request to the foreign agent's link-layer address learnt from the advertisement
(§3.6.1.1). Both need whole frames: the Ethernet part is built and parsed here, the IPv4 and
UDP parts (RFC 791, RFC 768, RFC 1071) by `mipd.ipv4`. Pure functions.
"""

from __future__ import annotations

import struct
from socket import inet_aton

from mipd import ipv4
from mipd.dataplane.netlink import mac_to_bytes, mac_to_str

ETH_P_IP = 0x0800
BROADCAST_MAC = b"\xff" * 6

_ETH = struct.Struct("!6s6sH")


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


def udp_frame(src_mac: bytes, dst_mac: bytes, source: str, dest: str, sport: int, dport: int, payload: bytes,
              ttl: int = 64, ident: int = 0) -> bytes:
    """Ethernet + IPv4 + UDP."""
    udp = ipv4.udp_datagram(source, dest, sport, dport, payload)
    header = _ip_header(source, dest, ipv4.IPPROTO_UDP, len(udp), ttl, ident)
    return _ETH.pack(dst_mac, src_mac, ETH_P_IP) + header + udp


def icmp_frame(src_mac: bytes, dst_mac: bytes, source: str, dest: str, message: bytes, ttl: int = 1,
               ident: int = 0) -> bytes:
    """Ethernet + IPv4 + an already-checksummed ICMP message."""
    header = _ip_header(source, dest, ipv4.IPPROTO_ICMP, len(message), ttl, ident)
    return _ETH.pack(dst_mac, src_mac, ETH_P_IP) + header + message


def _ip_header(source: str, dest: str, proto: int, payload_length: int, ttl: int, ident: int) -> bytes:
    """The IPv4 header of a frame the runtime sends itself (DF clear, no options)."""
    return ipv4.ipv4_header(inet_aton(source), inet_aton(dest), proto, ttl=ttl, ident=ident & 0xFFFF,
                            total_length=20 + payload_length)


def parse_frame(frame: bytes, check_udp: bool = True) -> tuple[str, ipv4.Received] | None:
    """(source MAC, content) of an Ethernet frame carrying IPv4 UDP or ICMP; None otherwise
    (`ipv4.parse` says which packets it refuses, and what `check_udp` is for)."""
    if len(frame) < 14 or frame[12:14] != b"\x08\x00":
        return None
    rx = ipv4.parse(frame[14:], check_udp)
    return None if rx is None else (mac_to_str(frame[6:12]), rx)
