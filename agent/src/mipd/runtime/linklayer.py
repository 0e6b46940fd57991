"""Packet sockets on the links a foreign agent serves or a mobile node roams on.

Receiving (RFC 5944 §3.7.1: the foreign agent records the visitor's link-layer source; §2.4:
the mobile node learns the agent's link-layer address from its advertisement) and sending
frames to a link-layer address (§3.7.2.3 replies to a visitor's home address on its link;
§4.6 a node away from home does not ARP). Interfaces may come and go: `sync` opens what is
missing and closes what is no longer wanted, and reports what it could not open.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping

from mipd.ipv4 import UNSPECIFIED
from mipd.runtime import frames
from mipd.runtime.sockets import PacketSocket, interface_address

Filter = tuple[bool, tuple[int, ...]]  # (UDP to port 434, ICMP types) a link's packet socket accepts


class LinkLayer:
    """Receiving packet sockets on wanted links, each with its filter; send-only sockets elsewhere."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_frames: Callable[[PacketSocket], None]) -> None:
        self._loop = loop
        self._on_frames = on_frames
        self.receivers: dict[str, PacketSocket] = {}
        self._filters: dict[str, Filter] = {}
        self._senders: dict[str, PacketSocket] = {}
        self._ident = itertools.count(1)

    def sync(self, wanted: Mapping[str, Filter]) -> dict[str, str]:
        """Open receivers on `wanted` links with their filters, close the others; {link: error} for failures."""
        failed: dict[str, str] = {}
        for name in list(self.receivers):
            if wanted.get(name) != self._filters.get(name):
                self._close(self.receivers.pop(name), True)
                self._filters.pop(name, None)
        for name in sorted(wanted.keys() - self.receivers.keys()):
            udp434, icmp_types = wanted[name]
            try:
                sock = PacketSocket(name, udp434, icmp_types)
            except OSError as e:
                failed[name] = e.strerror or str(e)
                continue
            self.receivers[name] = sock
            self._filters[name] = wanted[name]
            self._loop.add_reader(sock.fileno(), self._on_frames, sock)
        return failed

    def reopen(self, name: str) -> None:
        """The link was recreated (new ifindex): drop our sockets on it so `sync` opens fresh ones."""
        sock = self.receivers.pop(name, None)
        self._filters.pop(name, None)
        if sock is not None:
            self._close(sock, True)
        sender = self._senders.pop(name, None)
        if sender is not None:
            sender.close()

    def _close(self, sock: PacketSocket, reader: bool) -> None:
        if reader:
            self._loop.remove_reader(sock.fileno())
        sock.close()

    def _sender(self, name: str) -> PacketSocket:
        sock = self.receivers.get(name) or self._senders.get(name)
        if sock is None:
            sock = PacketSocket(name, False, ())  # drops every frame it would receive
            self._senders[name] = sock
        return sock

    def send_udp(self, interface: str, lladdr: str | None, source: str | None, dest: str, source_port: int,
                 dest_port: int, payload: bytes, ttl: int | None) -> None:
        """A UDP datagram as a frame on `interface` to `lladdr` (broadcast/multicast mapping without)."""
        sock = self._sender(interface)
        src = source or interface_address(interface) or UNSPECIFIED
        frame = frames.udp_frame(sock.mac, frames.dest_mac(dest, lladdr), src, dest, source_port, dest_port, payload,
                                 64 if ttl is None else ttl, next(self._ident))
        sock.send(frame)

    def close(self) -> None:
        for sock in self.receivers.values():
            self._close(sock, True)
        for sock in self._senders.values():
            sock.close()
        self.receivers.clear()
        self._senders.clear()
