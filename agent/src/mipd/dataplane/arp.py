"""Gratuitous ARP (RFC 5944 §4.6; ARP itself is RFC 826).

"the ARP Sender Protocol Address and ARP Target Protocol Address are both set to the IP address
of the cache entry to be updated, and the ARP Sender Hardware Address is set to the link-layer
address to which this cache entry should be updated" and it "MUST be transmitted as a local
broadcast packet on the local link". An ARP Request is used (target hardware address zero).
The Ethernet source is always the sending interface's own address, also when the HA announces
the mobile node's address on its return home, so that bridges keep learning the HA's port.
"""

from __future__ import annotations

import socket
import struct

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ARPOP_REPLY = 2
BROADCAST = b"\xff" * 6

_ARP = struct.Struct("!6s6sHHHBBH6s4s6s4s")


def gratuitous_arp_frame(address: bytes, sender_mac: bytes, source_mac: bytes | None = None, *,
                         op: int = ARPOP_REQUEST) -> bytes:
    """Ethernet broadcast frame with a gratuitous ARP for IPv4 `address` announcing
    `sender_mac` (Ethernet source `source_mac`, default `sender_mac`)."""
    if len(address) != 4 or len(sender_mac) != 6:
        raise ValueError("address must be 4 bytes and MAC 6 bytes")
    target_mac = sender_mac if op == ARPOP_REPLY else b"\x00" * 6
    return _ARP.pack(BROADCAST, source_mac or sender_mac, ETH_P_ARP, ARPHRD_ETHER, ETH_P_IP, 6,
                     4, op, sender_mac, address, target_mac, address)


def send_frame(ifname: str, frame: bytes) -> None:
    """Send one raw Ethernet frame on `ifname` (AF_PACKET)."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP)) as sock:
        sock.bind((ifname, ETH_P_ARP))
        sock.send(frame)
