# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""foreign_agent on IOS (RFC 5944 §3.7): care-of interfaces, and the service on each visited link.

    interfaces[].name               interface IF with ` ip mobile foreign-service ...`
    interfaces[].address, prefix_length   IF's `ip address` (read, never written)
    interfaces[].care_of_addresses  ip mobile foreign-agent care-of CIF (CIF's address; IOS offers
                                    every care-of address on every served interface)
    registration_required           ip mobile foreign-service ... registration-required
    reverse_tunnel                  ip mobile foreign-service ... reverse-tunnel [mandatory]  (off: neither)
    visitor_limit                   ip mobile foreign-service ... limit N                     (0: left out)
    advertisement.challenge         ip mobile foreign-service ... challenge                   (RFC 3012)
    registration_lifetime           ip mobile registration-lifetime S   (IOS default 36000: left out)
    advertisement.prefix_lengths    ip mobile prefix-length
    advertisement.interval/lifetime/broadcast   ip irdp lines (irdp.py); ` ip irdp` always
    pending_timeout                 ip mobile foreign-agent reg-wait S  (IOS default 120: left out)

Settings the model holds once are written on every served interface; home-access on the
foreign-service line belongs to registration_filters and is kept as it is.
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils import model
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios import irdp
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.lines import (
    GLOBAL,
    INTERFACE,
    UNKNOWN,
    Facts,
    LineKind,
    Option,
    RunningConfig,
    flag,
    number,
    of_kind,
    option,
    put,
    without,
    words,
)

LIFETIME_DEFAULT = 36000
REG_WAIT_DEFAULT = 120
REG_WAIT_RANGE = (5, 600)


def _service_line(values: dict[str, Any]) -> str:
    return words("ip mobile foreign-service", flag(values.get("challenge"), "challenge"),
                 option(values.get("home_access"), "home-access"), option(values.get("limit"), "limit"),
                 flag(values.get("registration_required"), "registration-required"),
                 flag(values.get("reverse_tunnel"), "reverse-tunnel"), flag(values.get("mandatory"), "mandatory"))


CARE_OF = LineKind("care_of", GLOBAL, r"^ip mobile foreign-agent care-of (?P<interface>\S+)$",
                   lambda values: f"ip mobile foreign-agent care-of {values['interface']}", identity=("interface",),
                   model=("interfaces[].care_of_addresses",))
REG_WAIT = LineKind("reg_wait", GLOBAL, r"^ip mobile foreign-agent reg-wait (?P<seconds>\d+)$",
                    lambda values: f"ip mobile foreign-agent reg-wait {values['seconds']}",
                    lambda values: "no ip mobile foreign-agent reg-wait", model=("pending_timeout",),
                    convert={"seconds": number}, explicit_default=True)
SERVICE = LineKind(
    "foreign_service", INTERFACE, r"^ip mobile foreign-service(?P<options>(?: .*)?)$", _service_line,
    lambda values: "no ip mobile foreign-service",
    options={"challenge": Option("challenge"), "home-access": Option("home_access", str),
             "limit": Option("limit", number), "registration-required": Option("registration_required"),
             "reverse-tunnel": Option("reverse_tunnel", then=("mandatory",))},
    model=("interfaces[].name", "registration_required", "reverse_tunnel", "visitor_limit", "advertisement.challenge"))
REGISTRATION_LIFETIME = LineKind(
    "registration_lifetime", INTERFACE, r"^ip mobile registration-lifetime (?P<seconds>\d+)$",
    lambda values: f"ip mobile registration-lifetime {values['seconds']}",
    lambda _values: "no ip mobile registration-lifetime",
    model=("registration_lifetime",), convert={"seconds": number}, explicit_default=True)
PREFIX_LENGTH = LineKind("prefix_length", INTERFACE, r"^ip mobile prefix-length$",
                         lambda _values: "ip mobile prefix-length", model=("advertisement.prefix_lengths",))
KINDS = [CARE_OF, REG_WAIT, SERVICE, REGISTRATION_LIFETIME, PREFIX_LENGTH, *irdp.KINDS]
PER_INTERFACE = ("foreign_service", "registration_lifetime", "prefix_length", *irdp.NAMES)
CLAIMS = re.compile(r"^ip mobile foreign-agent (?:care-of|reg-wait)\b")


def served(facts: Facts) -> list[str]:
    """The headers of the interfaces with foreign-agent service, in order."""
    return [key[0] for key, _v in of_kind(facts, "foreign_service")]


def _settings(facts: Facts, header: str) -> dict[str, Any]:
    """What the model holds once, as interface `header` says it."""
    service = next((values for k, values in of_kind(facts, "foreign_service", header)), {})
    lifetime = next((v["seconds"] for _key, v in of_kind(facts, "registration_lifetime", header)), LIFETIME_DEFAULT)
    reverse = "off" if not service.get("reverse_tunnel") else "mandatory" if service.get("mandatory") else "offered"
    adv = irdp.read(facts, header)
    return {
        "registration_lifetime": lifetime,
        "registration_required": bool(service.get("registration_required")),
        "reverse_tunnel": reverse,
        "visitor_limit": service.get("limit", 0),
        "advertisement": {"interval": adv["interval"], "lifetime": adv["lifetime"], "code": adv["code"],
                          "prefix_lengths": bool(of_kind(facts, "prefix_length", header)),
                          "challenge": bool(service.get("challenge")), "broadcast": adv["broadcast"]},
    }


def to_model(config: RunningConfig, facts: Facts) -> dict[str, Any] | None:
    headers = served(facts)
    if not headers:
        return None
    care_of = [config.address_of(values["interface"]) for _k, values in of_kind(facts, "care_of")]
    interfaces = []
    for header in headers:
        name = header.split(" ", 1)[1]
        address = config.address_of(name)
        prefix = next((p for a, p, _s in config.interfaces.get(name, []) if a == address), None)
        length = int(prefix.split("/")[1]) if prefix else None
        interfaces.append({"name": name, "address": address, "prefix_length": length,
                           "care_of_addresses": [a for a in care_of if a] or None})
    value = {"interfaces": interfaces, **_settings(facts, headers[0])}
    wait = next((values["seconds"] for _k, values in of_kind(facts, "reg_wait")), REG_WAIT_DEFAULT)
    value["pending_timeout"] = float(wait)
    return value


def unheld(config: RunningConfig, facts: Facts) -> list[str]:
    notes = []
    headers = served(facts)
    for header in headers[1:]:
        if _settings(facts, header) != _settings(facts, headers[0]):
            notes.append(f"{header}: foreign-agent settings differ from {headers[0]}'s (the model holds them once)")
    for key, service in of_kind(facts, "foreign_service"):
        if UNKNOWN in service:
            notes.append(f"{key[0]}: ip mobile foreign-service ... {' '.join(service[UNKNOWN])}")
    for _key, care_of in of_kind(facts, "care_of"):
        if config.address_of(care_of["interface"]) is None:
            notes.append(f"ip mobile foreign-agent care-of {care_of['interface']}: its address is not known")
    if of_kind(facts, "care_of") and not headers:
        notes.append("ip mobile foreign-agent care-of without an interface giving foreign-agent service")
    read = {line for line in config.globals if CARE_OF.read(line) or REG_WAIT.read(line)}
    notes += [f"{line}: not understood" for line in config.globals if CLAIMS.match(line) and line not in read]
    return notes


def apply(value: dict[str, Any] | None, facts: Facts, config: RunningConfig, path: str = "config") -> Facts:
    old = served(facts)
    kept = {key[0]: v["home_access"] for key, v in of_kind(facts, "foreign_service") if "home_access" in v}
    out = without(without(facts, ("care_of", "reg_wait")), PER_INTERFACE, tuple(old))
    if value is None:
        return out
    addresses = {i["address"]: i["name"] for i in value["interfaces"]}
    for j, address in enumerate(value["interfaces"][0]["care_of_addresses"]):
        interface = config.interface_with(address) or addresses.get(address)
        if interface is None:
            raise ModelError(join(join(join(join(path, "interfaces"), 0), "care_of_addresses"), j),
                             f"{address} is not an address of an interface the router is known to have (IOS names "
                             "care-of interfaces: ip mobile foreign-agent care-of IF)")
        put(out, CARE_OF, {"interface": interface})
    if value["pending_timeout"] != REG_WAIT_DEFAULT:
        put(out, REG_WAIT, {"seconds": int(value["pending_timeout"])})
    adv = value["advertisement"]
    for iface in value["interfaces"]:
        header = f"interface {iface['name']}"
        put(out, SERVICE, {"challenge": adv["challenge"], "home_access": kept.get(header),
                           "limit": value["visitor_limit"] or None,
                           "registration_required": value["registration_required"],
                           "reverse_tunnel": value["reverse_tunnel"] != "off",
                           "mandatory": value["reverse_tunnel"] == "mandatory"}, header)
        if value["registration_lifetime"] != LIFETIME_DEFAULT:
            put(out, REGISTRATION_LIFETIME, {"seconds": value["registration_lifetime"]}, header)
        if adv["prefix_lengths"]:
            put(out, PREFIX_LENGTH, {}, header)
        irdp.write(out, header, adv, broadcast=adv["broadcast"])
    return out


def unsupported(value: dict[str, Any] | None, path: str) -> list[ModelError]:
    if value is None:
        return []
    errors = []
    fixed = {"encapsulations": list(model.ENCAPSULATIONS), "pending_limit": 5, "require_fa_ha_auth": False}
    for name, default in fixed.items():
        if value.get(name) not in (None, default):
            errors.append(ModelError(join(path, name), f"IOS-like routers have no foreign agent setting for it "
                                     f"(only {default!r} can be held)"))
    wait = value.get("pending_timeout")
    if wait is not None and (wait != int(wait) or not REG_WAIT_RANGE[0] <= wait <= REG_WAIT_RANGE[1]):
        errors.append(ModelError(join(path, "pending_timeout"), f"{wait:g} s: IOS-like routers wait "
                                 f"{REG_WAIT_RANGE[0]}-{REG_WAIT_RANGE[1]} whole seconds "
                                 "(ip mobile foreign-agent reg-wait)"))
    interfaces = value.get("interfaces") or []
    for i, iface in enumerate(interfaces[1:], 1):
        if iface.get("care_of_addresses") != interfaces[0].get("care_of_addresses"):
            errors.append(ModelError(join(join(join(path, "interfaces"), i), "care_of_addresses"),
                                     "must be the same on every interface: IOS-like routers offer every care-of "
                                     "address on every served interface"))
    return errors + irdp.unsupported(value.get("advertisement"), path)


def check(value: dict[str, Any] | None, config: RunningConfig, path: str) -> list[ModelError]:
    """Each served interface exists on the router with the address and prefix length given."""
    if value is None or not config.interfaces:
        return []
    errors = []
    for i, iface in enumerate(value["interfaces"]):
        at = join(join(path, "interfaces"), i)
        if iface["name"] not in config.interfaces:
            errors.append(ModelError(join(at, "name"), f"the router has no interface {iface['name']}"))
            continue
        held = config.address_of(iface["name"])
        prefix = next((p for a, p, _s in config.interfaces[iface["name"]] if a == held), "")
        if (held, prefix.partition("/")[2]) != (iface["address"], str(iface["prefix_length"])):
            errors.append(ModelError(join(at, "address"), f"{iface['address']}/{iface['prefix_length']}: "
                                     f"{iface['name']} holds {held or 'no address'}"
                                     f"{'/' + prefix.partition('/')[2] if held else ''}; change it on the interface"))
    return errors
