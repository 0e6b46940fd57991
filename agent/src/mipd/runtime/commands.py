"""What the control socket's read-only commands answer (mipctl status, bindings, visitors, pending,
registration, counters, sas), built from a running daemon's roles, data plane and configuration.

Mobility bindings (RFC 5944 §3.8.1), visitor list and pending registrations (§3.7.1), a mobile
node's registration (§3.6); never key material (SAs by fingerprint only, `views`).
"""

from __future__ import annotations

import os
from typing import Any

from mipd import __version__
from mipd.runtime import views
from mipd.runtime.control import ControlError
from mipd.runtime.roles import FOREIGN_AGENT, HOME_AGENT, MOBILE_NODE, Role


def answer(daemon: Any, command: str, now: float, request: dict[str, Any] | None = None) -> Any:
    """The result for `command` (ControlError for a role this host does not have)."""
    if command == "status":
        return status(daemon, now)
    if command == "counters":
        dp = daemon.driver.dp.counters() if daemon.driver is not None else {}
        return {"roles": {n: dict(r.machine.counters) for n, r in daemon.roles.items()},
                "runtime": dict(daemon.counters), "dataplane": dict(dp)}
    if command == "sas":
        fetched = [view for name, cache in _aaa_caches(daemon) for view in
                   views.fetched_security_associations(cache.entries(), now, name)]
        return views.security_associations(daemon.config.sas, daemon.config.sa_roles) + fetched
    if command == "drop-sas":
        return drop_sas(daemon, (request or {}).get("node"))
    if command == "bindings":
        return [views.binding(b, now) for b in _role(daemon, HOME_AGENT, command).machine.bindings()]
    if command == "visitors":
        return [views.record(v) for v in _role(daemon, FOREIGN_AGENT, command).machine.visitors(now)]
    if command == "pending":
        return [views.record(p) for p in _role(daemon, FOREIGN_AGENT, command).machine.pending(now)]
    if command == "registration":
        return views.registration(_role(daemon, MOBILE_NODE, command).machine.status(now))
    raise ControlError(f"unknown command {command!r}")


def drop_sas(daemon: Any, node: object) -> dict[str, Any]:
    """Forget SAs fetched from RADIUS for `node` (None: every node): the next registration fetches them
    again, so a key changed on the server takes effect at once. Keys-file SAs are not touched."""
    if node is not None and (not isinstance(node, str) or not 0 < len(node) <= 255):
        raise ControlError("drop-sas: node must be a home address or NAI")
    agents = [daemon.roles[name].machine for name, _cache in _aaa_caches(daemon)]
    if not agents:
        raise ControlError("drop-sas: this agent fetches no SAs (no radius section, or not a home or foreign agent)")
    return {"dropped": sum(agent.drop_sas(node) for agent in agents), "node": node}


def _aaa_caches(daemon: Any) -> list[tuple[str, Any]]:
    """(role name, its AaaCache) of the roles that fetch SAs from RADIUS: the home agent, the foreign agent."""
    return [(name, role.machine.aaa) for name, role in daemon.roles.items()
            if getattr(role.machine, "aaa", None) is not None]


def _role(daemon: Any, name: str, command: str) -> Role:
    role = daemon.roles.get(name)
    if role is None:
        raise ControlError(f"{command}: this host is not a {name.replace('_', ' ')} "
                           f"(roles: {', '.join(daemon.roles)})")
    return role


def status(daemon: Any, now: float) -> dict[str, Any]:
    """Roles, uptime, files, data-plane backend, table sizes (and the registration of a mobile node)."""
    cfg, roles = daemon.config, daemon.roles
    counts: dict[str, int] = {"security_associations": len(cfg.sas)}
    if HOME_AGENT in roles:
        ha = roles[HOME_AGENT].machine
        counts["bindings"] = len(ha.bindings())
        counts["mobile_nodes"] = len(ha)
    if FOREIGN_AGENT in roles:
        fa = roles[FOREIGN_AGENT].machine
        counts["visitors"] = len(fa.visitors(now))
        counts["pending"] = len(fa.pending(now))
    out: dict[str, Any] = {
        "version": __version__,
        "pid": os.getpid(),
        "roles": list(roles),
        "uptime": round(now - daemon.started, 1),
        "config": cfg.path,
        "keys_file": cfg.keys_file,
        "state_db": cfg.state_db,
        "control_socket": cfg.control_socket,
        "dataplane": getattr(daemon.driver.dp, "name", cfg.dataplane_backend) if daemon.driver else None,
        "counts": counts,
        "reload": dict(daemon.reload_state),  # in progress, or the last one's outcome
    }
    if daemon.radius is not None:
        out["radius"] = daemon.radius.status()
    if daemon.missing_links:
        out["missing_links"] = dict(daemon.missing_links)
    if MOBILE_NODE in roles:
        out["registration"] = views.registration(roles[MOBILE_NODE].machine.status(now))
    return out
