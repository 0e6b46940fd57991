"""Registration Request (type 1) and Registration Reply (type 3), RFC 5944 §3.3-3.4.

Addresses are dotted-quad strings, the Identification a 64-bit integer. `decode` keeps the
raw bytes so the security layer can check authenticators over the exact bytes received.

Bounded decoding (RFC 5944 §3.8.2.1: the authenticator is checked first, so what an agent does
before that must be cheap): the agents discard a message longer than MAX_MESSAGE_SIZE unread and
decode at most MAX_EXTENSIONS extensions (TooManyExtensionsError beyond); a home agent decodes a
request only through its authorization-enabling extension (`decode_request(until_auth=True)`)
and the rest once that verified (`decode_rest`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from socket import inet_aton, inet_ntoa

from mipd.wire.errors import WireError
from mipd.wire.extensions import NO_LIMIT, Extension, decode_some, encode_extensions

PORT = 434
REQUEST = 1
REPLY = 3

# Registration Request flags (§3.3): S B D M G r T x
FLAG_S = 0x80  # simultaneous bindings
FLAG_B = 0x40  # broadcast datagrams
FLAG_D = 0x20  # decapsulation by mobile node (colocated care-of address)
FLAG_M = 0x10  # minimal encapsulation
FLAG_G = 0x08  # GRE encapsulation
FLAG_R = 0x04  # reserved, sent as zero
FLAG_T = 0x02  # reverse tunnelling requested (RFC 3024)
FLAG_X = 0x01  # reserved, sent as zero

LIFETIME_DEREGISTER = 0
LIFETIME_INFINITE = 0xFFFF

_REQ = struct.Struct("!BBH4s4s4sQ")
_REP = struct.Struct("!BBH4s4sQ")
REQUEST_FIXED_LEN = _REQ.size  # 24
REPLY_FIXED_LEN = _REP.size  # 20

# The largest registration message a conforming node or agent builds: fixed part 24, MN-NAI 2 + 255
# (RFC 2794 §2), MN-FA Challenge 2 + 255 (RFC 3012 §3), MN-AAA 8 + 20 (RFC 3012 §5, a 160-bit
# authenticator; MHAE 6 + 16 with HMAC-MD5), MFAE or FHAE 6 + 20, UDP Tunnel Request 8 (RFC 3519),
# Encapsulating Delivery Style 2 (RFC 3024): 602 bytes. The default limit leaves 422 bytes for
# vendor (RFC 3115) and other extensions; a registration message is far below any MTU.
LARGEST_REQUEST = 24 + 257 + 257 + 28 + 26 + 8 + 2  # 602
MAX_MESSAGE_SIZE = 1024
# Extensions in that largest request: 6; with a few vendor extensions and padding, 16 is ample.
MAX_EXTENSIONS = 16


@dataclass(slots=True)
class RegistrationRequest:
    """§3.3. `raw` is the exact bytes decoded (empty when built locally)."""

    flags: int
    lifetime: int
    home_address: str
    home_agent: str
    care_of_address: str
    identification: int
    extensions: list[Extension] = field(default_factory=list)
    raw: bytes = field(default=b"", compare=False, repr=False)
    # offset of the first extension not decoded yet (decode_request(until_auth=True)); 0: all decoded
    pending: int = field(default=0, compare=False, repr=False)

    def encode_fixed(self) -> bytes:
        return _REQ.pack(
            REQUEST,
            self.flags,
            self.lifetime,
            inet_aton(self.home_address),
            inet_aton(self.home_agent),
            inet_aton(self.care_of_address),
            self.identification,
        )

    def encode(self) -> bytes:
        """Fixed part followed by every extension, in order, as they stand."""
        return self.encode_fixed() + encode_extensions(self.extensions)

    def find(self, ext_type: int) -> Extension | None:
        """The first extension of `ext_type`, or None."""
        return find_extension(self.extensions, ext_type)


@dataclass(slots=True)
class RegistrationReply:
    """§3.4. Code 0/1 accepted, 64-127 denied by FA, 128-192 denied by HA (§3.4 table)."""

    code: int
    lifetime: int
    home_address: str
    home_agent: str
    identification: int
    extensions: list[Extension] = field(default_factory=list)
    raw: bytes = field(default=b"", compare=False, repr=False)

    def encode_fixed(self) -> bytes:
        return encode_reply_fixed(self.code, self.lifetime, self.home_address, self.home_agent, self.identification)

    def encode(self) -> bytes:
        return self.encode_fixed() + encode_extensions(self.extensions)

    def find(self, ext_type: int) -> Extension | None:
        """The first extension of `ext_type`, or None."""
        return find_extension(self.extensions, ext_type)


def find_extension(extensions: list[Extension], ext_type: int) -> Extension | None:
    """The first extension of `ext_type` in `extensions`, or None."""
    for e in extensions:
        if e.type == ext_type:
            return e
    return None


def lifetime_left(expires: float, now: float) -> int:
    """The Lifetime field for a registration expiring at `expires` (§3.4: 0xffff = infinity)."""
    if expires == float("inf"):
        return LIFETIME_INFINITE
    return max(0, int(expires - now))


def encode_reply_fixed(code: int, lifetime: int, home_address: str, home_agent: str, identification: int) -> bytes:
    """The 20-byte fixed part of a Registration Reply (§3.4), without building a message object."""
    return _REP.pack(REPLY, code, lifetime, inet_aton(home_address), inet_aton(home_agent), identification)


def message_type(data: bytes) -> int | None:
    """The Type field, the first octet of a registration message (§3.3: REQUEST, §3.4: REPLY), read
    without decoding anything else; None for an empty datagram."""
    return data[0] if data else None


def decode(data: bytes, max_extensions: int = NO_LIMIT) -> RegistrationRequest | RegistrationReply:
    """Decode a registration message (UDP payload). Raises WireError only.

    Accepts any bytes-like object; `raw` of the result is always an immutable `bytes` copy.
    """
    data = bytes(data)
    if not data:
        raise WireError("empty message", 0)
    kind = data[0]
    if kind == REQUEST:
        return decode_request(data, max_extensions)
    if kind == REPLY:
        return decode_reply(data, max_extensions)
    raise WireError(f"message type {kind} is not a registration request (1) or reply (3)", 0)


def decode_request(data: bytes, max_extensions: int = NO_LIMIT, until_auth: bool = False) -> RegistrationRequest:
    """A Registration Request; with `until_auth` only through the first MHAE or Generalized
    Authentication extension (`pending` then says where the rest starts: `decode_rest`)."""
    data = bytes(data)
    if len(data) < REQUEST_FIXED_LEN:
        raise WireError(f"registration request of {len(data)} bytes, fixed part needs 24", len(data))
    t, flags, lifetime, home, ha, coa, ident = _REQ.unpack_from(data)
    if t != REQUEST:
        raise WireError(f"type {t}, expected 1", 0)
    exts: list[Extension] = []
    pending = decode_some(data, REQUEST_FIXED_LEN, exts, max_extensions, until_auth)
    return RegistrationRequest(flags, lifetime, inet_ntoa(home), inet_ntoa(ha), inet_ntoa(coa), ident, exts, data,
                               pending)


def decode_rest(req: RegistrationRequest, max_extensions: int = NO_LIMIT) -> None:
    """Decode the extensions `decode_request(until_auth=True)` left, appending them to
    `req.extensions` (the limit counts them all). Raises WireError only."""
    if req.pending:
        start, req.pending = req.pending, 0
        decode_some(req.raw, start, req.extensions, max_extensions, False)


def decode_reply(data: bytes, max_extensions: int = NO_LIMIT) -> RegistrationReply:
    data = bytes(data)
    if len(data) < REPLY_FIXED_LEN:
        raise WireError(f"registration reply of {len(data)} bytes, fixed part needs 20", len(data))
    t, code, lifetime, home, ha, ident = _REP.unpack_from(data)
    if t != REPLY:
        raise WireError(f"type {t}, expected 3", 0)
    exts: list[Extension] = []
    decode_some(data, REPLY_FIXED_LEN, exts, max_extensions, False)
    return RegistrationReply(code, lifetime, inet_ntoa(home), inet_ntoa(ha), ident, exts, data)
