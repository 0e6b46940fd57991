"""Bounded decoding (RFC 5944 §3.8.2.1: the work before the authenticator is checked is bounded): at
most `max_extensions` extensions, and a request decoded only through its authorization-enabling
extension with the rest decoded later, giving exactly what one full decode gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mipd.wire import (
    FHAE,
    MHAE,
    AuthExtension,
    GenAuthExtension,
    NAIExtension,
    PadExtension,
    TooManyExtensionsError,
    UnknownExtension,
    UnknownExtensionError,
    WireError,
    registration,
)
from mipd.wire.registration import (
    LARGEST_REQUEST,
    MAX_EXTENSIONS,
    MAX_MESSAGE_SIZE,
    RegistrationReply,
    RegistrationRequest,
    decode_request,
    decode_rest,
)
from wire_helpers import extension_lists, registration_requests

AUTH16 = bytes(range(16))
FIXED = RegistrationRequest(0, 600, "10.1.0.10", "10.1.0.1", "192.0.2.1", 7)


def request(*extensions: object) -> bytes:
    return FIXED.encode_fixed() + b"".join(e.encode() for e in extensions)  # type: ignore[attr-defined]


def test_default_size_admits_the_largest_request_a_node_builds():
    """NAI and challenge of 255 bytes, MN-AAA, FHAE, UDP tunnel request, delivery style: 602 bytes."""
    from mipd.wire import ChallengeExtension, EncapDeliveryExtension, UDPTunnelRequest

    data = request(NAIExtension("n" * 255), ChallengeExtension(b"c" * 255), GenAuthExtension(1, 300, bytes(20)),
                   AuthExtension(FHAE, 301, bytes(20)), UDPTunnelRequest(), EncapDeliveryExtension())
    assert len(data) == LARGEST_REQUEST <= MAX_MESSAGE_SIZE < 1024 + 1
    assert len(registration.decode(data, MAX_EXTENSIONS).extensions) == 6


def test_extension_limit_counts_every_extension_and_raises_a_wire_error():
    ok = request(*[UnknownExtension(200, b"")] * 16)
    assert len(registration.decode(ok, 16).extensions) == 16
    over = request(*[PadExtension()] * 17)
    with pytest.raises(TooManyExtensionsError) as err:
        registration.decode(over, 16)
    assert isinstance(err.value, WireError) and err.value.counter == "discard.too_many_extensions"
    assert err.value.offset == 24 + 16  # where the 17th starts: nothing past it was read
    reply = RegistrationReply(0, 0, "10.1.0.10", "10.1.0.1", 7, [PadExtension()] * 3).encode()
    with pytest.raises(TooManyExtensionsError):
        registration.decode_reply(reply, 2)
    assert len(registration.decode_reply(reply, 3).extensions) == 3


def test_until_auth_stops_after_the_first_mhae_and_decode_rest_reads_the_rest():
    nai, mhae, fhae = NAIExtension("mn@example.net"), AuthExtension(MHAE, 256, AUTH16), AuthExtension(FHAE, 300, AUTH16)
    data = request(nai, mhae, fhae, UnknownExtension(200, b"xy"))
    head = decode_request(data, MAX_EXTENSIONS, until_auth=True)
    assert head.extensions == [nai, mhae] and head.pending == 24 + 16 + 22
    decode_rest(head, MAX_EXTENSIONS)
    assert head.pending == 0 and head == registration.decode(data)
    assert [e.offset for e in head.extensions] == [e.offset for e in registration.decode(data).extensions]


def test_until_auth_leaves_an_undecodable_rest_unread():
    """Garbage after the MHAE is not covered by it: it is not looked at before the MHAE verified."""
    for tail in (b"\x05\x00", b"\x22\xff", b"\x80"):  # unknown type 5, a length past the end, truncated
        data = request(AuthExtension(MHAE, 256, AUTH16)) + tail
        with pytest.raises(WireError):
            registration.decode(data)
        head = decode_request(data, MAX_EXTENSIONS, until_auth=True)
        assert head.pending == len(data) - len(tail)
        with pytest.raises(UnknownExtensionError if tail[0] == 5 else WireError):
            decode_rest(head, MAX_EXTENSIONS)


def test_until_auth_stops_at_a_generalized_authentication_extension_too():
    data = request(GenAuthExtension(1, 300, AUTH16), AuthExtension(FHAE, 301, AUTH16))
    head = decode_request(data, until_auth=True)
    assert [e.type for e in head.extensions] == [36] and head.pending


def test_the_limit_spans_both_halves():
    data = request(*[PadExtension()] * 10, AuthExtension(MHAE, 256, AUTH16), *[PadExtension()] * 10)
    head = decode_request(data, 16, until_auth=True)
    assert len(head.extensions) == 11
    with pytest.raises(TooManyExtensionsError):
        decode_rest(head, 16)


def test_nothing_pending_when_the_mhae_is_last_or_absent():
    assert decode_request(request(AuthExtension(MHAE, 256, AUTH16)), until_auth=True).pending == 0
    assert decode_request(request(NAIExtension("a@b")), until_auth=True).pending == 0


@settings(max_examples=300, deadline=None)
@given(registration_requests, extension_lists)
def test_head_then_rest_equals_one_full_decode(msg: RegistrationRequest, more: list) -> None:
    data = msg.encode() + b"".join(e.encode() for e in more)
    try:
        full = registration.decode(data)
    except WireError:
        full = None
    try:
        head = decode_request(data, until_auth=True)
        decode_rest(head)
    except WireError:
        head = None
    assert (full is None) == (head is None)
    if full is not None:
        assert head == full and [e.offset for e in head.extensions] == [e.offset for e in full.extensions]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 20))
def test_bounded_decoders_raise_only_wire_errors(data: bytes, limit: int) -> None:
    for decode in (lambda: registration.decode(data, limit),
                   lambda: decode_rest(decode_request(data, limit, until_auth=True), limit)):
        try:
            decode()
        except WireError:
            pass
