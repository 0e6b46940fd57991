"""Pure packet functions (mipd.dataplane.encap, .arp) checked against scapy's own parsing.

RFC 2003 §3.1 (IP-in-IP header fields), RFC 2784 §2 (GRE), RFC 2004 §3 (minimal
encapsulation), RFC 791 §3.2 (fragmentation), RFC 2003 §5.1 / RFC 1191 (ICMP Fragmentation
Needed), RFC 5944 §4.6 (gratuitous ARP).
"""

from __future__ import annotations

import socket
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mipd.dataplane.arp import gratuitous_arp_frame
from mipd.dataplane.encap import (
    Drop,
    Encapsulator,
    decapsulate,
    encapsulate,
    fragment,
    icmp_frag_needed,
    parse_frag_needed,
    validate,
)
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, IPOption, UDPerror, defragment
from scapy.layers.l2 import ARP, GRE, Ether
from scapy.packet import Raw
from scapy.utils import checksum as scapy_checksum

HA, COA, CN, HOA = "10.1.0.1", "10.2.0.1", "10.9.0.2", "10.1.0.50"
A = socket.inet_aton


def inner_packet(*, src: str = CN, dst: str = HOA, ttl: int = 62, tos: int = 0, df: bool = False,
                 size: int = 40, ident: int = 4242, proto: str = "udp") -> bytes:
    layer = UDP(sport=1234, dport=7007) if proto == "udp" else TCP(sport=1, dport=2)
    pkt = IP(src=src, dst=dst, ttl=ttl, tos=tos, id=ident, flags="DF" if df else 0) / layer
    return bytes(pkt / Raw(b"p" * size))


def rebuilt(raw: bytes) -> bytes:
    """scapy's own serialisation of `raw` with IP length and checksum recomputed."""
    pkt = IP(raw)
    del pkt.len
    del pkt.chksum
    return bytes(pkt)


inner_strategy = st.builds(
    inner_packet,
    src=st.sampled_from([CN, HOA, HA, "192.0.2.7"]),
    dst=st.sampled_from([HOA, CN, "198.51.100.1"]),
    ttl=st.integers(1, 255),
    tos=st.integers(0, 255),
    df=st.booleans(),
    size=st.integers(0, 1400),
    ident=st.integers(0, 0xFFFF),
    proto=st.sampled_from(["udp", "tcp"]),
)


# -- IP-in-IP (RFC 2003 §3.1) ----------------------------------------------------------------

@given(inner_strategy, st.booleans())
def test_ipip_outer_header_fields(inner: bytes, pmtudisc: bool) -> None:
    out = encapsulate("ipip", inner, HA, COA, pmtudisc=pmtudisc)
    outer = IP(out)
    assert (outer.version, outer.ihl, outer.proto) == (4, 5, 4)
    assert (outer.src, outer.dst, outer.ttl) == (HA, COA, 64)
    assert outer.tos == IP(inner).tos  # copied
    assert outer.len == len(inner) + 20 == len(out)
    inner_df = bool(IP(inner).flags.DF)
    assert bool(outer.flags.DF) == (inner_df or pmtudisc)  # MUST copy DF; §5.1 may set it
    assert outer.frag == 0 and not outer.flags.MF
    assert rebuilt(out) == out  # length and checksum as scapy computes them
    assert bytes(outer.payload) == inner  # the inner datagram untouched (TTL too)
    assert isinstance(outer.payload, IP)


def test_ipip_template_is_the_hdrincl_header() -> None:
    """The fast path's template is the complete header minus what IP_HDRINCL has the kernel
    fill in: total length, identification and checksum."""
    inner = inner_packet(tos=0x28, df=True)
    enc = Encapsulator("ipip", HA, COA, ttl=50, pmtudisc=False)
    full = enc.encapsulate(inner)
    template = enc.header(0x28, 1)
    assert len(template) == 20
    assert template[:2] == full[:2] and template[6:10] == full[6:10] and template[12:] == full[12:20]
    assert template[2:6] == b"\x00" * 4 and template[10:12] == b"\x00\x00"
    assert enc.header(0x28, 1) is template  # cached


# -- GRE (RFC 2784) --------------------------------------------------------------------------

@given(inner_strategy)
def test_gre_header(inner: bytes) -> None:
    out = encapsulate("gre", inner, HA, COA)
    outer = IP(out)
    assert outer.proto == 47 and outer.len == len(inner) + 24 and rebuilt(out) == out
    gre = outer[GRE]
    assert (gre.chksum_present, gre.key_present, gre.seqnum_present, gre.version) == (0, 0, 0, 0)
    assert gre.proto == 0x0800
    assert out[20:24] == b"\x00\x00\x08\x00"  # C=0, reserved0=0, ver=0, protocol type
    assert bytes(gre.payload) == inner
    assert decapsulate(out) == inner


def test_gre_receive_rules() -> None:
    inner = inner_packet()
    with_csum = bytes(IP(src=HA, dst=COA) / GRE(chksum_present=1, proto=0x0800) / IP(inner))
    assert bytes(decapsulate(with_csum)) == inner  # C bit: MUST accept and process
    corrupt = bytearray(with_csum)
    corrupt[24] ^= 0xFF  # checksum field
    with pytest.raises(Drop, match="checksum"):
        decapsulate(bytes(corrupt))
    keyed = bytes(IP(src=HA, dst=COA) / GRE(key_present=1, key=7, proto=0x0800) / IP(inner))
    with pytest.raises(Drop, match="gre_unsupported"):  # bits 1-5 set (§2.3)
        decapsulate(keyed)
    v1 = bytes(IP(src=HA, dst=COA) / GRE(version=1, proto=0x0800) / IP(inner))
    with pytest.raises(Drop, match="gre_unsupported"):  # version MUST be 0 (§2.3.1)
        decapsulate(v1)
    ipv6 = bytes(IP(src=HA, dst=COA) / GRE(proto=0x86DD) / Raw(b"\x60" + b"\x00" * 39))
    with pytest.raises(Drop, match="gre_unsupported"):  # not IPv4 (§2.4)
        decapsulate(ipv6)


# -- minimal encapsulation (RFC 2004 §3) -----------------------------------------------------

@given(inner_strategy)
def test_minimal_fields_and_roundtrip(inner: bytes) -> None:
    original = IP(inner)
    out = encapsulate("minimal", inner, HA, COA, pmtudisc=False)
    outer = IP(out)
    with_source = original.src != HA
    hlen = 12 if with_source else 8
    assert (outer.proto, outer.src, outer.dst) == (55, HA, COA)
    assert outer.len == len(inner) + hlen == len(out)
    assert (outer.ttl, outer.id, outer.tos, outer.flags) == (original.ttl, original.id,
                                                             original.tos, original.flags)
    assert rebuilt(out) == out
    fwd = out[20 : 20 + hlen]
    proto, s_bit, _csum, orig_dst = struct.unpack("!BBH4s", fwd[:8])
    assert proto == original.proto and bool(s_bit & 0x80) == with_source and s_bit & 0x7F == 0
    assert scapy_checksum(fwd) == 0  # RFC 2004 §3 header checksum over the forwarding header
    assert socket.inet_ntoa(orig_dst) == original.dst
    if with_source:
        assert socket.inet_ntoa(fwd[8:12]) == original.src
    assert out[20 + hlen :] == inner[20:]  # payload untouched
    assert decapsulate(out) == inner  # header restored, checksum included


def test_minimal_refuses_fragments() -> None:
    frag = bytes(IP(src=CN, dst=HOA, flags="MF", id=1) / Raw(b"x" * 64))
    with pytest.raises(Drop, match="minimal_fragment"):
        encapsulate("minimal", frag, HA, COA)
    later = bytes(IP(src=CN, dst=HOA, frag=8, id=1) / Raw(b"x" * 64))
    with pytest.raises(Drop, match="minimal_fragment"):
        encapsulate("minimal", later, HA, COA)


@given(inner_strategy, st.sampled_from(["ipip", "gre", "minimal"]))
def test_decapsulate_inverts_encapsulate(inner: bytes, encap: str) -> None:
    assert bytes(decapsulate(encapsulate(encap, inner, COA, HA))) == inner


# -- robustness: nothing but Drop ------------------------------------------------------------

@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_decapsulate_garbage_only_drops(data: bytes) -> None:
    try:
        decapsulate(data)
    except Drop:
        pass


@given(st.sampled_from([4, 47, 55]), st.binary(max_size=120), st.integers(0, 200))
def test_decapsulate_bad_payload_only_drops(proto: int, payload: bytes, cut: int) -> None:
    datagram = bytes(IP(src=HA, dst=COA, proto=proto) / Raw(payload))
    for data in (datagram, datagram[:cut]):
        try:
            inner = decapsulate(data)
        except Drop:
            continue
        validate(inner)  # whatever comes out is a well-formed datagram


def test_validate_reasons() -> None:
    good = inner_packet()
    assert validate(good) == good
    assert validate(good + b"trailer") == good
    with pytest.raises(Drop, match="ttl"):
        validate(inner_packet(ttl=0))
    with pytest.raises(Drop, match="malformed"):
        validate(good[:-1])  # Total Length beyond the data
    with pytest.raises(Drop, match="malformed"):
        validate(b"\x60" + good[1:])  # IPv6 version
    with pytest.raises(Drop, match="malformed"):
        validate(b"\x44" + good[1:])  # IHL 4


# -- fragmentation (RFC 791 §3.2; RFC 2003 §5.1) ---------------------------------------------

@given(st.integers(1, 3000), st.integers(68, 1500), st.integers(0, 0xFFFF))
def test_fragments_reassemble_with_scapy(size: int, mtu: int, ident: int) -> None:
    original = bytes(IP(src=CN, dst=HOA, id=ident, ttl=9) / UDP(dport=9) / Raw(b"z" * size))
    frags = fragment(original, mtu)
    assert all(len(f) <= mtu for f in frags)
    if len(original) <= mtu:
        assert frags == [original]
        return
    parsed = [IP(f) for f in frags]
    for p in parsed[:-1]:
        assert p.flags.MF and (len(p) - 20) % 8 == 0
    assert not parsed[-1].flags.MF
    assert all(rebuilt(f) == f for f in frags)
    (whole,) = defragment(parsed)
    assert bytes(whole.payload) == bytes(IP(original).payload)


def test_fragment_copies_only_copied_options() -> None:
    # LSRR (type 0x83, copied flag) goes into every fragment, Record Route (7) only the first
    lsrr = b"\x83\x07\x04" + A("10.0.0.1")
    rr = b"\x07\x07\x04" + b"\x00" * 4
    opts = lsrr + rr + b"\x00\x00"  # 16 bytes
    original = bytes(IP(src=CN, dst=HOA, id=9, options=[IPOption(opts)]) / Raw(b"q" * 200))
    frags = fragment(original, 120)
    first, *rest = [IP(f) for f in frags]
    assert first.ihl == 9 and bytes(first)[20:36] == opts
    for p in rest:
        assert p.ihl == 7 and bytes(p)[20:28] == lsrr + b"\x00"
    (whole,) = defragment([IP(f) for f in frags])
    assert bytes(whole.payload) == b"q" * 200


def test_fragment_of_a_fragment_keeps_offset_and_mf() -> None:
    original = bytes(IP(src=CN, dst=HOA, id=5, frag=100, flags="MF") / Raw(b"r" * 400))
    frags = [IP(f) for f in fragment(original, 200)]
    assert frags[0].frag == 100 and all(f.flags.MF for f in frags)  # the original had MF
    assert [f.frag for f in frags] == [100, 122, 144]


def test_fragment_refuses_df() -> None:
    with pytest.raises(Drop):
        fragment(inner_packet(df=True, size=1000), 576)


# -- ICMP Fragmentation Needed (RFC 2003 §5.1, RFC 1191) ---------------------------------------

def test_icmp_frag_needed_fields() -> None:
    original = inner_packet(df=True, size=1472 - 8, tos=0x10)
    out = icmp_frag_needed(A(HA), original, 1480)
    assert out is not None
    pkt = IP(out)
    assert (pkt.src, pkt.dst, pkt.proto) == (HA, CN, 1)
    assert rebuilt(out) == out and len(out) <= 576
    icmp = pkt[ICMP]
    assert (icmp.type, icmp.code, icmp.nexthopmtu) == (3, 4, 1480)
    assert bytes(ICMP(bytes(icmp))) == bytes(icmp)
    assert scapy_checksum(bytes(icmp)) == 0
    quoted = icmp.payload
    assert isinstance(quoted, IPerror) and (quoted.src, quoted.dst) == (CN, HOA)
    assert bytes(quoted)[:28] == original[:28]  # header + 8 bytes at least (RFC 792)
    assert parse_frag_needed(out) == (1480, A(CN), A(HOA), 17)


def test_no_icmp_about_icmp_errors_fragments_or_broadcasts() -> None:
    err = bytes(IP(src=CN, dst=HOA, flags="DF") / ICMP(type=3, code=1) / Raw(b"e" * 40))
    assert icmp_frag_needed(A(HA), err, 1480) is None
    echo = bytes(IP(src=CN, dst=HOA, flags="DF") / ICMP(type=8) / Raw(b"e" * 40))
    assert icmp_frag_needed(A(HA), echo, 1480) is not None
    later = bytes(IP(src=CN, dst=HOA, frag=10) / Raw(b"e" * 40))
    assert icmp_frag_needed(A(HA), later, 1480) is None
    for src in ("0.0.0.0", "224.0.0.5", "255.255.255.255"):
        assert icmp_frag_needed(A(HA), inner_packet(src=src, df=True), 1480) is None


def test_parse_frag_needed_from_a_router() -> None:
    quoted = IPerror(src=HA, dst=COA, proto=4, len=1500) / UDPerror()
    msg = bytes(IP(src="10.2.0.254", dst=HA) / ICMP(type=3, code=4, nexthopmtu=1400) / quoted)
    assert parse_frag_needed(msg) == (1400, A(HA), A(COA), 4)
    old_router = bytes(IP(src="10.2.0.254", dst=HA) / ICMP(type=3, code=4, nexthopmtu=0) / quoted)
    assert parse_frag_needed(old_router) == (1492, A(HA), A(COA), 4)  # RFC 1191 plateau
    other = bytes(IP(src="10.2.0.254", dst=HA) / ICMP(type=3, code=1) / quoted)
    assert parse_frag_needed(other) is None
    assert parse_frag_needed(b"\x45garbage") is None


# -- gratuitous ARP (RFC 5944 §4.6) ----------------------------------------------------------

def test_gratuitous_arp_frame() -> None:
    own = bytes.fromhex("020000000001")
    mn = bytes.fromhex("020000000050")
    frame = Ether(gratuitous_arp_frame(A(HOA), mn, own))
    assert frame.dst == "ff:ff:ff:ff:ff:ff" and frame.src == "02:00:00:00:00:01"
    arp = frame[ARP]
    assert (arp.hwtype, arp.ptype, arp.hwlen, arp.plen, arp.op) == (1, 0x0800, 6, 4, 1)
    assert (arp.hwsrc, arp.psrc, arp.pdst) == ("02:00:00:00:00:50", HOA, HOA)
    assert arp.hwdst == "00:00:00:00:00:00"
    reply = Ether(gratuitous_arp_frame(A(HOA), own, op=2))[ARP]
    assert reply.op == 2 and reply.hwdst == reply.hwsrc == "02:00:00:00:00:01"
    with pytest.raises(ValueError):
        gratuitous_arp_frame(b"\x01\x02", own)
