"""What the control socket shows: the state machines' tables as JSON-ready dicts.

Mobility bindings (RFC 5944 §3.8.1), the visitor list and pending registrations (§3.7.1), a
mobile node's registration (§3.6), counters, and security associations by peer, SPI,
algorithm, replay method and key fingerprint only: no key material, ever.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from mipd.protocol import codes
from mipd.protocol.aaa import CachedSAs
from mipd.protocol.home_agent import Binding
from mipd.security import SecurityAssociation, SecurityAssociations, fingerprint


def _value(name: str, value: Any) -> Any:
    if name == "identification" and isinstance(value, int):
        return f"{value:016x}"  # 64-bit: hex keeps it exact in every JSON consumer
    if isinstance(value, float):
        return None if math.isinf(value) else round(value, 3)
    if isinstance(value, (tuple, frozenset, set)):
        return list(value)
    return value


def record(obj: Any) -> dict[str, Any]:
    """A dataclass instance as a flat dict (identification as 16 hex digits, inf as null)."""
    return {f.name: _value(f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj) if not f.name.startswith("_")}


def binding(b: Binding, now: float) -> dict[str, Any]:
    out = record(b)
    out["lifetime_left"] = b.remaining(now)
    return out


def registration(status: Any) -> dict[str, Any]:
    """A MobileNodeStatus, with the name of the last reply code (protocol/codes.py)."""
    out = record(status)
    code = out.get("last_reply_code")
    out["last_reply_name"] = codes.name(code) if isinstance(code, int) else None
    return out


def security_associations(sas: SecurityAssociations,
                          roles: dict[tuple[str, int], tuple[str, ...]] | None = None) -> list[dict[str, Any]]:
    """Peer, SPI, algorithm, replay settings, the roles using it (null: all) and a key fingerprint."""
    roles = roles or {}
    return [
        {**_sa(sa), "roles": list(roles[(sa.peer, sa.spi)]) if (sa.peer, sa.spi) in roles else None,
         "source": "file"}
        for sa in sas
    ]


def fetched_security_associations(entries: list[CachedSAs], now: float, role: str) -> list[dict[str, Any]]:
    """SAs `role` fetched from RADIUS (protocol/aaa.py): the server, when, until when (null: refreshing or kept
    while the server is unreachable past it), as fingerprints like the others."""
    return [
        {**_sa(sa), "roles": [role], "source": "radius", "server": e.server,
         "fetched_at": round(e.fetched_at, 3), "expires": _value("expires", e.expires),
         "expires_in": round(e.expires - now, 1) if e.expires != math.inf else None}
        for e in entries for sa in e.sas
    ]


def _sa(sa: SecurityAssociation) -> dict[str, Any]:
    return {"peer": sa.peer, "spi": sa.spi, "algorithm": sa.algorithm, "replay": sa.replay,
            "replay_window": sa.replay_window, "fallback": sa.fallback, "key_fingerprint": fingerprint(sa.key)}
