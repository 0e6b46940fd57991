"""The `radius:` section of the configuration and the `radius_secrets` of the keys file.

A home agent fetches a mobile node's SA from RADIUS servers when its keys file has none for the
node (RFC 5944 §3.8.2.1 a; Cisco IOS ``aaa authorization ipmobile``); see mipd.runtime.radius for
the client and mipd.protocol.aaa for the cache. The shared secrets (RFC 2865 §3) live in the keys
file (mode 0600), by server ("address" or "address:port"); no error or output ever shows one.

    radius:
      servers:
        - {address: 192.0.2.50}              # port 1812
        - {address: 192.0.2.51, port: 1812}
      source_address: 192.0.2.1              # default: chosen by the kernel
      timeout: 2.0                           # seconds per try
      retries: 2                             # more tries per server before failing over
      dead_time: 30                          # a server that did not answer is skipped this long
      cache_lifetime: binding                # or seconds
      ...                                    # the limits of AaaSettings (protocol/aaa.py)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mipd.protocol.aaa import AaaSettings
from mipd.runtime import schema as s
from mipd.runtime.schema import ConfigError, Section

RADIUS_KEYS = (
    "servers",
    "source_address",
    "timeout",
    "retries",
    "dead_time",
    "nas_identifier",
    "cache_lifetime",
    "unbound_lifetime",
    "refresh_margin",
    "negative_lifetime",
    "pending_lookups",
    "pending_per_node",
    "lookup_rate",
    "failure_log_interval",
)
SERVER_KEYS = ("address", "port")
DEFAULT_PORT = 1812  # RFC 2865 §3
MAX_SERVERS = 8
MAX_PENDING = 4096
MIN_SECRET = 16  # RFC 2865 §3: at least 16 octets is preferred; shorter ones are refused here


@dataclass(frozen=True, slots=True)
class RadiusServer:
    address: str
    port: int
    secret: bytes = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.address}:{self.port}"


@dataclass(frozen=True, slots=True)
class RadiusSettings:
    servers: tuple[RadiusServer, ...]
    source_address: str | None = None
    timeout: float = 2.0
    retries: int = 2
    dead_time: float = 30.0
    nas_identifier: str = "mipd"
    cache: AaaSettings = AaaSettings()


def read_radius(value: object, path: str, secrets: dict[str, bytes]) -> RadiusSettings:
    """The `radius` section; `secrets` from the keys file (read_secrets). Errors name the field."""
    sec = Section(value, path, RADIUS_KEYS)
    raw_servers = sec.raw("servers")
    servers = s.items(raw_servers, sec.at("servers"), lambda v, p: _server(v, p, secrets), min_items=1)
    if len(servers) > MAX_SERVERS:
        raise ConfigError(sec.at("servers"), f"at most {MAX_SERVERS} servers")
    names = [srv.name for srv in servers]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(s.join(sec.at("servers"), i), f"{name} is listed twice")
    default = AaaSettings()
    lifetime_raw = sec.raw("cache_lifetime", "binding")
    cache_lifetime = None if lifetime_raw == "binding" else sec.get("cache_lifetime", _lifetime)
    cache = AaaSettings(
        cache_lifetime=cache_lifetime,
        unbound_lifetime=sec.get("unbound_lifetime", s.number, default.unbound_lifetime, 1.0, 86400.0),
        refresh_margin=sec.get("refresh_margin", s.number, default.refresh_margin, 0.0, 86400.0),
        negative_lifetime=sec.get("negative_lifetime", s.number, default.negative_lifetime, 0.0, 86400.0),
        pending_lookups=sec.get("pending_lookups", s.integer, default.pending_lookups, 1, MAX_PENDING),
        pending_per_node=sec.get("pending_per_node", s.integer, default.pending_per_node, 1, 64),
        lookup_rate=sec.get("lookup_rate", s.number, default.lookup_rate, 0.0),
        failure_log_interval=sec.get("failure_log_interval", s.number, default.failure_log_interval, 0.0, 86400.0),
    )
    if cache.cache_lifetime is not None and cache.refresh_margin >= cache.cache_lifetime:
        raise ConfigError(
            sec.at("refresh_margin"),
            f"{cache.refresh_margin:g} must be shorter than cache_lifetime ({cache.cache_lifetime:g})",
        )
    return RadiusSettings(
        servers=servers,
        source_address=sec.get("source_address", s.ipv4, None),
        timeout=sec.get("timeout", s.number, 2.0, 0.0, 60.0, True),
        retries=sec.get("retries", s.integer, 2, 0, 10),
        dead_time=sec.get("dead_time", s.number, 30.0, 0.0, 3600.0),
        nas_identifier=sec.get("nas_identifier", s.string, "mipd", 64),
        cache=cache,
    )


def _lifetime(value: object, path: str) -> float:
    if isinstance(value, str):
        raise ConfigError(path, f"must be 'binding' (until the binding ends) or seconds, got {s.VALUE}", value=value)
    return s.number(value, path, 1.0, 30 * 86400.0)


def _server(value: object, path: str, secrets: dict[str, bytes]) -> RadiusServer:
    sec = Section(value, path, SERVER_KEYS)
    address = sec.get("address", s.ipv4)
    port = sec.get("port", s.integer, DEFAULT_PORT, 1, 65535)
    secret = secrets.get(f"{address}:{port}", secrets.get(address))
    if secret is None:
        raise ConfigError(
            path, f'no shared secret for {address}:{port} in the keys file (radius_secrets: {{"{address}": "..."}})'
        )
    return RadiusServer(address, port, secret)


def read_secrets(value: object, path: str) -> dict[str, bytes]:
    """`radius_secrets` of the keys file: {"address" or "address:port": "secret"}. Errors never show a value."""
    if not isinstance(value, dict):
        raise ConfigError(
            path, f"must be a mapping of server address to shared secret, got {s.VALUE}", value=value
        ).hide_value()
    out: dict[str, bytes] = {}
    for i, (name, secret) in enumerate(value.items()):
        where = s.join(path, i)
        if not isinstance(name, str) or not _server_name(name):
            raise ConfigError(where, "the name must be an IPv4 address or address:port").hide_value()
        if not isinstance(secret, str) or not secret:
            raise ConfigError(s.join(path, name), "must be a quoted, non-empty string").hide_value()
        data = secret.encode("utf-8")
        if len(data) < MIN_SECRET:
            raise ConfigError(
                s.join(path, name), f"is {len(data)} bytes; at least {MIN_SECRET} are needed (RFC 2865 §3)"
            ).hide_value()
        out[name] = data
    return out


def _server_name(name: str) -> bool:
    address, _, port = name.partition(":")
    try:
        s.ipv4(address, "")
    except ConfigError:
        return False
    return not port or (port.isdigit() and 0 < int(port) < 65536)
