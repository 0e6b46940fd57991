"""The mipd configuration file and keys file: YAML -> validated protocol configs + SAs.

One file per host; its role sections map one to one onto the protocol config dataclasses:
``home_agent`` -> HomeAgentConfig (RFC 5944 §3.8.1, RFC 3024 §4), ``foreign_agent`` ->
ForeignAgentConfig (§2.3 advertisements, §3.7 registrations), ``mobile_node`` ->
MobileNodeConfig (§3.6). A host is HA, FA, HA+FA or MN. Security associations (§3.5, §5.1;
RFC 3012 §6 MN-AAA; RFC 2794 NAI peers) live in a separate keys file (mode 0600) so the main
file can be shown and diffed; key values never appear in any error or output.

Relative paths in the file are relative to the file's own directory.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import stat
from dataclasses import dataclass, field

from mipd.protocol.advertiser import TimingError, check_timing
from mipd.protocol.config import (
    ENCAPSULATIONS,
    REVERSE_TUNNEL_MODES,
    ForeignAgentConfig,
    HomeAgentConfig,
    Limits,
    MobileNodeConfig,
    NaiHost,
    ServedInterface,
)
from mipd.protocol.filters import ACTIONS, FilterRule, HostSet, RegistrationFilters, RuleList
from mipd.protocol.foreign_agent import validate_config as validate_foreign_agent
from mipd.runtime import schema, yamlfile
from mipd.runtime.keys_file import ROLES, read_keys_file
from mipd.runtime.radius_config import RadiusSettings, read_radius
from mipd.runtime.schema import ConfigError, Section
from mipd.security import SecurityAssociations
from mipd.wire.registration import LARGEST_REQUEST

DEFAULT_CONFIG = "/etc/mipd/mipd.yaml"
DEFAULT_CONTROL_SOCKET = "/run/mipd/mipd.sock"
DEFAULT_STATE_DB = "/var/lib/mipd/state.db"
DEFAULT_KEYS_FILE = "keys.yaml"  # next to the config file
DATAPLANE_BACKENDS = ("auto", "kernel", "userspace", "none")  # none: signalling only (tests, benchmarks)
STATE_SYNC = ("normal", "full")  # SQLite synchronous: normal survives a process kill, full a power cut
LOG_LEVELS = ("debug", "info", "warning", "error")

TOP_KEYS = ("dataplane", "control_socket", "state_db", "state_sync", "keys_file", "log", "limits", "radius", *ROLES)
LIMITS_KEYS = ("message_size", "extensions", "denial_replies", "denial_log_lines", "source_rate", "source_block_time")
RATE_KEYS = ("per_source", "total")
HA_KEYS = ("address", "interface", "home_networks", "virtual_networks", "mobile_hosts", "nai_hosts",
           "max_lifetime", "simultaneous_bindings", "binding_limit", "reverse_tunnel", "reverse_tunnel_mandatory",
           "encapsulations", "filters", "advertisement")
HA_ADV_KEYS = ("enabled", "interval", "lifetime", "code")
FA_KEYS = ("interfaces", "advertisement", "registration_lifetime", "registration_required", "reverse_tunnel",
           "encapsulations", "visitor_limit", "pending_limit", "pending_timeout", "filters",
           "require_fa_ha_auth")
ADV_KEYS = ("interval", "lifetime", "code", "prefix_lengths", "challenge", "broadcast")
IFACE_KEYS = ("name", "address", "prefix_length", "care_of_addresses")
MN_KEYS = ("home_address", "home_agent", "home_prefix_length", "home_gateway", "nai", "interfaces", "colocated",
           "reverse_tunnel", "encapsulation", "lifetime", "reregister_margin", "solicit_interval",
           "max_retransmit_interval")
RULES_KEYS = ("default", "rules")
RULE_KEYS = ("action", "prefix", "nai")
NAI_HOST_KEYS = ("nai", "home_addresses")
ADV_TIMING_FIELDS = {"advertisement_interval": "interval", "advertisement_lifetime": "lifetime"}  # -> advertisement.*
LIFETIME_MAX = 0xFFFF  # 16-bit lifetime fields; 0xffff = infinity (§3.3, §2.1.1)
MIN_MESSAGE_SIZE = 64  # a request with an MHAE (46 bytes with HMAC-MD5) and a little more


@dataclass(frozen=True)
class Config:
    """A validated configuration: file paths, daemon settings, role configs and SAs."""

    path: str
    keys_file: str | None
    control_socket: str = DEFAULT_CONTROL_SOCKET
    state_db: str = DEFAULT_STATE_DB
    state_sync: str = "normal"
    dataplane_backend: str = "auto"
    tun: str = "mip0"
    log_level: str = "info"
    log_file: str | None = None
    home_agent: HomeAgentConfig | None = None
    foreign_agent: ForeignAgentConfig | None = None
    mobile_node: MobileNodeConfig | None = None
    limits: Limits = Limits()
    radius: RadiusSettings | None = None  # SAs fetched from RADIUS (home agent; radius_config.py)
    sas: SecurityAssociations = field(default_factory=SecurityAssociations, compare=False)
    sa_roles: dict[tuple[str, int], tuple[str, ...]] = field(default_factory=dict, compare=False)
    warnings: tuple[str, ...] = ()

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r in ROLES if getattr(self, r) is not None)

    def sas_for(self, role: str) -> SecurityAssociations:
        """The SAs `role` uses: those whose `roles` list names it, or that have no such list.

        On a host that is both home and foreign agent this keeps a mobile node's SA with its home
        agent (peer = its home address) from also being taken for an SA with the foreign agent,
        which would make the foreign agent demand an MFAE (RFC 5944 §3.7.2.1).
        """
        return _for_role(self.sas, self.sa_roles, role)


def load_config(path: str, check_key_permissions: bool = False) -> Config:
    """Read and validate `path` and its keys file. Raises ConfigError naming the field.

    `check_key_permissions`: refuse a keys file readable by group or others (the daemon sets
    it; `mipd check-config` only warns).
    """
    path = os.path.abspath(path)
    try:
        return _load(path, check_key_permissions)
    except ConfigError as e:
        if e.file is None:
            e.file = path
        raise


def _load(path: str, check_key_permissions: bool) -> Config:
    base = os.path.dirname(path)
    top = Section(yamlfile.load(path, "config"), "", TOP_KEYS)
    warnings: list[str] = []

    def file_path(sec: Section, name: str, default: str | None) -> str | None:
        value = sec.get(name, schema.file_path, default)
        return None if value is None else os.path.normpath(os.path.join(base, value))

    for role in ROLES:
        if role in top.data and top.data[role] is None:
            raise ConfigError(role, "must be a mapping (remove the key if this host has no such role)")
    dp = top.section("dataplane", ("backend", "tun"))
    log = top.section("log", ("level", "file"))
    ha = top.get("home_agent", _home_agent, None, warnings)
    fa = top.get("foreign_agent", _foreign_agent, None, warnings)
    mn = top.get("mobile_node", _mobile_node, None, warnings)
    if ha is not None and fa is not None:  # the foreign agent's addresses are this host's too: never bound
        own = tuple(sorted({a for i in fa.interfaces for a in (i.address, *i.care_of_addresses)} - {ha.address}))
        ha = dataclasses.replace(ha, own_addresses=own)
    limits = _limits(top.section("limits", LIMITS_KEYS), warnings)
    ha, fa, mn = (None if role is None else dataclasses.replace(role, limits=limits) for role in (ha, fa, mn))
    if ha is None and fa is None and mn is None:
        raise ConfigError("", "no role configured: give home_agent, foreign_agent and/or mobile_node")
    if mn is not None and (ha is not None or fa is not None):
        raise ConfigError("mobile_node", "a mobile node cannot also be a home or foreign agent on the same host")
    no_keys = "keys_file" in top.data and top.data["keys_file"] is None  # keys_file: null -> no SAs
    keys_file = None if no_keys else file_path(top, "keys_file", DEFAULT_KEYS_FILE)
    sas = SecurityAssociations()
    sa_roles: dict[tuple[str, int], tuple[str, ...]] = {}
    radius_secrets: dict[str, bytes] = {}
    if keys_file is not None:
        keys = read_keys_file(keys_file)
        sas, sa_roles, radius_secrets = keys.sas, keys.sa_roles, keys.radius_secrets
        mode = stat.S_IMODE(os.stat(keys_file).st_mode)
        if mode & 0o077:
            text = f"{keys_file} is readable by group or others (mode {mode:04o}); chmod 600 it"
            if check_key_permissions:
                raise ConfigError("keys_file", text)
            warnings.append(f"keys_file: {text}")
    radius = None
    if top.has("radius"):
        if ha is None and fa is None:
            raise ConfigError("radius", "only a home or foreign agent fetches SAs from RADIUS: give home_agent or "
                              "foreign_agent, or remove radius")
        radius = top.get("radius", read_radius, None, radius_secrets)
    _check_sas(ha, mn, sas, sa_roles, keys_file, warnings, radius is not None)
    return Config(
        path=path,
        keys_file=keys_file,
        control_socket=file_path(top, "control_socket", DEFAULT_CONTROL_SOCKET) or DEFAULT_CONTROL_SOCKET,
        state_db=file_path(top, "state_db", DEFAULT_STATE_DB) or DEFAULT_STATE_DB,
        state_sync=top.get("state_sync", schema.choice, "normal", STATE_SYNC),
        dataplane_backend=dp.get("backend", schema.choice, "auto", DATAPLANE_BACKENDS),
        tun=dp.get("tun", schema.ifname, "mip0"),
        log_level=log.get("level", schema.choice, "info", LOG_LEVELS),
        log_file=file_path(log, "file", None),
        home_agent=ha,
        foreign_agent=fa,
        mobile_node=mn,
        limits=limits,
        radius=radius,
        sas=sas,
        sa_roles=sa_roles,
        warnings=tuple(warnings),
    )


# ------------------------------------------------------------------ roles


def _home_agent(value: object, path: str, warnings: list[str]) -> HomeAgentConfig:
    sec = Section(value, path, HA_KEYS)
    home_networks = sec.get("home_networks", _prefixes, ())
    virtual_networks = sec.get("virtual_networks", _prefixes, ())
    if not home_networks and not virtual_networks:
        raise ConfigError(sec.at("home_networks"), "at least one home network (or virtual network) is needed")
    mobile_hosts = sec.get("mobile_hosts", _host_set, HostSet())
    address = sec.get("address", schema.ipv4)
    networks = home_networks + virtual_networks
    nai_hosts = sec.get("nai_hosts", lambda item, at: _nai_hosts(item, at, address, networks), ())
    if not mobile_hosts.entries and not nai_hosts:
        warnings.append(f"{sec.at('mobile_hosts')}: empty, every registration will be refused (code 129)")
    filters = sec.section("filters", ("care_of", "roaming"))
    reverse = sec.get("reverse_tunnel", schema.boolean, True)
    mandatory = sec.get("reverse_tunnel_mandatory", schema.boolean, False)
    if mandatory and not reverse:
        raise ConfigError(sec.at("reverse_tunnel_mandatory"), "true needs reverse_tunnel: true")
    adv = sec.section("advertisement", HA_ADV_KEYS)
    interval, lifetime = _advert_timing(adv, 5.0, 15)
    return HomeAgentConfig(
        address=address,
        interface=sec.get("interface", schema.ifname),
        home_networks=home_networks,
        virtual_networks=virtual_networks,
        mobile_hosts=mobile_hosts,
        nai_hosts=nai_hosts,
        max_lifetime=sec.get("max_lifetime", schema.integer, 1800, 1, LIFETIME_MAX),
        simultaneous_bindings=sec.get("simultaneous_bindings", schema.integer, 0, 0, 255),
        binding_limit=sec.get("binding_limit", schema.integer, 0, 0),
        reverse_tunnel=reverse,
        reverse_tunnel_mandatory=mandatory,
        encapsulations=sec.get("encapsulations", _encapsulations, frozenset(ENCAPSULATIONS)),
        filters=RegistrationFilters(
            care_of=filters.get("care_of", _rule_list, RuleList()),
            roaming=filters.get("roaming", _rule_list, RuleList()),
        ),
        advertise=adv.get("enabled", schema.boolean, True),
        advertisement_interval=interval,
        advertisement_lifetime=lifetime,
        advertisement_code=adv.get("code", _adv_code, 16),
    )


def _foreign_agent(value: object, path: str, warnings: list[str]) -> ForeignAgentConfig:
    sec = Section(value, path, FA_KEYS)
    interfaces = sec.get("interfaces", _served_interfaces)
    adv = sec.section("advertisement", ADV_KEYS)
    interval, lifetime = _advert_timing(adv, 5.0, 15)
    config = ForeignAgentConfig(
        interfaces=interfaces,
        advertisement_interval=interval,
        advertisement_lifetime=lifetime,
        advertisement_code=adv.get("code", _adv_code, 16),
        advertise_broadcast=adv.get("broadcast", schema.boolean, False),
        advertise_prefix_lengths=adv.get("prefix_lengths", schema.boolean, True),
        challenge=adv.get("challenge", schema.boolean, False),
        registration_lifetime=sec.get("registration_lifetime", schema.integer, 1800, 1, LIFETIME_MAX),
        registration_required=sec.get("registration_required", schema.boolean, False),
        reverse_tunnel=sec.get("reverse_tunnel", _reverse_mode, "offered"),
        encapsulations=sec.get("encapsulations", _encapsulations, frozenset(ENCAPSULATIONS)),
        visitor_limit=sec.get("visitor_limit", schema.integer, 0, 0),
        pending_limit=sec.get("pending_limit", schema.integer, 5, 0),
        pending_timeout=sec.get("pending_timeout", schema.number, 7.0, 0.0, 3600.0, True),
        require_fa_ha_auth=sec.get("require_fa_ha_auth", schema.boolean, False),
        filters=RegistrationFilters(home_agents=sec.section("filters", ("home_agents",)).get(
            "home_agents", _rule_list, RuleList())),
    )
    try:
        validate_foreign_agent(config)  # the state machine's own checks, so it never refuses a loaded config
    except ValueError as e:
        raise ConfigError(path, str(e)) from None
    return config


def _mobile_node(value: object, path: str, warnings: list[str]) -> MobileNodeConfig:
    sec = Section(value, path, MN_KEYS)
    lifetime = sec.get("lifetime", schema.integer, 1800, 1, LIFETIME_MAX)
    margin = sec.get("reregister_margin", schema.integer, 10, 0, LIFETIME_MAX)
    if lifetime != LIFETIME_MAX and margin >= lifetime:
        raise ConfigError(sec.at("reregister_margin"), f"{margin} must be shorter than lifetime ({lifetime})")
    solicit = sec.get("solicit_interval", schema.number, 1.0, 0.0, 3600.0, True)
    cap = sec.get("max_retransmit_interval", schema.number, 32.0, 0.0, 3600.0, True)
    if cap < solicit:
        raise ConfigError(sec.at("max_retransmit_interval"), f"{cap:g} is shorter than solicit_interval ({solicit:g})")
    home_address = sec.get("home_address", schema.ipv4)
    home_agent = sec.get("home_agent", schema.ipv4)
    if home_address == home_agent:
        raise ConfigError(sec.at("home_agent"), "is the mobile node's own home address")
    return MobileNodeConfig(
        home_address=home_address,
        home_agent=home_agent,
        home_prefix_length=sec.get("home_prefix_length", schema.integer, 24, 1, 32),
        home_gateway=sec.get("home_gateway", schema.ipv4, None),
        nai=sec.get("nai", schema.nai, None),
        interfaces=sec.get("interfaces", _ifnames),
        colocated=sec.get("colocated", schema.boolean, False),
        reverse_tunnel=sec.get("reverse_tunnel", schema.boolean, False),
        encapsulation=sec.get("encapsulation", schema.choice, "ipip", ENCAPSULATIONS),
        lifetime=lifetime,
        reregister_margin=margin,
        solicit_interval=solicit,
        max_retransmit_interval=cap,
    )


def _limits(sec: Section, warnings: list[str]) -> Limits:
    """The `limits` section (protocol.config.Limits: bounded work before authentication, RFC 5944
    §3.8.2.1; denial and per-source rates against floods)."""
    default = Limits()
    replies = sec.section("denial_replies", RATE_KEYS)
    lines = sec.section("denial_log_lines", RATE_KEYS)
    limits = Limits(
        message_size=sec.get("message_size", schema.integer, default.message_size, MIN_MESSAGE_SIZE, 65535),
        extensions=sec.get("extensions", schema.integer, default.extensions, 2, 255),
        denial_replies_per_source=replies.get("per_source", schema.number, default.denial_replies_per_source, 0.0),
        denial_replies_total=replies.get("total", schema.number, default.denial_replies_total, 0.0),
        denial_logs_per_source=lines.get("per_source", schema.number, default.denial_logs_per_source, 0.0),
        denial_logs_total=lines.get("total", schema.number, default.denial_logs_total, 0.0),
        source_rate=sec.get("source_rate", schema.number, default.source_rate, 0.0),
        source_block_time=sec.get("source_block_time", schema.number, default.source_block_time, 0.0, 86400.0),
    )
    if limits.message_size < LARGEST_REQUEST:
        warnings.append(f"{sec.at('message_size')}: {limits.message_size} bytes refuses a request with a long NAI "
                        f"and challenge ({LARGEST_REQUEST} bytes at most without vendor extensions)")
    return limits


# ------------------------------------------------------------------ pieces


def _prefixes(value: object, path: str) -> tuple[str, ...]:
    return schema.items(value, path, schema.prefix)


def _ifnames(value: object, path: str) -> tuple[str, ...]:
    return schema.items(value, path, schema.ifname, min_items=1)


def _encapsulations(value: object, path: str) -> frozenset[str]:
    return frozenset(schema.items(value, path, lambda item, at: schema.choice(item, at, ENCAPSULATIONS), min_items=1))


def _advert_timing(adv: Section, interval: float, lifetime: int) -> tuple[float, int]:
    """(interval, lifetime) of agent advertisements, checked by the agents' own rule (RFC 5944 §2.1)."""
    lifetime = adv.get("lifetime", schema.integer, lifetime, 1, LIFETIME_MAX)
    interval = adv.get("interval", schema.number, interval, 0.0, None, True)
    try:
        check_timing(interval, lifetime)
    except TimingError as e:
        raise ConfigError(adv.at(ADV_TIMING_FIELDS[e.field]), e.reason) from None
    return interval, lifetime


def _adv_code(value: object, path: str) -> int:
    if value not in (0, 16) or isinstance(value, bool):
        raise ConfigError(path, f"must be 16 (mobility agent only) or 0 (also a router), got {schema.VALUE}",
                          value=value)
    return value  # type: ignore[return-value]


def _reverse_mode(value: object, path: str) -> str:
    if value is False:  # YAML reads a bare `off` as false
        return "off"
    return schema.choice(value, path, REVERSE_TUNNEL_MODES)


def _host_entry(value: object, path: str) -> str:
    """An address, range "a-b", prefix "p/len", NAI or NAI pattern (HostSet syntax)."""
    if isinstance(value, str) and value:
        try:
            HostSet((value,))
            return value
        except ValueError:
            pass
    raise ConfigError(path, "must be an address, range a.b.c.d-e.f.g.h, prefix a.b.c.d/len or NAI pattern "
                      f"(user@realm, * allowed), got {schema.VALUE}", value=value)


def _host_set(value: object, path: str) -> HostSet:
    return HostSet(schema.items(value, path, _host_entry))


def _nai_hosts(value: object, path: str, ha_address: str, networks: tuple[str, ...]) -> tuple[NaiHost, ...]:
    """`nai_hosts`: each NAI (exact, no pattern) once, with the home addresses it may register (RFC 2794).

    Every address must lie in a home or virtual network and be neither the home agent's address nor
    a network's network or broadcast address (those are never bound); no address is held by two NAIs.
    """
    hosts = schema.items(value, path, lambda item, at: _nai_host(item, at, ha_address, networks), unique=False)
    holders: dict[str, str] = {}
    for i, host in enumerate(hosts):
        where = schema.join(path, i)
        if host.nai.lower() in holders.values():
            raise ConfigError(schema.join(where, "nai"), f"{host.nai} is listed twice")
        for j, home in enumerate(host.home_addresses):
            if home in holders:
                raise ConfigError(schema.join(schema.join(where, "home_addresses"), j),
                                  f"{home} is already held by {holders[home]}")
            holders[home] = host.nai.lower()
    return hosts


def _nai_host(value: object, path: str, ha_address: str, networks: tuple[str, ...]) -> NaiHost:
    sec = Section(value, path, NAI_HOST_KEYS)
    nai = sec.get("nai", schema.nai)
    if "*" in nai or "?" in nai:
        raise ConfigError(sec.at("nai"), "must be one NAI, not a pattern (patterns belong in mobile_hosts)")
    def home_address(item: object, at: str) -> str:
        return _home_address(item, at, ha_address, networks)

    homes = sec.get("home_addresses", lambda item, at: schema.items(item, at, home_address, min_items=1))
    return NaiHost(nai, homes)


def _home_address(value: object, path: str, ha_address: str, networks: tuple[str, ...]) -> str:
    address = schema.ipv4(value, path)
    ip = ipaddress.IPv4Address(address)
    nets = [ipaddress.IPv4Network(n, strict=False) for n in networks]
    if address == ha_address:
        raise ConfigError(path, f"{address} is the home agent's own address")
    if not any(ip in net for net in nets):
        raise ConfigError(path, f"{address} is not in a home or virtual network ({', '.join(networks)})")
    if any(net.prefixlen < 31 and ip in (net.network_address, net.broadcast_address) for net in nets):
        raise ConfigError(path, f"{address} is a network or broadcast address")
    return address


def _rule(value: object, path: str) -> FilterRule:
    sec = Section(value, path, RULE_KEYS)
    action = sec.get("action", schema.choice, None, ACTIONS)
    if action is None:
        raise ConfigError(sec.at("action"), "is required (permit or deny)")
    if sec.has("prefix") == sec.has("nai"):
        raise ConfigError(path, "needs exactly one of prefix or nai")
    if sec.has("prefix"):
        return FilterRule(action, prefix=sec.get("prefix", _prefix_or_address))
    return FilterRule(action, nai=sec.get("nai", schema.string, None, 255))


def _prefix_or_address(value: object, path: str) -> str:
    if isinstance(value, str) and "/" not in value:
        return schema.ipv4(value, path) + "/32"
    return schema.prefix(value, path)


def _rule_list(value: object, path: str) -> RuleList:
    sec = Section(value, path, RULES_KEYS)
    return RuleList(
        rules=sec.get("rules", lambda item, at: schema.items(item, at, _rule, unique=False), ()),
        default=sec.get("default", schema.choice, "permit", ACTIONS),
    )


def _served_interface(value: object, path: str) -> ServedInterface:
    sec = Section(value, path, IFACE_KEYS)
    address = sec.get("address", schema.ipv4)
    return ServedInterface(
        name=sec.get("name", schema.ifname),
        address=address,
        prefix_length=sec.get("prefix_length", schema.integer, 24, 1, 32),
        care_of_addresses=sec.get("care_of_addresses",
                                  lambda item, at: schema.items(item, at, schema.ipv4, min_items=1), (address,)),
    )


def _served_interfaces(value: object, path: str) -> tuple[ServedInterface, ...]:
    interfaces = schema.items(value, path, _served_interface, min_items=1)
    names: set[str] = set()
    for i, iface in enumerate(interfaces):
        if iface.name in names:
            raise ConfigError(schema.join(schema.join(path, i), "name"), f"interface {iface.name!r} is listed twice")
        names.add(iface.name)
    return interfaces


# ------------------------------------------------------------------ keys file


def load_keys(path: str) -> SecurityAssociations:
    """The security associations in keys file `path`. Errors name the field, never a key value."""
    return read_keys_file(path).sas


def _for_role(sas: SecurityAssociations, sa_roles: dict[tuple[str, int], tuple[str, ...]],
              role: str) -> SecurityAssociations:
    if not sa_roles:
        return sas
    return sas.select(lambda peer, spi: role in sa_roles.get((peer, spi), ROLES))


def _check_sas(ha: HomeAgentConfig | None, mn: MobileNodeConfig | None, sas: SecurityAssociations,
               sa_roles: dict[tuple[str, int], tuple[str, ...]], keys_file: str | None,
               warnings: list[str], radius: bool = False) -> None:
    """Cross-checks between the roles and the keys file."""
    if mn is not None and not _for_role(sas, sa_roles, "mobile_node").has_peer(mn.home_agent):
        raise ConfigError("security_associations", f"the mobile node needs an SA with its home agent {mn.home_agent} "
                          "(RFC 5944 §3.5.2: every request carries a Mobile-Home Authentication Extension)",
                          keys_file)
    if ha is None:
        return
    ha_sas = _for_role(sas, sa_roles, "home_agent")
    if not len(ha_sas) and not radius:
        warnings.append("security_associations: none, the home agent will discard every request (§3.8.2.1)")
    held = {h.nai.lower() for h in ha.nai_hosts}
    for peer in sorted({peer for peer in ha_sas.peers() if "@" in peer and peer.lower() not in held}):
        warnings.append(f"security_associations: the SA of {peer} authenticates no home address: give it one in "
                        "home_agent.nai_hosts (RFC 2794); its requests are refused with code 131")
