# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mobile_node on IOS: an IOS-like router is a mobile router (RFC 5944 §3; Cisco mobile networks).

    home_address, home_prefix_length   ip mobile router / address A MASK
    home_agent                         ip mobile router / home-agent A
    lifetime                           ip mobile router / register lifetime S        (always written)
    solicit_interval, max_retransmit_interval
                                       ip mobile router / register retransmit initial MS maximum MS retry 3
                                                                                     (always written)
    reverse_tunnel                     ip mobile router / reverse-tunnel
    encapsulation                      ip mobile router / tunnel mode gre            (gre; ipip: left out)
    interfaces                         interface IF / ip mobile router-service roam
    colocated                          interface IF / ip mobile router-service collocated  (on each)
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.lines import (
    INTERFACE,
    IP,
    MOBILE_ROUTER,
    UNKNOWN,
    Facts,
    LineKind,
    RunningConfig,
    ipv4,
    netmask,
    number,
    of_kind,
    prefix_of,
    put,
    without,
)

RETRY = 3

ADDRESS = LineKind("mr_address", MOBILE_ROUTER, rf"^address (?P<address>{IP}) (?P<mask>{IP})$",
                   lambda values: f"address {values['address']} {values['mask']}", lambda values: "no address",
                   model=("home_address", "home_prefix_length"), convert={"address": ipv4})
HOME_AGENT = LineKind("mr_home_agent", MOBILE_ROUTER, rf"^home-agent (?P<address>{IP})(?P<options>(?: .*)?)$",
                      lambda values: f"home-agent {values['address']}",
                      lambda values: f"no home-agent {values['address']}",
                      identity=("address",), model=("home_agent",), convert={"address": ipv4})
LIFETIME = LineKind("mr_lifetime", MOBILE_ROUTER, r"^register lifetime (?P<seconds>\d+)$",
                    lambda values: f"register lifetime {values['seconds']}", lambda values: "no register lifetime",
                    model=("lifetime",), convert={"seconds": number})
RETRANSMIT = LineKind(
    "mr_retransmit", MOBILE_ROUTER,
    r"^register retransmit initial (?P<initial>\d+) maximum (?P<maximum>\d+) retry (?P<retry>\d+)$",
    lambda values: (f"register retransmit initial {values['initial']} maximum {values['maximum']} "
                    f"retry {values['retry']}"),
    lambda values: "no register retransmit", model=("solicit_interval", "max_retransmit_interval"),
    convert={"initial": number, "maximum": number, "retry": number})
REVERSE_TUNNEL = LineKind("mr_reverse_tunnel", MOBILE_ROUTER, r"^reverse-tunnel(?P<options>(?: .*)?)$",
                          lambda values: "reverse-tunnel", model=("reverse_tunnel",))
TUNNEL_MODE = LineKind("mr_tunnel_mode", MOBILE_ROUTER, r"^tunnel mode gre$", lambda values: "tunnel mode gre",
                       model=("encapsulation",))
ROAM = LineKind("router_service_roam", INTERFACE, r"^ip mobile router-service roam(?P<options>(?: .*)?)$",
                lambda values: "ip mobile router-service roam", model=("interfaces",))
COLLOCATED = LineKind("router_service_collocated", INTERFACE,
                      r"^ip mobile router-service collocated(?P<options>(?: .*)?)$",
                      lambda values: "ip mobile router-service collocated", model=("colocated",))
KINDS = [ADDRESS, HOME_AGENT, LIFETIME, RETRANSMIT, REVERSE_TUNNEL, TUNNEL_MODE, ROAM, COLLOCATED]
SECTION = tuple(kind.name for kind in KINDS if kind.context == MOBILE_ROUTER)
PER_INTERFACE = ("router_service_roam", "router_service_collocated")
CLAIMS = re.compile(r"^(?!)")  # the section's own lines are read by the table above


def _roaming(facts: Facts) -> list[str]:
    return [key[0] for key, _v in of_kind(facts, "router_service_roam")]


def to_model(config: RunningConfig, facts: Facts) -> dict[str, Any] | None:
    if not any(k[0] == MOBILE_ROUTER for k in facts):
        return None
    address = next((values for _k, values in of_kind(facts, "mr_address")), {})
    home_agent = next((values["address"] for _k, values in of_kind(facts, "mr_home_agent")), None)
    lifetime = next((values["seconds"] for _k, values in of_kind(facts, "mr_lifetime")), None)
    retransmit = next((values for _k, values in of_kind(facts, "mr_retransmit")), {})
    roaming = _roaming(facts)
    return {
        "home_address": address.get("address"),
        "home_prefix_length": int(prefix_of(address["address"], address["mask"]).split("/")[1]) if address else None,
        "home_agent": home_agent,
        "interfaces": [header.split(" ", 1)[1] for header in roaming],
        "colocated": bool(roaming) and all(of_kind(facts, "router_service_collocated", h) for h in roaming),
        "reverse_tunnel": bool(of_kind(facts, "mr_reverse_tunnel")),
        "encapsulation": "gre" if of_kind(facts, "mr_tunnel_mode") else "ipip",
        "lifetime": lifetime,
        "solicit_interval": retransmit["initial"] / 1000 if retransmit else None,
        "max_retransmit_interval": retransmit["maximum"] / 1000 if retransmit else None,
    }


def unheld(config: RunningConfig, facts: Facts) -> list[str]:
    notes = []
    agents = of_kind(facts, "mr_home_agent")
    if len(agents) > 1:
        notes.append(f"ip mobile router: {len(agents)} home-agent lines (the model holds one home agent)")
    for key, values in facts.items():
        if key[1] in (*SECTION, *PER_INTERFACE) and UNKNOWN in values:
            notes.append(f"{key[0]}: {key[1].replace('_', ' ')} ... {' '.join(values[UNKNOWN])}")
    for _key, values in of_kind(facts, "mr_retransmit"):
        if values["retry"] != RETRY:
            notes.append(f"ip mobile router: register retransmit ... retry {values['retry']} (the model retries "
                         f"{RETRY} times)")
    roaming = _roaming(facts)
    colocated = [h for h in roaming if of_kind(facts, "router_service_collocated", h)]
    if colocated and len(colocated) != len(roaming):
        notes.append("ip mobile router-service collocated on some roaming interfaces only")
    return notes


def apply(value: dict[str, Any] | None, facts: Facts, config: RunningConfig) -> Facts:
    out = without(facts, SECTION)
    out = without(out, PER_INTERFACE, tuple(_roaming(facts)))
    if value is None:
        return out
    address, mask = netmask(f"{value['home_address']}/{value['home_prefix_length']}")
    put(out, ADDRESS, {"address": value["home_address"], "mask": mask}, MOBILE_ROUTER)
    put(out, HOME_AGENT, {"address": value["home_agent"]}, MOBILE_ROUTER)
    put(out, LIFETIME, {"seconds": value["lifetime"]}, MOBILE_ROUTER)
    put(out, RETRANSMIT, {"initial": _ms(value["solicit_interval"]), "maximum": _ms(value["max_retransmit_interval"]),
                          "retry": RETRY}, MOBILE_ROUTER)
    if value["reverse_tunnel"]:
        put(out, REVERSE_TUNNEL, {}, MOBILE_ROUTER)
    if value["encapsulation"] == "gre":
        put(out, TUNNEL_MODE, {}, MOBILE_ROUTER)
    for name in value["interfaces"]:
        put(out, ROAM, {}, f"interface {name}")
        if value["colocated"]:
            put(out, COLLOCATED, {}, f"interface {name}")
    return out


# `register retransmit initial MS maximum MS`: the range IOS accepts for both
RETRANSMIT_MS = (10, 10000)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def unsupported(value: dict[str, Any] | None, path: str) -> list[ModelError]:
    if value is None:
        return []
    errors = []
    for name, default in {"home_gateway": None, "nai": None, "reregister_margin": 10}.items():
        if value.get(name) is not None and value[name] != default:
            errors.append(ModelError(join(path, name), "IOS-like mobile routers have no setting for it"))
    if value.get("encapsulation") == "minimal":
        errors.append(ModelError(join(path, "encapsulation"),
                                 "minimal: IOS-like mobile routers tunnel with ipip or gre"))
    for name in ("solicit_interval", "max_retransmit_interval"):
        seconds = value.get(name)
        if seconds is not None and abs(seconds * 1000 - _ms(seconds)) > 1e-6:
            errors.append(ModelError(join(path, name), f"{seconds:g} s: IOS-like mobile routers take whole "
                                     "milliseconds (register retransmit)"))
        elif seconds is not None and not RETRANSMIT_MS[0] <= _ms(seconds) <= RETRANSMIT_MS[1]:
            errors.append(ModelError(join(path, name), f"{seconds:g} s: IOS-like mobile routers take "
                                     f"{RETRANSMIT_MS[0] / 1000:g}-{RETRANSMIT_MS[1] / 1000:g} s (register "
                                     "retransmit initial/maximum, in ms); set it for IOS hosts"))
    return errors


def check(value: dict[str, Any] | None, config: RunningConfig, path: str) -> list[ModelError]:
    if value is None or not config.interfaces:
        return []
    return [ModelError(join(join(path, "interfaces"), i), f"the router has no interface {name}")
            for i, name in enumerate(value["interfaces"]) if name not in config.interfaces]
