"""Shared helpers for the security layer tests: realistic registration messages built with the
wire codec, and authenticators computed independently of `mipd.security` (straight from
hashlib/hmac and the RFC text), so that a test never checks our code against itself.

Imported by the test modules as `security_helpers` (pytest puts this directory on sys.path).
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from mipd.wire import (
    AuthExtension,
    GenAuthExtension,
    NAIExtension,
    RegistrationReply,
    RegistrationRequest,
    registration,
)

HOME_ADDRESS = "10.1.1.10"
HOME_AGENT = "10.1.1.1"
CARE_OF = "192.0.2.5"
NAI = "alice@example.net"

# Research notes §2.6: key 00..0f, SPI 0x100, flags D|G|T, lifetime 1800, HoA 10.1.1.10,
# HA 10.1.1.1, CoA 192.0.2.5, Identification e8fe6f80.80000000.
REF_KEY = bytes(range(16))
REF_SPI = 0x100
REF_RRQ = bytes.fromhex("012a07080a01010a0a010101c0000205e8fe6f8080000000")

# Keys of the kinds operators configure: random binary, all-zero, ASCII pass phrases.
SAMPLE_KEYS = (
    bytes.fromhex("8f3a61d2c4b7e9005a1c77e3d2b04f96"),
    bytes(range(16)),
    b"\x00" * 16,
    b"\xff" * 20,
    b"correct horse battery staple",
    b"s3cr3t-Mob1le-IP",
    bytes.fromhex("0123456789abcdef0123456789abcdef0123456789abcdef"),
)


def request(identification: int = 0xE8FE6F8080000000, *, lifetime: int = 1800, nai: bool = True) -> bytes:
    """An encoded Registration Request (RFC 5944 §3.3), optionally with an MN-NAI (RFC 2794)."""
    exts = [NAIExtension(NAI)] if nai else []
    return RegistrationRequest(0x2A, lifetime, HOME_ADDRESS, HOME_AGENT, CARE_OF, identification, exts).encode()


def reply(code: int = 0, identification: int = 0xE8FE6F8080000000) -> bytes:
    """An encoded Registration Reply (RFC 5944 §3.4)."""
    return RegistrationReply(code, 1800, HOME_ADDRESS, HOME_AGENT, identification).encode()


def auth_header(ext_type: int, spi: int, auth_len: int = 16) -> bytes:
    """Type, Length, SPI of an MHAE/MFAE/FHAE (RFC 5944 §3.5.2-3.5.4)."""
    return struct.pack("!BBI", ext_type, 4 + auth_len, spi)


def expected_authenticator(algorithm: str, key: bytes, preceding: bytes, ext_type: int, spi: int) -> bytes:
    """The authenticator an extension appended to `preceding` must carry, from the RFC text.

    hmac-md5: RFC 5944 §3.5.1 (payload, prior extensions, Type, Length, SPI; RFC 2104 HMAC).
    md5-prefix-suffix: MD5(key || the same data || key) (RFC 5944 §5.1 keyed MD5, SPI included).
    rfc2002-md5: MD5(key || data up to Type and Length || key) (RFC 2002 §3.5.1, no SPI).
    """
    header = auth_header(ext_type, spi)
    if algorithm == "hmac-md5":
        return hmac.new(key, preceding + header, hashlib.md5).digest()
    if algorithm == "md5-prefix-suffix":
        return hashlib.md5(key + preceding + header + key).digest()
    if algorithm == "rfc2002-md5":
        return hashlib.md5(key + preceding + header[:2] + key).digest()
    raise AssertionError(f"no independent computation for {algorithm}")


def expected_mn_aaa(key: bytes, preceding: bytes, spi: int) -> bytes:
    """MN-AAA authenticator (RFC 3012 §6): HMAC-MD5(preceding || Type 36, Subtype 1, Length, SPI)."""
    return hmac.new(key, preceding + struct.pack("!BBHI", 36, 1, 20, spi), hashlib.md5).digest()


def decoded_auth(raw: bytes, ext_type: int) -> AuthExtension | GenAuthExtension:
    """The last extension of `ext_type` in the decoded message `raw` (with its offset)."""
    found = [e for e in registration.decode(raw).extensions if e.type == ext_type]
    assert found, f"no extension {ext_type} in message"
    ext = found[-1]
    assert isinstance(ext, AuthExtension | GenAuthExtension)
    return ext


def auth_at(raw: bytes, offset: int) -> AuthExtension:
    """The short-format authentication extension at `offset` read straight from the bytes (even
    when they no longer decode), for tests that tamper with a message."""
    length = raw[offset + 1]
    return AuthExtension(raw[offset], int.from_bytes(raw[offset + 2 : offset + 6], "big"),
                         raw[offset + 6 : offset + 2 + length], offset)


def flipped(raw: bytes, index: int, mask: int = 0xFF) -> bytes:
    """`raw` with the byte at `index` XORed with `mask`."""
    out = bytearray(raw)
    out[index] ^= mask
    return bytes(out)

