"""mipd.ipv4: the Internet checksum, IPv4 and UDP headers, checked against scapy as an independent
implementation (RFC 791, RFC 768, RFC 1071)."""

from __future__ import annotations

from socket import inet_aton

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mipd import ipv4
from scapy.layers.inet import ICMP, IP, UDP
from scapy.utils import checksum as scapy_checksum

SRC, DST = "10.2.0.1", "10.1.0.10"


def test_checksum_known_answer():
    """RFC 1071 §3: the worked example 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2, checksum 0x220d."""
    data = bytes.fromhex("0001f203f4f5f6f7")
    assert ipv4.checksum(data) == 0x220D
    assert ipv4.checksum(data + bytes.fromhex("220d")) == 0


def test_checksum_odd_length_pads_with_zero_and_leaves_input_alone():
    """RFC 1071 §4.1: an odd trailing byte is summed as if followed by a zero byte."""
    data = bytearray(b"\x01\x02\x03")
    assert ipv4.checksum(data) == ipv4.checksum(b"\x01\x02\x03\x00") == scapy_checksum(b"\x01\x02\x03\x00")
    assert data == bytearray(b"\x01\x02\x03")


@given(st.binary(max_size=3000))
def test_checksum_matches_scapy(data: bytes) -> None:
    assert ipv4.checksum(data) == scapy_checksum(data)
    assert ipv4.checksum(memoryview(data)) == ipv4.checksum(bytearray(data))


def test_ipv4_header_is_what_scapy_builds():
    """RFC 791 §3.1: version 4, IHL 5, the fields given, and a header checksum scapy agrees with."""
    hdr = ipv4.ipv4_header(
        inet_aton(SRC), inet_aton(DST), ipv4.IPPROTO_UDP, tos=0x10, ttl=7, df=True, ident=0x1234, total_length=28
    )
    ours = IP(hdr + bytes(8))
    fields = (ours.src, ours.dst, ours.proto, ours.tos, ours.ttl, ours.id, ours.len)
    assert fields == (SRC, DST, 17, 0x10, 7, 0x1234, 28)
    assert ours.flags == "DF" and ipv4.checksum(hdr) == 0
    rebuilt = IP(src=SRC, dst=DST, proto=17, tos=0x10, ttl=7, id=0x1234, flags="DF", len=28)
    assert hdr == bytes(rebuilt)[:20]
    unchecked = ipv4.ipv4_header(inet_aton(SRC), inet_aton(DST), 4, with_checksum=False)
    assert unchecked[10:12] == b"\x00\x00" and ipv4.finish_header(bytearray(unchecked), 40)[10:12] != b"\x00\x00"
    assert ipv4.checksum(ipv4.finish_header(bytearray(unchecked), 40)) == 0


def test_udp_datagram_checksum_is_what_scapy_computes():
    udp = ipv4.udp_datagram(SRC, DST, 1024, 434, b"registration")
    expected = bytes(IP(src=SRC, dst=DST) / UDP(sport=1024, dport=434) / b"registration")[20:]
    assert udp == expected


def test_udp_checksum_zero_is_sent_as_all_ones():
    """RFC 768: a computed checksum of zero is transmitted as all ones (zero means "none")."""
    head = ipv4.udp_datagram(SRC, DST, 1024, 434, b"\x00\x00")
    filler = int.from_bytes(head[6:8], "big")  # this payload word makes the sum all ones
    udp = ipv4.udp_datagram(SRC, DST, 1024, 434, filler.to_bytes(2, "big"))
    assert udp[6:8] == b"\xff\xff"


def _udp_packet(payload: bytes = b"abc", ttl: int = 9) -> bytearray:
    udp = ipv4.udp_datagram(SRC, DST, 1024, 434, payload)
    hdr = ipv4.ipv4_header(inet_aton(SRC), inet_aton(DST), ipv4.IPPROTO_UDP, ttl=ttl, total_length=20 + len(udp))
    return bytearray(hdr + udp)


def test_parse_udp_and_icmp():
    rx = ipv4.parse(bytes(_udp_packet()))
    assert rx == ipv4.Received(SRC, DST, 9, ipv4.IPPROTO_UDP, b"abc", 1024, 434)
    icmp = bytes(IP(src=SRC, dst=DST, ttl=1) / ICMP(type=10))
    assert ipv4.parse(icmp) == ipv4.Received(SRC, DST, 1, ipv4.IPPROTO_ICMP, icmp[20:])
    assert ipv4.parse(bytes(_udp_packet()) + b"trailer").payload == b"abc"  # beyond Total Length: ignored


MANGLED = ("ip-checksum", "udp-checksum", "fragment", "more-fragments", "truncated", "not-ipv4", "ihl-4", "udp-length")


@pytest.mark.parametrize("mangle", [*MANGLED, "tcp"])
def test_parse_refuses_what_is_not_a_whole_valid_packet(mangle: str):
    """What an attacker or a broken link may send: each is refused (None), never raised on."""
    raw = _udp_packet()
    if mangle == "ip-checksum":
        raw[10] ^= 0xFF
    elif mangle == "udp-checksum":
        raw[-1] ^= 0xFF
    elif mangle in ("fragment", "more-fragments"):
        raw[6:8] = (1 if mangle == "fragment" else ipv4.IP_MF).to_bytes(2, "big")
        raw = ipv4.finish_header(raw, len(raw))
    elif mangle == "truncated":
        raw = raw[:-1]
    elif mangle == "not-ipv4":
        raw[0] = 0x65
    elif mangle == "ihl-4":
        raw[0] = 0x44
    elif mangle == "udp-length":
        raw[24:26] = (100).to_bytes(2, "big")
    else:
        raw[9] = 6
        raw = ipv4.finish_header(raw, len(raw))
    assert ipv4.parse(bytes(raw)) is None


def test_parse_skips_the_udp_checksum_only_when_told():
    """A locally sent packet seen before checksum offload filled it in (TP_STATUS_CSUMNOTREADY)."""
    raw = _udp_packet()
    raw[26] ^= 0xFF
    assert ipv4.parse(bytes(raw)) is None
    assert ipv4.parse(bytes(raw), check_udp=False).payload == b"abc"


@given(st.binary(max_size=80))
def test_parse_and_header_length_take_any_bytes(data: bytes) -> None:
    ihl = ipv4.header_length(data)
    assert ihl is None or 20 <= ihl <= len(data)
    rx = ipv4.parse(data)
    assert rx is None or rx.proto in (ipv4.IPPROTO_UDP, ipv4.IPPROTO_ICMP)
