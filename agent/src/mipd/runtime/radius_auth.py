"""RADIUS packet authentication on the wire bytes: Message-Authenticator (RFC 3579 §3.2) and the
Response Authenticator (RFC 2865 §3), so that mipd signs and checks them itself with any pyrad
(Debian 12 ships pyrad 2.1, which has neither `add_message_authenticator` nor `enforce_ma`).

A request carries a Message-Authenticator: HMAC-MD5 keyed with the shared secret over the whole
packet with the attribute's value zeroed. A reply counts only when its Response Authenticator is
MD5(Code | Identifier | Length | Request Authenticator | Attributes | Secret) and it carries a
Message-Authenticator computed the same way over the packet with the Request Authenticator in place
of its own (the BlastRADIUS fix, CVE-2024-3596). Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

MESSAGE_AUTHENTICATOR = 80  # attribute type (RFC 3579 §3.2)
HEADER = 20  # code, identifier, length, authenticator
_ZERO = bytes(16)


def _attribute_offset(packet: bytes, attribute: int) -> int | None:
    """Where the value of the first `attribute` of `packet` starts (None: absent, or attributes malformed)."""
    offset, end = HEADER, min(len(packet), int.from_bytes(packet[2:4], "big"))
    while offset + 2 <= end:
        kind, length = packet[offset], packet[offset + 1]
        if length < 2 or offset + length > end:
            return None
        if kind == attribute:
            return offset + 2 if length == 18 else None
        offset += length
    return None


def sign_request(packet: bytes, secret: bytes) -> bytes:
    """`packet` (an encoded request holding a zeroed Message-Authenticator) with that attribute's value set."""
    where = _attribute_offset(packet, MESSAGE_AUTHENTICATOR)
    if where is None:
        raise ValueError("the request has no Message-Authenticator attribute to sign")
    zeroed = packet[:where] + _ZERO + packet[where + 16:]
    digest = hmac.new(secret, zeroed, hashlib.md5).digest()
    return packet[:where] + digest + packet[where + 16:]


def reply_problem(reply: bytes, request_authenticator: bytes, secret: bytes) -> str | None:
    """Why `reply` does not prove the shared secret for the request whose authenticator is given; None if it does.

    The reasons are counter names: no_message_authenticator, bad_authenticator."""
    length = int.from_bytes(reply[2:4], "big") if len(reply) >= HEADER else 0
    if length < HEADER or length > len(reply):
        return "bad_authenticator"
    reply = reply[:length]
    where = _attribute_offset(reply, MESSAGE_AUTHENTICATOR)
    if where is None:
        return "no_message_authenticator"
    expected = hashlib.md5(reply[:4] + request_authenticator + reply[HEADER:] + secret).digest()
    if not hmac.compare_digest(expected, reply[4:HEADER]):
        return "bad_authenticator"
    zeroed = reply[:4] + request_authenticator + reply[HEADER:where] + _ZERO + reply[where + 16:]
    if not hmac.compare_digest(hmac.new(secret, zeroed, hashlib.md5).digest(), reply[where:where + 16]):
        return "bad_authenticator"
    return None
