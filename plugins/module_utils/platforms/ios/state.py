# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An IOS-like router's live Mobile IP state, in the shapes `mipctl --json` gives for a Linux host.

`IosStateReader(show).gather(commands)` answers the same commands as agent_cli.Mipctl.gather
(status, bindings, visitors, pending, registration, counters, sas) from `show ip mobile ...` output
parsed by show_templates.py, so that mobility_info returns, and verify_registration checks, the same
structures on both platforms. Fields, and what IOS cannot provide (the value it gets):

- bindings (RFC 5944 §3.8.1, `show ip mobile binding`): home_address, care_of_address, source, lifetime,
  lifetime_left (65535: infinite), identification (16 hex digits), nai; from the registration flags
  (§3.3): simultaneous (S), reverse (T, RFC 3024) and encap (G gre, M minimal, else ipip).
  expires: null (mipd's is its own clock; IOS shows only the time left).
- visitors (§3.7.1, `show ip mobile visitor`, and `show ip mobile tunnel` for each visitor's tunnel):
  home_address, nai, care_of_address, home_agent, interface (the router's name for it), lladdr,
  identification, lifetime, lifetime_left, reverse_tunnel, encap (null without a tunnel).
  delivery: null (IOS does not show the RFC 3024 §5 delivery style).
- pending (`show ip mobile visitor pending`): as visitors, with lifetime (requested) and timeout_left
  for the time left; encap null.
- sas (§3.5, §5; `show ip mobile secure`): peer (an address range as LOWER-UPPER), spi (IOS prints it in
  hex; an inbound/outbound pair gives the inbound one), algorithm (hmac-md5 or md5-prefix-suffix), replay,
  replay_window, key_fingerprint (the agent's fingerprint of the key the router shows), fallback false.
  roles: null (the output does not say which kind of `ip mobile secure` line holds the SA).
- counters (`show ip mobile traffic`, `show ip mobile tunnel`): roles.home_agent and roles.foreign_agent
  under mipd's counter names where IOS's count means the same (rx.request, accepted.registration,
  accepted.deregistration, relayed.request, rx.reply, relayed.reply, denied.CODE per reply code of
  §3.4; rx.solicitation and tx.advertisement, router totals, under the foreign agent when there is
  one), the other counts as `ios.LABEL` (ios.denied, ios.ignored, ...); dataplane: each mobile tunnel's
  packet and byte counts (`TunnelN.packets_in` ...); runtime: {}. As with mipd, a count of 0 is left out.
- status (`show ip mobile globals`, and the lists above for its counts): roles (home_agent, foreign_agent
  by the sections the router prints), counts (bindings, mobile_nodes: the hosts `show ip mobile host`
  says are registered, visitors, pending, security_associations). version, pid, uptime, config,
  keys_file, state_db, control_socket, dataplane and reload: null (mipd's own).
- registration (§3.6, `show ip mobile router` of a mobile router): location (home with status Home, else
  away with a care-of address or interface, else detached), registered, pending, care_of_address,
  agent_address (the foreign agent), interface (the router's name for it), home_agent, lifetime_left
  (INFINITE: null), last_reply_code and last_reply_name (the code's RFC name when the router shows the
  code); colocated false. A router that is not a mobile router (`Disabled`, or the command refused) is
  refused with one line. status lists mobile_node among the roles when the router is one.

A router that refuses a show command (`% Invalid input ...`) gives AgentRefused with its message; a
transport failure gives AgentUnreachable (a router reloading is waited for like a mipd restarting).
"""

from __future__ import annotations

import re
from typing import Any, Callable

from ansible_collections.netmobility.mobileip.plugins.module_utils.agent_cli import AgentRefused, AgentUnreachable
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import PlatformError
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.show_templates import (
    counter_pairs,
    parse,
)
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.transport import REFUSED

SHOW = {
    "binding": "show ip mobile binding",
    "visitor": "show ip mobile visitor",
    "pending": "show ip mobile visitor pending",
    "globals": "show ip mobile globals",
    "host": "show ip mobile host",
    "traffic": "show ip mobile traffic",
    "tunnel": "show ip mobile tunnel",
    "secure": "show ip mobile secure",
    "router": "show ip mobile router",
}
INFINITE = 0xFFFF  # RFC 5944 §3.4: the Lifetime meaning infinity
ENCAPSULATIONS = {"IP/IP": "ipip", "GRE/IP": "gre", "MIN/IP": "minimal"}
ALGORITHMS = {"hmac-md5": "hmac-md5", "md5": "md5-prefix-suffix"}  # IOS's MD5 is keyed MD5 prefix+suffix
NOT_A_MOBILE_ROUTER = "registration: this router is not a mobile router (show ip mobile router: {why})"
HA_REASONS = {  # `show ip mobile traffic` Home Agent labels -> the reply code (RFC 5944 §3.4, RFC 3024 §4.2.3)
    "unspecified": 128, "administrative prohibited": 129, "no resource": 130, "authentication failed mn": 131,
    "fa": 132, "bad identification": 133, "bad request form": 134, "too many bindings": 135, "unknown ha": 136,
    "reverse tunnel": 137, "reverse tunnel mandatory": 138, "unavailable encap": 139,
}
FA_REASONS = {  # Foreign Agent labels -> the reply code (RFC 5944 §3.4, RFC 3024 §4.2.3, RFC 3012 §6)
    "unspecified": 64, "administrative prohibited": 65, "no resource": 66, "authentication failed mn": 67,
    "ha": 68, "bad lifetime": 69, "bad request form": 70, "bad reply form": 71, "unavailable encapsulation": 72,
    "compression": 73, "unavailable reverse tunnel": 74, "reverse tunnel mandatory": 75,
    "unknown challenge": 104, "missing challenge": 105, "stale challenge": 106,
}
REPLY_NAMES = {0: "registration accepted", 1: "accepted, simultaneous bindings unsupported",  # §3.4
               **{code: f"FA: {label}" for label, code in FA_REASONS.items()},
               **{code: f"HA: {label}" for label, code in HA_REASONS.items()}}
HA_SAME = {"requests received": "rx.request", "deregistered": "accepted.deregistration"}
FA_REQUEST_SAME = {"request in": "rx.request", "forwarded": "relayed.request"}
FA_REPLY_SAME = {"replies in": "rx.reply", "forwarded": "relayed.reply"}
ADVERTISEMENT_SAME = {"solicitations received": "rx.solicitation", "advertisements sent": "tx.advertisement"}


def seconds(clock: str) -> int | None:
    """`02:46:31` -> 10000; INFINITE -> 65535; '' -> None."""
    if not clock:
        return None
    if clock == "INFINITE":
        return INFINITE
    total = 0
    for part in clock.split(":"):
        total = total * 60 + int(part)
    return total


def identification(shown: str) -> str | None:
    """`C4F1A2B3.0A1B2C3D` -> `c4f1a2b30a1b2c3d` (mipd's 16 hex digits of the 64-bit Identification, §5.7)."""
    if not shown:
        return None
    high, _dot, low = shown.partition(".")
    return f"{int(high, 16):08x}{int(low or '0', 16):08x}"


def lladdr(shown: str) -> str | None:
    """`0050.56aa.0b11` -> `00:50:56:aa:0b:11`; `-` or '' -> None."""
    digits = shown.replace(".", "").lower()
    if not re.fullmatch(r"[0-9a-f]{12}", digits):
        return None
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def _flag(flags: str, letter: str) -> bool:
    """A registration flag (§3.3): upper case set, lower case clear."""
    return letter.upper() in flags


def bindings(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """mipctl's bindings from `show ip mobile binding` rows."""
    out = []
    for row in rows:
        flags = row["flags"]
        encap = "gre" if _flag(flags, "G") else "minimal" if _flag(flags, "M") else "ipip"
        out.append({
            "home_address": row["home_address"], "care_of_address": row["care_of_address"] or None,
            "lifetime": int(row["lifetime"]) if row["lifetime"] else None, "expires": None,
            "identification": identification(row["identification"]), "encap": encap,
            "reverse": _flag(flags, "T") or "(T)" in row["routing_options"], "source": row["source"] or None,
            "nai": row["nai"] or None, "simultaneous": _flag(flags, "S"),
            "lifetime_left": seconds(row["remaining"]),
        })
    return out


def _visitor_common(row: dict[str, Any]) -> dict[str, Any]:
    return {"home_address": row["home_address"], "nai": row["nai"] or None,
            "care_of_address": row["care_of_address"] or None, "home_agent": row["home_agent"] or None,
            "interface": row["interface"] or None, "lladdr": lladdr(row["mac"]),
            "identification": identification(row["identification"]),
            "reverse_tunnel": row["tunnel_mode"] == "reverse-allowed" or "(T)" in row["routing_options"]}


def visitors(rows: list[dict[str, Any]], tunnel_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """mipctl's visitors from `show ip mobile visitor` rows; encap from the visitor's tunnel."""
    encaps = {t["tunnel"]: ENCAPSULATIONS.get(t["encapsulation"], t["encapsulation"].lower() or None)
              for t in tunnel_rows}
    return [{**_visitor_common(row), "lifetime_left": seconds(row["remaining"]), "encap": encaps.get(row["tunnel"]),
             "delivery": None, "lifetime": int(row["lifetime"]) if row["lifetime"] else None}
            for row in rows]


def pending(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """mipctl's pending requests from `show ip mobile visitor pending` rows."""
    return [{**_visitor_common(row), "lifetime": int(row["lifetime"]) if row["lifetime"] else None,
             "timeout_left": seconds(row["remaining"]), "encap": None}
            for row in rows]


def sas(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """mipctl's sas from `show ip mobile secure` rows (fingerprints only: the parser dropped the keys)."""
    return [{"peer": re.sub(r"\s+-\s+", "-", row["peer"]), "spi": int(row["spi"], 16),
             "algorithm": ALGORITHMS.get(row["algorithm"].lower(), row["algorithm"].lower()),
             "replay": row["replay"].lower() or None,
             "replay_window": int(row["replay_window"]) if row["replay_window"] else None,
             "fallback": False, "roles": None, "key_fingerprint": row["key_fingerprint"]}
            for row in rows]


def roles(globals_rows: list[dict[str, Any]]) -> list[str]:
    """The agent roles `show ip mobile globals` prints a section for."""
    row = globals_rows[0] if globals_rows else {}
    return [name for name, key in (("home_agent", "home_agent"), ("foreign_agent", "foreign_agent")) if row.get(key)]


def counters(traffic_rows: list[dict[str, Any]], tunnel_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """mipctl's counters from `show ip mobile traffic` and `show ip mobile tunnel` rows."""
    printed: dict[str | None, dict[str, int]] = {"home_agent": {}, "foreign_agent": {}, None: {}}
    seen: set[str] = set()
    for row in traffic_rows:
        section = row["section"].lower()
        role = next((name for name in ("home_agent", "foreign_agent") if section.startswith(name.replace("_", " "))),
                    None)
        if role is not None:
            seen.add(role)
        for label, count in counter_pairs(row["counters"]):
            if role == "home_agent":
                _count_home_agent(printed[role], label, count)
            elif role == "foreign_agent":
                _count_foreign_agent(printed[role], label, count)
            else:
                _add(printed[None], ADVERTISEMENT_SAME.get(label, f"ios.{_name(label)}"), count)
    home_agent = printed["home_agent"]
    if "ios.accepted" in home_agent and "accepted.deregistration" in home_agent:  # Accepted N, Deregistered M
        home_agent["accepted.registration"] = home_agent.pop("ios.accepted") - home_agent["accepted.deregistration"]
    found = {name: printed[name] for name in ("home_agent", "foreign_agent") if name in seen}
    if found:
        advertised = found["foreign_agent" if "foreign_agent" in found else "home_agent"]
        for name, count in printed[None].items():
            _add(advertised, name, count)
    dataplane: dict[str, int] = {}
    for tunnel in tunnel_rows:
        for field in ("packets_in", "bytes_in", "drops_in", "packets_out", "bytes_out"):
            _add(dataplane, f"{tunnel['tunnel']}.{field}", int(tunnel[field] or 0))
    return {"roles": {name: _nonzero(values) for name, values in found.items()}, "runtime": {},
            "dataplane": _nonzero(dataplane)}


def _count_home_agent(out: dict[str, int], label: str, count: int) -> None:
    if label in HA_REASONS:
        _add(out, f"denied.{HA_REASONS[label]}", count)
    else:
        _add(out, HA_SAME.get(label, f"ios.{_name(label)}"), count)


def _count_foreign_agent(out: dict[str, int], label: str, count: int) -> None:
    """The request counters come before `Replies in`, the reply counters after it (both have Forwarded)."""
    replies = "rx.reply" in out or label == "replies in"
    same = FA_REPLY_SAME if replies else FA_REQUEST_SAME
    if label in FA_REASONS:
        _add(out, f"denied.{FA_REASONS[label]}", count)
    elif label in same:
        _add(out, same[label], count)
    else:
        _add(out, f"ios.{'reply_' if replies else ''}{_name(label)}", count)


def _add(out: dict[str, int], name: str, count: int) -> None:
    out[name] = out.get(name, 0) + count


def registration(row: dict[str, Any]) -> dict[str, Any]:
    """A mobile router's `show ip mobile router` record in mipctl's registration shape (RFC 5944 §3.6)."""
    status = row["status"].lower()
    away = bool(row["care_of_address"] or row["interface"])
    code = int(row["code"]) if row["code"] else None
    left = row["remaining_seconds"] or row["remaining"]
    return {
        "location": "home" if status == "home" else ("away" if away else "detached"),
        "registered": status == "registered",
        "pending": status == "pending",
        "colocated": False,
        "care_of_address": row["care_of_address"] or None,
        "agent_address": row["agent_address"] or None,
        "interface": row["interface"] or None,
        "home_agent": row["home_agent"] or None,
        "lifetime_left": int(left) if left.isdigit() else None,
        "last_reply_code": code,
        "last_reply_name": None if code is None else REPLY_NAMES.get(code, f"code {code}"),
    }


def _nonzero(values: dict[str, int]) -> dict[str, int]:
    return {name: count for name, count in values.items() if count}


def _name(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


class IosStateReader:
    """Answers mipctl's read commands for an IOS-like router, through `show(command) -> output`."""

    def __init__(self, show: Callable[[str], str]) -> None:
        self.show = show

    def gather(self, commands: tuple[str, ...]) -> dict[str, Any]:
        """{command: result} like agent_cli.Mipctl.gather; each show command is sent once per call."""
        outputs: dict[str, list[dict[str, Any]]] = {}

        def rows(name: str) -> list[dict[str, Any]]:
            if name not in outputs:
                outputs[name] = parse(name, self._show(SHOW[name]))
            return outputs[name]

        answers = {
            "bindings": lambda: bindings(rows("binding")),
            "visitors": lambda: visitors(rows("visitor"), rows("tunnel")),
            "pending": lambda: pending(rows("pending")),
            "sas": lambda: sas(rows("secure")),
            "counters": lambda: counters(rows("traffic"), rows("tunnel")),
            "status": lambda: self._status(rows),
            "registration": lambda: registration(self._mobile_router(rows)),
        }
        return {command: answers[command]() for command in commands}

    def _mobile_router(self, rows: Callable[[str], list[dict[str, Any]]]) -> dict[str, Any]:
        """`show ip mobile router`'s record; AgentRefused when the router is not a mobile router."""
        found = rows("router")
        if not found or found[0]["state"] != "Enabled":
            raise AgentRefused(NOT_A_MOBILE_ROUTER.format(why="disabled"))
        return found[0]

    def _status(self, rows: Callable[[str], list[dict[str, Any]]]) -> dict[str, Any]:
        found = roles(rows("globals"))
        try:
            if rows("router") and rows("router")[0]["state"] == "Enabled":
                found.append("mobile_node")
        except AgentRefused:
            pass  # no mobile router feature in this image: not one
        counts = {"security_associations": len(rows("secure"))}
        if "home_agent" in found:
            counts["bindings"] = len(rows("binding"))
            counts["mobile_nodes"] = sum(1 for host in rows("host") if host["status"] == "Registered")
        if "foreign_agent" in found:
            counts["visitors"] = len(rows("visitor"))
            counts["pending"] = len(rows("pending"))
        return {"version": None, "pid": None, "roles": found, "uptime": None, "config": None, "keys_file": None,
                "state_db": None, "control_socket": None, "dataplane": None, "counts": counts, "reload": None}

    def _show(self, command: str) -> str:
        try:
            output = self.show(command)
        except PlatformError as e:
            raise AgentUnreachable(str(e)) from None
        refused = REFUSED.search(output)
        if refused:
            raise AgentRefused(f"{command}: the router answered: {refused.group(0).strip()}")
        return output
