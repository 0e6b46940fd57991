"""runtime/radius_auth.py: Message-Authenticator (RFC 3579 §3.2) and Response Authenticator (RFC 2865 §3) on
the wire bytes, checked against pyrad's own encoding; a forged, stripped, tampered or truncated reply is refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from mipd.runtime.radius import DICTIONARY
from mipd.runtime.radius_auth import reply_problem, sign_request
from pyrad import packet as rp
from pyrad.dictionary import Dictionary

SECRET = b"lab-shared-secret"
DICT = Dictionary(DICTIONARY)


def request() -> bytes:
    packet = rp.AuthPacket(code=rp.AccessRequest, id=7, secret=SECRET, dict=DICT)
    packet["User-Name"] = "10.1.0.10"
    packet["Message-Authenticator"] = bytes(16)
    return sign_request(packet.RequestPacket(), SECRET)


def reply(req: bytes, secret: bytes = SECRET, with_ma: bool = True, avpair: str = "mobileip:spi#0=spi 300") -> bytes:
    """An Access-Accept as a server computes it: the Message-Authenticator over the packet with the request's
    authenticator, then the Response Authenticator over the whole."""
    attributes = bytes((26, 8 + len(avpair))) + (9).to_bytes(4, "big") + bytes((1, 2 + len(avpair))) + avpair.encode()
    if with_ma:
        attributes += bytes((80, 18)) + bytes(16)
    header = bytes((rp.AccessAccept, req[1])) + (20 + len(attributes)).to_bytes(2, "big")
    if with_ma:
        digest = hmac.new(secret, header + req[4:20] + attributes, hashlib.md5).digest()
        attributes = attributes[:-16] + digest
    authenticator = hashlib.md5(header + req[4:20] + attributes + secret).digest()
    return header + authenticator + attributes


def test_the_request_is_signed_over_the_packet_with_the_attribute_zeroed() -> None:
    raw = request()
    where = raw.index(bytes((80, 18))) + 2
    zeroed = raw[:where] + bytes(16) + raw[where + 16:]
    assert raw[where:where + 16] == hmac.new(SECRET, zeroed, hashlib.md5).digest()
    decoded = rp.AuthPacket(packet=raw, secret=SECRET, dict=DICT)
    assert decoded["User-Name"] == ["10.1.0.10"]


def test_a_genuine_reply_passes() -> None:
    req = request()
    assert reply_problem(reply(req), req[4:20], SECRET) is None


@pytest.mark.parametrize("forge, problem", [
    (lambda req: reply(req, secret=b"not-the-secret"), "bad_authenticator"),
    (lambda req: reply(req, with_ma=False), "no_message_authenticator"),  # BlastRADIUS: MA required
    (lambda req: reply(req)[:-1] + bytes((reply(req)[-1] ^ 1,)), "bad_authenticator"),  # a changed MA
    (lambda req: reply(req).replace(b"spi 300", b"spi 301"), "bad_authenticator"),  # a changed attribute
    (lambda req: reply(req)[:30], "bad_authenticator"),  # shorter than its Length
    (lambda req: b"\x02\x07", "bad_authenticator"),
])
def test_a_forged_or_damaged_reply_is_refused(forge, problem) -> None:
    req = request()
    assert reply_problem(forge(req), req[4:20], SECRET) == problem


def test_a_reply_to_another_request_is_refused() -> None:
    first, second = request(), request()
    assert reply_problem(reply(first), second[4:20], SECRET) == "bad_authenticator"


def test_signing_needs_the_attribute() -> None:
    packet = rp.AuthPacket(code=rp.AccessRequest, id=1, secret=SECRET, dict=DICT)
    packet["User-Name"] = "x"
    with pytest.raises(ValueError, match="no Message-Authenticator"):
        sign_request(packet.RequestPacket(), SECRET)
