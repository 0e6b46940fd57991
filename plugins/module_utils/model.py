# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data model: home agent, foreign agent, mobile node, security associations, registration filters, AAA.

One schema per resource, platform-neutral (RFC 5944 terms; field names follow the mipd
configuration file, which is the Linux rendering of this model). Every platform renders from
and parses into these values; every config module's `config` option is generated from them.
Defaults are the agent's (agent/src/mipd/runtime/config.py).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable

from ansible_collections.netmobility.mobileip.plugins.module_utils import keys
from ansible_collections.netmobility.mobileip.plugins.module_utils import values as v
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.fields import Field, Schema

ENCAPSULATIONS = ("ipip", "gre", "minimal")
REVERSE_TUNNEL_MODES = ("off", "offered", "mandatory")
ALGORITHMS = ("hmac-md5", "md5-prefix-suffix", "rfc2002-md5")
REPLAY_METHODS = ("timestamp", "nonce", "none")
SA_KINDS = ("host", "visitor", "home-agent", "foreign-agent")
ROLES = ("home_agent", "foreign_agent", "mobile_node")
ACTIONS = ("permit", "deny")
SPI_MIN = 256  # 0-255 are reserved (RFC 5944 §1.6)
SPI_MAX = 0xFFFFFFFF


def _int(lo: int, hi: int | None = None) -> Callable[[Any, str], int]:
    return lambda value, path: v.integer(value, path, lo, hi)


def _seconds(hi: float | None) -> Callable[[Any, str], float]:
    return lambda value, path: v.number(value, path, 0.0, hi)


def _encapsulations() -> Field:
    return Field("list", default=list(ENCAPSULATIONS), elements="str",
                 choices=ENCAPSULATIONS, min_items=1)


# ---------------------------------------------------------------------- agent advertisements


def _advertisement_post(adv: dict[str, Any], path: str, partial: bool) -> None:
    if not partial and adv["interval"] * 3 > adv["lifetime"]:
        raise ModelError(join(path, "interval"), f"{adv['interval']:g} s is more than a third of the advertisement "
                         f"lifetime ({adv['lifetime']} s); RFC 5944 §2.1 wants interval <= lifetime / 3")


def _adv_code(value: object, path: str) -> int:
    if not v.is_int(value) or value not in (0, 16):
        raise ModelError(path, f"must be 16 (mobility agent only) or 0 (also a router), got {v.describe(value)}")
    return value  # type: ignore[return-value]


def _advertisement(**extra: Field) -> Schema:
    """Agent advertisement timing and code (RFC 5944 §2.1, §2.3), plus role-specific options."""
    return Schema({
        "interval": Field("float", _seconds(None), default=5.0),
        "lifetime": Field("int", v.lifetime, default=15),
        "code": Field("int", _adv_code, default=16, choices=(0, 16)),
        **extra,
    }, _advertisement_post)


# ---------------------------------------------------------------------- home agent


def _home_agent_post(ha: dict[str, Any], path: str, partial: bool) -> None:
    if partial:
        return
    if not ha["home_networks"] and not ha["virtual_networks"]:
        raise ModelError(join(path, "home_networks"), "at least one home network (or virtual network) is needed")
    if ha["reverse_tunnel_mandatory"] and not ha["reverse_tunnel"]:
        raise ModelError(join(path, "reverse_tunnel_mandatory"), "true needs reverse_tunnel: true")
    _check_nai_hosts(ha, join(path, "nai_hosts"))


def _check_nai_hosts(ha: dict[str, Any], path: str) -> None:
    """Each NAI's home addresses lie in a home or virtual network, are not the home agent's own, network or
    broadcast addresses (never bound), and no address is held by two NAIs (RFC 2794; mipd refuses the same)."""
    networks = [ipaddress.IPv4Network(n, strict=False) for n in (*ha["home_networks"], *ha["virtual_networks"])]
    holders: dict[str, str] = {}
    for i, host in enumerate(ha.get("nai_hosts") or []):
        for j, home in enumerate(host["home_addresses"]):
            where = join(join(join(path, i), "home_addresses"), j)
            address = ipaddress.IPv4Address(home)
            if home == ha["address"]:
                raise ModelError(where, f"{home} is the home agent's own address")
            if not any(address in net for net in networks):
                raise ModelError(where, f"{home} is not in a home or virtual network")
            if any(net.prefixlen < 31 and address in (net.network_address, net.broadcast_address) for net in networks):
                raise ModelError(where, f"{home} is a network or broadcast address")
            if home in holders:
                raise ModelError(where, f"{home} is already held by {holders[home]}")
            holders[home] = host["nai"]


def _exact_nai(value: object, path: str) -> str:
    nai = v.nai(value, path)
    if "*" in nai or "?" in nai:
        raise ModelError(path, "must be one NAI, not a pattern (patterns belong in mobile_hosts)")
    return nai


NAI_HOST = Schema({
    "nai": Field("str", _exact_nai, required=True),
    "home_addresses": Field("list", v.ipv4, elements="str", required=True, min_items=1),
})


HOME_AGENT = Schema({
    "address": Field("str", v.ipv4, required=True),
    "interface": Field("str", v.interface_name, required=True),
    "home_networks": Field("list", v.prefix, elements="str"),
    "virtual_networks": Field("list", v.prefix, elements="str"),
    "mobile_hosts": Field("list", v.host_entry, elements="str"),
    # RFC 2794: the home addresses an NAI's SA may register (an address SA only its own address)
    "nai_hosts": Field("list", elements="dict", schema=NAI_HOST, identity=("nai",)),
    "max_lifetime": Field("int", v.lifetime, default=1800),
    "simultaneous_bindings": Field("int", _int(0, 255), default=0),
    "binding_limit": Field("int", _int(0), default=0),
    "reverse_tunnel": Field("bool", v.boolean, default=True),
    "reverse_tunnel_mandatory": Field("bool", v.boolean, default=False),
    "encapsulations": _encapsulations(),
    "advertisement": Field("dict", schema=_advertisement(enabled=Field("bool", v.boolean, default=True))),
}, _home_agent_post)


def _home_agent_warnings(ha: dict[str, Any]) -> list[str]:
    if not ha["mobile_hosts"] and not ha["nai_hosts"]:
        return ["config.mobile_hosts: empty, the home agent will refuse every registration (code 129)"]
    return []


# ---------------------------------------------------------------------- foreign agent


def _reverse_mode(value: object, path: str) -> str:
    if value is False:  # YAML reads a bare `off` as false
        return "off"
    return v.choice(value, path, REVERSE_TUNNEL_MODES)


FA_ADVERTISEMENT = _advertisement(
    prefix_lengths=Field("bool", v.boolean, default=True),
    challenge=Field("bool", v.boolean, default=False),
    broadcast=Field("bool", v.boolean, default=False),
)

SERVED_INTERFACE = Schema({
    "name": Field("str", v.interface_name, required=True),
    "address": Field("str", v.ipv4, required=True),
    "prefix_length": Field("int", _int(1, 32), default=24),
    "care_of_addresses": Field("list", v.ipv4, elements="str", min_items=1,
                               default=lambda iface: [iface["address"]]),
})

FOREIGN_AGENT = Schema({
    "interfaces": Field("list", elements="dict", schema=SERVED_INTERFACE, identity=("name",), group=("name",),
                        required=True, min_items=1),
    "advertisement": Field("dict", schema=FA_ADVERTISEMENT),
    "registration_lifetime": Field("int", v.lifetime, default=1800),
    "registration_required": Field("bool", v.boolean, default=False),
    "reverse_tunnel": Field("str", _reverse_mode, default="offered", choices=REVERSE_TUNNEL_MODES),
    "encapsulations": _encapsulations(),
    "visitor_limit": Field("int", _int(0), default=0),
    "pending_limit": Field("int", _int(0), default=5),
    "pending_timeout": Field("float", _seconds(3600.0), default=7.0),
    "require_fa_ha_auth": Field("bool", v.boolean, default=False),
})


# ---------------------------------------------------------------------- mobile node


def _mobile_node_post(mn: dict[str, Any], path: str, partial: bool) -> None:
    if partial:
        return
    if mn["home_address"] == mn["home_agent"]:
        raise ModelError(join(path, "home_agent"), "is the mobile node's own home address")
    if mn["lifetime"] != v.LIFETIME_MAX and mn["reregister_margin"] >= mn["lifetime"]:
        raise ModelError(join(path, "reregister_margin"),
                         f"{mn['reregister_margin']} must be shorter than lifetime ({mn['lifetime']})")
    if mn["max_retransmit_interval"] < mn["solicit_interval"]:
        raise ModelError(join(path, "max_retransmit_interval"), f"{mn['max_retransmit_interval']:g} is shorter "
                         f"than solicit_interval ({mn['solicit_interval']:g})")
    home = ipaddress.IPv4Network(f"{mn['home_address']}/{mn['home_prefix_length']}", strict=False)
    if mn["home_gateway"] is not None and ipaddress.IPv4Address(mn["home_gateway"]) not in home:
        raise ModelError(join(path, "home_gateway"), f"{mn['home_gateway']} is not on the home network {home}")


MOBILE_NODE = Schema({
    "home_address": Field("str", v.ipv4, required=True),
    "home_agent": Field("str", v.ipv4, required=True),
    "home_prefix_length": Field("int", _int(1, 32), default=24),
    "home_gateway": Field("str", v.ipv4),
    "nai": Field("str", v.nai),
    "interfaces": Field("list", v.interface_name, elements="str", required=True, min_items=1),
    "colocated": Field("bool", v.boolean, default=False),
    "reverse_tunnel": Field("bool", v.boolean, default=False),
    "encapsulation": Field("str", default="ipip", choices=ENCAPSULATIONS),
    "lifetime": Field("int", v.lifetime, default=1800),
    "reregister_margin": Field("int", _int(0, v.LIFETIME_MAX), default=10),
    "solicit_interval": Field("float", _seconds(3600.0), default=1.0),
    "max_retransmit_interval": Field("float", _seconds(3600.0), default=32.0),
}, _mobile_node_post)


# ---------------------------------------------------------------------- security associations


def _spi(value: object, path: str) -> int:
    if v.is_int(value) and 0 <= value < SPI_MIN:  # type: ignore[operator]
        raise ModelError(path, f"0-{SPI_MIN - 1} are reserved (RFC 5944 §1.6), got {value}")
    return v.integer(value, path, SPI_MIN, SPI_MAX)


def _sa_post(sa: dict[str, Any], path: str, partial: bool) -> None:
    """A key travels with its format: given without key_format, it is hex (never echoed)."""
    if sa.get("key") is None:
        if partial and sa.get("key_format") is not None:
            raise ModelError(join(path, "key_format"), "applies to the key given with it: give key too")
        return
    if sa.get("key_format") is None:
        sa["key_format"] = "hex"
    sa["key"] = keys.canonical_key(sa["key"], sa["key_format"], join(path, "key"))


SECURITY_ASSOCIATION = Schema({
    "peer": Field("str", v.peer, required=True),
    "spi": Field("int", _spi, required=True),
    "kind": Field("str", choices=SA_KINDS),
    "algorithm": Field("str", default="hmac-md5", choices=ALGORITHMS),
    "key": Field("str", v.string, required=True, secret=True),
    "key_format": Field("str", default="hex", choices=keys.KEY_FORMATS),
    "replay": Field("str", default="timestamp", choices=REPLAY_METHODS),
    "replay_window": Field("int", _int(1, 3600), default=7),
    "fallback": Field("bool", v.boolean, default=False),
    # the roles on this host that use the SA (a host both HA and FA); not given: every role
    "roles": Field("list", elements="str", choices=ROLES, min_items=1, default=None),
}, _sa_post)


# ---------------------------------------------------------------------- registration filters


def _rule_post(rule: dict[str, Any], path: str, partial: bool) -> None:
    if (rule.get("prefix") is None) == (rule.get("nai") is None):
        raise ModelError(path, "needs exactly one of prefix or nai")


def _nai_pattern(value: object, path: str) -> str:
    return v.string(value, path, 255)


RULE = Schema({
    "action": Field("str", required=True, choices=ACTIONS),
    "prefix": Field("str", v.prefix_or_address),
    "nai": Field("str", _nai_pattern),
}, _rule_post)

RULE_LIST = Schema({
    "default": Field("str", default="permit", choices=ACTIONS),
    # identity: a second rule with the same match could never fire (first match wins)
    "rules": Field("list", elements="dict", schema=RULE, identity=("prefix", "nai"), ordered=True),
})

REGISTRATION_FILTERS = Schema({
    "care_of": Field("dict", schema=RULE_LIST),  # HA: which care-of addresses may register (code 129)
    "roaming": Field("dict", schema=RULE_LIST),  # HA: which mobile nodes may roam (code 129)
    "home_agents": Field("dict", schema=RULE_LIST),  # FA: which home agents visitors may use (code 65)
})
FILTER_OWNER = {"care_of": "home_agent", "roaming": "home_agent", "home_agents": "foreign_agent"}


# ---------------------------------------------------------------------- AAA (RADIUS) client

RADIUS_SECRET_MIN = 16  # RFC 2865 §3: at least 16 octets (mipd refuses shorter ones)
RADIUS_SECRET_MAX = 128
RADIUS_PORT = 1812  # RFC 2865 §3
CACHE_UNTIL_UNBOUND = 0  # cache_lifetime 0: a fetched SA is kept until the node's binding ends (IOS load-sa)


def _radius_secret(value: object, path: str) -> str:
    """A RADIUS shared secret (RFC 2865 §3): 16-128 bytes of UTF-8. Errors never show it."""
    if not isinstance(value, str) or not value:
        raise ModelError(path, "must be a non-empty string (value hidden)")
    size = len(value.encode("utf-8"))
    if not RADIUS_SECRET_MIN <= size <= RADIUS_SECRET_MAX:
        raise ModelError(path, f"is {size} bytes; {RADIUS_SECRET_MIN}-{RADIUS_SECRET_MAX} are needed (RFC 2865 §3)")
    return value


def _timeout(value: object, path: str) -> float:
    return v.number(value, path, 0.0, 60.0)


def _aaa_post(aaa: dict[str, Any], path: str, partial: bool) -> None:
    if partial:
        return
    lifetime = aaa["cache_lifetime"]
    if lifetime != CACHE_UNTIL_UNBOUND and aaa["refresh_margin"] >= lifetime:
        raise ModelError(join(path, "refresh_margin"),
                         f"{aaa['refresh_margin']} must be shorter than cache_lifetime ({lifetime})")


RADIUS_SERVER = Schema({
    "address": Field("str", v.ipv4, required=True),
    "port": Field("int", _int(1, 65535), default=RADIUS_PORT),
    "secret": Field("str", _radius_secret, secret=True),  # never read back from the main file alone
})

# The home agent's RADIUS client (RFC 5944 §3.8.2.1 a: the node's SA is fetched when the HA has none;
# Cisco IOS `aaa authorization ipmobile`); defaults are mipd's (agent/src/mipd/runtime/radius_config.py).
AAA = Schema({
    # tried in this order (failover); one server per address
    "servers": Field("list", elements="dict", schema=RADIUS_SERVER, identity=("address",), ordered=True,
                     required=True, min_items=1),
    "source_address": Field("str", v.ipv4),
    "timeout": Field("float", _timeout, default=2.0),
    "retries": Field("int", _int(0, 10), default=2),
    "dead_time": Field("int", _int(0, 3600), default=30),
    "nas_identifier": Field("str", lambda value, path: v.string(value, path, 64), default="mipd"),
    "cache_lifetime": Field("int", _int(0, 30 * 86400), default=CACHE_UNTIL_UNBOUND),
    "unbound_lifetime": Field("int", _int(1, 86400), default=300),
    "refresh_margin": Field("int", _int(0, 86400), default=60),
    "negative_lifetime": Field("int", _int(0, 86400), default=30),
    "pending_lookups": Field("int", _int(1, 4096), default=64),
    "pending_per_node": Field("int", _int(1, 64), default=4),
    "lookup_rate": Field("int", _int(0), default=50),
    "failure_log_interval": Field("int", _int(0, 86400), default=60),
}, _aaa_post)


# ---------------------------------------------------------------------- resources


class Resource:
    """A configurable resource: what a config module manages.

    field: the module's `config` option (a dict for one-per-host resources, a list for SAs).
    singleton: the resource may be absent as a whole (`deleted` removes it).
    keep_unnamed: `replaced` keeps top-level options not given (registration filters: each named
      rule list is replaced, the others stay); otherwise options not given revert to defaults.
    """

    __slots__ = ("name", "field", "singleton", "keep_unnamed", "secret_file", "warnings")

    def __init__(self, name: str, field: Field, singleton: bool = True, keep_unnamed: bool = False,
                 secret_file: bool = False, warnings: Callable[[dict[str, Any]], list[str]] | None = None) -> None:
        self.name = name
        self.field = field
        self.singleton = singleton
        self.keep_unnamed = keep_unnamed
        self.secret_file = secret_file
        self.warnings = warnings

    @property
    def empty(self) -> Any:
        """The value of the resource when the host has none."""
        if self.field.kind == "list":
            return []
        return None if self.singleton else self.field.schema.defaults()  # type: ignore[union-attr]


RESOURCES = {
    r.name: r
    for r in (
        Resource("home_agent", Field("dict", schema=HOME_AGENT), warnings=_home_agent_warnings),
        Resource("foreign_agent", Field("dict", schema=FOREIGN_AGENT)),
        Resource("mobile_node", Field("dict", schema=MOBILE_NODE)),
        Resource("security_associations",
                 Field("list", elements="dict", schema=SECURITY_ASSOCIATION, identity=("peer", "spi"),
                       group=("peer",), ordered=True),
                 singleton=False, secret_file=True),
        Resource("registration_filters", Field("dict", schema=REGISTRATION_FILTERS), singleton=False,
                 keep_unnamed=True),
        Resource("aaa", Field("dict", schema=AAA)),
    )
}
