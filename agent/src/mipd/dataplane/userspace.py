"""Userspace data plane: one TUN device plus raw IPv4 sockets (protocols 4, 47, 55, ICMP).

Forward path (encapsulation). The kernel routes a datagram into the TUN device — by a
``HoA/32 dev mip0`` route (HA, RFC 5944 §4.2.3) or by a source rule into the reverse table,
whose default route is ``dev mip0`` (FA or colocated MN, RFC 3024 §5.1), or, for a colocated
MN's unbound sockets, by the unbound table's ``default dev mip0 src HOME`` (mipd.dataplane.common;
the home address is reverse-tunnelled too, so the reverse map finds it). It is looked up by
destination in the forward map, then by source in the reverse map, and encapsulated per
RFC 2003 §3.1 / RFC 2784 §2 / RFC 2004 §3 (see :mod:`mipd.dataplane.encap`). A destination
routed into several tunnels (simultaneous bindings, RFC 5944 §3.6.1.2, §4.2.3) gets a separate
copy encapsulated into each of them (``copies``), each counted in ``encap_packets``:

- A datagram whose source is the tunnel's exit point is not tunnelled (RFC 2003 §3.2; this
  also drops what RFC 5944 §4.2.3 calls an already-encapsulated datagram looping back from the
  care-of address), nor one with TTL 0 (RFC 2003 §3.1).
- Tunnel MTU soft state (RFC 2003 §5.1): every tunnel has an MTU (default: the path MTU to
  its exit point, learnt from the kernel) and, with ``pmtudisc`` (default), sends all
  IP-in-IP and GRE datagrams with DF (minimal encapsulation keeps the sender's DF: it has no
  header of its own) so that routers inside the tunnel report a smaller MTU with ICMP
  Fragmentation Needed; those lower the tunnel's ``pmtu`` (restored after ``pmtu_timeout``,
  RFC 1191 §6.3). A DF datagram larger than ``pmtu`` minus the overhead is answered with ICMP
  Fragmentation Needed carrying that size (rate-limited, ``icmp_rate`` per second); a datagram
  without DF is fragmented before encapsulation (IP-in-IP, GRE) or after (minimal, which
  cannot carry fragments, RFC 2004 §3), so the tunnel never needs fragmenting.

The outer datagram is sent on one raw socket with IP_HDRINCL (``IPPROTO_RAW``) rather than
one socket per protocol letting the kernel build the header: the encapsulator must control
TOS (copied from the inner header) and DF per datagram (RFC 2003 §3.1, §5.1), and minimal
encapsulation has no separate outer header at all. Per-tunnel templates hold the header;
the kernel fills in total length, identification and checksum (``raw_send_hdrinc``).
The ICMP error is sent the same way (source: the tunnel's local address), rather than
written into the TUN device: a datagram from a local address arriving on an interface is a
martian the kernel would drop.

Decapsulation. Raw sockets of protocols 4, 47 and 55 receive every such datagram addressed
to this host (reassembled by the kernel). Only those whose outer (source, destination)
matches an open tunnel are accepted — an agent must not be an open decapsulator (RFC 2003 §6,
RFC 3024 §6.1) — and, with ``inner_check`` (default), only if the inner datagram belongs to
a binding of that tunnel or is for this host: its destination is a visitor (RFC 5944
§4.2.2: the FA "MUST NOT forward" other datagrams), a reverse-tunnelled source of the tunnel
(FA, colocated MN) or an address of this host (a co-located MN's home address, the HA's own
address, RFC 5944 §5.5: delivered, not forwarded), or its source is a destination routed into
the tunnel (HA receiving reverse-tunnelled traffic, RFC 3024 §4.3). The host's addresses are
re-read only after an address-change notification (RTMGRP_IPV4_IFADDR), so a flood of
strangers costs one non-blocking read each. The inner datagram is written into
the TUN device and the kernel routes it (to the visitor, onward, or locally). Malformed
datagrams are counted and dropped; nothing on the packet path raises or logs.

The fast paths read in batches until EAGAIN (bounded by ``batch`` per wake-up) and accumulate
counters in locals. ``attach(loop)`` registers them with asyncio; ``readers()`` gives the
(fd, callback) pairs to any other poller.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mipd.dataplane.base import Tunnel
from mipd.dataplane.common import DEFAULT_RULE_PRIORITY, DEFAULT_TABLE, NetlinkDataplane
from mipd.dataplane.encap import (
    IPPROTO_GRE,
    IPPROTO_IPIP,
    IPPROTO_MINIMAL,
    MIN_MTU,
    Drop,
    Encapsulator,
    decapsulate_gre,
    decapsulate_minimal,
    encapsulate_minimal,
    fragment,
    icmp_frag_needed,
    parse_frag_needed,
    validate,
)
from mipd.dataplane.netlink import (
    RTPROT_MIPD,
    NetlinkError,
    address_monitor,
    set_interface_conf,
    write_sysctl,
)
from mipd.dataplane.tun import open_tun
from mipd.ipv4 import IP_DF, UNSPECIFIED

log = logging.getLogger("mipd.dataplane")

SOL_RAW = 255
SO_RCVBUFFORCE = 33  # not exported by the socket module
ICMP_FILTER = 1
RAW_PROTOCOLS = (IPPROTO_IPIP, IPPROTO_GRE, IPPROTO_MINIMAL)


@dataclass(eq=False)
class UserTunnel(Tunnel):
    """A tunnel of the userspace backend: the public fields plus fast-path state."""

    enc: Encapsulator | None = None
    address: tuple[str, int] = ("", 0)
    local_b: bytes = b""
    remote_b: bytes = b""
    max_inner: int = 0        # largest inner datagram sent without the slow path
    pmtu_learned: float = 0.0  # monotonic time the soft state was last lowered
    fwd_b: set[bytes] = field(default_factory=set)  # forward_dests, packed
    rev_b: set[bytes] = field(default_factory=set)  # reverse_sources, packed

    def refresh_limits(self) -> None:
        # minimal encapsulation adds 8 or 12 bytes; the fast path assumes the worse case
        self.max_inner = self.pmtu - self.overhead


def _repoint(index: dict[bytes, UserTunnel], address: str, tunnel: Tunnel | None,
             packed: Callable[[UserTunnel], set[bytes]]) -> None:
    """Point `address` (packed, as the fast path looks it up) at `tunnel` in `index`, or at nothing
    (None), keeping the tunnel's own packed set in step: `packed` picks its forward side (home
    addresses tunnelled to a care-of address, RFC 5944 §4.2.3) or its reverse side (RFC 3024 §5)."""
    key = socket.inet_aton(address)
    old = index.pop(key, None)
    if old is not None:
        packed(old).discard(key)
    if tunnel is not None:
        assert isinstance(tunnel, UserTunnel)
        index[key] = tunnel
        packed(tunnel).add(key)


class UserspaceDataplane(NetlinkDataplane):
    """TUN + raw-socket data plane (works without ipip/gre kernel modules).

    Options: ``tun_name`` (default ``mip0``), ``tun_mtu`` (1500), ``table`` and
    ``rule_priority`` of the reverse-tunnel rules (434, 434), ``proto`` stamped on kernel
    objects, outer ``ttl`` (64), ``pmtudisc`` (True), ``default_mtu`` when the path MTU cannot
    be learnt (1500), ``inner_check`` (True), ``icmp_rate`` (ICMP errors per second, 100; 0: none),
    ``pmtu_timeout`` (600 s), ``batch`` (datagrams per wake-up and socket, 64), ``rcvbuf``
    (raw socket receive buffer, 4 MiB), ``tun_address`` (host-scope address given to the TUN
    device so that reverse-path filtering accepts decapsulated datagrams; 192.0.0.8, the
    RFC 7600 IPv4 dummy address).
    """

    name = "userspace"
    copies = True  # RFC 5944 §4.2.3: a copy of each datagram into each tunnel of its destination

    def __init__(self, *, tun_name: str = "mip0", tun_mtu: int = 1500,
                 table: int = DEFAULT_TABLE, rule_priority: int = DEFAULT_RULE_PRIORITY,
                 proto: int = RTPROT_MIPD, ttl: int = 64, pmtudisc: bool = True,
                 default_mtu: int = 1500, inner_check: bool = True, icmp_rate: int = 100,
                 pmtu_timeout: float = 600.0, batch: int = 64, rcvbuf: int = 4 << 20,
                 tun_address: str = "192.0.0.8") -> None:
        super().__init__(table=table, rule_priority=rule_priority, proto=proto)
        self.ttl = ttl
        self.pmtudisc = pmtudisc
        self.default_mtu = default_mtu
        self.inner_check = inner_check
        self.icmp_rate = icmp_rate
        self.pmtu_timeout = pmtu_timeout
        self.batch = batch
        self.rcvbuf = rcvbuf
        self.tun_mtu = tun_mtu
        self.tun_address = tun_address
        self._tun_fd = -1
        self._tx: socket.socket | None = None
        self._rx: dict[int, socket.socket] = {}
        self._icmp: socket.socket | None = None
        self._addr_monitor: socket.socket | None = None
        self._local_addrs: set[bytes] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ager: asyncio.TimerHandle | None = None
        self._attached: list[int] = []
        # fast-path lookups, kept in step by the _*_changed hooks (read-only on the packet path)
        self._fwd: dict[bytes, UserTunnel] = {}  # the newest tunnel of each destination
        self._fwd_copies: dict[bytes, tuple[UserTunnel, ...]] = {}  # all, where there are several
        self._rev: dict[bytes, UserTunnel] = {}
        self._peers: dict[int, dict[bytes, UserTunnel]] = {p: {} for p in RAW_PROTOCOLS}
        self._visitor_set: set[bytes] = set()
        self._rxbuf = bytearray(65536)
        self._rxview = memoryview(self._rxbuf)
        self._icmp_window = 0.0
        self._icmp_sent_in_window = 0
        self._n = dict.fromkeys(("encap_packets", "encap_bytes", "decap_packets", "decap_bytes",
                                 "fragmented", "icmp_frag_needed_sent", "pmtu_updates"), 0)
        self._table_route = False
        try:
            self._open_devices(tun_name)
        except BaseException:
            self.close()
            raise

    def _open_devices(self, tun_name: str) -> None:
        self._tun_fd, self.tun_name = open_tun(tun_name)
        name = self.tun_name
        # loose rp_filter (the effective value is the larger of "all" and the device's):
        # decapsulated datagrams come from anywhere
        for conf, value in (("forwarding", 1), ("rp_filter", 2), ("send_redirects", 0)):
            set_interface_conf(name, conf, value)
        try:
            write_sysctl(f"ipv6/conf/{name}/disable_ipv6", 1)
        except OSError:
            pass  # no IPv6 in this kernel/namespace
        self._nl.set_link(name, mtu=self.tun_mtu, txqlen=1000, up=True)
        # Linux drops datagrams arriving on an interface without any IPv4 address whenever
        # rp_filter is on (fib_validate_source: "no_addr" -> e_rpf). A host-scope dummy
        # address (RFC 7600) is never chosen as a source yet makes loose mode work.
        self._nl.add_address(name, self.tun_address)
        self.tun_index = self._nl.index(name)
        self._read_size = max(self.tun_mtu, 2048)
        self._tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self._tx.setblocking(False)
        self._tx.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        for proto in RAW_PROTOCOLS:
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
            sock.setblocking(False)
            try:  # beyond net.core.rmem_max (needs CAP_NET_ADMIN, which a raw socket implies)
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.rcvbuf)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            self._rx[proto] = sock
        self._addr_monitor = address_monitor()  # subscribe first: no change goes unseen
        self._read_local_addresses()
        self._icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self._icmp.setblocking(False)
        # deliver only Destination Unreachable (type 3) to this socket
        self._icmp.setsockopt(SOL_RAW, ICMP_FILTER, (0xFFFFFFFF & ~(1 << 3)).to_bytes(4, "little"))

    def _read_local_addresses(self) -> None:
        self._local_addrs = {
            socket.inet_aton(address) for address, _len, _index in self._nl.addresses()
            if not address.startswith("127.") and address != self.tun_address
        }

    def _is_local(self, address: bytes) -> bool:
        """Is `address` one of this host's? (Re-reads the addresses if they changed.)"""
        changed = False
        monitor = self._addr_monitor
        while monitor is not None:
            try:
                monitor.recv(65536)
            except BlockingIOError:
                break
            except OSError:  # ENOBUFS: notifications were lost; re-read anyway
                changed = True
                break
            changed = True
        if changed:
            try:
                self._read_local_addresses()
            except NetlinkError:
                pass
        return address in self._local_addrs

    # -- backend hooks ---------------------------------------------------------------------

    def _create_tunnel(self, local: str, remote: str, encap: str, mtu: int | None) -> Tunnel:
        if mtu is None:
            mtu = self._nl.path_mtu(remote, self.default_mtu)
        tunnel = UserTunnel(local=local, remote=remote, encap=encap, mtu=mtu, ifname=self.tun_name)
        tunnel.enc = Encapsulator(encap, local, remote, ttl=self.ttl, pmtudisc=self.pmtudisc)
        tunnel.address = (remote, 0)
        tunnel.local_b = socket.inet_aton(local)
        tunnel.remote_b = socket.inet_aton(remote)
        tunnel.refresh_limits()
        self._peers[tunnel.proto][tunnel.remote_b + tunnel.local_b] = tunnel
        return tunnel

    def _destroy_tunnel(self, tunnel: Tunnel) -> None:
        assert isinstance(tunnel, UserTunnel)
        self._peers[tunnel.proto].pop(tunnel.remote_b + tunnel.local_b, None)

    def _set_mtu(self, tunnel: Tunnel, mtu: int) -> None:
        super()._set_mtu(tunnel, mtu)
        assert isinstance(tunnel, UserTunnel)
        tunnel.refresh_limits()

    def _tunnel_oif(self, tunnel: Tunnel) -> int:
        return self.tun_index

    def _reverse_table(self, tunnel: Tunnel) -> int:
        return self.table

    def _reverse_table_used(self, tunnel: Tunnel, used: bool) -> None:
        # one table for all reverse tunnels: "default dev mip0"; the TUN reader picks the
        # tunnel by source address
        needed = used or bool(self._reverse)
        if needed and not self._table_route:
            self._nl.replace_route(UNSPECIFIED, 0, oif=self.tun_index, table=self.table,
                                   proto=self.proto)
            self._table_route = True
        elif not needed and self._table_route:
            self._nl.del_route(UNSPECIFIED, 0, oif=self.tun_index, table=self.table)
            self._table_route = False

    def _forward_changed(self, dest: str, tunnels: tuple[Tunnel, ...]) -> None:
        key = socket.inet_aton(dest)
        for tunnel in self._fwd_copies.pop(key, ()):
            tunnel.fwd_b.discard(key)
        _repoint(self._fwd, dest, tunnels[-1] if tunnels else None, lambda tunnel: tunnel.fwd_b)
        if len(tunnels) > 1:  # RFC 5944 §4.2.3: a copy into each; each decapsulates the node's replies
            copies = tuple(tunnel for tunnel in tunnels if isinstance(tunnel, UserTunnel))
            self._fwd_copies[key] = copies
            for tunnel in copies:
                tunnel.fwd_b.add(key)

    def _reverse_changed(self, source: str, tunnel: Tunnel | None) -> None:
        _repoint(self._rev, source, tunnel, lambda each: each.rev_b)

    def _visitor_changed(self, dest: str, present: bool) -> None:
        if present:
            self._visitor_set.add(socket.inet_aton(dest))
        else:
            self._visitor_set.discard(socket.inet_aton(dest))

    # -- event-loop integration ------------------------------------------------------------

    def readers(self) -> list[tuple[int, Callable[[], None]]]:
        """(fd, callback) pairs to call when the fd is readable (non-blocking fds)."""
        if self._closed:
            return []
        out: list[tuple[int, Callable[[], None]]] = [(self._tun_fd, self.handle_tun)]
        for proto, sock in self._rx.items():
            out.append((sock.fileno(), self._rx_handler(proto)))
        assert self._icmp is not None
        out.append((self._icmp.fileno(), self.handle_icmp))
        return out

    def fileno(self) -> int:
        """The TUN device's file descriptor (``readers()`` lists all of them)."""
        return self._tun_fd

    def _rx_handler(self, proto: int) -> Callable[[], None]:
        def handler() -> None:
            self.handle_rx(proto)
        return handler

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Register the readers with `loop` (and a timer ageing the PMTU soft state)."""
        self.detach()
        for fd, callback in self.readers():
            loop.add_reader(fd, callback)
            self._attached.append(fd)
        self._loop = loop
        self._schedule_ager()

    def _schedule_ager(self) -> None:
        if self._loop is not None:
            self._ager = self._loop.call_later(min(60.0, self.pmtu_timeout), self._age)

    def _age(self) -> None:
        self.age_pmtu()
        self._schedule_ager()

    def detach(self) -> None:
        if self._loop is None:
            return
        for fd in self._attached:
            self._loop.remove_reader(fd)
        self._attached.clear()
        if self._ager is not None:
            self._ager.cancel()
            self._ager = None
        self._loop = None

    def age_pmtu(self, now: float | None = None) -> int:
        """Restore tunnel MTUs lowered more than ``pmtu_timeout`` ago (RFC 1191 §6.3)."""
        now = time.monotonic() if now is None else now
        restored = 0
        for tunnel in self._tunnels.values():
            assert isinstance(tunnel, UserTunnel)
            if tunnel.pmtu < tunnel.mtu and now - tunnel.pmtu_learned >= self.pmtu_timeout:
                tunnel.pmtu = tunnel.mtu
                tunnel.refresh_limits()
                restored += 1
        return restored

    # -- forward path: TUN -> tunnel ---------------------------------------------------------

    def handle_tun(self) -> None:
        """Read datagrams the kernel routed into the TUN device and tunnel them."""
        fd = self._tun_fd
        read = os.read
        size = self._read_size
        fwd_get = self._fwd.get
        rev_get = self._rev.get
        copies = self._fwd_copies
        sendto = self._tx.sendto  # type: ignore[union-attr]
        packets = nbytes = 0
        for _ in range(self.batch):
            try:
                data = read(fd, size)
            except BlockingIOError:
                break
            except OSError:
                self._drop("tun_read")
                break
            packet_length = len(data)
            if packet_length < 20 or data[0] & 0xF0 != 0x40:
                self._drop("not_ipv4")
                continue
            tunnel = fwd_get(data[16:20]) or rev_get(data[12:16])
            if tunnel is None:
                self._drop("no_tunnel")
                continue
            if copies and data[16:20] in copies:  # simultaneous bindings (RFC 5944 §4.2.3)
                for each in copies[data[16:20]]:
                    sent = self._encap_slow(each, data)
                    packets += sent
                    nbytes += packet_length if sent else 0
                continue
            enc = tunnel.enc
            if (packet_length > tunnel.max_inner or enc.proto == IPPROTO_MINIMAL  # type: ignore[union-attr]
                    or data[8] == 0 or data.startswith(tunnel.remote_b, 12)):
                sent = self._encap_slow(tunnel, data)
                packets += sent
                nbytes += packet_length if sent else 0
                continue
            hdr = enc.templates.get((data[1] << 1) | ((data[6] >> 6) & 1))  # type: ignore[union-attr]
            if hdr is None:
                hdr = enc.header(data[1], (data[6] >> 6) & 1)  # type: ignore[union-attr]
            try:
                sendto(hdr + data, tunnel.address)
            except OSError as exc:
                self._send_failed(tunnel, exc)
                continue
            packets += 1
            nbytes += packet_length
        counters = self._n
        counters["encap_packets"] += packets
        counters["encap_bytes"] += nbytes

    def _encap_slow(self, tunnel: UserTunnel, data: bytes) -> int:
        """Everything but the common case: checks, minimal encapsulation, too-big datagrams.
        Returns 1 if the datagram was sent into the tunnel, else 0."""
        enc = tunnel.enc
        assert enc is not None and self._tx is not None
        try:
            packet = validate(data)
            if packet[12:16] == tunnel.remote_b:
                raise Drop("loop")  # RFC 2003 §3.2
            overhead = enc.overhead(packet)
            limit = tunnel.pmtu - overhead
            if len(packet) > limit:
                if (packet[6] << 8) & IP_DF:
                    self._frag_needed(tunnel, packet, limit)
                    raise Drop("too_big")
                if enc.proto == IPPROTO_MINIMAL:  # fragmented after encapsulation (RFC 2004 §3)
                    datagrams = fragment(encapsulate_minimal(packet, enc.local, enc.remote),
                                         tunnel.pmtu)
                else:
                    datagrams = [enc.header(f[1], 0) + f for f in fragment(packet, limit)]
                self._n["fragmented"] += 1
            elif enc.proto == IPPROTO_MINIMAL:
                datagrams = [encapsulate_minimal(packet, enc.local, enc.remote)]
            else:
                datagrams = [enc.header(packet[1], (packet[6] >> 6) & 1) + packet]
        except Drop as drop:
            self._drop(drop.reason)
            return 0
        for datagram in datagrams:
            try:
                self._tx.sendto(datagram, tunnel.address)
            except OSError as exc:
                self._send_failed(tunnel, exc)
                return 0
        return 1

    def _frag_needed(self, tunnel: UserTunnel, packet: bytes, mtu: int) -> None:
        """RFC 2003 §5.1: tell the sender of a DF datagram the MTU the tunnel carries."""
        now = time.monotonic()
        if now - self._icmp_window >= 1.0:
            self._icmp_window = now
            self._icmp_sent_in_window = 0
        if self._icmp_sent_in_window >= self.icmp_rate:
            self._drop("icmp_rate_limited")
            return
        icmp = icmp_frag_needed(tunnel.local_b, packet, max(mtu, MIN_MTU))
        if icmp is None:
            return
        try:
            self._tx.sendto(icmp, (socket.inet_ntoa(packet[12:16]), 0))  # type: ignore[union-attr]
        except OSError:
            self._drop("icmp_send")
            return
        self._icmp_sent_in_window += 1
        self._n["icmp_frag_needed_sent"] += 1

    def _send_failed(self, tunnel: UserTunnel, exc: OSError) -> None:
        if exc.errno == errno.EMSGSIZE:
            # the egress link is smaller than the tunnel MTU: learn it (rare, not per packet
            # once learnt)
            mtu = self._nl_path_mtu(tunnel.remote)
            if mtu < tunnel.pmtu:
                tunnel.mtu = tunnel.pmtu = mtu
                tunnel.refresh_limits()
            self._drop("too_big_for_link")
        else:
            self._drop("send")

    def _nl_path_mtu(self, remote: str) -> int:
        try:
            return self._nl.path_mtu(remote, self.default_mtu)
        except NetlinkError:
            return self.default_mtu

    # -- decapsulation: raw sockets -> TUN ---------------------------------------------------

    def handle_rx(self, proto: int) -> None:
        """Read tunnelled datagrams of IP protocol `proto` and deliver the inner ones."""
        sock = self._rx[proto]
        recv_into = sock.recv_into
        buf = self._rxbuf
        view = self._rxview
        peers_get = self._peers[proto].get
        write = os.write
        fd = self._tun_fd
        check = self.inner_check
        visitors = self._visitor_set
        packets = nbytes = 0
        for _ in range(self.batch):
            try:
                received = recv_into(buf)
            except BlockingIOError:
                break
            except OSError:
                self._drop("rx")
                break
            tunnel = peers_get(bytes(view[12:20])) if received >= 20 else None
            if tunnel is None:
                self._drop("unknown_peer" if received >= 20 else "malformed")
                continue
            ihl = (buf[0] & 0x0F) << 2
            total = (buf[2] << 8) | buf[3]
            if ihl < 20 or total < ihl or total > received:
                self._drop("malformed")
                continue
            try:
                if proto == IPPROTO_IPIP:
                    inner = validate(view[ihl:total])
                elif proto == IPPROTO_GRE:
                    inner = decapsulate_gre(view[:total], ihl)
                else:
                    inner = decapsulate_minimal(view[:total], ihl)
            except Drop as drop:
                self._drop(drop.reason)
                continue
            if check:
                dst = bytes(inner[16:20])
                if not (dst in visitors or dst in tunnel.rev_b or dst == tunnel.local_b
                        or bytes(inner[12:16]) in tunnel.fwd_b or self._is_local(dst)):
                    self._drop("inner_filter")
                    continue
            try:
                write(fd, inner)
            except OSError:
                self._drop("tun_write")
                continue
            packets += 1
            nbytes += len(inner)
        counters = self._n
        counters["decap_packets"] += packets
        counters["decap_bytes"] += nbytes

    def handle_icmp(self) -> None:
        """ICMP Fragmentation Needed from inside a tunnel lowers its MTU (RFC 2003 §5.1)."""
        sock = self._icmp
        assert sock is not None
        for _ in range(self.batch):
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                break
            except OSError:
                break
            parsed = parse_frag_needed(data)
            if parsed is None:
                continue
            mtu, src, dst, proto = parsed
            tunnel = self._peers.get(proto, {}).get(dst + src)
            if tunnel is None:
                continue
            mtu = max(mtu, MIN_MTU + tunnel.overhead)
            if mtu < tunnel.pmtu:
                tunnel.pmtu = mtu
                tunnel.pmtu_learned = time.monotonic()
                tunnel.refresh_limits()
                self._n["pmtu_updates"] += 1
                log.info("tunnel %s -> %s: path MTU now %d (ICMP from %s)", tunnel.local,
                         tunnel.remote, mtu, socket.inet_ntoa(data[12:16]))

    # -- counters and teardown ---------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        out = dict(self._n)
        out.update(super().counters())
        return out

    def _close_backend(self) -> None:
        if self._table_route:  # normally gone with the last reverse tunnel
            self._quietly(self._nl.del_route, UNSPECIFIED, 0, oif=self.tun_index, table=self.table)
            self._table_route = False
        self.detach()
        for sock in [self._tx, self._icmp, self._addr_monitor, *self._rx.values()]:
            if sock is not None:
                sock.close()
        self._rx.clear()
        self._tx = self._icmp = self._addr_monitor = None
        if self._tun_fd >= 0:
            os.close(self._tun_fd)  # the (non-persistent) TUN device goes with it
            self._tun_fd = -1


