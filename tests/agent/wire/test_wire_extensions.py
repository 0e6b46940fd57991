"""Registration extensions: every known type byte-exact, skippable/non-skippable rules, offsets."""

from __future__ import annotations

import pytest
from mipd.wire import (
    ENCAP_DELIVERY,
    FHAE,
    GEN_AUTH,
    GEN_AUTH_MN_AAA,
    MFAE,
    MHAE,
    MN_FA_CHALLENGE,
    MN_NAI,
    UDP_TUNNEL_REPLY,
    UDP_TUNNEL_REQUEST,
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
    UnknownExtensionError,
    WireError,
    decode_extensions,
    encode_extensions,
    registration,
)

FIXED_RRQ = bytes.fromhex("01 00 0708 0a01010a 0a010101 c0000205 0000000000000001")  # 24 bytes
FIXED_RRP = bytes.fromhex("03 00 0708 0a01010a 0a010101 0000000000000001")  # 20 bytes
AUTH16 = bytes(range(16))


def rrq(*extensions) -> RegistrationRequest:
    return RegistrationRequest(0, 1800, "10.1.1.10", "10.1.1.1", "192.0.2.5", 1, list(extensions))


def rrp(*extensions) -> RegistrationReply:
    return RegistrationReply(0, 1800, "10.1.1.10", "10.1.1.1", 1, list(extensions))


def decode_rrq_ext(hexstr: str):
    """Decode FIXED_RRQ + the hand-built extension bytes; return the message's extension list."""
    return registration.decode(FIXED_RRQ + bytes.fromhex(hexstr)).extensions


def test_extension_type_numbers():
    """RFC 5944 §1.8/§3.5, RFC 3012 §3/§5, RFC 3024 §3.3, RFC 2794 §2, RFC 3519 §3.1-3.2: type numbers."""
    assert (MHAE, MFAE, FHAE, GEN_AUTH, GEN_AUTH_MN_AAA) == (32, 33, 34, 36, 1)
    assert (ENCAP_DELIVERY, MN_NAI, MN_FA_CHALLENGE) == (130, 131, 132)
    assert (UDP_TUNNEL_REPLY, UDP_TUNNEL_REQUEST) == (44, 144)


# --- authentication extensions --------------------------------------------------------------


@pytest.mark.parametrize(("ext_type", "type_hex"), [(MHAE, "20"), (MFAE, "21"), (FHAE, "22")])
def test_auth_extension_byte_exact(ext_type, type_hex):
    """RFC 5944 §3.5.2-3.5.4: Type | Length = 4 + authenticator | SPI(32) | Authenticator."""
    wire = type_hex + "14 00000100" + AUTH16.hex()
    ext = AuthExtension(ext_type, 0x100, AUTH16)
    assert ext.encode() == bytes.fromhex(wire)
    (back,) = decode_rrq_ext(wire)
    assert back == ext
    assert (back.type, back.spi, back.authenticator, back.offset) == (ext_type, 0x100, AUTH16, 24)


@pytest.mark.parametrize("auth_len", [0, 1, 12, 16, 20, 251])
def test_auth_extension_any_authenticator_length(auth_len):
    """RFC 5944 §3.5.2: the authenticator length follows from Length - 4 (any algorithm, §3.5.1)."""
    ext = AuthExtension(MFAE, 0xFFFFFFFF, b"\x5a" * auth_len)
    data = ext.encode()
    assert data[1] == 4 + auth_len
    assert data[2:6] == b"\xff\xff\xff\xff"
    assert decode_rrq_ext(data.hex()) == [ext]


@pytest.mark.parametrize("length", [0, 1, 2, 3])
def test_auth_extension_shorter_than_spi_rejected(length):
    """RFC 5944 §3.5.2: Length covers at least the 4-byte SPI."""
    with pytest.raises(WireError) as err:
        decode_rrq_ext(f"20 {length:02x}" + "00" * length)
    assert err.value.offset == 25


# --- generalized authentication (long format) -----------------------------------------------


def test_generalized_auth_mn_aaa_byte_exact():
    """RFC 3012 §5-6, RFC 5944 §1.10: Type 36 | Subtype 1 | Length(16) = 4 + auth | SPI | Authenticator."""
    wire = "24 01 0014 00000200" + AUTH16.hex()
    ext = GenAuthExtension(GEN_AUTH_MN_AAA, 0x200, AUTH16)
    assert ext.type == GEN_AUTH
    assert ext.encode() == bytes.fromhex(wire)
    (back,) = decode_rrq_ext(wire)
    assert back == ext and back.offset == 24


def test_generalized_auth_long_length_over_255():
    """RFC 5944 §1.10: the long format's 16-bit Length lets the data exceed 255 bytes."""
    ext = GenAuthExtension(GEN_AUTH_MN_AAA, 7, bytes(300))
    data = ext.encode()
    assert data[:4] == bytes.fromhex("24 01 0130")
    assert len(data) == 4 + 304
    assert decode_rrq_ext(data.hex() + "20 04 00000009") == [ext, AuthExtension(MHAE, 9, b"")]


@pytest.mark.parametrize("wire", ["24", "24 01", "24 01 00", "24 01 0004 0000", "24 01 0003 00000000",
                                  "24 01 0015 00000200" + "00" * 16])
def test_generalized_auth_truncated_or_bad_length(wire):
    """RFC 3012 §5: Length >= 4 (the SPI) and the declared data must be present."""
    with pytest.raises(WireError):
        decode_rrq_ext(wire)


# --- NAI, challenge, encapsulating delivery ---------------------------------------------------


def test_nai_extension_byte_exact():
    """RFC 2794 §2: Type 131 | Length = NAI bytes | MN-NAI."""
    wire = "83 0e" + b"mn@example.com".hex()
    assert NAIExtension("mn@example.com").encode() == bytes.fromhex(wire)
    (back,) = decode_rrq_ext(wire)
    assert back == NAIExtension("mn@example.com") and back.offset == 24 and back.type == MN_NAI


def test_nai_extension_utf8_and_empty():
    """RFC 2794 §2: Length counts bytes, not characters."""
    ext = NAIExtension("jörg@exämple.org")
    assert ext.encode()[1] == len("jörg@exämple.org".encode())
    assert decode_rrq_ext(ext.encode().hex()) == [ext]
    assert decode_rrq_ext("83 00") == [NAIExtension("")]


def test_nai_extension_invalid_utf8_rejected():
    """RFC 2794 §2: the MN-NAI is a text string; undecodable bytes are a WireError at the data offset."""
    with pytest.raises(WireError) as err:
        decode_rrq_ext("83 02 ff fe")
    assert err.value.offset == 26


def test_nai_longer_than_255_bytes_cannot_be_encoded():
    """RFC 2794 §2: an 8-bit Length limits the NAI to 255 bytes."""
    assert len(NAIExtension("a" * 255).encode()) == 257
    with pytest.raises(ValueError):
        NAIExtension("a" * 256).encode()


def test_mn_fa_challenge_extension_byte_exact():
    """RFC 3012 §4: Type 132 | Length | Challenge (copied from the advertisement)."""
    wire = "84 04 0a0b0c0d"
    assert ChallengeExtension(bytes.fromhex("0a0b0c0d")).encode() == bytes.fromhex(wire)
    (back,) = decode_rrq_ext(wire)
    assert back == ChallengeExtension(bytes.fromhex("0a0b0c0d")) and back.type == MN_FA_CHALLENGE


def test_encapsulating_delivery_style_byte_exact():
    """RFC 3024 §3.3: Type 130, Length 0."""
    assert EncapDeliveryExtension().encode() == b"\x82\x00"
    (back,) = decode_rrq_ext("82 00")
    assert back == EncapDeliveryExtension() and back.type == ENCAP_DELIVERY and back.offset == 24


def test_encapsulating_delivery_style_nonzero_length_rejected():
    """RFC 3024 §3.3: Length is 0."""
    with pytest.raises(WireError) as err:
        decode_rrq_ext("82 01 00")
    assert err.value.offset == 25


# --- UDP tunnelling (RFC 3519) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("force", "via_fa", "flags"), [(False, False, "00"), (True, False, "80"), (False, True, "40"), (True, True, "c0")]
)
def test_udp_tunnel_request_byte_exact(force, via_fa, flags):
    """RFC 3519 §3.1: 144 | 6 | Sub-Type 0 | Reserved 1 | F R Reserved 2 | Encapsulation | Reserved 3."""
    wire = f"90 06 00 00 {flags} 04 0000"
    ext = UDPTunnelRequest(4, force, via_fa)
    assert ext.encode() == bytes.fromhex(wire)
    (back,) = decode_rrq_ext(wire)
    assert back == ext and back.type == UDP_TUNNEL_REQUEST and back.offset == 24


@pytest.mark.parametrize("encap", [0, 4, 47, 55])
def test_udp_tunnel_request_encapsulation(encap):
    """RFC 3519 §3.1.4: Encapsulation is an IP protocol number (0 = follow M/G bits)."""
    assert decode_rrq_ext(UDPTunnelRequest(encap).encode().hex()) == [UDPTunnelRequest(encap)]


def test_udp_tunnel_request_reserved_1_and_2_ignored():
    """RFC 3519 §3.1.3: Reserved 1 and Reserved 2 MUST be ignored on reception."""
    assert decode_rrq_ext("90 06 00 ff bf 04 0000") == [UDPTunnelRequest(4, True, False)]


@pytest.mark.parametrize("reserved3", ["0001", "8000", "ffff"])
def test_udp_tunnel_request_reserved_3_nonzero_kept_as_unknown(reserved3):
    """RFC 3519 §3.1.3: Reserved 3 != 0 -> extension not understood, skipped (kept byte-exact)."""
    wire = f"90 06 00 00 80 04 {reserved3}" + "20 04 00000001"
    msg = registration.decode(FIXED_RRQ + bytes.fromhex(wire))
    assert msg.extensions == [UnknownExtension(144, bytes.fromhex(f"00 00 80 04 {reserved3}")),
                              AuthExtension(MHAE, 1, b"")]
    assert msg.encode() == FIXED_RRQ + bytes.fromhex(wire)


def test_udp_tunnel_request_unknown_subtype_kept_as_unknown():
    """RFC 3519 §3.1 (only Sub-Type 0 defined), RFC 5944 §1.8/§1.11: skippable, so skipped and kept."""
    wire = "90 06 01 00 80 04 0000"
    assert decode_rrq_ext(wire) == [UnknownExtension(144, bytes.fromhex("01 00 80 04 0000"))]


@pytest.mark.parametrize("body", ["", "00 00 80 04", "00 00 80 04 0000 00"])
def test_udp_tunnel_request_other_length_kept_as_unknown(body):
    """RFC 3519 §3.1, RFC 5944 §1.8: a 144 that is not Length 6 is not understood; skippable."""
    data = bytes.fromhex(body)
    wire = bytes([144, len(data)]) + data
    msg = registration.decode(FIXED_RRQ + wire)
    assert msg.extensions == [UnknownExtension(144, data)]
    assert msg.encode() == FIXED_RRQ + wire


@pytest.mark.parametrize(
    ("code", "keepalive", "forced", "wire"),
    [(0, 110, True, "2c 06 00 00 8000 006e"), (64, 0, False, "2c 06 00 40 0000 0000"),
     (63, 0xFFFF, False, "2c 06 00 3f 0000 ffff")],
)
def test_udp_tunnel_reply_byte_exact(code, keepalive, forced, wire):
    """RFC 3519 §3.2: 44 | 6 | Sub-Type 0 | Reply Code | F Reserved(15) | Keepalive Interval."""
    ext = UDPTunnelReply(code, keepalive, forced)
    assert ext.encode() == bytes.fromhex(wire)
    msg = registration.decode(FIXED_RRP + bytes.fromhex(wire))
    assert msg.extensions == [ext]
    assert msg.extensions[0].offset == 20 and msg.extensions[0].type == UDP_TUNNEL_REPLY


def test_udp_tunnel_reply_reserved_ignored():
    """RFC 3519 §3.2: Reserved MUST be ignored on reception."""
    (back,) = registration.decode(FIXED_RRP + bytes.fromhex("2c 06 00 00 7fff 0010")).extensions
    assert back == UDPTunnelReply(0, 16, False)


@pytest.mark.parametrize("body", ["", "00 00 8000", "00 00 8000 006e 00"])
def test_udp_tunnel_reply_bad_length_rejected(body):
    """RFC 3519 §3.2: Length is 6; the reply is non-skippable so a malformed one voids the message."""
    data = bytes.fromhex(body)
    with pytest.raises(WireError):
        registration.decode(FIXED_RRP + bytes([44, len(data)]) + data)


def test_udp_tunnel_reply_unknown_subtype_is_unrecognised():
    """RFC 3519 §3.2 (Sub-Type 0 only), RFC 5944 §1.8/§1.11: non-skippable, so the message is discarded."""
    with pytest.raises(UnknownExtensionError) as err:
        registration.decode(FIXED_RRP + bytes.fromhex("2c 06 01 00 0000 0000"))
    assert (err.value.ext_type, err.value.offset) == (44, 20)


# --- padding ---------------------------------------------------------------------------------


def test_pad_extension_is_one_byte():
    """RFC 5944 §1.8: type 0 is one-byte padding, with neither Length nor Data."""
    assert PadExtension().encode() == b"\x00"
    assert PadExtension().type == 0


def test_pads_anywhere_decode_with_offsets():
    """RFC 5944 §1.8: pads between, before and after extensions are single bytes."""
    wire = "00 83 01 61 00 00 82 00 00"
    exts = decode_rrq_ext(wire)
    assert exts == [PadExtension(), NAIExtension("a"), PadExtension(), PadExtension(),
                    EncapDeliveryExtension(), PadExtension()]
    assert [e.offset for e in exts] == [24, 25, 28, 29, 30, 32]
    assert rrq(*exts).encode() == FIXED_RRQ + bytes.fromhex(wire)


# --- skippability ------------------------------------------------------------------------------


@pytest.mark.parametrize("ext_type", [1, 2, 16, 31, 35, 37, 38, 45, 46, 47, 127])
def test_unknown_non_skippable_type_voids_message(ext_type):
    """RFC 5944 §1.8: an unrecognised extension 0-127 -> the whole message is silently discarded."""
    wire = FIXED_RRQ + bytes.fromhex("83 01 61") + bytes([ext_type, 2, 0xAB, 0xCD])
    with pytest.raises(UnknownExtensionError) as err:
        registration.decode(wire)
    assert isinstance(err.value, WireError)
    assert (err.value.ext_type, err.value.offset) == (ext_type, 27)
    assert str(ext_type) in str(err.value)


def test_unknown_non_skippable_type_in_reply():
    """RFC 5944 §1.8: the same rule applies to Registration Replies."""
    with pytest.raises(UnknownExtensionError) as err:
        registration.decode(FIXED_RRP + bytes([100, 0]))
    assert (err.value.ext_type, err.value.offset) == (100, 20)


@pytest.mark.parametrize("ext_type", [128, 129, 133, 134, 136, 137, 139, 145, 200, 254, 255])
def test_unknown_skippable_type_kept_byte_exact(ext_type):
    """RFC 5944 §1.8: an unrecognised 128-255 is skipped by its Length and processing continues."""
    tail = bytes([ext_type, 5]) + b"hello" + bytes.fromhex("20 14 00000100") + AUTH16
    msg = registration.decode(FIXED_RRQ + tail)
    assert msg.extensions == [UnknownExtension(ext_type, b"hello"), AuthExtension(MHAE, 0x100, AUTH16)]
    assert [e.offset for e in msg.extensions] == [24, 31]
    assert msg.encode() == FIXED_RRQ + tail
    assert encode_extensions(msg.extensions) == tail


def test_unknown_skippable_empty_data():
    """RFC 5944 §1.9: Data may be zero bytes long."""
    assert decode_rrq_ext("c8 00") == [UnknownExtension(200, b"")]
    assert UnknownExtension(200, b"").encode() == b"\xc8\x00"


# --- framing errors and offsets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "offset"),
    [("20", 24), ("83", 24), ("c8", 24), ("83 05 6162", 25), ("c8 ff", 25), ("83 01 61 20 14 00000100", 28)],
)
def test_truncated_extensions(wire, offset):
    """RFC 5944 §1.9: Type and Length must be present and Length must fit in the message."""
    with pytest.raises(WireError) as err:
        decode_rrq_ext(wire)
    assert not isinstance(err.value, UnknownExtensionError)
    assert err.value.offset == offset


def test_offsets_recorded_for_every_extension():
    """RFC 5944 §3.5.1: the authenticator covers everything before the extension, so offsets are kept."""
    exts = [NAIExtension("mn@example.com"), UDPTunnelRequest(4, True), AuthExtension(MHAE, 0x100, AUTH16),
            EncapDeliveryExtension(), ChallengeExtension(b"abcd"), AuthExtension(MFAE, 0x101, AUTH16),
            GenAuthExtension(1, 0x200, AUTH16), PadExtension(), UnknownExtension(200, b"xy"),
            AuthExtension(FHAE, 0x102, AUTH16)]
    assert all(e.offset == -1 for e in exts)
    data = rrq(*exts).encode()
    back = registration.decode(data)
    assert back.extensions == exts
    expected, pos = [], 24
    for e in exts:
        expected.append(pos)
        pos += len(e.encode())
    assert pos == len(data)
    assert [e.offset for e in back.extensions] == expected
    for e in back.extensions:
        assert data[e.offset] == e.type
        assert data[e.offset : e.offset + len(e.encode())] == e.encode()


def test_offsets_compare_false():
    """RFC 5944 §3.5: equality is about content; where an extension sat is bookkeeping."""
    assert AuthExtension(MHAE, 1, b"x", offset=50) == AuthExtension(MHAE, 1, b"x")
    assert NAIExtension("a", 3) == NAIExtension("a")


def test_decode_extensions_from_start_offset():
    """RFC 5944 §1.9: decode_extensions reads data[start:] and reports offsets relative to data."""
    data = b"junk" + bytes.fromhex("83 01 61 00")
    exts = decode_extensions(data, 4)
    assert exts == [NAIExtension("a"), PadExtension()]
    assert [e.offset for e in exts] == [4, 7]
    assert decode_extensions(data, len(data)) == []
    assert decode_extensions(bytearray(data), 4) == exts
    assert decode_extensions(memoryview(data), 4) == exts


def test_encode_extensions_concatenates_in_order():
    """RFC 5944 §3.6.1.3: extension order is significant and kept as given."""
    exts = [AuthExtension(MHAE, 1, b""), NAIExtension("a")]
    assert encode_extensions(exts) == bytes.fromhex("20 04 00000001 83 01 61")
    assert encode_extensions([]) == b""
