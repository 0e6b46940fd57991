# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks for single values (addresses, prefixes, names, numbers), each raising ModelError.

The same rules as the agent's loader (agent/src/mipd/runtime/schema.py), written again here
because modules run on hosts where mipd may not be installed yet; tests/unit checks that what
the model accepts, the agent accepts too.
"""

from __future__ import annotations

import ipaddress
import math

from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError

IFNAMSIZ = 16  # Linux interface names are at most 15 bytes
INTERFACE_NAME_MAX = 64  # any platform's interface name ("GigabitEthernet0/0/0.100" on IOS)
LIFETIME_MAX = 0xFFFF  # 16-bit lifetime fields (RFC 5944 §2.1.1, §3.3)


def describe(value: object) -> str:
    """A short rendering of a (non-secret) value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(value: object) -> bool:
    """An int that is not a bool (YAML `yes` must not become 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def integer(value: object, path: str, lo: int, hi: int | None = None) -> int:
    if not is_int(value) or value < lo or (hi is not None and value > hi):  # type: ignore[operator]
        bound = f"{lo}-{hi}" if hi is not None else f">= {lo}"
        raise ModelError(path, f"must be an integer {bound}, got {describe(value)}")
    return value  # type: ignore[return-value]


def number(value: object, path: str, lo: float, hi: float | None = None) -> float:
    """An int or float > lo and <= hi (time intervals: zero is never meaningful)."""
    ok = (is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = v > lo and (hi is None or v <= hi)
    if not ok:
        bound = f"> {lo:g}" + (f" and <= {hi:g}" if hi is not None else "")
        raise ModelError(path, f"must be a number {bound}, got {describe(value)}")
    return float(value)  # type: ignore[arg-type]


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise ModelError(path, f"must be true or false, got {describe(value)}")
    return value


def string(value: object, path: str, max_len: int = 4096) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ModelError(path, f"must be a non-empty string of at most {max_len} characters, got {describe(value)}")
    return value


def choice(value: object, path: str, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ModelError(path, f"must be one of {', '.join(options)}, got {describe(value)}")
    return value


def ipv4(value: object, path: str) -> str:
    """A unicast IPv4 host address, normalised ("10.1.0.1")."""
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        addr = ipaddress.IPv4Address(value)
    except ValueError:
        raise ModelError(path, f"must be an IPv4 address, got {describe(value)}") from None
    if addr.is_unspecified or addr.is_multicast or addr == ipaddress.IPv4Address("255.255.255.255"):
        raise ModelError(path, f"must be a unicast address, got {describe(value)}")
    return str(addr)


def prefix(value: object, path: str) -> str:
    """An IPv4 prefix "a.b.c.d/len" (host bits allowed), normalised to its network form."""
    try:
        if not isinstance(value, str) or "/" not in value:
            raise ValueError(value)
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ModelError(path, f"must be an IPv4 prefix like 10.1.0.0/24, got {describe(value)}") from None
    return str(net)


def prefix_or_address(value: object, path: str) -> str:
    """A prefix, or an address meaning its /32 (filter rules)."""
    if isinstance(value, str) and "/" not in value:
        return ipv4(value, path) + "/32"
    return prefix(value, path)


def interface_name(value: object, path: str) -> str:
    """An interface name on any platform: 1-64 characters, no spaces, not . or .. (each platform adds
    its own rules: Linux ones in platforms/linux, IOS ones in platforms/ios)."""
    ok = isinstance(value, str) and 0 < len(value) <= INTERFACE_NAME_MAX and value not in (".", "..")
    if ok and any(c.isspace() for c in value):  # type: ignore[union-attr]
        ok = False
    if not ok:
        raise ModelError(path, f"must be an interface name (1-{INTERFACE_NAME_MAX} characters, no spaces), got "
                         f"{describe(value)}")
    return value  # type: ignore[return-value]


def ifname(value: object, path: str) -> str:
    """A Linux interface name: 1-15 bytes, no '/', ':' or whitespace, not . or .."""
    ok = isinstance(value, str) and 0 < len(value.encode()) < IFNAMSIZ and value not in (".", "..")
    if ok and any(c in "/:" or c.isspace() for c in value):  # type: ignore[union-attr]
        ok = False
    if not ok:
        raise ModelError(path, f"must be an interface name (1-15 characters, no '/', ':' or spaces), got "
                         f"{describe(value)}")
    return value  # type: ignore[return-value]


def nai(value: object, path: str) -> str:
    """A Network Access Identifier user@realm (RFC 2794 §2, at most 255 bytes)."""
    ok = isinstance(value, str) and "@" in value and 0 < len(value.encode()) <= 255
    if ok and any(c.isspace() for c in value):  # type: ignore[union-attr]
        ok = False
    if not ok:
        raise ModelError(path, f"must be an NAI like mn@example.net (at most 255 bytes), got {describe(value)}")
    return value  # type: ignore[return-value]


def peer(value: object, path: str) -> str:
    """A security association peer: an IPv4 address or an NAI."""
    if isinstance(value, str) and "@" in value:
        return nai(value, path)
    try:
        return ipv4(value, path)
    except ModelError:
        raise ModelError(path, f"must be an IPv4 address or an NAI (user@realm), got {describe(value)}") from None


def host_entry(value: object, path: str) -> str:
    """A served mobile host: address, range "a-b", prefix "p/len", NAI or NAI pattern ("*@realm")."""
    bad = ModelError(path, "must be an address, range a.b.c.d-e.f.g.h, prefix a.b.c.d/len or NAI pattern "
                     f"(user@realm, * allowed), got {describe(value)}")
    if not isinstance(value, str) or not value:
        raise bad
    if "@" in value:
        return value
    try:
        lo, _sep, hi = value.partition("-")
        first = ipaddress.IPv4Network(lo.strip(), strict=False).network_address
        last = ipaddress.IPv4Network(hi.strip(), strict=False).network_address if hi else first
    except ValueError:
        raise bad from None
    if first > last:
        raise ModelError(path, f"range {value!r} is reversed")
    return value


def lifetime(value: object, path: str) -> int:
    """A registration lifetime in seconds, 1-65535 (65535 = infinity, RFC 5944 §3.3)."""
    return integer(value, path, 1, LIFETIME_MAX)
