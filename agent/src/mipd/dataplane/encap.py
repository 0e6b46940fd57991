"""Pure packet functions of the data plane: encapsulate, decapsulate, fragment, ICMP.

- IP-in-IP, RFC 2003 §3.1: outer header Version 4, IHL 5 (no options copied), TOS copied from
  the inner header, DF set if the inner DF is set (MUST) and, with ``pmtudisc``, on every
  datagram (§5.1: "the encapsulator SHOULD normally do Path MTU Discovery, requiring it to send
  all datagrams into the tunnel with the Don't Fragment bit set"; the same for GRE), TTL
  "appropriate for
  delivery to the tunnel exit point" (default 64), protocol 4, source = tunnel entry point,
  destination = tunnel exit point. The inner TTL is not changed here (the kernel already
  decremented it when it forwarded the datagram into the tunnel; §3.1). A datagram with inner
  TTL 0 is never encapsulated and an inner TTL 0 after decapsulation is discarded (§3.1).
- GRE, RFC 2784 §2: the IP-in-IP outer header with protocol 47 followed by the 4-byte GRE
  header (C=0, version 0, protocol type 0x0800). On receipt the checksum is verified when C is
  set (§2.2 "MUST accept and process"), packets with any of bits 1-5 set or a version other
  than 0 are discarded (§2.3, §2.3.1), and protocol types other than IPv4 are discarded (§2.4).
- Minimal encapsulation, RFC 2004 §3: no new IP header; the original one gets protocol 55,
  destination = exit point, source = entry point (S bit set and the original source carried
  when they differ), total length + 8/12, checksum recomputed; TTL and DF unchanged (there is
  no outer header to carry a DF of the tunnel's own). Never used on an already fragmented
  datagram (§3: MUST NOT).
- Fragmentation, RFC 791 §3.2: RFC 2003 §5.1 prefers fragmenting the *inner* datagram before
  encapsulation over fragmenting the encapsulated one; minimal encapsulation can only be
  fragmented after encapsulation.
- ICMP Destination Unreachable / Fragmentation Needed (RFC 792; next-hop MTU, RFC 1191 §4) is
  what the encapsulator returns to the sender of a DF datagram that does not fit the tunnel:
  RFC 2003 §5.1 soft state, MTU reported = tunnel MTU minus the encapsulation overhead. Never
  about an ICMP error, a non-first fragment or a non-unicast source (RFC 1122 §3.2.2, RFC 1812
  §4.3.2.7); it quotes as much of the datagram as fits in 576 bytes (RFC 1812 §4.3.2.3).

Addresses are 4-byte ``bytes`` (``socket.inet_aton``) throughout; packets may be ``bytes``,
``bytearray`` or ``memoryview``. Nothing here raises anything but :class:`Drop` on bad input.
"""

from __future__ import annotations

import struct
from socket import inet_aton

from mipd import ipv4
from mipd.ipv4 import IP_DF, IP_MF, IP_OFFSET, IPPROTO_ICMP, checksum, finish_header, ipv4_header

IPPROTO_IPIP = 4
IPPROTO_GRE = 47
IPPROTO_MINIMAL = 55
GRE_PROTO_IPV4 = 0x0800
GRE_C = 0x8000
GRE_RESERVED0_MUST_BE_ZERO = 0x7C00  # bits 1-5 (RFC 2784 §2.3)
GRE_VERSION = 0x0007
MINIMAL_S = 0x80
ICMP_DEST_UNREACH = 3
ICMP_FRAG_NEEDED = 4
ICMP_ERROR_TYPES = frozenset({3, 4, 5, 11, 12})
ICMP_QUOTE_LIMIT = 576  # RFC 1812 §4.3.2.3: the error datagram never exceeds 576 bytes
MIN_MTU = 68  # RFC 791: every host and router must forward 68-byte datagrams

#: RFC 1191 §7 plateau table, used when a router reports a next-hop MTU of 0
MTU_PLATEAUS = (65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68)

_GRE_IPV4 = struct.pack("!HH", 0, GRE_PROTO_IPV4)
_ICMP_UNREACH = struct.Struct("!BBHHH")
_U16 = struct.Struct("!H")


class Drop(Exception):
    """The datagram must be dropped; ``reason`` names the ``dropped_<reason>`` counter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def header_length(packet: bytes | bytearray | memoryview) -> int:
    """IHL in bytes of a plausible IPv4 datagram, else Drop("malformed")."""
    ihl = ipv4.header_length(packet)
    if ihl is None:
        raise Drop("malformed")
    return ihl


def validate(packet: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """Check an IPv4 datagram's header fields; return it trimmed to its Total Length.

    Drop("malformed") for a bad version/IHL/length, Drop("ttl") for TTL 0 (RFC 2003 §3.1).
    """
    ihl = header_length(packet)
    total = (packet[2] << 8) | packet[3]
    if total < ihl or total > len(packet):
        raise Drop("malformed")
    if packet[8] == 0:
        raise Drop("ttl")
    return packet if total == len(packet) else packet[:total]


class Encapsulator:
    """Per-tunnel precomputed outer headers: the userspace backend's hot path.

    ``header(tos, df)`` returns the outer IPv4 header (plus the GRE header for GRE) for a
    datagram with that TOS and inner-DF bit, from a cache of at most 512 templates. The
    total length, identification and checksum are zero: a raw socket with IP_HDRINCL has
    the kernel fill those in (Linux ``raw_send_hdrinc``), so per datagram only the cached
    template is looked up. ``encapsulate()`` returns the complete datagram as it goes on the
    wire (length and checksum filled in) for everything that is not the hot path.
    """

    __slots__ = ("encap", "proto", "local", "remote", "ttl", "pmtudisc", "templates")

    def __init__(self, encap: str, local: str | bytes, remote: str | bytes, *, ttl: int = 64,
                 pmtudisc: bool = True) -> None:
        if encap not in ("ipip", "gre", "minimal"):
            raise ValueError(f"unknown encapsulation {encap!r}")
        self.encap = encap
        self.proto = {"ipip": IPPROTO_IPIP, "gre": IPPROTO_GRE, "minimal": IPPROTO_MINIMAL}[encap]
        self.local = local if isinstance(local, bytes) else inet_aton(local)
        self.remote = remote if isinstance(remote, bytes) else inet_aton(remote)
        self.ttl = ttl
        self.pmtudisc = pmtudisc
        self.templates: dict[int, bytes] = {}  # (tos << 1 | inner DF) -> header

    def overhead(self, packet: bytes | bytearray | memoryview) -> int:
        """Bytes this tunnel adds to `packet`."""
        if self.encap == "ipip":
            return 20
        if self.encap == "gre":
            return 24
        return 12 if packet[12:16] != self.local else 8

    def header(self, tos: int, dont_fragment: int) -> bytes:
        """Outer header template for inner TOS `tos` and inner DF bit `df` (0 or 1)."""
        key = (tos << 1) | dont_fragment
        hdr = self.templates.get(key)
        if hdr is None:
            hdr = ipv4_header(self.local, self.remote, self.proto, tos=tos, ttl=self.ttl,
                              df=bool(dont_fragment or self.pmtudisc), with_checksum=False)
            if self.proto == IPPROTO_GRE:
                hdr += _GRE_IPV4
            self.templates[key] = hdr
        return hdr

    def encapsulate(self, packet: bytes | bytearray | memoryview) -> bytes:
        """The complete encapsulated datagram for `packet` (validated first)."""
        packet = validate(packet)
        if self.proto == IPPROTO_MINIMAL:
            return encapsulate_minimal(packet, self.local, self.remote)
        hdr = bytearray(self.header(packet[1], (packet[6] >> 6) & 1))
        return bytes(finish_header(hdr, len(hdr) + len(packet))) + bytes(packet)


def encapsulate(encap: str, packet: bytes | bytearray | memoryview, local: str | bytes,
                remote: str | bytes, *, ttl: int = 64, pmtudisc: bool = True) -> bytes:
    """Encapsulate `packet` from tunnel entry point `local` to exit point `remote`."""
    return Encapsulator(encap, local, remote, ttl=ttl, pmtudisc=pmtudisc).encapsulate(packet)


def is_fragment(packet: bytes | bytearray | memoryview) -> bool:
    return bool(((packet[6] << 8) | packet[7]) & (IP_MF | IP_OFFSET))


def encapsulate_minimal(packet: bytes | bytearray | memoryview, local: bytes,
                        remote: bytes) -> bytes:
    """RFC 2004 §3 minimal encapsulation of a validated, unfragmented datagram.

    The DF bit is left as the sender set it: the modified header *is* the original one, so a
    DF set here could not be cleared again by the decapsulator.
    """
    if is_fragment(packet):
        raise Drop("minimal_fragment")
    ihl = (packet[0] & 0x0F) << 2
    src = bytes(packet[12:16])
    with_source = src != local
    fwd = bytearray(12 if with_source else 8)
    fwd[0] = packet[9]
    fwd[4:8] = packet[16:20]
    if with_source:
        fwd[1] = MINIMAL_S
        fwd[8:12] = src
    _U16.pack_into(fwd, 2, checksum(fwd))
    hdr = bytearray(packet[:ihl])
    hdr[9] = IPPROTO_MINIMAL
    hdr[12:16] = local
    hdr[16:20] = remote
    total = len(packet) + len(fwd)
    return bytes(finish_header(hdr, total)) + bytes(fwd) + bytes(packet[ihl:])


# -- decapsulation -------------------------------------------------------------------------

def decapsulate_ipip(packet: bytes | bytearray | memoryview,
                     ihl: int) -> bytes | bytearray | memoryview:
    """Inner datagram of an IP-in-IP datagram whose outer header is `ihl` bytes."""
    return validate(packet[ihl:])


def decapsulate_gre(packet: bytes | bytearray | memoryview,
                    ihl: int) -> bytes | bytearray | memoryview:
    """Inner IPv4 datagram of a GRE datagram (RFC 2784 §2)."""
    if len(packet) < ihl + 4:
        raise Drop("malformed")
    flags = (packet[ihl] << 8) | packet[ihl + 1]
    if flags & (GRE_RESERVED0_MUST_BE_ZERO | GRE_VERSION):
        raise Drop("gre_unsupported")
    if ((packet[ihl + 2] << 8) | packet[ihl + 3]) != GRE_PROTO_IPV4:
        raise Drop("gre_unsupported")
    if flags & GRE_C:
        if len(packet) < ihl + 8 or checksum(packet[ihl:]):
            raise Drop("checksum")
        return validate(packet[ihl + 8 :])
    return validate(packet[ihl + 4 :])


def decapsulate_minimal(packet: bytes | bytearray | memoryview, ihl: int) -> bytes:
    """Restore the original datagram from a minimal-encapsulated one (RFC 2004 §3)."""
    if len(packet) < ihl + 8:
        raise Drop("malformed")
    hlen = 12 if packet[ihl + 1] & MINIMAL_S else 8
    if len(packet) < ihl + hlen:
        raise Drop("malformed")
    fwd = packet[ihl : ihl + hlen]
    if checksum(fwd):
        raise Drop("checksum")
    hdr = bytearray(packet[:ihl])
    hdr[9] = fwd[0]
    hdr[16:20] = fwd[4:8]
    if hlen == 12:
        hdr[12:16] = fwd[8:12]
    total = ((packet[2] << 8) | packet[3]) - hlen
    if total < ihl:
        raise Drop("malformed")
    out = bytes(finish_header(hdr, total)) + bytes(packet[ihl + hlen : ihl + hlen + total - ihl])
    return validate(out)  # type: ignore[return-value]


def decapsulate(packet: bytes | bytearray | memoryview) -> bytes | bytearray | memoryview:
    """Inner datagram of a tunnelled datagram (outer IPv4 header included), by its protocol."""
    ihl = header_length(packet)
    total = (packet[2] << 8) | packet[3]
    if total < ihl or total > len(packet):
        raise Drop("malformed")
    packet = packet[:total]
    proto = packet[9]
    if proto == IPPROTO_IPIP:
        return decapsulate_ipip(packet, ihl)
    if proto == IPPROTO_GRE:
        return decapsulate_gre(packet, ihl)
    if proto == IPPROTO_MINIMAL:
        return decapsulate_minimal(packet, ihl)
    raise Drop("malformed")


# -- fragmentation -------------------------------------------------------------------------

def _copied_options(options: bytes) -> bytes:
    """The options RFC 791 copies into every fragment (copied flag set), padded to 4n."""
    out = bytearray()
    offset = 0
    while offset < len(options):
        kind = options[offset]
        if kind == 0:
            break
        if kind == 1:
            offset += 1
            continue
        if offset + 1 >= len(options) or options[offset + 1] < 2:
            break
        length = options[offset + 1]
        if kind & 0x80:
            out += options[offset : offset + length]
        offset += length
    out += b"\x00" * (-len(out) & 3)
    return bytes(out)


def fragment(packet: bytes | bytearray | memoryview, mtu: int) -> list[bytes]:
    """Fragment a datagram without DF into datagrams of at most `mtu` bytes (RFC 791 §3.2).

    Works on fragments too (offsets and MF are carried over). Drop("malformed") if the
    datagram cannot be fragmented to that size.
    """
    ihl = header_length(packet)
    total = (packet[2] << 8) | packet[3]
    if total < ihl or total > len(packet):
        raise Drop("malformed")
    if total <= mtu:
        return [bytes(packet[:total])]
    frag_field = (packet[6] << 8) | packet[7]
    if frag_field & IP_DF:
        raise Drop("df")
    header = bytes(packet[:ihl])
    later_header = bytearray(header[:20]) + _copied_options(header[20:])
    later_header[0] = 0x40 | (len(later_header) >> 2)
    payload = packet[ihl:total]
    base_offset = frag_field & IP_OFFSET
    last_mf = frag_field & IP_MF
    out: list[bytes] = []
    pos = 0
    first = True
    while pos < len(payload):
        hdr = bytearray(header if first else later_header)
        room = (mtu - len(hdr)) & ~7
        if room <= 0:
            raise Drop("malformed")
        chunk = payload[pos : pos + room]
        more = pos + len(chunk) < len(payload)
        _U16.pack_into(hdr, 6, (base_offset + (pos >> 3)) | (IP_MF if more else last_mf))
        out.append(bytes(finish_header(hdr, len(hdr) + len(chunk))) + bytes(chunk))
        pos += len(chunk)
        first = False
    return out


# -- ICMP ----------------------------------------------------------------------------------

def _unicast(address: bytes | bytearray | memoryview) -> bool:
    first = address[0]
    return first != 0 and first < 224 and bytes(address) != b"\xff\xff\xff\xff"


def icmp_frag_needed(src: bytes, packet: bytes | bytearray | memoryview, next_hop_mtu: int, *,
                     ttl: int = 64) -> bytes | None:
    """ICMP Fragmentation Needed (type 3 code 4) from `src` to the sender of `packet`.

    None when no ICMP error may be sent about `packet`: it is not a first fragment, it is an
    ICMP error itself, or its source is not a unicast address (RFC 1122 §3.2.2).
    """
    ihl = header_length(packet)
    if ((packet[6] << 8) | packet[7]) & IP_OFFSET:
        return None
    if packet[9] == IPPROTO_ICMP and (len(packet) <= ihl or packet[ihl] in ICMP_ERROR_TYPES):
        return None
    if not _unicast(packet[12:16]):
        return None
    quote = bytes(packet[: ICMP_QUOTE_LIMIT - 28])
    icmp = bytearray(_ICMP_UNREACH.pack(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 0, 0,
                                        next_hop_mtu & 0xFFFF)) + quote
    _U16.pack_into(icmp, 2, checksum(icmp))
    tos = (packet[1] & 0x1E) | 0xC0  # precedence "internetwork control", as Linux does
    return ipv4_header(src, bytes(packet[12:16]), IPPROTO_ICMP, tos=tos, ttl=ttl,
                       total_length=20 + len(icmp)) + bytes(icmp)


def parse_frag_needed(packet: bytes | bytearray | memoryview) -> tuple[int, bytes, bytes, int] | None:
    """From an IPv4 datagram carrying ICMP Fragmentation Needed: (next-hop MTU, source,
    destination, protocol of the quoted datagram); None if it is anything else.

    A next-hop MTU of 0 (pre-RFC 1191 router) is estimated from the quoted Total Length with
    the RFC 1191 §7 plateau table.
    """
    try:
        ihl = header_length(packet)
    except Drop:
        return None
    if packet[9] != IPPROTO_ICMP or len(packet) < ihl + 8 + 20:
        return None
    if packet[ihl] != ICMP_DEST_UNREACH or packet[ihl + 1] != ICMP_FRAG_NEEDED:
        return None
    mtu = (packet[ihl + 6] << 8) | packet[ihl + 7]
    quoted = packet[ihl + 8 :]
    if quoted[0] >> 4 != 4:
        return None
    if mtu == 0:
        quoted_len = (quoted[2] << 8) | quoted[3]
        mtu = next((p for p in MTU_PLATEAUS if p < quoted_len), MIN_MTU)
    return mtu, bytes(quoted[12:16]), bytes(quoted[16:20]), quoted[9]
