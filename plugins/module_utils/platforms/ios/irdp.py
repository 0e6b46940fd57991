# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Agent advertisements on IOS: ICMP router discovery on the interface (RFC 1256), which carries the
mobility agent advertisement extension (RFC 5944 §2.1). Shared by the home agent (its home link)
and the foreign agent (each served interface).

interval <-> `ip irdp maxadvertinterval S` (IOS default 600 s; IOS sends between 3/4 of it and it),
lifetime <-> `ip irdp holdtime S` (IOS default 3 x maxadvertinterval), broadcast <-> the absence of
`ip irdp multicast` (IOS broadcasts by default; mipd multicasts to 224.0.0.1 by default).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.lines import (
    INTERFACE,
    Facts,
    LineKind,
    number,
    put,
)

MAX_INTERVAL_DEFAULT = 600
INTERVAL_RANGE = (4, 1800)  # ip irdp maxadvertinterval
HOLDTIME_MAX = 9000
CODE = 16  # IOS advertises as a mobility agent only

IRDP = LineKind("irdp", INTERFACE, r"^ip irdp$", lambda values: "ip irdp", model=("advertisement.enabled",))
IRDP_MAX = LineKind("irdp_max", INTERFACE, r"^ip irdp maxadvertinterval (?P<seconds>\d+)$",
                    lambda values: f"ip irdp maxadvertinterval {values['seconds']}",
                    lambda _values: "no ip irdp maxadvertinterval",
                    model=("advertisement.interval",), convert={"seconds": number}, explicit_default=True)
IRDP_HOLDTIME = LineKind("irdp_holdtime", INTERFACE, r"^ip irdp holdtime (?P<seconds>\d+)$",
                         lambda values: f"ip irdp holdtime {values['seconds']}", lambda values: "no ip irdp holdtime",
                         model=("advertisement.lifetime",), convert={"seconds": number}, explicit_default=True)
IRDP_MULTICAST = LineKind("irdp_multicast", INTERFACE, r"^ip irdp multicast$", lambda values: "ip irdp multicast",
                          model=("advertisement.broadcast",))
KINDS = [IRDP, IRDP_MAX, IRDP_HOLDTIME, IRDP_MULTICAST]
NAMES = tuple(kind.name for kind in KINDS)


def read(facts: Facts, header: str) -> dict[str, Any]:
    """The advertisement settings on interface `header` ("interface X")."""
    found = {key[1]: values for key, values in facts.items() if key[0] == header and key[1] in NAMES}
    interval = int(found["irdp_max"]["seconds"]) if "irdp_max" in found else MAX_INTERVAL_DEFAULT
    lifetime = int(found["irdp_holdtime"]["seconds"]) if "irdp_holdtime" in found else 3 * interval
    return {"enabled": "irdp" in found, "interval": float(interval), "lifetime": lifetime,
            "broadcast": "irdp_multicast" not in found, "code": CODE}


def write(facts: Facts, header: str, adv: dict[str, Any], enabled: bool = True, broadcast: bool = True) -> None:
    """The lines for `adv` on interface `header` (IOS defaults left out)."""
    interval = int(adv["interval"])
    if enabled:
        put(facts, IRDP, {}, header)
    if interval != MAX_INTERVAL_DEFAULT:
        put(facts, IRDP_MAX, {"seconds": interval}, header)
    if adv["lifetime"] != 3 * interval:
        put(facts, IRDP_HOLDTIME, {"seconds": adv["lifetime"]}, header)
    if not broadcast:
        put(facts, IRDP_MULTICAST, {}, header)


def unsupported(adv: dict[str, Any] | None, path: str) -> list[ModelError]:
    """What IRDP cannot say: fractions of a second, intervals out of its range, a code other than 16."""
    if adv is None:
        return []
    errors = []
    at = join(path, "advertisement")
    interval = adv.get("interval")
    if interval is not None and (interval != int(interval) or not INTERVAL_RANGE[0] <= interval <= INTERVAL_RANGE[1]):
        errors.append(ModelError(join(at, "interval"), f"{interval:g} s: IOS-like routers advertise every "
                                 f"{INTERVAL_RANGE[0]}-{INTERVAL_RANGE[1]} whole seconds (ip irdp maxadvertinterval)"))
    if adv.get("lifetime") is not None and adv["lifetime"] > HOLDTIME_MAX:
        errors.append(ModelError(join(at, "lifetime"), f"{adv['lifetime']}: at most {HOLDTIME_MAX} s on IOS-like "
                                 "routers (ip irdp holdtime)"))
    if adv.get("code") not in (None, CODE):
        errors.append(ModelError(join(at, "code"), f"IOS-like routers advertise with code {CODE} only"))
    return errors
