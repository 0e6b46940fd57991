"""Truncation and garbage: decoders return a message or raise WireError, never anything else."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mipd.wire import (
    FHAE,
    MFAE,
    MHAE,
    AgentAdvertisement,
    AgentSolicitation,
    AuthExtension,
    ChallengeExtension,
    EncapDeliveryExtension,
    GenAuthExtension,
    NAIExtension,
    PadExtension,
    RegistrationReply,
    RegistrationRequest,
    UDPTunnelReply,
    UDPTunnelRequest,
    UnknownExtension,
    WireError,
    icmp,
    registration,
)
from wire_helpers import (
    agent_advertisements,
    registration_replies,
    registration_requests,
    u8,
    with_icmp_checksum,
)

AUTH16 = bytes(range(16))

SAMPLE_REGISTRATIONS = {
    "rrq-bare": RegistrationRequest(0, 1800, "10.1.1.10", "10.1.1.1", "192.0.2.5", 1),
    "rrq-full": RegistrationRequest(
        0xFF, 0xFFFF, "0.0.0.0", "10.1.1.1", "192.0.2.5", 2**64 - 1,
        [NAIExtension("mn@example.com"), UDPTunnelRequest(4, True, True), AuthExtension(MHAE, 0x100, AUTH16),
         EncapDeliveryExtension(), ChallengeExtension(b"abcdefgh"), PadExtension(), AuthExtension(MFAE, 1, AUTH16),
         GenAuthExtension(1, 0x200, bytes(300)), UnknownExtension(200, b"xyz"),
         UnknownExtension(144, bytes.fromhex("00 00 80 04 0001")), AuthExtension(FHAE, 2, AUTH16)],
    ),
    "rrp-full": RegistrationReply(
        136, 0, "10.1.1.10", "10.1.1.1", 0xE8FE6F8080000000,
        [UDPTunnelReply(0, 110, True), PadExtension(), AuthExtension(MHAE, 0x100, AUTH16), AuthExtension(FHAE, 3, b"")],
    ),
}

SAMPLE_ADVERTISEMENTS = {
    "adv-full": AgentAdvertisement(
        1800, 300, 600, 0xFFE0, ["192.0.2.5", "192.0.2.6"], [("10.0.0.1", 0), ("10.0.0.2", -1)], 16,
        [24, 16], b"challenge-bytes", True, [(200, b"ab")],
    ),
    "adv-min": AgentAdvertisement(0, code=0, routers=[], care_of_addresses=[]),
    "ra-plain": AgentAdvertisement(1800, routers=[("10.0.0.1", 3)], code=0, is_agent=False),
}


def boundaries(msg: RegistrationRequest | RegistrationReply) -> dict[int, int]:
    """Lengths at which a prefix of msg.encode() is itself a valid message -> extensions it holds."""
    pos = len(msg.encode_fixed())
    out = {pos: 0}
    for k, ext in enumerate(msg.extensions, 1):
        pos += len(ext.encode())
        out[pos] = k
    return out


@pytest.mark.parametrize("name", sorted(SAMPLE_REGISTRATIONS))
def test_every_prefix_of_registration(name):
    """RFC 5944 §1.9, §3.3-3.4: a prefix decodes iff it ends on an extension boundary, else WireError."""
    msg = SAMPLE_REGISTRATIONS[name]
    data = msg.encode()
    valid = boundaries(msg)
    for n in range(len(data) + 1):
        prefix = data[:n]
        if n in valid:
            back = registration.decode(prefix)
            assert back.encode() == prefix
            assert back.extensions == msg.extensions[: valid[n]]
        else:
            with pytest.raises(WireError):
                registration.decode(prefix)


def icmp_boundaries(adv: AgentAdvertisement) -> set[int]:
    """Lengths at which a prefix of adv.encode() (checksum refreshed) still parses."""
    data = adv.encode()
    pos = 8 + 8 * len(adv.routers)
    out = {pos}
    while pos < len(data):
        pos += 1 if data[pos] == 0 else 2 + data[pos + 1]
        out.add(pos)
    return out


@pytest.mark.parametrize("name", sorted(SAMPLE_ADVERTISEMENTS))
def test_every_prefix_of_advertisement(name):
    """RFC 5944 §2.1, RFC 1256 §3: prefixes raise WireError (bad checksum or truncation) or decode."""
    adv = SAMPLE_ADVERTISEMENTS[name]
    data = adv.encode()
    valid = icmp_boundaries(adv)
    for n in range(len(data) + 1):
        prefix = data[:n]
        try:
            icmp.decode(prefix)
        except WireError:
            pass
        # with the checksum made right, only the parser decides: valid exactly at boundaries
        if n >= 4:
            fixed = with_icmp_checksum(prefix)
            if n in valid:
                assert isinstance(icmp.decode(fixed), AgentAdvertisement)
            else:
                with pytest.raises(WireError):
                    icmp.decode(fixed)


def test_every_prefix_of_solicitation():
    """RFC 1256 §3: a solicitation shorter than 8 bytes is a WireError."""
    data = AgentSolicitation().encode()
    for n in range(8):
        with pytest.raises(WireError):
            icmp.decode(data[:n])
    assert isinstance(icmp.decode(data), AgentSolicitation)


def _decode_registration_or_wire_error(data: bytes) -> None:
    try:
        msg = registration.decode(data)
    except WireError as err:
        assert isinstance(err.offset, int) and 0 <= err.offset <= len(data)
        return
    assert msg.raw == data
    # whatever decodes re-encodes to an equal message
    assert registration.decode(msg.encode()) == msg


def _decode_icmp_or_wire_error(data: bytes) -> None:
    try:
        msg = icmp.decode(data)
    except WireError as err:
        assert isinstance(err.offset, int) and 0 <= err.offset <= len(data)
        return
    assert icmp.decode(msg.encode()) == msg


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=120))
def test_registration_decode_arbitrary_bytes(data):
    """RFC 5944 §3.3-3.4: any bytes -> a message or WireError."""
    _decode_registration_or_wire_error(data)


# TLV soup after a valid fixed part, so the fuzzer spends its time in the extension parser.
_tlv = st.one_of(
    st.just(b"\x00"),
    st.tuples(st.integers(0, 255), st.binary(max_size=30)).map(lambda t: bytes([t[0], len(t[1])]) + t[1]),
    st.tuples(st.integers(0, 255), st.binary(max_size=30), st.integers(0, 255)).map(
        lambda t: bytes([t[0], t[2]]) + t[1]
    ),
    st.tuples(st.integers(0, 255), st.binary(max_size=12)).map(
        lambda t: bytes([36, t[0]]) + struct.pack("!H", len(t[1])) + t[1]
    ),
    st.binary(min_size=6, max_size=6).map(lambda b: bytes([144, 6]) + b),
    st.binary(min_size=6, max_size=6).map(lambda b: bytes([44, 6]) + b),
)


@FUZZ
@given(st.sampled_from([1, 3]), st.binary(min_size=23, max_size=23), st.lists(_tlv, max_size=6),
       st.binary(max_size=3))
def test_registration_decode_fixed_part_plus_garbage_extensions(kind, fixed, tlvs, tail):
    """RFC 5944 §1.8-1.11: valid fixed part + arbitrary extension TLVs -> message or WireError."""
    _decode_registration_or_wire_error(bytes([kind]) + fixed + b"".join(tlvs) + tail)


@FUZZ
@given(st.one_of(registration_requests, registration_replies), st.data())
def test_registration_decode_mutated_messages(msg, data):
    """RFC 5944 §3.3-3.4: valid messages with bytes flipped, inserted or removed -> message or WireError."""
    raw = bytearray(msg.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        pos = data.draw(st.integers(0, len(raw)))
        if op == "flip" and pos < len(raw):
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "insert":
            raw[pos:pos] = bytes([data.draw(st.integers(0, 255))])
        elif pos < len(raw):
            del raw[pos]
    _decode_registration_or_wire_error(bytes(raw))


@FUZZ
@given(st.binary(max_size=120))
def test_icmp_decode_arbitrary_bytes(data):
    """RFC 1256 §3, RFC 5944 §2: any bytes -> a message or WireError."""
    _decode_icmp_or_wire_error(data)


@FUZZ
@given(st.sampled_from([9, 10]), st.binary(min_size=7, max_size=120))
def test_icmp_decode_garbage_with_valid_checksum(kind, rest):
    """RFC 5944 §2.1: arbitrary bodies with a correct checksum reach the parser: message or WireError."""
    _decode_icmp_or_wire_error(with_icmp_checksum(bytes([kind]) + rest))


_icmp_tlv = st.one_of(
    st.just(b"\x00"),
    st.tuples(st.sampled_from([16, 19, 24, 0, 1, 128, 200]), st.binary(max_size=20)).map(
        lambda t: bytes([t[0], len(t[1])]) + t[1]
    ),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=20)).map(
        lambda t: bytes(t[:2]) + t[2]
    ),
)


@FUZZ
@given(u8, st.integers(0, 3), st.integers(0, 4), st.binary(max_size=40), st.lists(_icmp_tlv, max_size=5))
def test_icmp_decode_advertisement_soup(code, num, entry_size, routers, tlvs):
    """RFC 5944 §2.1, RFC 1256 §3: random header counts and extension TLVs -> message or WireError."""
    body = bytes([9, code, 0, 0, num, entry_size, 0, 30]) + routers + b"".join(tlvs)
    _decode_icmp_or_wire_error(with_icmp_checksum(body))


@FUZZ
@given(agent_advertisements(), st.data())
def test_icmp_decode_mutated_advertisements(adv, data):
    """RFC 5944 §2.1: valid advertisements with a byte changed (checksum refreshed) -> message or WireError."""
    raw = bytearray(adv.encode())
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        del raw[data.draw(st.integers(8, len(raw))):]
    _decode_icmp_or_wire_error(with_icmp_checksum(bytes(raw)))
