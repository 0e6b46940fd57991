# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Expected mobility state versus what a running agent reports (verify_registration).

The expectation is written in the model's terms (addresses, SPIs) and checked with the model's
value checks; what the agent reports comes from `mipctl --json` (bindings, visitors,
registration, sas). Each difference is one line naming what was expected and what was found.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils import model
from ansible_collections.netmobility.mobileip.plugins.module_utils import values as v
from ansible_collections.netmobility.mobileip.plugins.module_utils.changes import text
from ansible_collections.netmobility.mobileip.plugins.module_utils.fields import Field, Schema

REGISTRATION_STATES = ("registered", "pending", "unregistered")
LOCATIONS = ("home", "away", "detached")


def _host(value: object, path: str) -> str:
    """A mobile node named by home address or NAI."""
    return v.peer(value, path)


BINDING = Schema({
    "home_address": Field("str", v.ipv4, required=True),
    "care_of_address": Field("str", v.ipv4),
    "nai": Field("str", v.nai),
    "reverse": Field("bool", v.boolean),
    "encap": Field("str", choices=model.ENCAPSULATIONS),
})
VISITOR = Schema({
    "home_address": Field("str", v.ipv4, required=True),
    "care_of_address": Field("str", v.ipv4),
    "home_agent": Field("str", v.ipv4),
})
REGISTRATION = Schema({
    "state": Field("str", choices=REGISTRATION_STATES),
    "code": Field("int", lambda value, path: v.integer(value, path, 0, 255)),
    "location": Field("str", choices=LOCATIONS),
    "care_of_address": Field("str", v.ipv4),
    "home_agent": Field("str", v.ipv4),
})
LOADED_SA = Schema({
    "peer": Field("str", v.peer, required=True),
    "spi": Field("int", model.SECURITY_ASSOCIATION.fields["spi"].check, required=True),
})
EXPECTED = Schema({
    "bindings": Field("list", elements="dict", schema=BINDING, identity=("home_address", "care_of_address")),
    "exact_bindings": Field("bool", v.boolean, default=False),
    "visitors": Field("list", elements="dict", schema=VISITOR, identity=("home_address",)),
    "registration": Field("dict", schema=REGISTRATION),
    "security_associations": Field("list", elements="dict", schema=LOADED_SA, identity=("peer", "spi")),
})


def expected(params: dict[str, Any]) -> dict[str, Any]:
    """The expectation from module parameters (checked; ModelError names the option)."""
    given = {name: params.get(name) for name in EXPECTED.fields}
    return EXPECTED.normalize(given, "", partial=True)


def commands_for(want: dict[str, Any]) -> tuple[str, ...]:
    """The mipctl commands whose answers the expectation needs."""
    out = []
    if want.get("bindings") is not None or want.get("exact_bindings"):
        out.append("bindings")
    if want.get("visitors") is not None:
        out.append("visitors")
    if want.get("registration") is not None:
        out.append("registration")
    if want.get("security_associations") is not None:
        out.append("sas")
    return tuple(out)


def registration_state(reg: dict[str, Any]) -> str:
    if reg.get("registered"):
        return "registered"
    return "pending" if reg.get("pending") else "unregistered"


def mismatches(want: dict[str, Any], info: dict[str, Any]) -> list[str]:
    """One line per difference between `want` and the agent's answers in `info`."""
    out: list[str] = []
    if "bindings" in info:
        out += _bindings(want.get("bindings") or [], info["bindings"], want.get("exact_bindings", False))
    if want.get("visitors") is not None:
        out += _listed("visitor", want["visitors"], info["visitors"])
    if want.get("registration") is not None:
        out += _registration(want["registration"], info["registration"])
    if want.get("security_associations") is not None:
        loaded = {(sa["peer"], sa["spi"]) for sa in info["sas"]}
        out += [f"security association {sa['peer']} spi {sa['spi']}: not loaded in mipd"
                for sa in want["security_associations"] if (sa["peer"], sa["spi"]) not in loaded]
    return out


def _bindings(expected_list: list[dict[str, Any]], found: list[dict[str, Any]], exact: bool) -> list[str]:
    out = _listed("binding", expected_list, found)
    if exact:
        wanted = {b["home_address"] for b in expected_list}
        out += [f"binding for {b['home_address']} via {b.get('care_of_address')}: not expected"
                for b in found if b.get("home_address") not in wanted]
    return out


def _listed(what: str, expected_list: list[dict[str, Any]], found: list[dict[str, Any]]) -> list[str]:
    """Each expected entry must match an entry for the same home address on every field it gives."""
    out: list[str] = []
    for entry in expected_list:
        home = entry["home_address"]
        same = [f for f in found if f.get("home_address") == home]
        checks = {k: x for k, x in entry.items() if k != "home_address" and x is not None}
        if not same:
            seen = ", ".join(sorted(str(f.get("home_address")) for f in found)) or "none"
            out.append(f"{what} for {home}: none (the agent has: {seen})")
        elif not any(all(f.get(k) == x for k, x in checks.items()) for f in same):
            for k, x in checks.items():
                values = sorted({text(f.get(k)) for f in same})
                if text(x) not in values:
                    out.append(f"{what} for {home}: {k} is {' or '.join(values)}, expected {text(x)}")
    return out


def _registration(entry: dict[str, Any], reg: dict[str, Any]) -> list[str]:
    found = {
        "state": registration_state(reg),
        "code": reg.get("last_reply_code"),
        "location": reg.get("location"),
        "care_of_address": reg.get("care_of_address"),
        "home_agent": reg.get("home_agent"),
    }
    return [f"registration: {k} is {text(found[k])}, expected {text(x)}"
            for k, x in entry.items() if x is not None and found[k] != x]
