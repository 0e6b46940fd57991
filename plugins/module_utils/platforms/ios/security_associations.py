# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""security_associations on IOS (RFC 5944 §3.5, §5.1): one `ip mobile secure` line per SPI.

    ip mobile secure KIND PEER spi SPI key {hex|ascii} KEY [replay timestamp N] algorithm ALGORITHM

    kind            KIND: host (mobile node, on a home agent), visitor (mobile node, on a foreign
                    agent), home-agent (on a foreign agent or mobile router), foreign-agent (on a home agent)
    peer            PEER: an address, or `nai NAI`
    spi             SPI, in hexadecimal as IOS writes it (257 -> 101)
    key, key_format key hex|ascii KEY (shown as ******** everywhere it leaves the module)
    replay_window   replay timestamp N  (IOS default 7: left out)
    algorithm       hmac-md5 -> algorithm hmac-md5; md5-prefix-suffix -> algorithm md5 mode prefix-suffix

Several SPIs per peer are several lines: during a key rollover the new SPI's line is added before
the old one's `no` line (lines.py puts removals of this kind last).
"""

from __future__ import annotations

import re
from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.lines import (
    GLOBAL,
    IP,
    UNKNOWN,
    Facts,
    LineKind,
    Option,
    RunningConfig,
    of_kind,
    one_of,
    put,
    without,
    words,
)

REPLAY_DEFAULT = 7
ALGORITHMS = {"hmac-md5": "hmac-md5", "md5-prefix-suffix": "md5 mode prefix-suffix"}
KINDS_OF_PEER = ("host", "visitor", "home-agent", "foreign-agent")


def _peer(v: dict[str, Any]) -> str:
    return f"nai {v['peer']}" if "@" in v["peer"] else v["peer"]


def _secure_line(v: dict[str, Any]) -> str:
    replay = f"replay timestamp {v['replay']}" if v.get("replay") not in (None, REPLAY_DEFAULT) else None
    return words("ip mobile secure", v["kind"], _peer(v), f"spi {v['spi']:X}", "key", v["key_format"], v["key"],
                 replay, "algorithm", ALGORITHMS.get(v.get("algorithm", ""), v.get("algorithm")))


def _fact(values: dict[str, Any], tail: str) -> dict[str, Any]:
    """The values of a read line, with the replay window that follows `replay timestamp [within]`."""
    fact = dict(values)
    fact["peer"] = fact.pop("nai", None) or fact.pop("address", None)
    match = re.search(r"\breplay timestamp (?:within )?(\d+)", tail)
    fact["replay"] = int(match.group(1)) if match else REPLAY_DEFAULT
    algorithm = fact.pop("algorithm", None)
    fact["algorithm"] = {"hmac-md5": "hmac-md5"}.get(algorithm or "", "md5-prefix-suffix")
    if fact["key_format"] == "hex":
        fact["key"] = fact["key"].lower()
    unknown = [w for w in fact.get(UNKNOWN, []) if not w.isdigit()]  # the replay window number
    fact.pop(UNKNOWN, None)
    fact.pop("within", None)
    fact.pop("mode", None)
    if unknown:
        fact[UNKNOWN] = unknown
    return fact


SECURE = LineKind(
    "secure", GLOBAL,
    rf"^ip mobile secure (?P<kind>{'|'.join(KINDS_OF_PEER)}) "
    rf"(?:nai (?P<nai>\S+)|(?P<address>{IP})(?: (?P<upper>{IP}))?)"
    r" spi (?P<spi>[0-9A-Fa-f]+) key (?P<key_format>hex|ascii) (?P<key>\S+)(?P<options>(?: .*)?)$",
    _secure_line, lambda v: f"no ip mobile secure {v['kind']} {_peer(v)} spi {v['spi']:X}",
    identity=("kind", "peer", "spi"), secret=("key",), remove_last=True,
    options={"replay": Option("replay", one_of("timestamp"), then=("within",)),
             "algorithm": Option("algorithm", one_of("md5", "hmac-md5")),
             "mode": Option("mode", one_of("prefix-suffix"))},
    model=("kind", "peer", "spi", "key", "key_format", "replay_window", "algorithm"),
    convert={"spi": lambda text: int(text, 16)}, finish=_fact)
KINDS = [SECURE]
CLAIMS = re.compile(rf"^ip mobile secure (?:{'|'.join(KINDS_OF_PEER)}) ")


def to_model(config: RunningConfig, facts: Facts) -> list[dict[str, Any]]:
    return [{"peer": sa["peer"], "spi": sa["spi"], "kind": sa["kind"], "algorithm": sa["algorithm"],
             "key": sa["key"], "key_format": sa["key_format"], "replay": "timestamp", "replay_window": sa["replay"]}
            for _k, sa in of_kind(facts, "secure")]


def unheld(config: RunningConfig, facts: Facts) -> list[str]:
    notes = []
    seen: dict[tuple[Any, ...], str] = {}
    for _key, sa in of_kind(facts, "secure"):
        where = f"ip mobile secure {sa['kind']} {sa['peer']} spi {sa['spi']:X}"
        if sa.get("upper"):
            notes.append(f"{where}: an address range (the model's peer is one address or NAI)")
        if UNKNOWN in sa:
            notes.append(f"{where}: {' '.join(sa[UNKNOWN])}")
        if (sa["peer"], sa["spi"]) in seen:
            notes.append(f"{where}: also configured as {seen[(sa['peer'], sa['spi'])]} (the model holds one per peer "
                         "and SPI)")
        seen[(sa["peer"], sa["spi"])] = sa["kind"]
    read_lines = {line for line in config.globals if SECURE.read(line)}
    notes += [f"{line.split(' key ')[0]}: not understood" for line in config.globals
              if CLAIMS.match(line) and line not in read_lines]
    return notes


def apply(value: list[dict[str, Any]] | None, facts: Facts, config: RunningConfig) -> Facts:
    out = without(facts, ("secure",))
    for sa in value or []:
        put(out, SECURE, {"kind": sa["kind"], "peer": sa["peer"], "spi": sa["spi"], "key_format": sa["key_format"],
                          "key": sa["key"], "replay": sa["replay_window"], "algorithm": sa["algorithm"]})
    return out


def unsupported(value: list[dict[str, Any]] | None, path: str) -> list[ModelError]:
    errors = []
    for i, sa in enumerate(value or []):
        at = join(path, i)
        if sa.get("kind") is None:
            errors.append(ModelError(join(at, "kind"), "is required on IOS-like routers: host, visitor, home-agent "
                                     "or foreign-agent (ip mobile secure KIND)"))
        if sa.get("algorithm") not in (None, *ALGORITHMS):
            errors.append(ModelError(join(at, "algorithm"), f"{sa['algorithm']}: IOS-like routers use hmac-md5 or "
                                     "md5-prefix-suffix"))
        if sa.get("replay") not in (None, "timestamp"):
            errors.append(ModelError(join(at, "replay"), f"{sa['replay']}: IOS-like routers protect against replay "
                                     "with timestamps"))
        if sa.get("fallback"):
            errors.append(ModelError(join(at, "fallback"), "IOS-like routers have no fallback security association"))
        if sa.get("roles") is not None:
            errors.append(ModelError(join(at, "roles"), "IOS-like routers tell the role by kind; leave roles unset"))
        if sa.get("key_format") == "ascii" and sa.get("key") is not None and (" " in sa["key"] or "\t" in sa["key"]):
            errors.append(ModelError(join(at, "key"), "an ascii key with spaces cannot be written on an IOS line"))
    return errors


def check(value: Any, config: RunningConfig, path: str) -> list[ModelError]:
    return []
