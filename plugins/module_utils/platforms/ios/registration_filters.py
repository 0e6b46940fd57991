# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""registration_filters on IOS: standard access lists the agents name.

    care_of      ip mobile home-agent ... care-of-access N    (which care-of addresses may register)
    roaming      ip mobile home-agent ... roam-access N       (which mobile nodes may roam)
    home_agents  ip mobile foreign-service ... home-access N  (which home agents visitors may use;
                                                               on every served interface)
    rules        access-list N {permit|deny} {any | host A | A WILDCARD}, in order
    default      a last `access-list N permit any` (permit) or `deny any` (deny)

A rule list at its default (permit, no rules) names no access list. A list a filter names keeps
its number; a new one takes the first number from 90 (care_of), 91 (roaming) or 92 (home_agents)
up that the router does not use (1-99, then 1300-1999). A list that changes is removed and
written again (`no access-list N` first): a numbered list cannot be edited in place.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils import model
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios import foreign_agent, home_agent
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.lines import (
    GLOBAL,
    IP,
    Facts,
    LineKind,
    RunningConfig,
    of_kind,
    put,
)

ANY = "0.0.0.0/0"
FIRST_NUMBER = {"care_of": 90, "roaming": 91, "home_agents": 92}
NUMBERS = [*range(1, 100), *range(1300, 2000)]  # standard IP access lists
OPTION = {"care_of": "care_of_access", "roaming": "roam_access", "home_agents": "home_access"}


def _source(prefix: str) -> str:
    net = ipaddress.IPv4Network(prefix)
    if net.prefixlen == 0:
        return "any"
    if net.prefixlen == 32:
        return f"host {net.network_address}"
    return f"{net.network_address} {net.hostmask}"


def _entry(values: dict[str, Any]) -> tuple[str, str | None]:
    """(action, prefix) of one access-list line; prefix None for a wildcard that is no prefix (unheld)."""
    source = values["source"].split()
    if source == ["any"]:
        prefix = ANY
    elif source[0] == "host" and len(source) == 2:
        prefix = f"{source[1]}/32"
    elif len(source) in (1, 2):  # IOS shows a host entry as `permit A` (no `host`, no wildcard)
        try:
            prefix = _wildcard_prefix(source[0], source[1] if len(source) == 2 else "0.0.0.0")
        except ValueError:
            return values["action"], None
    else:
        raise ValueError(values["source"])
    return values["action"], prefix


def _wildcard_prefix(address: str, wildcard: str) -> str:
    """A standard access list's `A WILDCARD` as a prefix (ValueError: a non-contiguous wildcard). Not through
    IPv4Network("A/W"): it reads 0.0.0.0 and 255.255.255.255 as netmasks, the opposite of a wildcard."""
    mask = int(ipaddress.IPv4Address(wildcard)) ^ 0xFFFFFFFF
    length = bin(mask).count("1")
    if mask != (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF:
        raise ValueError(wildcard)
    return str(ipaddress.IPv4Network(f"{address}/{length}", strict=False))


def _access_list_lines(v: dict[str, Any]) -> list[str]:
    return [f"access-list {v['number']} {action} {_source(prefix)}" for action, prefix in v["entries"]]


ACCESS_LIST = LineKind(
    "access_list", GLOBAL,
    rf"^access-list (?P<number>\d+) (?P<action>permit|deny) (?P<source>any|host {IP}|{IP}(?: {IP})?)$",
    _access_list_lines, lambda v: f"no access-list {v['number']}", identity=("number",),
    replace_with_no=True, collect=_entry, model=("care_of", "roaming", "home_agents"))
KINDS = [ACCESS_LIST]
CLAIMS = re.compile(r"^(?!)")


def references(facts: Facts) -> dict[str, list[str]]:
    """Filter -> the access-list numbers that name it (home_agents: one per served interface)."""
    found: dict[str, list[str]] = {name: [] for name in OPTION}
    for _key, ha in of_kind(facts, "home_agent"):
        for name in ("care_of", "roaming"):
            if OPTION[name] in ha:
                found[name].append(ha[OPTION[name]])
    access = [service.get("home_access") for _key, service in of_kind(facts, "foreign_service")]
    if any(access):  # on every served interface (None among them: some interfaces have none)
        found["home_agents"] = access
    return found


def _rules(facts: Facts, number: str | None) -> dict[str, Any] | None:
    """The rule list of access list `number` (None: no such list)."""
    if number is None:
        return {"default": "permit", "rules": []}
    found = facts.get((GLOBAL, "access_list", (number,)))
    if found is None:
        return None
    entries = list(found["entries"])
    if any(prefix is None for _action, prefix in entries):
        return None  # unheld() names the line
    default = "deny"
    if entries and entries[-1][1] == ANY:
        default = entries.pop()[0]
    return {"default": default, "rules": [{"action": a, "prefix": p} for a, p in entries]}


def to_model(config: RunningConfig, facts: Facts) -> dict[str, Any]:
    value = {}
    for name, numbers in references(facts).items():
        value[name] = _rules(facts, numbers[0] if numbers else None) or {"default": "permit", "rules": []}
    return value


def unheld(config: RunningConfig, facts: Facts) -> list[str]:
    notes = []
    for name, numbers in references(facts).items():
        if len(set(numbers)) > 1:
            notes.append(f"{name}: the foreign agent's interfaces name different access lists (home-access)")
            continue
        for number in numbers[:1]:
            if number is not None and (GLOBAL, "access_list", (number,)) not in facts:
                notes.append(f"{name}: access list {number} is named but not a numbered standard list the router has")
    claimed = {line for line in config.globals if line.startswith("access-list ")}
    for line in claimed:
        number = line.split()[1]
        if not any(number in numbers for numbers in references(facts).values()):
            continue
        values = ACCESS_LIST.read(line)
        if not values:
            notes.append(f"{line}: not understood")
        elif _entry(values)[1] is None:
            notes.append(f"{line}: a wildcard that is not a prefix (the model's rules are prefixes)")
    return notes


def apply(value: dict[str, Any] | None, facts: Facts, config: RunningConfig, path: str = "config") -> Facts:
    out = dict(facts)
    refs = references(facts)
    used = {key[2][0] for key in facts if key[1] == "access_list"}
    default = model.RULE_LIST.defaults()
    for name, rules in (value or {}).items():
        number = refs[name][0] if refs[name] and refs[name][0] else None
        if number is not None:
            out.pop((GLOBAL, "access_list", (number,)), None)
        if rules == default:
            _name(out, name, None, path)
            continue
        if number is None:
            number = next(str(n) for n in NUMBERS if n >= FIRST_NUMBER[name] and str(n) not in used)
            used.add(number)
        entries = [(rule["action"], rule["prefix"]) for rule in rules["rules"]] + [(rules["default"], ANY)]
        put(out, ACCESS_LIST, {"number": number, "entries": entries})
        _name(out, name, number, path)
    return out


def _name(facts: Facts, name: str, number: str | None, path: str) -> None:
    """Make the agent's line name access list `number` (None: no list)."""
    kind = "foreign_service" if name == "home_agents" else "home_agent"
    found = of_kind(facts, kind)
    if not found:
        if number is None:
            return
        owner = model.FILTER_OWNER[name]
        raise ModelError(join(path, name), f"this router has no {owner} to hold the filter; configure it first "
                         f"(netmobility.mobileip.{owner})")
    for key, values in found:
        values = {k: v for k, v in values.items() if k != OPTION[name]}
        if number is not None:
            values[OPTION[name]] = number
        put(facts, foreign_agent.SERVICE if name == "home_agents" else home_agent.HOME_AGENT, values, key[0])


def unsupported(value: dict[str, Any] | None, path: str) -> list[ModelError]:
    errors = []
    for name, rules in (value or {}).items():
        for i, rule in enumerate((rules or {}).get("rules") or []):
            at = join(join(join(path, name), "rules"), i)
            if rule.get("nai") is not None:
                errors.append(ModelError(join(at, "nai"), "IOS-like routers filter with access lists, which match "
                                         "addresses: use prefix"))
            elif rule.get("prefix") == ANY and i == len(rules["rules"]) - 1:
                errors.append(ModelError(join(at, "prefix"), f"a last rule for {ANY} is the default on IOS-like "
                                         f"routers: set default: {rule['action']} instead"))
    return errors


def check(value: Any, config: RunningConfig, path: str) -> list[ModelError]:
    return []
