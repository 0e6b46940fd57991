"""Agent Advertisement (ICMP type 9 + extensions) and Agent Solicitation (ICMP type 10)."""

from __future__ import annotations

import pytest
from mipd.wire import AgentAdvertisement, AgentSolicitation, UnknownExtensionError, WireError, icmp
from wire_helpers import inet_checksum, with_icmp_checksum

# Hand-built advertisement: code 16, 1 router (10.0.0.1, preference 0), ICMP lifetime 1800;
# mobility agent extension: sequence 5, registration lifetime 600, flags R|F (0x9000),
# CoAs 192.0.2.5 and 192.0.2.6; prefix-lengths [24]; challenge 0a0b0c0d.
ADV_BODY = (
    "09 10 0000 01 02 0708"
    "0a000001 00000000"
    "10 0e 0005 0258 9000 c0000205 c0000206"
    "13 01 18"
    "18 04 0a0b0c0d"
)
ADV_BYTES = with_icmp_checksum(bytes.fromhex(ADV_BODY))
ADV = AgentAdvertisement(
    lifetime=1800, sequence=5, registration_lifetime=600, flags=0x9000,
    care_of_addresses=["192.0.2.5", "192.0.2.6"], routers=[("10.0.0.1", 0)], code=16,
    prefix_lengths=[24], challenge=bytes.fromhex("0a0b0c0d"),
)
SOLICITATION = bytes.fromhex("0a 00 f5ff 00000000")


def adv(**kw) -> AgentAdvertisement:
    fields = dict(lifetime=1800, sequence=1, registration_lifetime=600, flags=0x1000,
                  care_of_addresses=["192.0.2.5"])
    fields.update(kw)
    return AgentAdvertisement(**fields)


def test_advertisement_encodes_byte_exact():
    """RFC 5944 §2.1, §2.1.1, §2.1.2, RFC 3012 §2: router advertisement + extensions 16, 19, 24."""
    assert ADV.encode() == ADV_BYTES
    assert ADV_BYTES[2:4] != b"\0\0"


def test_advertisement_decodes_every_field():
    """RFC 5944 §2.1.1: sequence, registration lifetime, flags and care-of addresses."""
    msg = icmp.decode(ADV_BYTES)
    assert isinstance(msg, AgentAdvertisement)
    assert msg == ADV
    assert msg.is_agent
    assert (msg.sequence, msg.registration_lifetime, msg.flags) == (5, 600, 0x9000)
    assert msg.care_of_addresses == ["192.0.2.5", "192.0.2.6"]


@pytest.mark.parametrize("code", [icmp.CODE_ROUTES_ALL, icmp.CODE_MOBILITY_ONLY])
def test_advertisement_code(code):
    """RFC 5944 §2.1: Code 0 = also routes common traffic, 16 = mobility only."""
    assert (icmp.CODE_ROUTES_ALL, icmp.CODE_MOBILITY_ONLY) == (0, 16)
    data = adv(code=code).encode()
    assert data[:2] == bytes([9, code])
    assert icmp.decode(data).code == code


def test_advertisement_router_addresses_and_preferences():
    """RFC 1256 §3, RFC 5944 §2.1: Num Addrs, Addr Entry Size 2, address + signed preference pairs."""
    routers = [("10.0.0.1", 0), ("10.0.0.2", 5), ("10.0.0.3", -(2**31)), ("10.0.0.4", 2**31 - 1)]
    data = adv(routers=routers).encode()
    assert data[4:6] == bytes([4, 2])
    assert data[8:16] == bytes.fromhex("0a000001 00000000")
    assert data[24:32] == bytes.fromhex("0a000003 80000000")
    assert data[32:40] == bytes.fromhex("0a000004 7fffffff")
    assert icmp.decode(data).routers == routers


def test_advertisement_with_zero_router_addresses():
    """RFC 5944 §2.1: Num Addrs MAY be 0 in an Agent Advertisement."""
    data = adv(routers=[]).encode()
    assert data[4] == 0 and data[8] == icmp.EXT_MOBILITY_AGENT
    assert icmp.decode(data).routers == []


def test_advertisement_icmp_lifetime():
    """RFC 1256 §3, RFC 5944 §2.1: ICMP Lifetime at offset 6, unrelated to the registration lifetime."""
    data = adv(lifetime=0xFFFF, registration_lifetime=7).encode()
    assert data[6:8] == b"\xff\xff"
    back = icmp.decode(data)
    assert (back.lifetime, back.registration_lifetime) == (0xFFFF, 7)


@pytest.mark.parametrize(
    ("name", "mask", "const"),
    [
        ("R", 0x8000, icmp.ADV_R),
        ("B", 0x4000, icmp.ADV_B),
        ("H", 0x2000, icmp.ADV_H),
        ("F", 0x1000, icmp.ADV_F),
        ("M", 0x0800, icmp.ADV_M),
        ("G", 0x0400, icmp.ADV_G),
        ("r", 0x0200, icmp.ADV_r),
        ("T", 0x0100, icmp.ADV_T),
        ("U", 0x0080, icmp.ADV_U),
        ("X", 0x0040, icmp.ADV_X),
        ("I", 0x0020, icmp.ADV_I),
    ],
)
def test_mobility_agent_flag_positions(name, mask, const):
    """RFC 5944 §2.1.1 and App. F: R B H F M G r T U X I from the most significant bit (X 0x40, I 0x20)."""
    assert const == mask, name
    data = adv(routers=[], flags=mask).encode()
    assert data[8:10] == bytes([16, 10])
    assert data[14:16] == mask.to_bytes(2, "big")
    assert icmp.decode(data).flags == mask


def test_mobility_agent_reserved_flags_carried():
    """RFC 5944 §2.1.1: reserved bits are sent as zero and ignored, the codec just carries the word."""
    assert icmp.decode(adv(routers=[], flags=0xFFFF).encode()).flags == 0xFFFF


@pytest.mark.parametrize("count", [0, 1, 2, 5, 62])
def test_mobility_agent_care_of_addresses(count):
    """RFC 5944 §2.1.1: Length = 6 + 4*N; N care-of addresses follow the flags."""
    coas = [f"192.0.2.{i + 1}" for i in range(count)]
    data = adv(routers=[], care_of_addresses=coas).encode()
    assert data[9] == 6 + 4 * count
    assert len(data) == 8 + 8 + 4 * count
    assert icmp.decode(data).care_of_addresses == coas


def test_sequence_number_and_registration_lifetime_offsets():
    """RFC 5944 §2.1.1: Sequence Number at ext+2, Registration Lifetime at ext+4 (0xffff = infinity)."""
    data = adv(routers=[], sequence=0xABCD, registration_lifetime=0xFFFF).encode()
    assert data[10:14] == bytes.fromhex("abcd ffff")


@pytest.mark.parametrize("prefix_lengths", [[], [24], [8, 16, 24, 32]])
def test_prefix_lengths_extension(prefix_lengths):
    """RFC 5944 §2.1.2: Type 19 | Length N | one prefix length byte per router address."""
    routers = [(f"10.0.0.{i + 1}", 0) for i in range(len(prefix_lengths))]
    msg = adv(routers=routers, prefix_lengths=prefix_lengths)
    data = msg.encode()
    tail = bytes([19, len(prefix_lengths), *prefix_lengths])
    assert data.endswith(tail)
    assert icmp.decode(data).prefix_lengths == prefix_lengths
    assert icmp.decode(adv().encode()).prefix_lengths is None


def test_challenge_extension():
    """RFC 3012 §2: advertisement Challenge extension, Type 24 | Length | Challenge."""
    data = adv(challenge=b"\x01\x02\x03\x04\x05\x06\x07\x08").encode()
    assert data.endswith(bytes.fromhex("18 08 0102030405060708"))
    assert icmp.decode(data).challenge == bytes.fromhex("0102030405060708")
    assert icmp.decode(adv().encode()).challenge is None


def test_padding_extension_ignored():
    """RFC 5944 §2.1.3: one-byte padding (type 0, no Length) to make the ICMP length even."""
    expected = adv(routers=[("10.0.0.1", 0)], prefix_lengths=[24])
    unpadded = expected.encode()
    assert len(unpadded) == 31
    body = bytes.fromhex("09 10 0000 01 02 0708 0a000001 00000000 10 0a 0001 0258 1000 c0000205 13 01 18 00")
    data = with_icmp_checksum(body)
    assert len(data) == 32
    assert icmp.decode(data) == expected
    # between extensions, or several times (tolerated although it SHOULD NOT happen)
    body = bytes.fromhex("09 10 0000 01 02 0708 0a000001 00000000 00 10 0a 0001 0258 1000 c0000205 00 00 13 01 18")
    assert icmp.decode(with_icmp_checksum(body)) == expected


def test_plain_router_advertisement_without_extension_16():
    """RFC 1256 §3, RFC 5944 §2.1.1: without extension 16 it is an ordinary router advertisement."""
    msg = AgentAdvertisement(lifetime=1800, routers=[("10.0.0.1", 1)], code=0, is_agent=False)
    data = msg.encode()
    assert data == with_icmp_checksum(bytes.fromhex("09 00 0000 01 02 0708 0a000001 00000001"))
    back = icmp.decode(data)
    assert back == msg and not back.is_agent


def test_unknown_icmp_extensions():
    """RFC 5944 §1.8: ICMP extension 0-127 unknown -> discard; 128-255 -> skip by Length."""
    base = bytes.fromhex("09 10 0000 00 02 0708 10 0a 0001 0258 1000 c0000205")
    back = icmp.decode(with_icmp_checksum(base + bytes.fromhex("c8 02 abcd 13 00")))
    assert back.unknown == [(200, b"\xab\xcd")] and back.prefix_lengths == []
    assert back.encode() == with_icmp_checksum(base + bytes.fromhex("13 00 c8 02 abcd"))
    for ext_type in (1, 17, 20, 32, 127):
        with pytest.raises(UnknownExtensionError) as err:
            icmp.decode(with_icmp_checksum(base + bytes([ext_type, 0])))
        assert (err.value.ext_type, err.value.offset) == (ext_type, 20)


@pytest.mark.parametrize("length", [0, 5, 7, 11])
def test_mobility_agent_extension_bad_length(length):
    """RFC 5944 §2.1.1: Length must be 6 + 4*N."""
    body = bytes.fromhex("09 10 0000 00 02 0708") + bytes([16, length]) + bytes(length)
    with pytest.raises(WireError) as err:
        icmp.decode(with_icmp_checksum(body))
    assert err.value.offset == 9


def test_duplicate_mobility_agent_extension_rejected():
    """RFC 5944 §2.1.1: one Mobility Agent Advertisement Extension per advertisement."""
    ext = bytes.fromhex("10 06 0001 0258 2000")
    with pytest.raises(WireError, match="duplicate"):
        icmp.decode(with_icmp_checksum(bytes.fromhex("09 10 0000 00 02 0708") + ext + ext))


@pytest.mark.parametrize("tail", ["10", "10 0a 0001 0258 1000 c00002", "13 02 18", "18 04 0a0b"])
def test_truncated_icmp_extensions(tail):
    """RFC 5944 §2.1: extension Type/Length must be present and the Length must fit."""
    with pytest.raises(WireError):
        icmp.decode(with_icmp_checksum(bytes.fromhex("09 10 0000 00 02 0708" + tail)))


def test_address_entry_size():
    """RFC 1256 §3: Addr Entry Size counts 32-bit words per router (2; larger entries are skipped over)."""
    with pytest.raises(WireError) as err:
        icmp.decode(with_icmp_checksum(bytes.fromhex("09 00 0000 01 01 0708 0a000001")))
    assert err.value.offset == 5
    wide = with_icmp_checksum(bytes.fromhex("09 00 0000 02 03 0708 0a000001 00000007 ffffffff"
                                            "0a000002 00000008 eeeeeeee"))
    assert icmp.decode(wide).routers == [("10.0.0.1", 7), ("10.0.0.2", 8)]


def test_router_addresses_must_fit():
    """RFC 1256 §3: the message holds Num Addrs * Addr Entry Size words."""
    with pytest.raises(WireError) as err:
        icmp.decode(with_icmp_checksum(bytes.fromhex("09 00 0000 02 02 0708 0a000001 00000000")))
    assert err.value.offset == 4


def test_solicitation_byte_exact():
    """RFC 5944 §2.2, RFC 1256 §3: Router Solicitation, type 10 code 0, 4 reserved bytes."""
    assert AgentSolicitation().encode() == SOLICITATION
    assert inet_checksum(SOLICITATION) == 0
    assert isinstance(icmp.decode(SOLICITATION), AgentSolicitation)


def test_solicitation_nonzero_code_rejected():
    """RFC 1256 §3: Router Solicitation Code is 0."""
    with pytest.raises(WireError) as err:
        icmp.decode(with_icmp_checksum(bytes.fromhex("0a 01 0000 00000000")))
    assert err.value.offset == 1


@pytest.mark.parametrize("icmp_type", [0, 3, 8, 11])
def test_other_icmp_types_rejected(icmp_type):
    """RFC 5944 §2: only Router Advertisement (9) and Solicitation (10) are agent discovery messages."""
    with pytest.raises(WireError) as err:
        icmp.decode(with_icmp_checksum(bytes([icmp_type]) + bytes(7)))
    assert err.value.offset == 0


@pytest.mark.parametrize("length", range(8))
def test_icmp_shorter_than_8_bytes_rejected(length):
    """RFC 1256 §3: both messages are at least 8 bytes."""
    with pytest.raises(WireError):
        icmp.decode(SOLICITATION[:length])


@pytest.mark.parametrize("message", [ADV_BYTES, SOLICITATION, adv(routers=[]).encode()], ids=["adv", "sol", "adv0"])
def test_checksum_verified_every_byte(message):
    """RFC 1256 §3 (ICMP checksum, RFC 1071): corrupting any single byte -> WireError at offset 2."""
    assert inet_checksum(message) == 0
    for pos in range(len(message)):
        bad = bytearray(message)
        bad[pos] ^= 0xFF
        with pytest.raises(WireError) as err:
            icmp.decode(bytes(bad))
        assert err.value.offset == 2, pos


def test_checksum_computed_on_encode():
    """RFC 1256 §3: the encoder fills in the ICMP checksum (verified by an independent implementation)."""
    for msg in (ADV, adv(), adv(prefix_lengths=[1]), AgentSolicitation()):
        data = msg.encode()
        assert inet_checksum(data) == 0
        assert data == with_icmp_checksum(data)


def test_odd_length_advertisement():
    """RFC 5944 §2.1.3: an odd ICMP length is legal (padding is only a MAY); the checksum pads virtually."""
    msg = adv(routers=[], prefix_lengths=[24])
    data = msg.encode()
    assert len(data) % 2 == 1
    assert inet_checksum(data) == 0
    buf = bytearray(data)
    assert icmp.decode(buf) == msg
    assert buf == bytearray(data)  # decoding must not pad the caller's buffer
    assert icmp.decode(memoryview(data)) == msg


@pytest.mark.parametrize(
    ("seq", "after"), [(0, 1), (1, 2), (254, 255), (255, 256), (256, 257), (0xFFFE, 0xFFFF), (0xFFFF, 256)]
)
def test_sequence_rollover(seq, after):
    """RFC 5944 §2.3.2: sequence numbers count up from 0, and 0xffff is followed by 256."""
    assert icmp.next_sequence(seq) == after
    assert icmp.SEQUENCE_ROLLOVER == 256


def test_sequence_walk_after_rollover_stays_at_or_above_256():
    """RFC 5944 §2.3.2: first advertisement 0, then +1 each; after 0xffff the values never drop below 256."""
    seq, walk = 0, [0]
    for _ in range(0xFFFF + 600):
        seq = icmp.next_sequence(seq)
        walk.append(seq)
    assert walk[: 0x10000] == list(range(0x10000))
    after = walk[0x10000:]
    assert after[0] == 256
    assert all(256 <= s <= 0xFFFF for s in after)
    assert all(b == a + 1 for a, b in zip(after, after[1:], strict=False))
