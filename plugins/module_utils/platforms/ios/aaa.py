# Copyright (c) netmobility.mobileip contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""aaa on IOS: the home agent fetches mobility SAs from RADIUS (RFC 5944 §3.8.2.1; IOS 12.0(1)T AAA SAs).

    (present)           aaa new-model (added when missing, never removed: other AAA uses it) and
                        aaa authorization ipmobile default group radius
    servers[]           radius-server host A auth-port P key K          (12.x syntax; in failover order)
      secret            K, shown as ******** everywhere it leaves the module
    timeout             radius-server timeout S      (whole seconds; IOS default 5: left out)
    retries             radius-server retransmit N   (IOS default 3: left out)
    dead_time           radius-server deadtime M     (minutes: a multiple of 60 s; IOS default 0: left out)
    cache_lifetime      0 (until the binding ends): `aaa load-sa` on the home agent's ip mobile host lines

IOS has no setting for the other options (source address, NAS-Identifier, the lookup limits): only their
defaults can be held. A global `radius-server key K` is read as the secret of servers without their own;
it is never written or removed. IOS tries servers in the order they were added: a new server goes last,
and the servers already there cannot be reordered in place (check() says so).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.netmobility.mobileip.plugins.module_utils import model
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError, join
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.lines import (
    GLOBAL,
    IP,
    UNKNOWN,
    Facts,
    LineKind,
    RunningConfig,
    number,
    of_kind,
    option,
    put,
    without,
    words,
)

AUTH_PORT_DEFAULT = 1645  # IOS's, not RFC 2865's 1812: always written
DEFAULTS = {"timeout": 5, "retransmit": 3, "deadtime": 0}
METHOD = "default group radius"
HOST_KINDS = ("host", "nai_host")  # home_agent.py's ip mobile host lines, which carry `aaa load-sa`

NEW_MODEL = LineKind("aaa_new_model", GLOBAL, r"^aaa new-model$", lambda values: "aaa new-model")
AUTHORIZATION = LineKind(
    "aaa_ipmobile", GLOBAL,
    r"^aaa authorization ipmobile (?P<method>default|radius|tacacs\+)(?: group (?P<group>\S+))?$",
    lambda values: words("aaa authorization ipmobile", values["method"], option(values.get("group"), "group")),
    model=("servers",))
RADIUS_HOST = LineKind(
    "radius_host", GLOBAL,
    rf"^radius-server host (?P<address>{IP})(?: auth-port (?P<port>\d+))?(?: acct-port (?P<acct_port>\d+))?"
    r"(?: key (?:(?P<encryption>[07]) )?(?P<key>\S+))?(?P<options>(?: .*)?)$",
    lambda values: words("radius-server host", values["address"], f"auth-port {values['port']}",
                         option(values.get("acct_port"), "acct-port"), option(values.get("key"), "key")),
    lambda values: f"no radius-server host {values['address']}", identity=("address",), secret=("key",),
    model=("servers",), convert={"port": number, "acct_port": number})
RADIUS_KEY = LineKind("radius_key", GLOBAL, r"^radius-server key (?:(?P<encryption>[07]) )?(?P<key>\S+)$",
                      lambda values: f"radius-server key {values['key']}", lambda _values: "no radius-server key",
                      secret=("key",))


def _setting(name: str, field: str) -> LineKind:
    return LineKind(f"radius_{name}", GLOBAL, rf"^radius-server {name} (?P<value>\d+)$",
                    lambda values: f"radius-server {name} {values['value']}", lambda values: f"no radius-server {name}",
                    model=(field,), convert={"value": number})


TIMEOUT, RETRANSMIT, DEADTIME = _setting("timeout", "timeout"), _setting("retransmit", "retries"), \
    _setting("deadtime", "dead_time")
KINDS = [NEW_MODEL, AUTHORIZATION, RADIUS_HOST, RADIUS_KEY, TIMEOUT, RETRANSMIT, DEADTIME]
OWN = ("aaa_ipmobile", "radius_host", "radius_timeout", "radius_retransmit", "radius_deadtime")


def host_flags(facts: Facts) -> dict[str, bool]:
    """What the home agent's `ip mobile host` lines carry while the router fetches SAs from RADIUS."""
    return {"aaa": True, "load_sa": True} if of_kind(facts, "aaa_ipmobile") else {}


def _setting_value(facts: Facts, kind: str, default: int) -> int:
    found = of_kind(facts, kind)
    return found[0][1]["value"] if found else default


def to_model(config: RunningConfig, facts: Facts) -> dict[str, Any] | None:
    if not of_kind(facts, "aaa_ipmobile"):
        return None
    shared = [values.get("key") for _k, values in of_kind(facts, "radius_key")]
    servers = [{"address": host["address"], "port": host.get("port", AUTH_PORT_DEFAULT),
                "secret": host.get("key") or (shared[0] if shared else None)}
               for _k, host in of_kind(facts, "radius_host")]
    return {"servers": servers,
            "timeout": float(_setting_value(facts, "radius_timeout", DEFAULTS["timeout"])),
            "retries": _setting_value(facts, "radius_retransmit", DEFAULTS["retransmit"]),
            "dead_time": 60 * _setting_value(facts, "radius_deadtime", DEFAULTS["deadtime"]),
            "cache_lifetime": model.CACHE_UNTIL_UNBOUND}


def unheld(config: RunningConfig, facts: Facts) -> list[str]:
    """What the router's AAA lines say that the model cannot."""
    notes = []
    for _key, auth in of_kind(facts, "aaa_ipmobile"):
        if (auth["method"], auth.get("group")) != ("default", "radius"):
            notes.append(f"{AUTHORIZATION.lines(auth, True)[0]}: the model fetches SAs from the RADIUS servers "
                         f"({'aaa authorization ipmobile ' + METHOD})")
    for _key, host in of_kind(facts, "radius_host"):
        where = f"radius-server host {host['address']}"
        if UNKNOWN in host:
            notes.append(f"{where}: {' '.join(host[UNKNOWN])}")
        if host.get("encryption") == "7":
            notes.append(f"{where}: an encrypted key (key 7) cannot be compared with the model's secret")
    if of_kind(facts, "aaa_ipmobile"):
        for kind in HOST_KINDS:
            for _key, host in of_kind(facts, kind):
                if not host.get("load_sa"):
                    name = host.get("nai") or host.get("lower")
                    notes.append(f"ip mobile host {name}: without `aaa load-sa` (the model caches fetched SAs until "
                                 "the binding ends)")
    return notes


def apply(value: dict[str, Any] | None, facts: Facts, config: RunningConfig) -> Facts:
    """`facts` with the AAA lines made those of `value` (None: removed, `aaa new-model` kept)."""
    before = {values["address"]: values for _k, values in of_kind(facts, "radius_host")}
    out = without(facts, OWN)
    if value is not None:
        if not of_kind(out, "aaa_new_model"):
            put(out, NEW_MODEL, {})
        put(out, AUTHORIZATION, {"method": "default", "group": "radius"})
        for server in value["servers"]:
            kept = {k: before[server["address"]][k] for k in ("acct_port",) if k in before.get(server["address"], {})}
            put(out, RADIUS_HOST, {"address": server["address"], "port": server["port"], **kept,
                                   "key": server.get("secret")})
        settings = {TIMEOUT: int(value["timeout"]), RETRANSMIT: value["retries"], DEADTIME: value["dead_time"] // 60}
        for kind, setting in settings.items():
            if setting != DEFAULTS[kind.name.split("_", 1)[1]]:
                put(out, kind, {"value": setting})
    flags = host_flags(out)
    for key, host in list(out.items()):
        if key[1] in HOST_KINDS:
            out[key] = {**{k: values for k, values in host.items() if k not in ("aaa", "load_sa")}, **flags}
    return out


def unsupported(value: dict[str, Any] | None, path: str) -> list[ModelError]:
    if value is None:
        return []
    errors = []
    fixed = {name: model.AAA.fields[name].default for name in (
        "source_address", "nas_identifier", "unbound_lifetime", "refresh_margin", "negative_lifetime",
        "pending_lookups", "pending_per_node", "lookup_rate", "failure_log_interval")}
    fixed["source_address"] = None
    fixed["cache_lifetime"] = model.CACHE_UNTIL_UNBOUND
    for name, default in fixed.items():
        if value.get(name) not in (None, default):
            errors.append(ModelError(join(path, name), f"IOS-like routers have no setting for it (only {default!r} "
                                     "can be held)"))
    if value.get("timeout") is not None and (value["timeout"] != int(value["timeout"]) or value["timeout"] > 1000):
        errors.append(ModelError(join(path, "timeout"), "IOS-like routers count whole seconds, 1-1000"))
    if value.get("dead_time") is not None and value["dead_time"] % 60:
        errors.append(ModelError(join(path, "dead_time"), f"{value['dead_time']}: IOS-like routers count dead time "
                                 "in minutes (radius-server deadtime); give a multiple of 60"))
    for i, server in enumerate(value.get("servers") or []):
        secret = server.get("secret")
        if secret is not None and any(c.isspace() for c in secret):
            errors.append(ModelError(join(join(join(path, "servers"), i), "secret"),
                                     "a secret with blanks cannot be written on an IOS line (value hidden)"))
    return errors


def check(value: dict[str, Any] | None, config: RunningConfig, path: str) -> list[ModelError]:
    """IOS tries servers in the order they were added: those already there keep their order, new ones go last."""
    if value is None:
        return []
    there = [values["address"] for _k, values in of_kind(config.facts, "radius_host")]
    wanted = [server["address"] for server in value["servers"]]
    kept = [address for address in wanted if address in there]
    new = [address for address in wanted if address not in there]
    if kept + new != wanted or kept != [address for address in there if address in wanted]:
        return [ModelError(join(path, "servers"), f"{', '.join(wanted)}: an IOS-like router keeps its servers in the "
                           f"order they were added ({', '.join(there)}) and adds new ones last; keep that order, or "
                           "delete aaa first and set it again")]
    return []
