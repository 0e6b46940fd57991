"""The daemon's sockets: UDP 434, raw ICMP for advertisements/solicitations, AF_PACKET per link.

- UDP 434 (RFC 5944 §3.3, §3.4) bound to all addresses with IP_PKTINFO, so the home agent
  learns the destination a request was sent to (a subnet-directed broadcast is refused with
  136, §3.8.2.1) and replies from that address (§3.8.3.1); SO_BROADCAST; IP_RECVTTL (RFC 3024
  §4.2.1 checks the TTL); IP_RECVERR so a foreign agent hears ICMP errors about relayed
  requests (§3.7.3). Replies pick source address and interface per datagram with IP_PKTINFO.
- A raw ICMP socket only sends agent advertisements and solicitations (§2.1, §2.2: TTL 1, to
  224.0.0.1 / 224.0.0.11 / 255.255.255.255 on one interface); it filters out every ICMP type on
  receive, reception happens on the packet sockets.
- AF_PACKET sockets on served links (foreign agent) and roaming links (mobile node) see the
  sender's link-layer address (§3.7.1, §2.4) and send whole frames to a link-layer address
  (§3.7.2.3, §4.6). A classic BPF filter keeps only UDP to port 434 and ICMP types 9/10.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import functools
import socket
import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass

from mipd.ipv4 import UNSPECIFIED

SOL_IP = 0
SOL_RAW = 255
SOL_PACKET = 263
IP_PKTINFO = 8
IP_RECVERR = 11
IP_RECVTTL = 12
IP_TTL = 2
ICMP_FILTER = 1
SO_RCVBUFFORCE = 33
SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27
SKF_NET_OFF = -0x100000  # classic BPF: offsets from the network (IP) header
MAX_BLOCKED = 1000  # source addresses one socket filter can drop (two instructions each, of 4096)
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_MULTICAST = 0
PACKET_AUXDATA = 8
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
TP_STATUS_CSUMNOTREADY = 1 << 3
ETH_P_IP = 0x0800
SO_EE_ORIGIN_ICMP = 2
SIOCGIFHWADDR = 0x8927
SIOCGIFADDR = 0x8915

_PKTINFO = struct.Struct("=I4s4s")  # struct in_pktinfo: ifindex, spec_dst, addr
_INT = struct.Struct("=i")
_EXTERR = struct.Struct("=IBBBBII")  # struct sock_extended_err
_AUXDATA = struct.Struct("=IIIHHHH")  # struct tpacket_auxdata
_CMSG_SPACE = socket.CMSG_SPACE(_PKTINFO.size) + socket.CMSG_SPACE(_INT.size)
# IP_PKTINFO and IP_TTL come with the queued error too (they are enabled on the socket)
_ERR_SPACE = _CMSG_SPACE + socket.CMSG_SPACE(_EXTERR.size + 16)
_AUX_SPACE = socket.CMSG_SPACE(_AUXDATA.size)
MAX_DATAGRAM = 65535
RCVBUF = 4 * 1024 * 1024


@dataclass(slots=True)
class Datagram:
    """One received UDP 434 datagram with what IP_PKTINFO / IP_RECVTTL told."""

    data: bytes
    source: str
    source_port: int
    dest: str
    ifindex: int
    ttl: int


@dataclass(slots=True)
class IcmpError:
    """An ICMP error about a datagram we sent to `dest` (IP_RECVERR)."""

    dest: str
    icmp_type: int
    icmp_code: int


def interface_mac(name: str) -> bytes:
    """The hardware address of interface `name` (SIOCGIFHWADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as new_sock:
        res = fcntl.ioctl(new_sock.fileno(), SIOCGIFHWADDR, struct.pack("256s", name.encode()[:15]))
    return res[18:24]


def interface_address(name: str) -> str | None:
    """The primary IPv4 address of interface `name` (SIOCGIFADDR), None when it has none."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as new_sock:
        try:
            res = fcntl.ioctl(new_sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(res[20:24])


def _big_rcvbuf(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)  # root: beyond rmem_max
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)


@functools.lru_cache(maxsize=256)
def _pktinfo(source: str | None, ifindex: int) -> tuple[int, int, bytes]:
    """The IP_PKTINFO control message choosing a reply's source address and interface (a handful of
    distinct ones per agent, one per reply: built once)."""
    spec = socket.inet_aton(source) if source else b"\0\0\0\0"
    return (SOL_IP, IP_PKTINFO, _PKTINFO.pack(ifindex, spec, b"\0\0\0\0"))


class UdpSocket:
    """UDP port 434 on every address (or `address`), non-blocking."""

    def __init__(self, port: int = 434, address: str = UNSPECIFIED) -> None:
        new_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            new_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            new_sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            new_sock.setsockopt(SOL_IP, IP_PKTINFO, 1)
            new_sock.setsockopt(SOL_IP, IP_RECVTTL, 1)
            new_sock.setsockopt(SOL_IP, IP_RECVERR, 1)
            _big_rcvbuf(new_sock)
            new_sock.bind((address, port))
            new_sock.setblocking(False)
        except OSError:
            new_sock.close()
            raise
        self.sock = new_sock
        self.port = new_sock.getsockname()[1]
        self.backlog = False  # the last recv_batch stopped at its limit, not on an empty socket
        self.oversize = 0  # datagrams dropped for their size (recv_batch)
        self.refused = 0  # datagrams dropped for their source (recv_batch)

    def fileno(self) -> int:
        return self.sock.fileno()

    def recv_batch(self, limit: int, max_size: int = MAX_DATAGRAM,
                   admit: Callable[[str], bool] | None = None) -> list[Datagram]:
        """Up to `limit` datagrams (at most `limit` reads), until the socket would block (`backlog`
        says whether it did not). A datagram longer than `max_size` is copied no further than that
        and dropped (`oversize`); one whose source address `admit` refuses is dropped before its
        ancillary data is looked at (`refused`): a flood costs one read per datagram, no more."""
        out: list[Datagram] = []
        recvmsg = self.sock.recvmsg
        self.backlog = True
        for _ in range(limit):
            try:
                data, anc, flags, addr = recvmsg(max_size, _CMSG_SPACE)
            except BlockingIOError:
                self.backlog = False
                break
            except OSError as e:
                if e.errno in (errno.EAGAIN, errno.EINTR):
                    self.backlog = e.errno == errno.EINTR
                    break
                continue  # a queued ICMP error reported as this call's errno: read_errors() drains them
            if flags & socket.MSG_TRUNC:
                self.oversize += 1
                continue
            if admit is not None and not admit(addr[0]):
                self.refused += 1
                continue
            ifindex, dest, ttl = 0, UNSPECIFIED, 64
            for level, kind, value in anc:
                if level == SOL_IP:
                    if kind == IP_PKTINFO:
                        ifindex, _spec, addr_b = _PKTINFO.unpack_from(value)
                        dest = socket.inet_ntoa(addr_b)
                    elif kind == IP_TTL:
                        ttl = _INT.unpack_from(value)[0]
            out.append(Datagram(data, addr[0], addr[1], dest, ifindex, ttl))
        return out

    def block_sources(self, sources: Collection[str]) -> None:
        """Have the kernel drop every datagram from `sources` before it is queued (a classic BPF
        socket filter comparing the IPv4 source address; an empty collection removes it), so a
        flood from them neither costs a read nor fills the receive buffer ahead of other senders."""
        if not sources:
            with contextlib.suppress(OSError):  # ENOENT: no filter attached
                self.sock.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
            return
        program = source_filter(sorted(sources)[:MAX_BLOCKED])
        buf = ctypes.create_string_buffer(program, len(program))  # the kernel copies it
        fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(buf))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)

    def read_errors(self) -> list[IcmpError]:
        """Drain the error queue (IP_RECVERR): ICMP errors about datagrams we sent."""
        out: list[IcmpError] = []
        while True:
            try:
                _data, anc, _flags, addr = self.sock.recvmsg(512, _ERR_SPACE, socket.MSG_ERRQUEUE)
            except (BlockingIOError, InterruptedError):
                return out
            except OSError:
                return out
            for level, kind, value in anc:
                if level == SOL_IP and kind == IP_RECVERR and len(value) >= _EXTERR.size:
                    _errno, origin, icmp_type, icmp_code, _pad, _info, _d = _EXTERR.unpack_from(value)
                    if origin == SO_EE_ORIGIN_ICMP and addr:
                        out.append(IcmpError(addr[0], icmp_type, icmp_code))

    def send(self, payload: bytes, dest: str, dest_port: int, source: str | None = None, ifindex: int = 0,
             ttl: int | None = None) -> None:
        """Send one datagram; `source`/`ifindex` pick the source address and interface (IP_PKTINFO)."""
        anc = []
        if source or ifindex:
            anc.append(_pktinfo(source, ifindex))
        if ttl is not None:
            anc.append((SOL_IP, IP_TTL, _INT.pack(ttl)))
        if anc:
            self.sock.sendmsg([payload], anc, 0, (dest, dest_port))
        else:
            self.sock.sendto(payload, (dest, dest_port))

    def close(self) -> None:
        self.sock.close()


class IcmpSender:
    """A raw ICMP socket that only sends (every type filtered out on receive)."""

    def __init__(self) -> None:
        new_sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        try:
            new_sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("=I", 0xFFFFFFFF))
            new_sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            new_sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
            new_sock.setblocking(False)
        except OSError:
            new_sock.close()
            raise
        self.sock = new_sock

    def send(self, message: bytes, dest: str, ifindex: int, source: str | None, ttl: int) -> None:
        """Send `message` out of `ifindex` (multicast, broadcast and unicast alike) with IP TTL `ttl`."""
        spec = socket.inet_aton(source) if source else b"\0\0\0\0"
        anc = [(SOL_IP, IP_PKTINFO, _PKTINFO.pack(ifindex, spec, b"\0\0\0\0")), (SOL_IP, IP_TTL, _INT.pack(ttl))]
        self.sock.sendmsg([message], anc, 0, (dest, 0))

    def join(self, group: str, ifindex: int) -> None:
        """Join `group` on `ifindex` (struct ip_mreqn), so the link delivers it (§2.3: 224.0.0.11)."""
        mreqn = socket.inet_aton(group) + b"\0\0\0\0" + struct.pack("=i", ifindex)
        try:
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        except OSError as e:
            if e.errno != errno.EADDRINUSE:  # already a member
                raise

    def close(self) -> None:
        self.sock.close()


_LD_W, _LD_H, _LD_B, _LDX_MSH, _LD_IND_H, _LD_IND_B = 0x20, 0x28, 0x30, 0xB1, 0x48, 0x50
_JEQ, _JSET, _RET = 0x15, 0x45, 0x06


def bpf_filter(udp434: bool, icmp_types: tuple[int, ...]) -> bytes:
    """A classic BPF program (struct sock_filter array) accepting IPv4 frames that are not
    fragments and carry UDP to port 434 (when `udp434`) or ICMP of one of `icmp_types`."""
    prog: list[tuple[int, int | str, int | str, int]] = [
        (_LD_H, 0, 0, 12), (_JEQ, 0, "drop", ETH_P_IP),  # ethertype
        (_LD_H, 0, 0, 20), (_JSET, "drop", 0, 0x3FFF),  # MF flag or fragment offset
        (_LDX_MSH, 0, 0, 14),  # X = IP header length
        (_LD_B, 0, 0, 23),  # A = protocol
    ]
    if udp434:
        prog += [(_JEQ, 0, 2, socket.IPPROTO_UDP), (_LD_IND_H, 0, 0, 14 + 2), (_JEQ, "accept", "drop", 434)]
    if icmp_types:
        prog += [(_JEQ, 0, "drop", socket.IPPROTO_ICMP), (_LD_IND_B, 0, 0, 14)]
        for i, t in enumerate(icmp_types):
            prog.append((_JEQ, "accept", "drop" if i == len(icmp_types) - 1 else 0, t))
    prog += [(_RET, 0, 0, 0), (_RET, 0, 0, 0x40000)]
    labels = {"drop": len(prog) - 2, "accept": len(prog) - 1}
    out = []
    for pc, (code, jt, jf, k) in enumerate(prog):
        jt_off = labels[jt] - pc - 1 if isinstance(jt, str) else jt
        jf_off = labels[jf] - pc - 1 if isinstance(jf, str) else jf
        out.append(struct.pack("=HBBI", code, jt_off, jf_off, k))
    return b"".join(out)


def source_filter(sources: list[str]) -> bytes:
    """A classic BPF program for a UDP socket: drop a datagram whose IPv4 source is in `sources`
    (per address: "equal? then return 0 (drop), else skip that return"; jumps of 0 or 1 only)."""
    load_source = struct.pack("=HBBI", _LD_W, 0, 0, (SKF_NET_OFF + 12) & 0xFFFFFFFF)
    drop = struct.pack("=HBBI", _RET, 0, 0, 0)
    compares = [struct.pack("=HBBI", _JEQ, 0, 1, int.from_bytes(socket.inet_aton(a), "big")) + drop
                for a in sources]
    accept = struct.pack("=HBBI", _RET, 0, 0, 0xFFFFFFFF)
    return load_source + b"".join(compares) + accept


class PacketSocket:
    """An AF_PACKET socket on one interface: IPv4 frames accepted by the filter in, whole frames out."""

    def __init__(self, ifname: str, udp434: bool, icmp_types: tuple[int, ...]) -> None:
        self.ifname = ifname
        self.ifindex = socket.if_nametoindex(ifname)
        self.mac = interface_mac(ifname)
        new_sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
        try:
            program = bpf_filter(udp434, icmp_types)
            buf = ctypes.create_string_buffer(program, len(program))  # the kernel copies it
            fprog = struct.pack("HL", len(program) // 8, ctypes.addressof(buf))
            new_sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
            try:
                new_sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            except OSError:
                pass  # kernel < 4.20: outgoing frames are dropped by pkttype below
            new_sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            _big_rcvbuf(new_sock)
            new_sock.bind((ifname, ETH_P_IP))
            new_sock.setblocking(False)
        except OSError:
            new_sock.close()
            raise
        self.sock = new_sock
        self._drain()  # frames queued between socket() and the filter attaching

    def _drain(self) -> None:
        while True:
            try:
                self.sock.recv(65535)
            except OSError:
                return

    def fileno(self) -> int:
        return self.sock.fileno()

    def add_multicast(self, mac: bytes) -> None:
        """Accept frames to multicast `mac` on this link (PACKET_MR_MULTICAST)."""
        mreq = struct.pack("=iHH8s", self.ifindex, PACKET_MR_MULTICAST, 6, mac)
        self.sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)

    def recv_batch(self, limit: int) -> list[tuple[bytes, bool]]:
        """Up to `limit` (frame, checksum_ready) pairs received on this link."""
        out: list[tuple[bytes, bool]] = []
        while len(out) < limit:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(MAX_DATAGRAM, _AUX_SPACE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            if addr[2] == PACKET_OUTGOING:
                continue
            ready = True
            for level, kind, value in anc:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(value) >= 4:
                    ready = not _AUXDATA.unpack_from(value)[0] & TP_STATUS_CSUMNOTREADY
            out.append((data, ready))
        return out

    def send(self, frame: bytes) -> None:
        self.sock.send(frame)

    def close(self) -> None:
        self.sock.close()
