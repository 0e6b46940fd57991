# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""home_agent on IOS (RFC 5944 §3.8): `ip mobile home-agent`, virtual networks, mobile hosts.

    address             ip mobile home-agent address A
    max_lifetime        ip mobile home-agent ... lifetime S            (IOS default 36000: left out)
    reverse_tunnel      ip mobile home-agent ... reverse-tunnel-off    (when false)
    virtual_networks    ip mobile virtual-network NET MASK
    mobile_hosts        ip mobile host LOWER [UPPER] {interface IF | virtual-network NET MASK}
    nai_hosts           ip mobile host nai NAI static-address A... {interface IF | virtual-network NET MASK}
    interface           the IF of those host lines (else the interface holding the address)
    home_networks       the prefixes of the home interface's `ip address` lines (read, never written)
    advertisement       ip irdp lines on the home interface (irdp.py)

Hosts in a virtual network name it, the others the home interface. care-of-access and roam-access
on the home-agent line belong to registration_filters and are kept as they are; `aaa load-sa` on the host
lines belongs to aaa (aaa.py): host lines carry it while the router has `aaa authorization ipmobile`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils import model
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios import aaa, irdp
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.lines import (
    GLOBAL,
    IP,
    UNKNOWN,
    Facts,
    LineKind,
    Option,
    RunningConfig,
    flag,
    ipv4,
    netmask,
    number,
    of_kind,
    option,
    prefix_of,
    put,
    without,
    words,
)

LIFETIME_DEFAULT = 36000
REPLAY_DEFAULT = 7
# `ip mobile home-agent <word>` commands of their own (redundancy, AAA...): not this line, left alone
_OTHER_COMMANDS = ("standby", "redundancy", "resync-sa", "template", "aaa", "accounting", "nat",
                   "reject-static-address", "dynamic-address", "max-binding", "revocation", "service-policy")
_NETWORK = rf"(?:interface (?P<interface>\S+)|virtual-network (?P<vnet>{IP}) (?P<vmask>{IP}))"


def _home_agent_line(values: dict[str, Any]) -> str:
    return words("ip mobile home-agent", option(values.get("address"), "address"),
                 flag(values.get("broadcast"), "broadcast"),
                 option(values.get("care_of_access"), "care-of-access"), option(values.get("lifetime"), "lifetime"),
                 option(values.get("replay"), "replay"), flag(values.get("reverse_tunnel_off"), "reverse-tunnel-off"),
                 option(values.get("roam_access"), "roam-access"),
                 flag(values.get("suppress_unreachable"), "suppress-unreachable"))


def _network(values: dict[str, Any]) -> str:
    if values.get("vnet"):
        return f"virtual-network {values['vnet']} {values['vmask']}"
    return f"interface {values['interface']}"


HOME_AGENT = LineKind(
    "home_agent", GLOBAL, rf"^ip mobile home-agent(?! (?:{'|'.join(_OTHER_COMMANDS)})\b)(?P<options>(?: .*)?)$",
    _home_agent_line, lambda values: "no ip mobile home-agent",
    options={"address": Option("address", ipv4), "broadcast": Option("broadcast"),
             "care-of-access": Option("care_of_access", str), "lifetime": Option("lifetime", number),
             "replay": Option("replay", number), "reverse-tunnel-off": Option("reverse_tunnel_off"),
             "roam-access": Option("roam_access", str), "suppress-unreachable": Option("suppress_unreachable")},
    model=("address", "max_lifetime", "reverse_tunnel"))
VIRTUAL_NETWORK = LineKind(
    "virtual_network", GLOBAL, rf"^ip mobile virtual-network (?P<net>{IP}) (?P<mask>{IP})(?P<options>(?: .*)?)$",
    lambda values: f"ip mobile virtual-network {values['net']} {values['mask']}",
    lambda values: f"no ip mobile virtual-network {values['net']} {values['mask']}", identity=("net", "mask"),
    model=("virtual_networks",))


def _aaa_words(values: dict[str, Any]) -> tuple[str | None, ...]:
    return flag(values.get("aaa"), "aaa"), flag(values.get("load_sa"), "load-sa")


HOST = LineKind(
    "host", GLOBAL, rf"^ip mobile host (?P<lower>{IP})(?: (?P<upper>{IP}))? {_NETWORK}(?P<options>(?: .*)?)$",
    lambda values: words("ip mobile host", values["lower"], values.get("upper"), _network(values), *_aaa_words(values)),
    lambda values: words("no ip mobile host", values["lower"], values.get("upper")), identity=("lower", "upper"),
    options={"aaa": Option("aaa", then=("load-sa",))}, model=("mobile_hosts", "interface"))
NAI_HOST = LineKind(
    "nai_host", GLOBAL,
    rf"^ip mobile host nai (?P<nai>\S+) static-address (?P<addresses>{IP}(?: {IP})*) {_NETWORK}(?P<options>(?: .*)?)$",
    lambda values: words(f"ip mobile host nai {values['nai']} static-address {' '.join(values['addresses'])} "
                         f"{_network(values)}", *_aaa_words(values)),
    lambda values: f"no ip mobile host nai {values['nai']}", identity=("nai",), model=("nai_hosts",),
    options={"aaa": Option("aaa", then=("load-sa",))}, convert={"addresses": str.split})
KINDS = [HOME_AGENT, VIRTUAL_NETWORK, HOST, NAI_HOST, *irdp.KINDS]
OWN = ("home_agent", "virtual_network", "host", "nai_host")
CLAIMS = re.compile(rf"^ip mobile (?:home-agent(?! (?:{'|'.join(_OTHER_COMMANDS)})\b)|virtual-network |host )")


def _hosts(facts: Facts) -> list[dict[str, Any]]:
    return [values for _key, values in of_kind(facts, "host")]


def _nai_hosts(facts: Facts) -> list[dict[str, Any]]:
    return [values for _key, values in of_kind(facts, "nai_host")]


def interface_of(config: RunningConfig, facts: Facts, ha: dict[str, Any]) -> str | None:
    """The home interface: the one host lines name, else the one holding the home agent address."""
    for host in [*_hosts(facts), *_nai_hosts(facts)]:
        if host.get("interface"):
            return host["interface"]
    return config.interface_with(ha["address"]) if ha.get("address") else None


def to_model(config: RunningConfig, facts: Facts) -> dict[str, Any] | None:
    found = of_kind(facts, "home_agent")
    if not found:
        return None
    ha = dict(found[0][1])
    interface = interface_of(config, facts, ha)
    if ha.get("address") is None and interface is not None:
        ha["address"] = config.address_of(interface)
    value: dict[str, Any] = {
        "address": ha.get("address"),
        "interface": interface,
        "home_networks": [prefix for _a, prefix, _s in config.interfaces.get(interface or "", [])],
        "virtual_networks": [prefix_of(v["net"], v["mask"]) for _k, v in of_kind(facts, "virtual_network")],
        "mobile_hosts": [h["lower"] if not h.get("upper") else f"{h['lower']}-{h['upper']}" for h in _hosts(facts)],
        "nai_hosts": [{"nai": h["nai"], "home_addresses": h["addresses"]} for h in _nai_hosts(facts)],
        "max_lifetime": ha.get("lifetime", LIFETIME_DEFAULT),
        "reverse_tunnel": not ha.get("reverse_tunnel_off", False),
    }
    if interface is not None:
        adv = irdp.read(facts, f"interface {interface}")
        value["advertisement"] = {k: adv[k] for k in ("enabled", "interval", "lifetime", "code")}
    return value


def unheld(config: RunningConfig, facts: Facts) -> list[str]:
    """What the router's home agent lines say that the model cannot."""
    notes = []
    for _key, ha in of_kind(facts, "home_agent"):
        for name in ("broadcast", "suppress_unreachable"):
            if ha.get(name):
                notes.append(f"ip mobile home-agent {name.replace('_', '-')}")
        if ha.get("replay", REPLAY_DEFAULT) != REPLAY_DEFAULT:
            notes.append(f"ip mobile home-agent replay {ha['replay']} (the model's replay window is per security "
                         "association)")
        notes += [f"ip mobile home-agent {' '.join(ha[UNKNOWN])}"] if UNKNOWN in ha else []
    interface = None
    if of_kind(facts, "home_agent"):
        interface = interface_of(config, facts, of_kind(facts, "home_agent")[0][1])
    for host in [*_hosts(facts), *_nai_hosts(facts)]:
        plain = {k: values for k, values in host.items() if k not in ("aaa", "load_sa")}
        line = HOST.lines(plain, True)[0] if "lower" in host else NAI_HOST.lines(plain, True)[0]
        if UNKNOWN in host:
            notes.append(f"{line}: {' '.join(host[UNKNOWN])}")
        if host.get("aaa") and not aaa.host_flags(facts):  # AAA SAs without `aaa authorization ipmobile`
            notes.append(f"{line}: {' '.join(w for w in _aaa_words(host) if w)}")
        if host.get("interface") and host["interface"] != interface:
            notes.append(f"{line}: a second home interface ({interface} is the first)")
    for _key, vn in of_kind(facts, "virtual_network"):
        if UNKNOWN in vn:
            notes.append(f"ip mobile virtual-network {vn['net']} {vn['mask']}: {' '.join(vn[UNKNOWN])}")
    read = {line for line in config.globals if any(k.read(line) for k in (HOME_AGENT, VIRTUAL_NETWORK, HOST, NAI_HOST))}
    notes += [f"{line}: not understood" for line in config.globals if CLAIMS.match(line) and line not in read]
    return notes


def apply(value: dict[str, Any] | None, facts: Facts, config: RunningConfig) -> Facts:
    """`facts` with the home agent's lines made those of `value` (None: removed)."""
    before = of_kind(facts, "home_agent")
    kept = {k: before[0][1][k] for k in ("care_of_access", "roam_access") if before and k in before[0][1]}
    old_interface = interface_of(config, facts, before[0][1]) if before else None
    out = without(facts, OWN)
    if old_interface is not None:
        out = without(out, irdp.NAMES, (f"interface {old_interface}",))
    if value is None:
        return out
    put(out, HOME_AGENT, {"address": value["address"], **kept, "reverse_tunnel_off": not value["reverse_tunnel"],
                          "lifetime": None if value["max_lifetime"] == LIFETIME_DEFAULT else value["max_lifetime"]})
    virtual = [ipaddress.IPv4Network(n) for n in value["virtual_networks"]]
    for net in value["virtual_networks"]:
        address, mask = netmask(net)
        put(out, VIRTUAL_NETWORK, {"net": address, "mask": mask})
    for entry in value["mobile_hosts"]:
        lower, _sep, upper = (part.strip() for part in entry.partition("-"))
        put(out, HOST, {"lower": lower, "upper": upper or None, **_network_of(lower, virtual, value["interface"]),
                        **aaa.host_flags(out)})
    for host in value["nai_hosts"]:
        network = _network_of(host["home_addresses"][0], virtual, value["interface"])
        put(out, NAI_HOST, {"nai": host["nai"], "addresses": list(host["home_addresses"]), **network,
                            **aaa.host_flags(out)})
    adv = value["advertisement"]
    irdp.write(out, f"interface {value['interface']}", adv, enabled=adv["enabled"])
    return out


def _network_of(address: str, virtual: list[ipaddress.IPv4Network], interface: str) -> dict[str, Any]:
    for net in virtual:
        if ipaddress.IPv4Address(address) in net:
            return {"vnet": str(net.network_address), "vmask": str(net.netmask)}
    return {"interface": interface}


def unsupported(value: dict[str, Any] | None, path: str) -> list[ModelError]:
    if value is None:
        return []
    errors = []
    fixed = {"simultaneous_bindings": 0, "binding_limit": 0, "reverse_tunnel_mandatory": False,
             "encapsulations": list(model.ENCAPSULATIONS)}
    for name, default in fixed.items():
        if value.get(name) not in (None, default):
            errors.append(ModelError(join(path, name), f"IOS-like routers have no home agent setting for it "
                                     f"(only {default!r} can be held)"))
    for i, entry in enumerate(value.get("mobile_hosts") or []):
        if "/" in entry or "@" in entry:
            errors.append(ModelError(join(join(path, "mobile_hosts"), i), f"{entry!r}: IOS-like routers serve "
                                     "addresses and ranges (ip mobile host LOWER [UPPER]); write a prefix as a "
                                     "range, an NAI in nai_hosts with its addresses"))
    return errors + irdp.unsupported(value.get("advertisement"), path)


def check(value: dict[str, Any] | None, config: RunningConfig, path: str) -> list[ModelError]:
    """What the router itself must agree with: the home interface exists and holds the home networks."""
    if value is None or not config.interfaces:
        return []
    interface = value["interface"]
    if interface not in config.interfaces:
        return [ModelError(join(path, "interface"), f"the router has no interface {interface}")]
    held = sorted(prefix for _a, prefix, _s in config.interfaces[interface])
    if sorted(value["home_networks"]) != held:
        return [ModelError(join(path, "home_networks"), f"{', '.join(value['home_networks']) or '[]'}: on an "
                           f"IOS-like router the home networks are {interface}'s addresses "
                           f"({', '.join(held) or 'none'}); change them on the interface")]
    return []
