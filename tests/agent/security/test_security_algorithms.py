"""Authenticator algorithms and the authentication extensions they fill (RFC 5944 §3.5, §5.1;
RFC 2002 §3.5.1; RFC 3012 §6; RFC 2104/2202 HMAC-MD5).

Every expected value is computed in the test itself with hashlib/hmac (security_helpers) or
taken from a published/recorded vector, never by calling the code under test.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mipd.security import (
    ALGORITHMS,
    HMAC_MD5,
    MD5_PREFIX_SUFFIX,
    RFC2002_MD5,
    SecurityAssociation,
    associations,
    sign,
    sign_mn_aaa,
    verify,
)
from mipd.security.algorithms import compute
from mipd.wire import FHAE, GEN_AUTH, MFAE, MHAE, AuthExtension, GenAuthExtension, UnknownExtension, registration
from security_helpers import (
    REF_KEY,
    REF_RRQ,
    REF_SPI,
    auth_at,
    auth_header,
    decoded_auth,
    expected_authenticator,
    expected_mn_aaa,
    flipped,
    reply,
    request,
)

MN_HA_KEY = bytes.fromhex("8f3a61d2c4b7e9005a1c77e3d2b04f96")
MN_FA_KEY = b"mn-fa shared secret"
FA_HA_KEY = bytes.fromhex("00112233445566778899aabbccddeeff0011")
MN_AAA_KEY = b"aaa-key-for-alice"


def mn_ha(algorithm: str = HMAC_MD5, **kw) -> SecurityAssociation:
    return SecurityAssociation("10.1.1.10", 0x100, MN_HA_KEY, algorithm, **kw)


def mn_fa(algorithm: str = HMAC_MD5) -> SecurityAssociation:
    return SecurityAssociation("10.1.1.10", 0x1234, MN_FA_KEY, algorithm)


def fa_ha(algorithm: str = HMAC_MD5) -> SecurityAssociation:
    return SecurityAssociation("192.0.2.5", 0xFFFFFFFF, FA_HA_KEY, algorithm)


# --------------------------------------------------------------------------------------------
# Known-answer vectors


RFC2202_HMAC_MD5 = [
    (b"\x0b" * 16, b"Hi There", "9294727a3638bb1c13f48ef8158bfc9d"),
    (b"Jefe", b"what do ya want for nothing?", "750c783e6ab0b503eaa86e310a5db738"),
    (b"\xaa" * 16, b"\xdd" * 50, "56be34521d144c88dbb8c733f0e8b3f6"),
    (bytes(range(1, 26)), b"\xcd" * 50, "697eaf0aca3a3aea3a75164746ffaa79"),
    (b"\x0c" * 16, b"Test With Truncation", "56461ef2342edc00f9bab995690efd4c"),
    (b"\xaa" * 80, b"Test Using Larger Than Block-Size Key - Hash Key First", "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"),
    (
        b"\xaa" * 80,
        b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data",
        "6f630fad67cda0ee1fb1f562db3aa53e",
    ),
]


@pytest.mark.parametrize(("key", "data", "digest"), RFC2202_HMAC_MD5, ids=[f"case{i}" for i in range(1, 8)])
def test_hmac_md5_rfc2202_vectors(key: bytes, data: bytes, digest: str) -> None:
    """RFC 2202 §2 test cases 1-7: the default algorithm of RFC 5944 §3.5.1/§5.1 is HMAC-MD5 (RFC 2104)."""
    assert compute(HMAC_MD5, key, data).hex() == digest


REFERENCE_VECTORS = {
    HMAC_MD5: "f13382139f210a4faf5f7b4698a93e1e",
    MD5_PREFIX_SUFFIX: "8a7ab295b6251a99a7c03d3a983122d1",
    RFC2002_MD5: "756bdb5561189e023119dabf62d44833",
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_reference_vectors_of_the_research_notes(algorithm: str) -> None:
    """RFC 5944 §3.5.1 / RFC 2002 §3.5.1 over the fixed RRQ of the research notes §2.6
    (key 00..0f, SPI 0x100): the MHAE appended by sign() is byte-exact and verifies."""
    sa = SecurityAssociation("10.1.1.10", REF_SPI, REF_KEY, algorithm)
    signed = sign(sa, REF_RRQ, MHAE)
    assert signed == REF_RRQ + bytes.fromhex("2014 00000100" + REFERENCE_VECTORS[algorithm])
    assert verify(sa, signed, decoded_auth(signed, MHAE)) == algorithm


@pytest.mark.parametrize("key_len", [1, 16, 63, 64, 65, 128, 256])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_keys_around_the_hmac_block_size(algorithm: str, key_len: int) -> None:
    """RFC 2104 §2 (keys longer than the 64-byte block are hashed first, shorter ones padded) and
    RFC 5944 §5.1 (keys of arbitrary binary values): sign() matches the independent value."""
    key = bytes((i * 37 + 11) & 0xFF for i in range(key_len))
    sa = SecurityAssociation("10.1.1.10", 0x100, key, algorithm)
    data = request()
    assert sign(sa, data, MHAE)[len(data) + 6 :] == expected_authenticator(algorithm, key, data, MHAE, 0x100)


@settings(max_examples=60)
@given(st.sampled_from(ALGORITHMS), st.binary(min_size=1, max_size=150), st.lists(st.binary(max_size=300),
       min_size=1, max_size=4))
def test_one_sa_signs_many_messages_like_the_independent_computation(algorithm: str, key: bytes,
                                                                      payloads: list[bytes]) -> None:
    """RFC 5944 §3.5.1 and §5.1: whatever the key and the message, and however often one SA is
    used (its precomputed key state must not carry over between messages), the authenticator
    is the RFC's, and it verifies."""
    sa = SecurityAssociation("10.1.1.10", 0x100, key, algorithm)
    for payload in payloads:
        data = request() + payload
        signed = sign(sa, data, MHAE)
        assert signed[len(data) + 6 :] == expected_authenticator(algorithm, key, data, MHAE, 0x100)
        assert compute(algorithm, key, payload) == _independent_compute(algorithm, key, payload)
        assert verify(sa, signed, auth_at(signed, len(data))) == algorithm


def _independent_compute(algorithm: str, key: bytes, data: bytes) -> bytes:
    if algorithm == HMAC_MD5:
        return hmac.new(key, data, hashlib.md5).digest()
    return hashlib.md5(key + data + key).digest()


def test_compute_refuses_an_unknown_algorithm() -> None:
    """RFC 5944 §3.5.1: the SPI selects the algorithm; one we do not implement is an error, not a guess."""
    with pytest.raises(ValueError, match="unknown authentication algorithm"):
        compute("sha1", b"k", b"data")


# --------------------------------------------------------------------------------------------
# Real messages: MHAE, MFAE, FHAE on requests and replies


def request_mn_to_fa(algorithm: str) -> bytes:
    """RRQ + NAI + MHAE + MFAE, as a mobile node sends it through a foreign agent (§3.6.1.3)."""
    return sign(mn_fa(algorithm), sign(mn_ha(algorithm), request(), MHAE), MFAE)


def request_fa_to_ha(algorithm: str) -> bytes:
    """RRQ + NAI + MHAE + FHAE, as the foreign agent relays it to the home agent (§3.7.2.2)."""
    return sign(fa_ha(algorithm), sign(mn_ha(algorithm), request(), MHAE), FHAE)


def reply_ha_to_fa(algorithm: str) -> bytes:
    """RRP + MHAE + FHAE, as the home agent answers through a foreign agent (§3.8.3.1)."""
    return sign(fa_ha(algorithm), sign(mn_ha(algorithm), reply(), MHAE), FHAE)


def reply_fa_to_mn(algorithm: str) -> bytes:
    """RRP + MHAE + MFAE, as the foreign agent relays the reply to the node (§3.7.3.2)."""
    return sign(mn_fa(algorithm), sign(mn_ha(algorithm), reply(), MHAE), MFAE)


MESSAGES = [request_mn_to_fa, request_fa_to_ha, reply_ha_to_fa, reply_fa_to_mn]
SA_FOR = {MHAE: mn_ha, MFAE: mn_fa, FHAE: fa_ha}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("build", MESSAGES, ids=lambda f: f.__name__)
def test_each_extension_matches_an_independent_computation(build, algorithm: str) -> None:
    """RFC 5944 §3.5.1-3.5.4: each authenticator protects the payload, all prior extensions in
    their entirety and its own Type, Length, SPI (RFC 2002 §3.5.1: Type and Length only)."""
    raw = build(algorithm)
    exts = [e for e in registration.decode(raw).extensions if isinstance(e, AuthExtension)]
    assert [e.type for e in exts][0] == MHAE and len(exts) == 2
    for ext in exts:
        sa = SA_FOR[ext.type](algorithm)
        assert ext.spi == sa.spi
        assert ext.authenticator == expected_authenticator(algorithm, sa.key, raw[: ext.offset], ext.type, sa.spi)
        assert verify(sa, raw, ext) == algorithm


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_an_extension_does_not_verify_with_another_key_or_another_spi_bytes(algorithm: str) -> None:
    """RFC 5944 §3.5.1: the SPI selects the key; the FA's key does not verify the MN's MHAE."""
    raw = request_mn_to_fa(algorithm)
    mhae = decoded_auth(raw, MHAE)
    wrong_key = SecurityAssociation("10.1.1.10", 0x100, MN_FA_KEY, algorithm)
    assert verify(wrong_key, raw, mhae) is None
    assert verify(mn_fa(algorithm), raw, decoded_auth(raw, MFAE)) == algorithm


# --------------------------------------------------------------------------------------------
# What is covered and what is not


def covered_indices(algorithm: str, ext_offset: int) -> list[int]:
    """Bytes an authenticator at `ext_offset` covers (§3.5.1), plus its own authenticator bytes."""
    header = 2 if algorithm == RFC2002_MD5 else 6
    return [*range(ext_offset + header), *range(ext_offset + 6, ext_offset + 22)]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_flipping_any_covered_byte_or_authenticator_byte_fails(algorithm: str) -> None:
    """RFC 5944 §3.5.1: every byte of the payload, of prior extensions, of Type/Length/SPI
    (Type/Length for RFC 2002 §3.5.1) and of the authenticator itself is protected."""
    raw = request_mn_to_fa(algorithm)
    off = decoded_auth(raw, MHAE).offset
    sa = mn_ha(algorithm)
    assert verify(sa, raw, auth_at(raw, off)) == algorithm
    for index in covered_indices(algorithm, off):
        for mask in (0x01, 0x80, 0xFF):
            tampered = flipped(raw, index, mask)
            assert verify(sa, tampered, auth_at(tampered, off)) is None, (index, mask)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bytes_after_the_extension_are_not_covered(algorithm: str) -> None:
    """RFC 5944 §3.5.2: the authorization-enabling extension marks the end of the data it
    authenticates; the MFAE and anything else after the MHAE can change without breaking it."""
    raw = request_mn_to_fa(algorithm) + UnknownExtension(200, b"later").encode()
    off = decoded_auth(raw, MHAE).offset
    for index in range(off + 22, len(raw)):
        tampered = flipped(raw, index)
        assert verify(mn_ha(algorithm), tampered, auth_at(tampered, off)) == algorithm, index


@pytest.mark.parametrize(("algorithm", "spi_covered"), [(HMAC_MD5, True), (MD5_PREFIX_SUFFIX, True),
                                                         (RFC2002_MD5, False)])
def test_spi_is_covered_except_by_rfc2002_md5(algorithm: str, spi_covered: bool) -> None:
    """RFC 5944 §3.5.1 covers the SPI; RFC 2002 §3.5.1 covers only Type and Length."""
    raw = sign(mn_ha(algorithm), request(), MHAE)
    off = decoded_auth(raw, MHAE).offset
    for index in range(off + 2, off + 6):
        tampered = flipped(raw, index)
        result = verify(mn_ha(algorithm), tampered, auth_at(tampered, off))
        assert (result is None) == spi_covered, index


# --------------------------------------------------------------------------------------------
# MN-AAA (RFC 3012 §6)


def aaa_sa(algorithm: str = HMAC_MD5) -> SecurityAssociation:
    return SecurityAssociation("alice@example.net", 0x200, MN_AAA_KEY, algorithm)


def request_with_mn_aaa(algorithm: str = HMAC_MD5) -> bytes:
    """RRQ + NAI + MHAE + MN-AAA: RFC 3012 §6 puts the MHAE before the MN-AAA extension."""
    return sign_mn_aaa(aaa_sa(algorithm), sign(mn_ha(), request(), MHAE))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_mn_aaa_is_hmac_md5_over_preceding_data_and_its_header(algorithm: str) -> None:
    """RFC 3012 §6: HMAC-MD5(preceding Mobile IP data || Type, Subtype, Length, SPI), whatever
    algorithm the SA names for MHAE/MFAE/FHAE use; RFC 3012 §5 long format, subtype 1."""
    raw = request_with_mn_aaa(algorithm)
    ext = decoded_auth(raw, GEN_AUTH)
    assert isinstance(ext, GenAuthExtension)
    assert raw[ext.offset : ext.offset + 8] == bytes.fromhex("24 01 0014 00000200")
    assert ext.authenticator == expected_mn_aaa(MN_AAA_KEY, raw[: ext.offset], 0x200)
    assert verify(aaa_sa(algorithm), raw, ext) == HMAC_MD5
    assert verify(mn_ha(), raw, decoded_auth(raw, MHAE)) == HMAC_MD5


def test_mn_aaa_flipping_any_covered_byte_fails() -> None:
    """RFC 3012 §6: the preceding data (including the whole MHAE), Type, Subtype, Length, SPI
    and the authenticator itself are all protected."""
    raw = request_with_mn_aaa()
    ext = decoded_auth(raw, GEN_AUTH)
    for index in range(len(raw)):
        tampered = flipped(raw, index)
        forged = GenAuthExtension(tampered[ext.offset + 1], ext.spi, tampered[ext.offset + 8 :], ext.offset)
        assert verify(aaa_sa(), tampered, forged) is None, index


def test_mn_aaa_with_another_subtype_is_not_accepted() -> None:
    """RFC 3012 §5: the subtype says how the authenticator is computed; only subtype 1 (MN-AAA,
    §6) is defined, so a correctly keyed HMAC under subtype 2 is not an MN-AAA authenticator."""
    data = request()
    header = bytes.fromhex("24 02 0014 00000200")
    forged = data + header + hmac.new(MN_AAA_KEY, data + header, "md5").digest()
    assert verify(aaa_sa(), forged, decoded_auth(forged, GEN_AUTH)) is None


# --------------------------------------------------------------------------------------------
# Per-SA fallback to the other algorithms


PAIRS = [(a, b) for a in ALGORITHMS for b in ALGORITHMS if a != b]


@pytest.mark.parametrize(("configured", "used"), PAIRS)
def test_other_algorithm_fails_without_fallback(configured: str, used: str) -> None:
    """RFC 5944 §3.5.1: the SPI selects one algorithm; by default nothing else is tried."""
    raw = sign(mn_ha(used), request(), MHAE)
    assert verify(mn_ha(configured), raw, decoded_auth(raw, MHAE)) is None


@pytest.mark.parametrize(("configured", "used"), PAIRS)
def test_fallback_verifies_and_names_the_other_algorithm(configured: str, used: str) -> None:
    """RFC 5944 §5.1 (keyed MD5 kept for backward compatibility): with fallback on, an
    authenticator made with another of our algorithms verifies and verify() says which one."""
    raw = sign(mn_ha(used), request(), MHAE)
    assert verify(mn_ha(configured, fallback=True), raw, decoded_auth(raw, MHAE)) == used


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_fallback_prefers_the_configured_algorithm_and_needs_the_key(algorithm: str) -> None:
    """RFC 5944 §3.5.1: fallback changes the algorithm tried, never the key the SPI selects."""
    raw = sign(mn_ha(algorithm), request(), MHAE)
    ext = decoded_auth(raw, MHAE)
    assert verify(mn_ha(algorithm, fallback=True), raw, ext) == algorithm
    other_key = SecurityAssociation("10.1.1.10", 0x100, MN_FA_KEY, algorithm, fallback=True)
    assert verify(other_key, raw, ext) is None


# --------------------------------------------------------------------------------------------
# Malformed authenticators and the constant-time comparison


WRONG_LENGTHS = [0, 1, 12, 15, 17, 20, 32, 251]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("length", WRONG_LENGTHS)
def test_wrong_length_authenticator_from_the_wire_returns_none(algorithm: str, length: int) -> None:
    """RFC 5944 §3.5.2: Length is 4 + authenticator length; an authenticator of another size
    than the algorithm's 128 bits never verifies (even a truncated right one), and never raises."""
    data = request()
    right = expected_authenticator(algorithm, MN_HA_KEY, data, MHAE, 0x100)
    auth = (right * 16)[:length]
    raw = data + auth_header(MHAE, 0x100, length) + auth
    ext = decoded_auth(raw, MHAE)
    assert ext.authenticator == auth
    assert verify(mn_ha(algorithm, fallback=True), raw, ext) is None


@pytest.mark.parametrize("length", WRONG_LENGTHS)
def test_wrong_length_mn_aaa_authenticator_returns_none(length: int) -> None:
    """RFC 3012 §5-6: an MN-AAA authenticator that is not 128 bits never verifies, never raises."""
    data = request()
    header = bytes.fromhex("2401") + (4 + length).to_bytes(2, "big") + (0x200).to_bytes(4, "big")
    right = hmac.new(MN_AAA_KEY, data + header, "md5").digest()
    raw = data + header + (right * 16)[:length]
    assert verify(aaa_sa(), raw, decoded_auth(raw, GEN_AUTH)) is None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_extension_not_from_a_decoded_message_does_not_verify(algorithm: str) -> None:
    """RFC 5944 §3.5.1: what is covered is defined by the extension's place in the received
    message; an extension built locally (no offset) has none, so it never verifies, whatever
    prefix of the message its authenticator was computed over."""
    raw = sign(mn_ha(algorithm), request(), MHAE)
    ext = decoded_auth(raw, MHAE)
    assert verify(mn_ha(algorithm), raw, AuthExtension(MHAE, ext.spi, ext.authenticator)) is None
    for k in range(8):
        prefix = raw[:k]
        forged = (hmac.new(MN_HA_KEY, prefix, "md5").digest() if algorithm == HMAC_MD5
                  else hashlib.md5(MN_HA_KEY + prefix + MN_HA_KEY).digest())
        assert verify(mn_ha(algorithm), raw, AuthExtension(MHAE, 0x100, forged)) is None, k
        aaa = hmac.new(MN_AAA_KEY, prefix, "md5").digest()
        assert verify(aaa_sa(), raw, GenAuthExtension(1, 0x200, aaa)) is None, k


def test_comparison_is_hmac_compare_digest_on_every_path(monkeypatch) -> None:
    """RFC 5944 §5.2 (authentication is what stops remote redirection): authenticators are
    compared in constant time with hmac.compare_digest, for MHAE, fallback and MN-AAA alike."""
    assert associations._compare is hmac.compare_digest
    calls: list[int] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append(len(b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(associations, "_compare", spy)
    raw = sign(mn_ha(RFC2002_MD5), request(), MHAE)
    assert verify(mn_ha(HMAC_MD5, fallback=True), raw, decoded_auth(raw, MHAE)) == RFC2002_MD5
    assert len(calls) == 3  # hmac-md5 failed, md5-prefix-suffix failed, rfc2002-md5 matched
    aaa = request_with_mn_aaa()
    assert verify(aaa_sa(), aaa, decoded_auth(aaa, GEN_AUTH)) == HMAC_MD5
    assert len(calls) == 4
