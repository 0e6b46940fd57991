"""Registration message extensions (RFC 5944 §1.9-1.11, §3.5).

Known types: MHAE 32, MFAE 33, FHAE 34 (§3.5.2-3.5.4), Generalized Authentication 36
(RFC 3012 §5, long format), UDP Tunnel Reply 44 and Request 144 (RFC 3519 §3.1-3.2),
Encapsulating Delivery Style 130 (RFC 3024 §3.3), MN-NAI 131 (RFC 2794 §2),
MN-FA Challenge 132 (RFC 3012 §3), one-byte padding 0.
Unknown types 128-255 are skippable: kept as `UnknownExtension` so a relaying FA preserves
them; unknown types 0-127 make the message invalid (`UnknownExtensionError`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from mipd.wire.errors import TooManyExtensionsError, UnknownExtensionError, WireError

PAD = 0
MHAE = 32  # Mobile-Home Authentication Extension
MFAE = 33  # Mobile-Foreign Authentication Extension
FHAE = 34  # Foreign-Home Authentication Extension
GEN_AUTH = 36  # Generalized Mobile IP Authentication Extension (RFC 3012)
UDP_TUNNEL_REPLY = 44  # RFC 3519 §3.2
ENCAP_DELIVERY = 130  # Encapsulating Delivery Style (RFC 3024 §3.3)
MN_NAI = 131  # Mobile Node NAI (RFC 2794)
MN_FA_CHALLENGE = 132  # MN-FA Challenge (RFC 3012 §3)
UDP_TUNNEL_REQUEST = 144  # RFC 3519 §3.1

GEN_AUTH_MN_AAA = 1  # RFC 3012 §5 subtype

AUTH_TYPES = frozenset({MHAE, MFAE, FHAE})
NO_LIMIT = 1 << 30  # extensions: more than any datagram can hold

_SPI = struct.Struct("!I")
_UDPT = struct.Struct("!BBBBBBH")  # type len subtype rsvd1/code flags encap/rsvd rsvd3/keepalive
_GEN = struct.Struct("!BBHI")


@dataclass(slots=True)
class AuthExtension:
    """MHAE, MFAE or FHAE: Type, Length = 4 + len(authenticator), SPI, Authenticator (§3.5.2).

    `offset` is where the extension starts in the decoded message (-1 when built locally);
    the authenticator covers everything before it plus Type, Length (and SPI, §3.5.1).
    """

    type: int
    spi: int
    authenticator: bytes
    offset: int = field(default=-1, compare=False)

    def encode(self) -> bytes:
        return bytes((self.type, 4 + len(self.authenticator))) + _SPI.pack(self.spi) + self.authenticator


@dataclass(slots=True)
class GenAuthExtension:
    """Generalized Mobile IP Authentication, long format (RFC 3012 §5): subtype 1 = MN-AAA."""

    subtype: int
    spi: int
    authenticator: bytes
    offset: int = field(default=-1, compare=False)

    type = GEN_AUTH

    def encode(self) -> bytes:
        return _GEN.pack(GEN_AUTH, self.subtype, 4 + len(self.authenticator), self.spi) + self.authenticator


@dataclass(slots=True)
class NAIExtension:
    """Mobile Node NAI (RFC 2794 §2): the NAI as UTF-8 bytes, Length = byte count."""

    nai: str
    offset: int = field(default=-1, compare=False)

    type = MN_NAI

    def encode(self) -> bytes:
        data = self.nai.encode()
        if len(data) > 255:
            raise ValueError("NAI longer than 255 bytes")
        return bytes((MN_NAI, len(data))) + data


@dataclass(slots=True)
class ChallengeExtension:
    """MN-FA Challenge (RFC 3012 §3), the challenge copied from the advertisement."""

    challenge: bytes
    offset: int = field(default=-1, compare=False)

    type = MN_FA_CHALLENGE

    def encode(self) -> bytes:
        return bytes((MN_FA_CHALLENGE, len(self.challenge))) + self.challenge


@dataclass(slots=True)
class EncapDeliveryExtension:
    """Encapsulating Delivery Style (RFC 3024 §3.3): Type 130, Length 0."""

    offset: int = field(default=-1, compare=False)

    type = ENCAP_DELIVERY

    def encode(self) -> bytes:
        return b"\x82\x00"


@dataclass(slots=True)
class UDPTunnelRequest:
    """UDP Tunnel Request (RFC 3519 §3.1): F (force) and R (registered via FA) flags, encapsulation."""

    encapsulation: int = 0
    force: bool = False
    via_fa: bool = False
    offset: int = field(default=-1, compare=False)

    type = UDP_TUNNEL_REQUEST

    def encode(self) -> bytes:
        flags = (0x80 if self.force else 0) | (0x40 if self.via_fa else 0)
        return _UDPT.pack(UDP_TUNNEL_REQUEST, 6, 0, 0, flags, self.encapsulation, 0)


@dataclass(slots=True)
class UDPTunnelReply:
    """UDP Tunnel Reply (RFC 3519 §3.2): code 0-63 assent, 64-255 decline; keepalive seconds."""

    code: int = 0
    keepalive: int = 0
    forced: bool = False
    offset: int = field(default=-1, compare=False)

    type = UDP_TUNNEL_REPLY

    def encode(self) -> bytes:
        return _UDPT.pack(UDP_TUNNEL_REPLY, 6, 0, self.code, 0x80 if self.forced else 0, 0, self.keepalive)


@dataclass(slots=True)
class PadExtension:
    """One-byte padding (type 0, no length byte)."""

    offset: int = field(default=-1, compare=False)

    type = PAD

    def encode(self) -> bytes:
        return b"\x00"


@dataclass(slots=True)
class UnknownExtension:
    """A skippable extension (type 128-255) we do not interpret, kept byte-exact for relaying."""

    type: int
    data: bytes
    offset: int = field(default=-1, compare=False)

    def encode(self) -> bytes:
        return bytes((self.type, len(self.data))) + self.data


Extension = (
    AuthExtension
    | GenAuthExtension
    | NAIExtension
    | ChallengeExtension
    | EncapDeliveryExtension
    | UDPTunnelRequest
    | UDPTunnelReply
    | PadExtension
    | UnknownExtension
)


def encode_extensions(extensions: list[Extension]) -> bytes:
    """Concatenate the encodings of `extensions` in order."""
    return b"".join(e.encode() for e in extensions)


def decode_extensions(data: bytes, start: int, max_extensions: int = NO_LIMIT) -> list[Extension]:
    """Decode the extensions in data[start:] (RFC 5944 §1.9-1.11).

    Raises WireError for truncation or bad lengths, UnknownExtensionError for an unrecognised
    type 0-127, TooManyExtensionsError for more than `max_extensions`. Each extension records
    its own offset in `data`. Accepts any bytes-like object.
    """
    data = bytes(data)
    out: list[Extension] = []
    decode_some(data, start, out, max_extensions, False)
    return out


def decode_some(data: bytes, start: int, out: list[Extension], max_extensions: int, until_auth: bool) -> int:
    """Append the extensions of data[start:] to `out`, at most `max_extensions` in all (those
    already in `out` count). With `until_auth`, stop after the first MHAE or Generalized
    Authentication extension (the authorization-enabling one at a home agent, RFC 5944 §3.8.2.1,
    RFC 3012 §6): what follows it is not covered by its authenticator and need not be read
    before it verified. Returns the offset where decoding stopped (0 when it reached the end).
    """
    total = len(data)
    offset = start
    while offset < total:
        if len(out) >= max_extensions:
            raise TooManyExtensionsError(max_extensions, offset)
        ext_type = data[offset]
        if ext_type == PAD:
            out.append(PadExtension(offset))
            offset += 1
            continue
        if offset + 2 > total:
            raise WireError(f"extension type {ext_type} truncated before its length", offset)
        if ext_type == GEN_AUTH:
            if offset + 8 > total:
                raise WireError("generalized authentication extension truncated", offset)
            _, subtype, length, spi = _GEN.unpack_from(data, offset)
            end = offset + 4 + length
            if length < 4 or end > total:
                raise WireError(f"generalized authentication length {length} does not fit", offset + 2)
            out.append(GenAuthExtension(subtype, spi, data[offset + 8 : end], offset))
            offset = end
            if until_auth:
                return offset if offset < total else 0
            continue
        length = data[offset + 1]
        end = offset + 2 + length
        if end > total:
            raise WireError(f"extension type {ext_type} length {length} runs past the end ({total - offset - 2} left)",
                            offset + 1)
        if ext_type in AUTH_TYPES:
            if length < 4:
                raise WireError(f"authentication extension type {ext_type} length {length} < 4", offset + 1)
            out.append(AuthExtension(ext_type, _SPI.unpack_from(data, offset + 2)[0], data[offset + 6 : end], offset))
            if until_auth and ext_type == MHAE:
                return end if end < total else 0
        elif ext_type == MN_NAI:
            try:
                nai = data[offset + 2 : end].decode()
            except UnicodeDecodeError:
                raise WireError("NAI is not valid UTF-8", offset + 2) from None
            out.append(NAIExtension(nai, offset))
        elif ext_type == MN_FA_CHALLENGE:
            out.append(ChallengeExtension(data[offset + 2 : end], offset))
        elif ext_type == ENCAP_DELIVERY:
            if length:
                raise WireError(f"encapsulating delivery style length {length}, expected 0", offset + 1)
            out.append(EncapDeliveryExtension(offset))
        elif (ext_type == UDP_TUNNEL_REQUEST and length == 6 and data[offset + 2] == 0
              and data[offset + 6 : offset + 8] == b"\0\0"):
            # Only Sub-Type 0 is defined (RFC 3519 §3.1); Reserved 3 non-zero means "not understood"
            # (§3.1.3). Either way this skippable extension falls through to UnknownExtension below.
            flags = data[offset + 4]
            out.append(UDPTunnelRequest(data[offset + 5], bool(flags & 0x80), bool(flags & 0x40), offset))
        elif ext_type == UDP_TUNNEL_REPLY:
            if length != 6:
                raise WireError(f"UDP tunnel reply length {length}, expected 6", offset + 1)
            if data[offset + 2] != 0:
                # Only Sub-Type 0 is defined (RFC 3519 §3.2); another sub-type of this non-skippable
                # type is an unrecognised extension (RFC 5944 §1.8, §1.11).
                raise UnknownExtensionError(ext_type, offset)
            _, _, _, code, flags, _, keepalive = _UDPT.unpack_from(data, offset)
            out.append(UDPTunnelReply(code, keepalive, bool(flags & 0x80), offset))
        elif ext_type >= 128:
            out.append(UnknownExtension(ext_type, data[offset + 2 : end], offset))
        else:
            raise UnknownExtensionError(ext_type, offset)
        offset = end
    return 0
