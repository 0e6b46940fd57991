"""Link-layer movement indications for the mobile node (RFC 5944 §2.4.2 "other mechanisms", §3.6).

A multicast rtnetlink socket (RTMGRP_LINK | RTMGRP_IPV4_IFADDR) tells within microseconds when
a watched interface goes down or up or changes address; the monitor then reads that interface's
state (carrier, its IPv4 addresses, a default gateway through it) and reports a `LinkChange`
only when (up, address, prefix length) changed. No polling: the 100 ms handoff budget starts
when the link moves.

The address reported is the interface's first IPv4 address outside the home network (a roaming
node keeps its home address configured, so that one says nothing about the link); the gateway
is a default route through the interface in the main table that mipd did not install itself.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from mipd.protocol.actions import LinkChange

RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFF_UP, IFF_LOWER_UP = 0x1, 0x10000
IFLA_IFNAME = 3
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_OIF, RTA_GATEWAY, RTA_TABLE = 4, 5, 15
RT_TABLE_MAIN = 254

_NLMSG = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTA = struct.Struct("=HH")


@dataclass(frozen=True, slots=True)
class LinkState:
    up: bool
    address: str | None = None
    prefix_length: int | None = None
    gateway: str | None = None

    def key(self) -> tuple[bool, str | None, int | None]:
        return (self.up, self.address, self.prefix_length)


def _attrs(data: bytes, offset: int) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    while offset + 4 <= len(data):
        length, kind = _RTA.unpack_from(data, offset)
        if length < 4:
            break
        out.setdefault(kind & 0x3FFF, data[offset + 4 : offset + length])
        offset += (length + 3) & ~3
    return out


def _messages(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    offset = 0
    while offset + _NLMSG.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSG.unpack_from(data, offset)
        if length < _NLMSG.size:
            break
        out.append((kind, data[offset + _NLMSG.size : offset + length]))
        offset += (length + 3) & ~3
    return out


def _dump(kind: int, family_msg: bytes) -> list[tuple[int, bytes]]:
    """One rtnetlink dump request, answered synchronously on a private socket."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as sock:
        sock.settimeout(2.0)
        sock.bind((0, 0))
        sock.send(_NLMSG.pack(_NLMSG.size + len(family_msg), kind, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + family_msg)
        out: list[tuple[int, bytes]] = []
        while True:
            for t, body in _messages(sock.recv(1 << 16)):
                if t in (NLMSG_DONE, NLMSG_ERROR):
                    return out
                out.append((t, body))


def _link_flags(ifname: str) -> tuple[int, int] | None:
    """(ifindex, flags) of `ifname` from an RTM_GETLINK dump; None when there is no such link."""
    for _t, body in _dump(RTM_GETLINK, _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0)):
        _family, _type, index, flags, _change = _IFINFO.unpack_from(body)
        name = _attrs(body, _IFINFO.size).get(IFLA_IFNAME, b"").rstrip(b"\0").decode(errors="replace")
        if name == ifname:
            return index, flags
    return None


def read_state(ifname: str, in_home: Callable[[str], bool], ours: Callable[[str, str], bool]) -> LinkState:
    """The current state of `ifname`: up with carrier (IFF_UP and IFF_LOWER_UP), its address, its gateway.
    Down when it does not exist."""
    try:
        link = _link_flags(ifname)
    except OSError:
        return LinkState(False)
    if link is None or not (link[1] & IFF_UP and link[1] & IFF_LOWER_UP):
        return LinkState(False)
    index = link[0]
    address, plen = None, None
    for _t, body in _dump(RTM_GETADDR, _IFADDR.pack(socket.AF_INET, 0, 0, 0, 0)):
        family, prefixlen, _fl, _scope, idx = _IFADDR.unpack_from(body)
        if family != socket.AF_INET or idx != index:
            continue
        attrs = _attrs(body, _IFADDR.size)
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if raw is None or len(raw) != 4:
            continue
        candidate = socket.inet_ntoa(raw)
        if not in_home(candidate):
            address, plen = candidate, prefixlen
            break
    gateway = None
    for _t, body in _dump(RTM_GETROUTE, _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)):
        family, dst_len, _s, _tos, table, _proto, _scope, _type, _fl = _RTMSG.unpack_from(body)
        attrs = _attrs(body, _RTMSG.size)
        if RTA_TABLE in attrs:
            table = struct.unpack("=I", attrs[RTA_TABLE][:4])[0]
        if family != socket.AF_INET or dst_len != 0 or table != RT_TABLE_MAIN:
            continue
        oif = attrs.get(RTA_OIF)
        raw_gateway = attrs.get(RTA_GATEWAY)
        if oif is None or raw_gateway is None or struct.unpack("=i", oif[:4])[0] != index:
            continue
        found = socket.inet_ntoa(raw_gateway)
        if not ours(ifname, found):
            gateway = found
            break
    return LinkState(True, address, plen, gateway)


class LinkMonitor:
    """Watches `interfaces`; `on_change(LinkChange)` when one's (up, address, prefix) changes."""

    def __init__(self, interfaces: tuple[str, ...], home_network: str, on_change: Callable[[LinkChange], None],
                 ours: Callable[[str, str], bool] | None = None) -> None:
        self.interfaces = interfaces
        self._set_home(home_network)
        self._ours = ours or (lambda _i, _g: False)
        self._on_change = on_change
        self.state: dict[str, LinkState] = {}
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        try:
            sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sock = sock

    def _set_home(self, home_network: str) -> None:
        net = ipaddress.IPv4Network(home_network, strict=False)
        self._in_home: Callable[[str], bool] = lambda address: ipaddress.IPv4Address(address) in net

    def fileno(self) -> int:
        return self.sock.fileno()

    def initial(self) -> list[LinkChange]:
        """The state of every watched interface now (reported once at start, whatever it is)."""
        out = []
        for name in self.interfaces:
            now_state = read_state(name, self._in_home, self._ours)
            self.state[name] = now_state
            out.append(LinkChange(name, now_state.up, now_state.address, now_state.prefix_length, now_state.gateway))
        return out

    def watch(self, interfaces: tuple[str, ...], home_network: str) -> list[LinkChange]:
        """Watch `interfaces` from now on (reload); the current state of those not watched before."""
        self._set_home(home_network)
        added = [n for n in interfaces if n not in self.interfaces]
        self.interfaces = interfaces
        for name in [n for n in self.state if n not in interfaces]:
            del self.state[name]
        out = []
        for name in added:
            now_state = self.state[name] = read_state(name, self._in_home, self._ours)
            out.append(LinkChange(name, now_state.up, now_state.address, now_state.prefix_length, now_state.gateway))
        return out

    def on_readable(self) -> None:
        """Drain notifications; re-read the interfaces they concern and report changes."""
        touched: set[int] = set()
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # ENOBUFS: notifications lost, re-read everything
                touched.add(-1)
                break
            for kind, body in _messages(data):
                if kind in (RTM_NEWLINK, RTM_DELLINK) and len(body) >= _IFINFO.size:
                    touched.add(_IFINFO.unpack_from(body)[2])
                elif kind in (RTM_NEWADDR, RTM_DELADDR) and len(body) >= _IFADDR.size:
                    touched.add(_IFADDR.unpack_from(body)[4])
        if touched:
            self.refresh(None if -1 in touched else touched)

    def refresh(self, indexes: set[int] | None = None) -> None:
        for name in self.interfaces:
            if indexes is not None:
                try:
                    if socket.if_nametoindex(name) not in indexes:
                        continue
                except OSError:
                    pass  # gone: re-read (reports down)
            now_state = read_state(name, self._in_home, self._ours)
            old = self.state.get(name)
            self.state[name] = now_state
            if old is None or old.key() != now_state.key():
                self._on_change(LinkChange(name, now_state.up, now_state.address, now_state.prefix_length,
                                           now_state.gateway))

    def close(self) -> None:
        self.sock.close()
