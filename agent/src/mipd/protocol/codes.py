"""Registration Reply codes (RFC 5944 §3.4; RFC 3024 §3.5 for 74-79 and 137-139; RFC 2794 §5 for
97-99; RFC 3012 §10 for 104-106)."""

from __future__ import annotations

ACCEPTED = 0
ACCEPTED_NO_SIMULTANEOUS = 1

# Denied by the foreign agent
FA_UNSPECIFIED = 64
FA_PROHIBITED = 65
FA_RESOURCES = 66
FA_MN_AUTH = 67
FA_HA_AUTH = 68
FA_LIFETIME_TOO_LONG = 69
FA_POORLY_FORMED_REQUEST = 70
FA_POORLY_FORMED_REPLY = 71
FA_ENCAP_UNAVAILABLE = 72
FA_RESERVED_UNAVAILABLE = 73
FA_REVERSE_TUNNEL_UNAVAILABLE = 74
FA_REVERSE_TUNNEL_MANDATORY = 75
FA_MN_TOO_DISTANT = 76
FA_INVALID_COA = 77
FA_TIMEOUT = 78
FA_DELIVERY_STYLE_UNSUPPORTED = 79
FA_HOME_NET_UNREACHABLE = 80
FA_HA_HOST_UNREACHABLE = 81
FA_HA_PORT_UNREACHABLE = 82
FA_HA_UNREACHABLE = 88
FA_INVALID_HA_ADDRESS = 194

# Denied by the foreign agent: RFC 2794 §5 (NAI) and RFC 3012 §10 (challenges)
FA_MISSING_NAI = 97
FA_MISSING_HOME_AGENT = 98
FA_MISSING_HOMEADDR = 99
FA_UNKNOWN_CHALLENGE = 104
FA_MISSING_CHALLENGE = 105
FA_STALE_CHALLENGE = 106

# Denied by the home agent
HA_UNSPECIFIED = 128
HA_PROHIBITED = 129
HA_RESOURCES = 130
HA_MN_AUTH = 131
HA_FA_AUTH = 132
HA_ID_MISMATCH = 133
HA_POORLY_FORMED = 134
HA_TOO_MANY_BINDINGS = 135
HA_UNKNOWN_HA = 136
HA_REVERSE_TUNNEL_UNAVAILABLE = 137
HA_REVERSE_TUNNEL_MANDATORY = 138
HA_ENCAP_UNAVAILABLE = 139

NAMES = {
    0: "registration accepted",
    1: "accepted, simultaneous bindings unsupported",
    64: "FA: reason unspecified",
    65: "FA: administratively prohibited",
    66: "FA: insufficient resources",
    67: "FA: mobile node failed authentication",
    68: "FA: home agent failed authentication",
    69: "FA: requested lifetime too long",
    70: "FA: poorly formed request",
    71: "FA: poorly formed reply",
    72: "FA: requested encapsulation unavailable",
    73: "FA: reserved and unavailable",
    74: "FA: requested reverse tunnel unavailable",
    75: "FA: reverse tunnel is mandatory and T bit not set",
    76: "FA: mobile node too distant",
    77: "FA: invalid care-of address",
    78: "FA: registration timeout",
    79: "FA: delivery style not supported",
    80: "FA: home network unreachable",
    81: "FA: home agent host unreachable",
    82: "FA: home agent port unreachable",
    88: "FA: home agent unreachable",
    97: "FA: missing NAI",
    98: "FA: missing home agent",
    99: "FA: missing home address",
    104: "FA: unknown challenge",
    105: "FA: missing challenge",
    106: "FA: stale challenge",
    194: "FA: invalid home agent address",
    128: "HA: reason unspecified",
    129: "HA: administratively prohibited",
    130: "HA: insufficient resources",
    131: "HA: mobile node failed authentication",
    132: "HA: foreign agent failed authentication",
    133: "HA: registration identification mismatch",
    134: "HA: poorly formed request",
    135: "HA: too many simultaneous mobility bindings",
    136: "HA: unknown home agent address",
    137: "HA: requested reverse tunnel unavailable",
    138: "HA: reverse tunnel is mandatory and T bit not set",
    139: "HA: requested encapsulation unavailable",
}


def accepted(code: int) -> bool:
    return code in (ACCEPTED, ACCEPTED_NO_SIMULTANEOUS)


def name(code: int) -> str:
    return NAMES.get(code, f"unknown code {code}")
