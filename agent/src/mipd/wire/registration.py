"""Registration Request (type 1) and Registration Reply (type 3), RFC 5944 §3.3-3.4.

Addresses are dotted-quad strings, the Identification a 64-bit integer. `decode` keeps the
raw bytes so the security layer can check authenticators over the exact bytes received.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from socket import inet_aton, inet_ntoa

from mipd.wire.errors import WireError
from mipd.wire.extensions import Extension, decode_extensions, encode_extensions

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


def decode(data: bytes) -> RegistrationRequest | RegistrationReply:
    """Decode a registration message (UDP payload). Raises WireError only.

    Accepts any bytes-like object; `raw` of the result is always an immutable `bytes` copy.
    """
    data = bytes(data)
    if not data:
        raise WireError("empty message", 0)
    kind = data[0]
    if kind == REQUEST:
        return decode_request(data)
    if kind == REPLY:
        return decode_reply(data)
    raise WireError(f"message type {kind} is not a registration request (1) or reply (3)", 0)


def decode_request(data: bytes) -> RegistrationRequest:
    data = bytes(data)
    if len(data) < REQUEST_FIXED_LEN:
        raise WireError(f"registration request of {len(data)} bytes, fixed part needs 24", len(data))
    t, flags, lifetime, home, ha, coa, ident = _REQ.unpack_from(data)
    if t != REQUEST:
        raise WireError(f"type {t}, expected 1", 0)
    exts = decode_extensions(data, REQUEST_FIXED_LEN)
    return RegistrationRequest(flags, lifetime, inet_ntoa(home), inet_ntoa(ha), inet_ntoa(coa), ident, exts, data)


def decode_reply(data: bytes) -> RegistrationReply:
    data = bytes(data)
    if len(data) < REPLY_FIXED_LEN:
        raise WireError(f"registration reply of {len(data)} bytes, fixed part needs 20", len(data))
    t, code, lifetime, home, ha, ident = _REP.unpack_from(data)
    if t != REPLY:
        raise WireError(f"type {t}, expected 3", 0)
    exts = decode_extensions(data, REPLY_FIXED_LEN)
    return RegistrationReply(code, lifetime, inet_ntoa(home), inet_ntoa(ha), ident, exts, data)
