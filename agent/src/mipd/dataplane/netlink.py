"""Minimal rtnetlink client shared by both data-plane backends, plus sysctl helpers.

What the data plane asks of the kernel (RFC 5944 §4.2.2, §4.2.3, §4.6; RFC 3024 §5.1):
host routes (``dest/32 dev X [src S]``, ``throw PREFIX``), policy rules (``from SRC [iif DEV]
lookup TABLE``), static
neighbour entries (an FA "MUST NOT use broadcast ARP" for a visitor, §4.2.2), proxy neighbour
entries (NTF_PROXY: the HA answers ARP for a mobile node away from home, §4.6), link
lookup/up/MTU, and, for the kernel backend, ipip/gre link creation. Every object this module
creates carries the protocol number ``proto`` (route ``rtm_protocol``, rule ``FRA_PROTOCOL``,
neighbour ``NDA_PROTOCOL``) so ``purge()`` can remove exactly what a crashed agent left behind.

Why not pyroute2: with pyroute2 0.9 (the version in this project's venv) the synchronous
``IPRoute`` drives a private asyncio loop with ``run_until_complete`` and raises
``RuntimeError`` when called from inside a running loop, which is exactly where the asyncio
runtime calls the data plane; its low-level dump API (needed to list proxy entries) hangs or
fails in 0.9.7, and its API differs between 0.7 and 0.9. The handful of messages needed here
fit in this small, synchronous, thread/loop-agnostic codec (no third-party import).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from mipd.ipv4 import UNSPECIFIED

# netlink message types and flags (linux/netlink.h, linux/rtnetlink.h)
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTMGRP_IPV4_IFADDR = 0x10
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
RTM_NEWRULE, RTM_DELRULE, RTM_GETRULE = 32, 33, 34
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLA_F_NESTED = 0x8000

# link attributes
IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_TXQLEN = 13
IFLA_LINKINFO = 18
IFLA_STATS64 = 23
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
IFF_UP = 0x1
# ipip (IFLA_IPTUN_*) and gre (IFLA_GRE_*) link data
IFLA_IPTUN_LOCAL, IFLA_IPTUN_REMOTE, IFLA_IPTUN_TTL, IFLA_IPTUN_PMTUDISC = 2, 3, 4, 10
IFLA_GRE_LOCAL, IFLA_GRE_REMOTE, IFLA_GRE_TTL, IFLA_GRE_PMTUDISC = 6, 7, 8, 10

# address attributes
IFA_ADDRESS = 1
IFA_LOCAL = 2
RT_SCOPE_HOST = 254

# route attributes
RTA_DST = 1
RTA_OIF = 4
RTA_PREFSRC = 7
RTA_METRICS = 8
RTA_TABLE = 15
RTAX_MTU = 2
RT_TABLE_MAIN = 254
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_NOWHERE = 255
RTN_UNICAST = 1
RTN_THROW = 9

# rule attributes
FRA_SRC = 2
FRA_IIFNAME = 3
FRA_PRIORITY = 6
FRA_TABLE = 15
FRA_PROTOCOL = 21
FR_ACT_TO_TBL = 1

# neighbour attributes
NDA_DST = 1
NDA_LLADDR = 2
NDA_PROTOCOL = 12
NUD_PERMANENT = 0x80
NTF_PROXY = 0x08

_NLMSGHDR = struct.Struct("=IHHII")
_RTATTR = struct.Struct("=HH")
_IFINFOMSG = struct.Struct("=BxHiII")
_RTMSG = struct.Struct("=BBBBBBBBI")  # also fib_rule_hdr (same layout)
_NDMSG = struct.Struct("=BxxxiHBB")
_IFADDRMSG = struct.Struct("=BBBBI")
_NLMSGERR = struct.Struct("=i")

#: protocol number stamped on every route, rule and neighbour entry mipd creates
#: (unassigned in iproute2's rt_protos; configurable per data plane).
RTPROT_MIPD = 173


class NetlinkError(OSError):
    """A netlink request was refused by the kernel (``errno`` is the kernel's error)."""


def _attr(kind: int, payload: bytes) -> bytes:
    length = _RTATTR.size + len(payload)
    return _RTATTR.pack(length, kind) + payload + b"\x00" * (-length & 3)


def _nested(kind: int, *attrs: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(attrs))


def _u32(kind: int, value: int) -> bytes:
    return _attr(kind, struct.pack("=I", value))


def _u8(kind: int, value: int) -> bytes:
    return _attr(kind, bytes((value,)))


def _str(kind: int, value: str) -> bytes:
    return _attr(kind, value.encode() + b"\x00")


def _ip(kind: int, address: str) -> bytes:
    return _attr(kind, socket.inet_aton(address))


def parse_attrs(data: bytes | memoryview, offset: int = 0) -> dict[int, bytes]:
    """rtattr list -> {type (nested flag cleared): payload}; the last occurrence wins."""
    attrs: dict[int, bytes] = {}
    end = len(data)
    while offset + 4 <= end:
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < 4 or offset + length > end:
            break
        attrs[kind & 0x3FFF] = bytes(data[offset + 4 : offset + length])
        offset += (length + 3) & ~3
    return attrs


def _table(table: int, attrs: dict[int, bytes]) -> int:
    """A route's or rule's table: the 32-bit RTA_TABLE (FRA_TABLE, the same number) when present,
    else the header's 8-bit field (tables above 255 are only in the attribute)."""
    return struct.unpack("=I", attrs[RTA_TABLE])[0] if RTA_TABLE in attrs else table


def mac_to_bytes(lladdr: str) -> bytes:
    """``"02:00:5e:00:00:01"`` -> 6 bytes; ValueError if malformed."""
    parts = lladdr.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {lladdr!r}")
    return bytes(int(p, 16) for p in parts)


def mac_to_str(lladdr: bytes) -> str:
    return ":".join(f"{b:02x}" for b in lladdr)


@dataclass
class Link:
    """What the data plane needs to know about an interface."""

    index: int
    name: str
    mtu: int
    address: bytes = b""
    up: bool = False
    kind: str = ""
    stats: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    dst: str
    dst_len: int
    table: int
    proto: int
    oif: int | None
    scope: int


@dataclass(frozen=True)
class Rule:
    priority: int
    table: int
    src: str | None
    src_len: int
    iifname: str | None
    proto: int


@dataclass(frozen=True)
class Neighbour:
    dst: str
    ifindex: int
    lladdr: bytes | None
    state: int
    flags: int
    proto: int


_STATS64_NAMES = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors",
                  "rx_dropped", "tx_dropped")


class Netlink:
    """A synchronous NETLINK_ROUTE socket in the current network namespace.

    Requests are acknowledged and errors raised as :class:`NetlinkError`; safe to call from
    any thread (a lock serialises requests) and from inside a running asyncio loop (it never
    touches one).
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._sock.bind((0, 0))
        self._sock.settimeout(5.0)
        self._seq = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def _request(self, msg_type: int, flags: int, body: bytes) -> list[tuple[int, bytes]]:
        """Send one request, return [(type, payload)] of the answer (dump parts or the reply)."""
        with self._lock:
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            seq = self._seq
            self._sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type,
                                           flags | NLM_F_REQUEST, seq, 0) + body)
            out: list[tuple[int, bytes]] = []
            while True:
                data = self._sock.recv(1 << 16)
                offset = 0
                while offset + _NLMSGHDR.size <= len(data):
                    length, mtype, mflags, mseq, _pid = _NLMSGHDR.unpack_from(data, offset)
                    if length < _NLMSGHDR.size:
                        raise NetlinkError(errno.EPROTO, "malformed netlink reply")
                    payload = data[offset + _NLMSGHDR.size : offset + length]
                    offset += (length + 3) & ~3
                    if mseq != seq:
                        continue  # a stale answer to an earlier, timed-out request
                    if mtype == NLMSG_DONE:
                        return out
                    if mtype == NLMSG_ERROR:
                        (code,) = _NLMSGERR.unpack_from(payload)
                        if code:
                            raise NetlinkError(-code, os.strerror(-code))
                        return out
                    out.append((mtype, payload))
                    if not mflags & NLM_F_MULTI and not flags & NLM_F_ACK:
                        return out

    def _ack(self, msg_type: int, flags: int, body: bytes) -> None:
        self._request(msg_type, flags | NLM_F_ACK, body)

    def _delete(self, msg_type: int, body: bytes,
                absent: tuple[int, ...] = (errno.ENOENT, errno.ESRCH, errno.ENODEV)) -> bool:
        """Delete request `msg_type` with `body`; False if the kernel answers that the object is
        not there (`absent`: by default also ENODEV, gone with its device)."""
        try:
            self._ack(msg_type, 0, body)
        except NetlinkError as exc:
            if exc.errno in absent:
                return False
            raise
        return True

    def _dump(self, get: int, new: int, header: struct.Struct,
              body: bytes) -> Iterator[tuple[tuple[int, ...], dict[int, bytes]]]:
        """Dump request `get` with `body`: of each `new` message, the fields of its fixed
        `header` and its attributes."""
        for mtype, payload in self._request(get, NLM_F_DUMP, body):
            if mtype == new:
                yield header.unpack_from(payload), parse_attrs(payload, header.size)

    # -- links -----------------------------------------------------------------------------

    @staticmethod
    def _parse_link(payload: bytes) -> Link:
        _family, _type, index, ifflags, _change = _IFINFOMSG.unpack_from(payload)
        attrs = parse_attrs(payload, _IFINFOMSG.size)
        kind = ""
        if IFLA_LINKINFO in attrs:
            info = parse_attrs(attrs[IFLA_LINKINFO])
            kind = info.get(IFLA_INFO_KIND, b"").rstrip(b"\x00").decode()
        stats: dict[str, int] = {}
        if IFLA_STATS64 in attrs and len(attrs[IFLA_STATS64]) >= 64:
            stats = dict(zip(_STATS64_NAMES, struct.unpack_from("=8Q", attrs[IFLA_STATS64]),
                             strict=True))
        return Link(
            index=index,
            name=attrs.get(IFLA_IFNAME, b"").rstrip(b"\x00").decode(),
            mtu=struct.unpack("=I", attrs[IFLA_MTU])[0] if IFLA_MTU in attrs else 0,
            address=attrs.get(IFLA_ADDRESS, b""),
            up=bool(ifflags & IFF_UP),
            kind=kind,
            stats=stats,
        )

    def link(self, name: str) -> Link:
        """The link called `name`; NetlinkError(ENODEV) if there is none."""
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _str(IFLA_IFNAME, name)
        answer = self._request(RTM_GETLINK, 0, body)
        if not answer:
            raise NetlinkError(errno.ENODEV, f"no link {name}")
        return self._parse_link(answer[0][1])

    def link_by_index(self, index: int) -> Link:
        answer = self._request(RTM_GETLINK, 0, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0))
        if not answer:
            raise NetlinkError(errno.ENODEV, f"no link #{index}")
        return self._parse_link(answer[0][1])

    def links(self) -> list[Link]:
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        return [self._parse_link(p) for t, p in self._request(RTM_GETLINK, NLM_F_DUMP, body)
                if t == RTM_NEWLINK]

    def index(self, name: str) -> int:
        try:
            return socket.if_nametoindex(name)
        except OSError as exc:
            raise NetlinkError(errno.ENODEV, f"no link {name}") from exc

    def set_link(self, name: str, *, up: bool | None = None, mtu: int | None = None,
                 txqlen: int | None = None) -> None:
        flags = change = 0
        if up is not None:
            change = IFF_UP
            flags = IFF_UP if up else 0
        attrs = b""
        if mtu is not None:
            attrs += _u32(IFLA_MTU, mtu)
        if txqlen is not None:
            attrs += _u32(IFLA_TXQLEN, txqlen)
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, self.index(name), flags, change) + attrs
        self._ack(RTM_NEWLINK, 0, body)

    def add_link(self, name: str, kind: str, data: bytes = b"", *, up: bool = False) -> None:
        """Create a link of `kind` (``ipip``, ``gre``, ``bridge``, …) with IFLA_INFO_DATA `data`
        (built with :func:`ipip_data` / :func:`gre_data`)."""
        info = _str(IFLA_INFO_KIND, kind)
        if data:
            info += _attr(IFLA_INFO_DATA | NLA_F_NESTED, data)
        body = (_IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, IFF_UP if up else 0, IFF_UP if up else 0)
                + _str(IFLA_IFNAME, name) + _attr(IFLA_LINKINFO | NLA_F_NESTED, info))
        self._ack(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def del_link(self, name: str) -> None:
        self._ack(RTM_DELLINK, 0, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, self.index(name), 0, 0))

    def add_address(self, name: str, address: str, prefixlen: int = 32, *,
                    scope: int = RT_SCOPE_HOST) -> None:
        """``ip addr replace ADDRESS/PREFIXLEN dev NAME scope SCOPE``."""
        body = (_IFADDRMSG.pack(socket.AF_INET, prefixlen, 0, scope, self.index(name))
                + _ip(IFA_LOCAL, address) + _ip(IFA_ADDRESS, address))
        self._ack(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, body)

    def addresses(self) -> list[tuple[str, int, int]]:
        """Every IPv4 address of this namespace: (address, prefix length, ifindex)."""
        body = _IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0)
        out = []
        for (family, prefixlen, _flags, _scope, index), attrs in self._dump(RTM_GETADDR, RTM_NEWADDR,
                                                                             _IFADDRMSG, body):
            local = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if family == socket.AF_INET and local and len(local) == 4:
                out.append((socket.inet_ntoa(local), prefixlen, index))
        return out

    # -- routes ----------------------------------------------------------------------------

    def route_get(self, dst: str) -> tuple[int | None, int | None, str | None]:
        """Kernel route lookup for `dst`: (oif, cached path MTU or None, preferred source)."""
        body = _RTMSG.pack(socket.AF_INET, 32, 0, 0, 0, 0, 0, 0, 0) + _ip(RTA_DST, dst)
        answer = self._request(RTM_GETROUTE, 0, body)
        if not answer:
            return None, None, None
        attrs = parse_attrs(answer[0][1], _RTMSG.size)
        oif = struct.unpack("=I", attrs[RTA_OIF])[0] if RTA_OIF in attrs else None
        mtu = None
        if RTA_METRICS in attrs:
            metrics = parse_attrs(attrs[RTA_METRICS])
            if RTAX_MTU in metrics:
                mtu = struct.unpack("=I", metrics[RTAX_MTU])[0]
        src = socket.inet_ntoa(attrs[RTA_PREFSRC]) if RTA_PREFSRC in attrs else None
        return oif, mtu, src

    def path_mtu(self, dst: str, default: int = 1500) -> int:
        """MTU towards `dst`: the cached path MTU, else the egress link's MTU, else `default`."""
        try:
            oif, mtu, _src = self.route_get(dst)
            if mtu:
                return mtu
            if oif:
                return self.link_by_index(oif).mtu or default
        except OSError:
            pass
        return default

    def _route_body(self, dst: str, dst_len: int, oif: int | None, table: int, proto: int,
                    scope: int, rtype: int = RTN_UNICAST, prefsrc: str | None = None) -> bytes:
        body = _RTMSG.pack(socket.AF_INET, dst_len, 0, 0, table if table < 256 else 0, proto,
                           scope, rtype, 0)
        if dst_len:
            body += _ip(RTA_DST, dst)
        if oif is not None:
            body += _u32(RTA_OIF, oif)
        if prefsrc is not None:
            body += _ip(RTA_PREFSRC, prefsrc)
        return body + _u32(RTA_TABLE, table)

    def replace_route(self, dst: str, dst_len: int = 32, *, oif: int, table: int = RT_TABLE_MAIN,
                      proto: int = RTPROT_MIPD, scope: int = RT_SCOPE_LINK,
                      prefsrc: str | None = None) -> None:
        """``ip route replace DST/LEN dev OIF [src PREFSRC] table TABLE proto PROTO scope link``."""
        body = self._route_body(dst, dst_len, oif, table, proto, scope, prefsrc=prefsrc)
        self._ack(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, body)

    def replace_throw(self, dst: str, dst_len: int = 32, *, table: int,
                      proto: int = RTPROT_MIPD) -> None:
        """``ip route replace throw DST/LEN table TABLE proto PROTO``: a lookup in TABLE that
        matches it fails, and the policy rules after the one that chose TABLE are tried."""
        body = self._route_body(dst, dst_len, None, table, proto, RT_SCOPE_UNIVERSE, RTN_THROW)
        self._ack(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, body)

    def del_route(self, dst: str, dst_len: int = 32, *, oif: int | None = None,
                  table: int = RT_TABLE_MAIN, proto: int = 0) -> bool:
        """Delete a route; False if it was not there."""
        # as iproute2 does for deletion: scope NOWHERE and type UNSPEC match any
        return self._delete(RTM_DELROUTE, self._route_body(dst, dst_len, oif, table, proto, RT_SCOPE_NOWHERE, 0))

    def routes(self) -> Iterator[Route]:
        """All IPv4 routes of every table (``ip route show table all``)."""
        body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        for fields, attrs in self._dump(RTM_GETROUTE, RTM_NEWROUTE, _RTMSG, body):
            _f, dst_len, _sl, _tos, table, proto, scope, _type, _fl = fields
            table = _table(table, attrs)
            dst = socket.inet_ntoa(attrs[RTA_DST]) if RTA_DST in attrs else UNSPECIFIED
            oif = struct.unpack("=I", attrs[RTA_OIF])[0] if RTA_OIF in attrs else None
            yield Route(dst, dst_len, table, proto, oif, scope)

    # -- policy rules ----------------------------------------------------------------------

    def _rule_body(self, src: str | None, src_len: int, iifname: str | None, table: int,
                   priority: int, proto: int) -> bytes:
        body = _RTMSG.pack(socket.AF_INET, 0, src_len if src else 0, 0,
                           table if table < 256 else 0, 0, 0, FR_ACT_TO_TBL, 0)
        if src:
            body += _ip(FRA_SRC, src)
        if iifname:
            body += _str(FRA_IIFNAME, iifname)
        body += _u32(FRA_PRIORITY, priority) + _u32(FRA_TABLE, table)
        if proto:
            body += _u8(FRA_PROTOCOL, proto)
        return body

    def add_rule(self, *, src: str | None, src_len: int = 32, iifname: str | None = None,
                 table: int, priority: int, proto: int = RTPROT_MIPD) -> None:
        """``ip rule add from SRC/LEN [iif DEV] lookup TABLE priority P protocol PROTO``."""
        body = self._rule_body(src, src_len, iifname, table, priority, proto)
        try:
            self._ack(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, body)
        except NetlinkError as exc:
            if exc.errno != errno.EEXIST:
                raise

    def del_rule(self, *, src: str | None, src_len: int = 32, iifname: str | None = None,
                 table: int, priority: int) -> bool:
        body = self._rule_body(src, src_len, iifname, table, priority, 0)
        return self._delete(RTM_DELRULE, body, (errno.ENOENT, errno.ESRCH))

    def rules(self) -> Iterator[Rule]:
        body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        for fields, attrs in self._dump(RTM_GETRULE, RTM_NEWRULE, _RTMSG, body):  # fib_rule_hdr: rtmsg's layout
            _f, _dl, src_len, _tos, table, _r1, _r2, _action, _fl = fields
            yield Rule(
                priority=struct.unpack("=I", attrs[FRA_PRIORITY])[0] if FRA_PRIORITY in attrs else 0,
                table=_table(table, attrs),
                src=socket.inet_ntoa(attrs[FRA_SRC]) if FRA_SRC in attrs else None,
                src_len=src_len,
                iifname=attrs[FRA_IIFNAME].rstrip(b"\x00").decode() if FRA_IIFNAME in attrs else None,
                proto=attrs[FRA_PROTOCOL][0] if FRA_PROTOCOL in attrs else 0,
            )

    # -- neighbours ------------------------------------------------------------------------

    def replace_neigh(self, dst: str, ifindex: int, lladdr: bytes, *,
                      proto: int = RTPROT_MIPD) -> None:
        """``ip neigh replace DST lladdr MAC dev IF nud permanent protocol PROTO``."""
        body = (_NDMSG.pack(socket.AF_INET, ifindex, NUD_PERMANENT, 0, 0)
                + _ip(NDA_DST, dst) + _attr(NDA_LLADDR, lladdr) + _u8(NDA_PROTOCOL, proto))
        self._ack(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, body)

    def add_proxy(self, dst: str, ifindex: int, *, proto: int = RTPROT_MIPD) -> None:
        """``ip neigh replace proxy DST dev IF protocol PROTO`` (NTF_PROXY entry)."""
        body = (_NDMSG.pack(socket.AF_INET, ifindex, NUD_PERMANENT, NTF_PROXY, 0)
                + _ip(NDA_DST, dst) + _u8(NDA_PROTOCOL, proto))
        self._ack(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, body)

    def del_neigh(self, dst: str, ifindex: int, *, proxy: bool = False) -> bool:
        body = (_NDMSG.pack(socket.AF_INET, ifindex, 0, NTF_PROXY if proxy else 0, 0)
                + _ip(NDA_DST, dst))
        return self._delete(RTM_DELNEIGH, body)

    def neighbours(self, *, proxy: bool = False) -> Iterator[Neighbour]:
        """IPv4 neighbour entries, or the proxy entries (``ip neigh show proxy``) if `proxy`."""
        body = _NDMSG.pack(socket.AF_INET, 0, 0, NTF_PROXY if proxy else 0, 0)
        for (family, ifindex, state, flags, _type), attrs in self._dump(RTM_GETNEIGH, RTM_NEWNEIGH, _NDMSG, body):
            if family != socket.AF_INET or NDA_DST not in attrs:
                continue
            yield Neighbour(
                dst=socket.inet_ntoa(attrs[NDA_DST]),
                ifindex=ifindex,
                lladdr=attrs.get(NDA_LLADDR),
                state=state,
                flags=flags,
                proto=attrs[NDA_PROTOCOL][0] if NDA_PROTOCOL in attrs else 0,
            )

    # -- crash recovery --------------------------------------------------------------------

    def purge(self, *, proto: int = RTPROT_MIPD, priority: int | None = None) -> int:
        """Remove every route, rule, neighbour and proxy entry stamped with `proto` (and rules
        at `priority`), e.g. left by an agent that was killed. Returns how many were removed."""
        removed = 0
        for rule in list(self.rules()):
            if rule.proto == proto or (priority is not None and rule.priority == priority):
                removed += self.del_rule(src=rule.src, src_len=rule.src_len, iifname=rule.iifname,
                                         table=rule.table, priority=rule.priority)
        for route in list(self.routes()):
            if route.proto == proto:
                removed += self.del_route(route.dst, route.dst_len, oif=route.oif,
                                          table=route.table)
        for proxy in (False, True):
            for neigh in list(self.neighbours(proxy=proxy)):
                if neigh.proto == proto:
                    removed += self.del_neigh(neigh.dst, neigh.ifindex, proxy=proxy)
        return removed


def address_monitor() -> socket.socket:
    """A non-blocking NETLINK_ROUTE socket that receives a message whenever an IPv4 address is
    added or removed (RTMGRP_IPV4_IFADDR); read it to learn that addresses changed."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.bind((0, RTMGRP_IPV4_IFADDR))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def ipip_data(local: str, remote: str, *, ttl: int = 64, pmtudisc: bool = True) -> bytes:
    """IFLA_INFO_DATA of an ``ipip`` link (RFC 2003 tunnel; kernel ip_tunnel)."""
    return (_ip(IFLA_IPTUN_LOCAL, local) + _ip(IFLA_IPTUN_REMOTE, remote)
            + _u8(IFLA_IPTUN_TTL, ttl) + _u8(IFLA_IPTUN_PMTUDISC, int(pmtudisc)))


def gre_data(local: str, remote: str, *, ttl: int = 64, pmtudisc: bool = True) -> bytes:
    """IFLA_INFO_DATA of a ``gre`` link (RFC 2784, no key/sequence/checksum)."""
    return (_ip(IFLA_GRE_LOCAL, local) + _ip(IFLA_GRE_REMOTE, remote)
            + _u8(IFLA_GRE_TTL, ttl) + _u8(IFLA_GRE_PMTUDISC, int(pmtudisc)))


# -- sysctls -------------------------------------------------------------------------------

_PROC = "/proc/sys/net"


def read_sysctl(path: str) -> str:
    with open(f"{_PROC}/{path}") as handle:
        return handle.read().strip()


def write_sysctl(path: str, value: str | int) -> str:
    """Write ``/proc/sys/net/<path>`` (current namespace); returns the previous value."""
    previous = read_sysctl(path)
    if previous != str(value):
        with open(f"{_PROC}/{path}", "w") as handle:
            handle.write(str(value))
    return previous


def set_ip_forward(on: bool = True) -> bool:
    """Turn IPv4 forwarding on/off (``net.ipv4.ip_forward``, which also sets every interface's
    ``forwarding``). HA and FA forward (RFC 5944 §4.2.2, §4.2.3) and Linux answers proxy ARP
    only on forwarding interfaces. Returns the previous setting so the caller can restore it."""
    return write_sysctl("ipv4/ip_forward", int(on)) == "1"


def set_interface_conf(ifname: str, name: str, value: str | int) -> str:
    """``net.ipv4.conf.<ifname>.<name> = value``; returns the previous value."""
    return write_sysctl(f"ipv4/conf/{ifname}/{name}", value)
