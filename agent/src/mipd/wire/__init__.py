"""Layer 1: bytes <-> Mobile IPv4 messages (RFC 5944 §1.9-1.11, §2, §3). Pure, no I/O.

Encoders are byte-exact; decoders accept any bytes and fail only with `WireError`.
"""

from mipd.wire.errors import TooManyExtensionsError, UnknownExtensionError, WireError
from mipd.wire.extensions import (
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
    Extension,
    GenAuthExtension,
    NAIExtension,
    PadExtension,
    UDPTunnelReply,
    UDPTunnelRequest,
    UnknownExtension,
    decode_extensions,
    encode_extensions,
)
from mipd.wire.icmp import AgentAdvertisement, AgentSolicitation
from mipd.wire.registration import (
    FLAG_B,
    FLAG_D,
    FLAG_G,
    FLAG_M,
    FLAG_S,
    FLAG_T,
    LIFETIME_DEREGISTER,
    LIFETIME_INFINITE,
    PORT,
    RegistrationReply,
    RegistrationRequest,
)

__all__ = [
    "ENCAP_DELIVERY", "FHAE", "FLAG_B", "FLAG_D", "FLAG_G", "FLAG_M", "FLAG_S", "FLAG_T", "GEN_AUTH",
    "GEN_AUTH_MN_AAA", "LIFETIME_DEREGISTER", "LIFETIME_INFINITE", "MFAE", "MHAE", "MN_FA_CHALLENGE",
    "MN_NAI", "PORT", "UDP_TUNNEL_REPLY", "UDP_TUNNEL_REQUEST", "AgentAdvertisement", "AgentSolicitation",
    "AuthExtension", "ChallengeExtension", "EncapDeliveryExtension", "Extension", "GenAuthExtension",
    "NAIExtension", "PadExtension", "RegistrationReply", "RegistrationRequest", "TooManyExtensionsError",
    "UDPTunnelReply", "UDPTunnelRequest", "UnknownExtension", "UnknownExtensionError", "WireError", "decode_extensions",
    "encode_extensions",
]
