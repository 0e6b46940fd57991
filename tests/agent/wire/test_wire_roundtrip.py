"""Property tests: decode(encode(x)) == x for every message type, encode(decode(b)) == b for encoded b."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mipd.ipv4 import checksum
from mipd.wire import (
    AgentAdvertisement,
    AgentSolicitation,
    RegistrationReply,
    RegistrationRequest,
    decode_extensions,
    encode_extensions,
    icmp,
    registration,
)
from wire_helpers import (
    agent_advertisements,
    any_extension,
    extension_lists,
    registration_replies,
    registration_requests,
)

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_offsets(msg: RegistrationRequest | RegistrationReply, data: bytes) -> None:
    pos = len(msg.encode_fixed())
    for ext in msg.extensions:
        assert ext.offset == pos
        assert data[pos] == ext.type
        pos += len(ext.encode())
    assert pos == len(data)


@PROPS
@given(registration_requests)
def test_request_roundtrip(msg):
    """RFC 5944 §3.3, §1.8-1.11: Registration Request with any extensions survives encode/decode."""
    data = msg.encode()
    back = registration.decode(data)
    assert isinstance(back, RegistrationRequest)
    assert back == msg
    assert back.raw == data
    assert back.encode() == data
    _check_offsets(back, data)


@PROPS
@given(registration_replies)
def test_reply_roundtrip(msg):
    """RFC 5944 §3.4, §1.8-1.11: Registration Reply with any extensions survives encode/decode."""
    data = msg.encode()
    back = registration.decode(data)
    assert isinstance(back, RegistrationReply)
    assert back == msg
    assert back.encode() == data
    _check_offsets(back, data)


@PROPS
@given(extension_lists, st.binary(max_size=8))
def test_extension_list_roundtrip(exts, prefix):
    """RFC 5944 §1.9-1.11: encode_extensions / decode_extensions are inverse, at any start offset."""
    data = prefix + encode_extensions(exts)
    back = decode_extensions(data, len(prefix))
    assert back == exts
    assert prefix + encode_extensions(back) == data


@PROPS
@given(any_extension)
def test_single_extension_type_survives(ext):
    """RFC 5944 §1.8: each extension decodes back to the same class (skippable unknowns stay unknown)."""
    (back,) = decode_extensions(ext.encode(), 0)
    assert type(back) is type(ext)
    assert back == ext
    assert back.offset == 0


@PROPS
@given(agent_advertisements())
def test_advertisement_roundtrip(adv):
    """RFC 5944 §2.1-2.1.2, RFC 3012 §2: Agent Advertisement survives encode/decode, checksum valid."""
    data = adv.encode()
    assert checksum(data) == 0
    back = icmp.decode(data)
    assert isinstance(back, AgentAdvertisement)
    assert back == adv
    assert back.encode() == data


def test_solicitation_roundtrip():
    """RFC 5944 §2.2: Agent Solicitation survives encode/decode."""
    data = AgentSolicitation().encode()
    assert icmp.decode(data) == AgentSolicitation()
    assert icmp.decode(data).encode() == data
