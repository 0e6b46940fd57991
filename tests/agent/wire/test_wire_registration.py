"""Registration Request (type 1) and Registration Reply (type 3) fixed parts, byte-exact."""

from __future__ import annotations

import pytest
from mipd.wire import (
    FLAG_B,
    FLAG_D,
    FLAG_G,
    FLAG_M,
    FLAG_S,
    FLAG_T,
    LIFETIME_DEREGISTER,
    LIFETIME_INFINITE,
    MHAE,
    PORT,
    AuthExtension,
    NAIExtension,
    RegistrationReply,
    RegistrationRequest,
    WireError,
    registration,
)

# Hand-built: flags D|G|T, lifetime 1800, HoA 10.1.1.10, HA 10.1.1.1, CoA 192.0.2.5,
# Identification e8fe6f80.80000000 (NTP timestamp) -- the fixed RRQ of the research notes §2.6.
RRQ_HEX = "01 2a 0708 0a01010a 0a010101 c0000205 e8fe6f8080000000"
RRQ = RegistrationRequest(0x2A, 1800, "10.1.1.10", "10.1.1.1", "192.0.2.5", 0xE8FE6F8080000000)

# Code 0, lifetime 600, HoA 10.1.1.10, HA 10.1.1.1, same Identification.
RRP_HEX = "03 00 0258 0a01010a 0a010101 e8fe6f8080000000"
RRP = RegistrationReply(0, 600, "10.1.1.10", "10.1.1.1", 0xE8FE6F8080000000)


def rrq(**kw) -> RegistrationRequest:
    fields = dict(flags=0, lifetime=1800, home_address="10.1.1.10", home_agent="10.1.1.1",
                  care_of_address="192.0.2.5", identification=1)
    fields.update(kw)
    return RegistrationRequest(**fields)


def rrp(**kw) -> RegistrationReply:
    fields = dict(code=0, lifetime=1800, home_address="10.1.1.10", home_agent="10.1.1.1", identification=1)
    fields.update(kw)
    return RegistrationReply(**fields)


def test_port_is_434():
    """RFC 5944 §1.8: control messages use UDP port 434."""
    assert PORT == 434


def test_request_fixed_part_encodes_byte_exact():
    """RFC 5944 §3.3: Type 1 | flags | Lifetime(16) | Home Address | Home Agent | CoA | Identification(64)."""
    data = RRQ.encode()
    assert data == bytes.fromhex(RRQ_HEX)
    assert len(data) == 24
    assert RRQ.encode_fixed() == data


def test_request_fixed_part_decodes_every_field():
    """RFC 5944 §3.3: each fixed field of a hand-built Registration Request."""
    msg = registration.decode(bytes.fromhex(RRQ_HEX))
    assert isinstance(msg, RegistrationRequest)
    assert (msg.flags, msg.lifetime) == (0x2A, 1800)
    assert (msg.home_address, msg.home_agent, msg.care_of_address) == ("10.1.1.10", "10.1.1.1", "192.0.2.5")
    assert msg.identification == 0xE8FE6F8080000000
    assert msg.extensions == []
    assert msg == RRQ


@pytest.mark.parametrize(
    ("name", "bit", "const"),
    [
        ("S", 0x80, FLAG_S),
        ("B", 0x40, FLAG_B),
        ("D", 0x20, FLAG_D),
        ("M", 0x10, FLAG_M),
        ("G", 0x08, FLAG_G),
        ("r", 0x04, registration.FLAG_R),
        ("T", 0x02, FLAG_T),
        ("x", 0x01, registration.FLAG_X),
    ],
)
def test_request_each_flag_bit(name, bit, const):
    """RFC 5944 §3.3: flag octet S B D M G r T x, most significant bit first (T from RFC 3024)."""
    assert const == bit, name
    data = rrq(flags=bit).encode()
    assert data[1] == bit
    assert data[:1] + data[2:] == rrq(flags=0).encode()[:1] + rrq(flags=0).encode()[2:]
    assert registration.decode(data).flags == bit


def test_request_all_flags_set_and_clear():
    """RFC 5944 §3.3: the whole flag octet is carried as is (r and x too, for relaying)."""
    assert rrq(flags=0xFF).encode()[1] == 0xFF
    assert registration.decode(rrq(flags=0xFF).encode()).flags == 0xFF
    assert rrq(flags=0).encode()[1] == 0


@pytest.mark.parametrize(
    ("lifetime", "wire"), [(LIFETIME_DEREGISTER, "0000"), (1, "0001"), (1800, "0708"), (LIFETIME_INFINITE, "ffff")]
)
def test_request_lifetime(lifetime, wire):
    """RFC 5944 §3.3: Lifetime 0 = deregistration, 0xffff = infinity, big-endian at offset 2."""
    data = rrq(lifetime=lifetime).encode()
    assert data[2:4] == bytes.fromhex(wire)
    assert registration.decode(data).lifetime == lifetime


def test_lifetime_constants():
    """RFC 5944 §3.3: deregistration is lifetime zero, infinity is 0xffff."""
    assert LIFETIME_DEREGISTER == 0
    assert LIFETIME_INFINITE == 0xFFFF


@pytest.mark.parametrize(
    "ident", [0, 1, 0xFFFFFFFF, 0x100000000, 0x0123456789ABCDEF, 0xE8FE6F8080000000, 2**64 - 1]
)
def test_request_identification_is_64_bit(ident):
    """RFC 5944 §3.3, §5.7: Identification is a 64-bit big-endian number at offset 16."""
    data = rrq(identification=ident).encode()
    assert data[16:24] == ident.to_bytes(8, "big")
    assert registration.decode(data).identification == ident


def test_request_addresses_at_their_offsets():
    """RFC 5944 §3.3: Home Address at 4, Home Agent at 8, Care-of Address at 12."""
    data = rrq(home_address="1.2.3.4", home_agent="5.6.7.8", care_of_address="9.10.11.12").encode()
    assert data[4:16] == bytes(range(1, 13))


def test_request_zero_home_address_with_nai():
    """RFC 2794 §2: Home Address MAY be 0.0.0.0 when the MN-NAI extension identifies the MN."""
    msg = rrq(home_address="0.0.0.0", extensions=[NAIExtension("mn@example.com")])
    data = msg.encode()
    assert data[4:8] == b"\0\0\0\0"
    assert registration.decode(data) == msg


def test_reply_fixed_part_encodes_byte_exact():
    """RFC 5944 §3.4: Type 3 | Code | Lifetime(16) | Home Address | Home Agent | Identification(64)."""
    data = RRP.encode()
    assert data == bytes.fromhex(RRP_HEX)
    assert len(data) == 20
    assert RRP.encode_fixed() == data


def test_reply_fixed_part_decodes_every_field():
    """RFC 5944 §3.4: each fixed field of a hand-built Registration Reply."""
    msg = registration.decode(bytes.fromhex(RRP_HEX))
    assert isinstance(msg, RegistrationReply)
    assert (msg.code, msg.lifetime, msg.home_address, msg.home_agent) == (0, 600, "10.1.1.10", "10.1.1.1")
    assert msg.identification == 0xE8FE6F8080000000
    assert msg == RRP


@pytest.mark.parametrize("code", [0, 1, 64, 65, 66, 67, 69, 70, 77, 78, 88, 128, 129, 131, 133, 136, 194, 255])
def test_reply_code(code):
    """RFC 5944 §3.4: the Code octet (0/1 accepted, 64-127 FA denials, 128+ HA denials, 194 App. F)."""
    data = rrp(code=code).encode()
    assert data[1] == code
    assert registration.decode(data).code == code


@pytest.mark.parametrize("lifetime", [LIFETIME_DEREGISTER, 300, LIFETIME_INFINITE])
def test_reply_lifetime(lifetime):
    """RFC 5944 §3.4: reply Lifetime, 0 = deregistered, 0xffff = infinity."""
    data = rrp(lifetime=lifetime).encode()
    assert data[2:4] == lifetime.to_bytes(2, "big")
    assert registration.decode(data).lifetime == lifetime


@pytest.mark.parametrize("ident", [0, 0x00000000DEADBEEF, 0xFFFFFFFF00000000, 2**64 - 1])
def test_reply_identification_is_64_bit(ident):
    """RFC 5944 §3.4, §5.7: reply Identification, 64 bits at offset 12 (low 32 bits copied from the RRQ)."""
    data = rrp(identification=ident).encode()
    assert data[12:20] == ident.to_bytes(8, "big")
    assert registration.decode(data).identification == ident


def test_reply_with_extension():
    """RFC 5944 §3.4: extensions follow the 20-byte fixed part."""
    msg = rrp(code=133, extensions=[AuthExtension(MHAE, 0x100, bytes(16))])
    data = msg.encode()
    assert data[20:26] == bytes.fromhex("20 14 00000100")
    back = registration.decode(data)
    assert back == msg
    assert back.extensions[0].offset == 20


@pytest.mark.parametrize("kind", [0, 2, 4, 7, 9, 15, 255])
def test_other_message_types_rejected(kind):
    """RFC 5944 §1.8: only types 1 and 3 are registration messages; others are a WireError at offset 0."""
    data = bytes([kind]) + bytes.fromhex(RRQ_HEX)[1:]
    with pytest.raises(WireError) as err:
        registration.decode(data)
    assert err.value.offset == 0


def test_empty_message_rejected():
    """RFC 5944 §3.3: a message needs at least its Type octet."""
    with pytest.raises(WireError):
        registration.decode(b"")


def test_decode_request_and_reply_check_their_type():
    """RFC 5944 §3.3/§3.4: decode_request wants type 1, decode_reply type 3."""
    with pytest.raises(WireError):
        registration.decode_request(bytes.fromhex(RRP_HEX) + bytes(4))
    with pytest.raises(WireError):
        registration.decode_reply(bytes.fromhex(RRQ_HEX))


def test_short_fixed_parts_rejected():
    """RFC 5944 §3.3/§3.4: 24-byte request and 20-byte reply fixed parts are mandatory."""
    with pytest.raises(WireError, match="needs 24"):
        registration.decode(bytes.fromhex(RRQ_HEX)[:23])
    with pytest.raises(WireError, match="needs 20"):
        registration.decode(bytes.fromhex(RRP_HEX)[:19])


def test_raw_keeps_exact_bytes_and_is_not_compared():
    """RFC 5944 §3.5.1: authenticators cover the bytes as received, so decode keeps them in `raw`."""
    data = rrq(extensions=[AuthExtension(MHAE, 7, b"\xaa" * 16)]).encode()
    msg = registration.decode(data)
    assert msg.raw == data
    assert rrq(extensions=[AuthExtension(MHAE, 7, b"\xaa" * 16)]).raw == b""
    assert msg == rrq(extensions=[AuthExtension(MHAE, 7, b"\xaa" * 16)])


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_decode_accepts_bytes_like_and_leaves_input_alone(wrap):
    """RFC 5944 §3.3: any buffer holding the UDP payload decodes the same; `raw` is immutable bytes."""
    data = rrq(extensions=[NAIExtension("mn@example.com"), AuthExtension(MHAE, 1, bytes(16))]).encode()
    buf = wrap(bytearray(data)) if wrap is memoryview else wrap(data)
    msg = registration.decode(buf)
    assert msg == registration.decode(data)
    assert type(msg.raw) is bytes and msg.raw == data
    assert bytes(buf) == data


def test_find_returns_first_extension_of_type():
    """RFC 5944 §3.6.1.3: messages are searched for a given extension type (e.g. the MHAE)."""
    first = AuthExtension(MHAE, 1, b"1" * 16)
    msg = rrq(extensions=[NAIExtension("a@b"), first, AuthExtension(MHAE, 2, b"2" * 16)])
    assert msg.find(MHAE) is first
    assert msg.find(131).nai == "a@b"
    assert msg.find(33) is None
    assert rrp(extensions=[first]).find(MHAE) is first
    assert rrp().find(MHAE) is None


def test_message_type_reads_the_type_field_alone():
    """RFC 5944 §3.3, §3.4: the first octet says request (1) or reply (3); nothing else is read, so a
    truncated or garbled message still has a type, and an empty datagram has none."""
    assert registration.message_type(RRQ.encode()) == registration.REQUEST == 1
    assert registration.message_type(RRP.encode()) == registration.REPLY == 3
    assert registration.message_type(b"\x03") == registration.REPLY
    assert registration.message_type(bytes.fromhex(RRQ_HEX)[:1] + b"garbage") == registration.REQUEST
    assert registration.message_type(b"") is None
