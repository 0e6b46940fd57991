"""Address sets and registration filters (RFC 5944 §3.8.2.3 code 129, §3.7.2 code 65).

A home agent may refuse service "to mobile nodes that have entered unauthorized service
areas" (129); a foreign agent may administratively refuse a request (65). Filters are ordered
permit/deny rules matched first-match-wins on prefixes and NAI patterns, with a default action.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from socket import inet_aton

from mipd.ipv4 import UNSPECIFIED

ACTIONS = ("permit", "deny")


def addr_int(address: str) -> int:
    return int.from_bytes(inet_aton(address), "big")


def _prefix(text: str, what: str) -> tuple[int, int]:
    try:
        net = ipaddress.IPv4Network(text, strict=False)
    except ValueError as e:
        raise ValueError(f"{what}: {text!r} is not an IPv4 address or prefix ({e})") from None
    return int(net.network_address), int(net.netmask)


@dataclass(frozen=True, slots=True)
class FilterRule:
    """One rule: `action` applies when the address is in `prefix` or the NAI matches `nai`."""

    action: str
    prefix: str | None = None
    nai: str | None = None
    _net: tuple[int, int] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action: {self.action!r} is not permit or deny")
        if (self.prefix is None) == (self.nai is None):
            raise ValueError("rule needs exactly one of prefix or nai")
        if self.prefix is not None:
            object.__setattr__(self, "_net", _prefix(self.prefix, "prefix"))

    def matches(self, address: int | None, nai: str | None) -> bool:
        if self._net is not None:
            return address is not None and address & self._net[1] == self._net[0]
        return nai is not None and fnmatchcase(nai.lower(), self.nai.lower())  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class RuleList:
    """Ordered rules, first match wins, `default` when none matches."""

    rules: tuple[FilterRule, ...] = ()
    default: str = "permit"

    def __post_init__(self) -> None:
        if self.default not in ACTIONS:
            raise ValueError(f"default: {self.default!r} is not permit or deny")

    def permits(self, address: str | None, nai: str | None = None) -> bool:
        if not self.rules:
            return self.default == "permit"
        a = addr_int(address) if address else None
        for rule in self.rules:
            if rule.matches(a, nai):
                return rule.action == "permit"
        return self.default == "permit"


@dataclass(frozen=True, slots=True)
class RegistrationFilters:
    """care_of: which care-of addresses may register (HA, 129); roaming: which mobile nodes may
    roam (HA, 129); home_agents: which home agents visitors may use (FA, 65)."""

    care_of: RuleList = RuleList()
    roaming: RuleList = RuleList()
    home_agents: RuleList = RuleList()


@dataclass(frozen=True, slots=True)
class HostSet:
    """Mobile hosts served: addresses, ranges "a-b", prefixes "p/len", NAIs or NAI patterns."""

    entries: tuple[str, ...] = ()
    _ranges: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)
    _nais: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        ranges: list[tuple[int, int]] = []
        nais: list[str] = []
        for e in self.entries:
            if "@" in e:
                nais.append(e.lower())
            elif "-" in e:
                lo, _, hi = e.partition("-")
                a, b = _prefix(lo.strip(), "mobile_hosts")[0], _prefix(hi.strip(), "mobile_hosts")[0]
                if a > b:
                    raise ValueError(f"mobile_hosts: range {e!r} is reversed")
                ranges.append((a, b))
            else:
                net, mask = _prefix(e, "mobile_hosts")
                ranges.append((net, net | (~mask & 0xFFFFFFFF)))
        object.__setattr__(self, "_ranges", tuple(ranges))
        object.__setattr__(self, "_nais", tuple(nais))

    def contains(self, address: str | None, nai: str | None = None) -> bool:
        if address and address != UNSPECIFIED:
            a = addr_int(address)
            for lo, hi in self._ranges:
                if lo <= a <= hi:
                    return True
        if nai:
            n = nai.lower()
            return any(fnmatchcase(n, p) for p in self._nais)
        return False
