"""Configuration and keys file validation (mipd.runtime.config): every field error names its path,
unknown keys are refused, the key value never appears in any error, and a valid file produces the
protocol config dataclasses and security associations."""

from __future__ import annotations

import os

import pytest
import runtime_helpers as h
import yaml
from mipd.protocol.config import HomeAgentConfig
from mipd.protocol.filters import FilterRule, HostSet, RegistrationFilters, RuleList
from mipd.runtime.config import ConfigError, load_config, load_keys

SECRET = h.KEY_HEX


def load_error(tmp_path, cfg, keys=None, **kw) -> ConfigError:
    path = h.write(tmp_path, cfg, keys)
    with pytest.raises(ConfigError) as info:
        load_config(str(path), **kw)
    err = info.value
    assert SECRET not in str(err) and SECRET not in err.located()
    return err


def ha_fa_mn(role: str) -> dict:
    if role == "foreign_agent":
        return h.config(home_agent=None, foreign_agent=h.FA_SECTION)
    if role == "mobile_node":
        keys_peer = h.config(home_agent=None, mobile_node=h.MN_SECTION)
        return keys_peer
    return h.config()


MN_KEYS = {"security_associations": [{"peer": h.HA_ADDRESS, "spi": 257, "key": SECRET}]}

# (role, dotted path set to a bad value, the value, the error text expected)
FIELD_ERRORS = [
    ("home_agent", "home_agent.max_lifetime", "abc", "home_agent.max_lifetime: must be an integer 1-65535, got 'abc'"),
    ("home_agent", "home_agent.max_lifetime", 0, "home_agent.max_lifetime: must be an integer 1-65535, got 0"),
    ("home_agent", "home_agent.max_lifetime", 70000, "home_agent.max_lifetime: must be an integer 1-65535"),
    ("home_agent", "home_agent.max_lifetime", True, "home_agent.max_lifetime: must be an integer 1-65535, got true"),
    ("home_agent", "home_agent.address", "10.1.0.300", "home_agent.address: must be an IPv4 address, got '10.1.0.300'"),
    ("home_agent", "home_agent.address", "224.0.0.1", "home_agent.address: must be a unicast address"),
    ("home_agent", "home_agent.address", None, "home_agent.address: is required"),
    ("home_agent", "home_agent.interface", "eth/0", "home_agent.interface: must be an interface name"),
    ("home_agent", "home_agent.interface", "x" * 16, "home_agent.interface: must be an interface name"),
    ("home_agent", "home_agent.home_networks", ["10.1.0.0/33"], "home_agent.home_networks[0]: must be an IPv4 prefix"),
    ("home_agent", "home_agent.home_networks", "10.1.0.0/24", "home_agent.home_networks: must be a list"),
    ("home_agent", "home_agent.home_networks", [], "home_agent.home_networks: at least one home network"),
    ("home_agent", "home_agent.mobile_hosts", ["10.1.0.0/24", "10.1.0.9-10.1.0.1"], "home_agent.mobile_hosts[1]:"),
    ("home_agent", "home_agent.mobile_hosts", ["10.1.0.0/24", "10.1.0.0/24"], "home_agent.mobile_hosts[1]: "
     "'10.1.0.0/24' is listed twice"),
    ("home_agent", "home_agent.simultaneous_bindings", 256,
     "home_agent.simultaneous_bindings: must be an integer 0-255"),
    ("home_agent", "home_agent.binding_limit", -1, "home_agent.binding_limit: must be an integer >= 0, got -1"),
    ("home_agent", "home_agent.reverse_tunnel", "yes", "home_agent.reverse_tunnel: must be true or false, got 'yes'"),
    ("home_agent", "home_agent", {**h.BASE_CONFIG["home_agent"], "reverse_tunnel": False,
                                  "reverse_tunnel_mandatory": True}, "home_agent.reverse_tunnel_mandatory: true needs"),
    ("home_agent", "home_agent.encapsulations", ["ipip", "vxlan"], "home_agent.encapsulations[1]: must be one of "
     "ipip, gre, minimal, got 'vxlan'"),
    ("home_agent", "home_agent.encapsulations", [], "home_agent.encapsulations: needs at least 1 item"),
    ("home_agent", "home_agent.filters", {"care_of": {"default": "maybe"}},
     "home_agent.filters.care_of.default: must be one of permit, deny, got 'maybe'"),
    ("home_agent", "home_agent.filters", {"care_of": {"rules": [{"action": "deny"}]}},
     "home_agent.filters.care_of.rules[0]: needs exactly one of prefix or nai"),
    ("home_agent", "home_agent.filters", {"roaming": {"rules": [{"action": "drop", "nai": "*@x"}]}},
     "home_agent.filters.roaming.rules[0].action: must be one of permit, deny, got 'drop'"),
    ("home_agent", "home_agent.filters", {"roaming": {"rules": [{"action": "deny", "prefix": "300.0.0.0/8"}]}},
     "home_agent.filters.roaming.rules[0].prefix: must be an IPv4 prefix"),
    ("home_agent", "home_agent.filters", {"home_agents": {}}, "home_agent.filters: unknown key 'home_agents'"),
    ("home_agent", "home_agent.advertisement", {"interval": 6}, "home_agent.advertisement.interval: 6 s is more than "
     "1/3 of the advertisement lifetime (15 s)"),
    ("home_agent", "home_agent.advertisement", {"enabled": "no"}, "home_agent.advertisement.enabled: must be true or "
     "false"),
    ("home_agent", "home_agent.advertisement", {"challenge": True}, "home_agent.advertisement: unknown key "
     "'challenge'"),
    ("home_agent", "home_agent.nai_hosts", [{"nai": "mn@example.net"}], "home_agent.nai_hosts[0].home_addresses: "
     "is required"),
    ("home_agent", "home_agent.nai_hosts", [{"nai": "*@example.net", "home_addresses": ["10.1.0.5"]}],
     "home_agent.nai_hosts[0].nai: must be one NAI, not a pattern"),
    ("home_agent", "home_agent.nai_hosts", [{"nai": "mn@example.net", "home_addresses": ["10.1.0.1"]}],
     "home_agent.nai_hosts[0].home_addresses[0]: 10.1.0.1 is the home agent's own address"),
    ("home_agent", "home_agent.nai_hosts", [{"nai": "mn@example.net", "home_addresses": ["10.1.0.255"]}],
     "home_agent.nai_hosts[0].home_addresses[0]: 10.1.0.255 is a network or broadcast address"),
    ("home_agent", "home_agent.nai_hosts", [{"nai": "mn@example.net", "home_addresses": ["10.7.0.5"]}],
     "home_agent.nai_hosts[0].home_addresses[0]: 10.7.0.5 is not in a home or virtual network (10.1.0.0/24)"),
    ("home_agent", "home_agent.nai_hosts", [{"nai": "a@example.net", "home_addresses": ["10.1.0.5"]},
                                            {"nai": "b@example.net", "home_addresses": ["10.1.0.5"]}],
     "home_agent.nai_hosts[1].home_addresses[0]: 10.1.0.5 is already held by a@example.net"),
    ("home_agent", "home_agent.nai_hosts", [{"nai": "a@example.net", "home_addresses": ["10.1.0.5"]},
                                            {"nai": "A@example.net", "home_addresses": ["10.1.0.6"]}],
     "home_agent.nai_hosts[1].nai: A@example.net is listed twice"),
    ("home_agent", "dataplane.backend", "ebpf", "dataplane.backend: must be one of auto, kernel, userspace, none"),
    ("home_agent", "dataplane.tun", "", "dataplane.tun: must be an interface name"),
    ("home_agent", "log.level", "loud", "log.level: must be one of debug, info, warning, error, got 'loud'"),
    ("home_agent", "state_sync", "sometimes", "state_sync: must be one of normal, full"),
    ("home_agent", "control_socket", 5, "control_socket: must be a non-empty string"),
    ("foreign_agent", "foreign_agent.interfaces", [], "foreign_agent.interfaces: needs at least 1 item"),
    ("foreign_agent", "foreign_agent.interfaces[0].prefix_length", 33,
     "foreign_agent.interfaces[0].prefix_length: must be an integer 1-32, got 33"),
    ("foreign_agent", "foreign_agent.interfaces[0].care_of_addresses", ["10.2.0.1", "nope"],
     "foreign_agent.interfaces[0].care_of_addresses[1]: must be an IPv4 address"),
    ("foreign_agent", "foreign_agent.interfaces[0].name", None, "foreign_agent.interfaces[0].name: is required"),
    ("foreign_agent", "foreign_agent.advertisement.interval", 2, "foreign_agent.advertisement.interval: 2 s is more "
     "than 1/3 of the advertisement lifetime (3 s)"),
    ("foreign_agent", "foreign_agent.advertisement.interval", 0, "foreign_agent.advertisement.interval: must be a "
     "number > 0"),
    ("foreign_agent", "foreign_agent.advertisement.code", 1, "foreign_agent.advertisement.code: must be 16"),
    ("foreign_agent", "foreign_agent.advertisement.lifetime", "3", "foreign_agent.advertisement.lifetime: must be an "
     "integer 1-65535, got '3'"),
    ("foreign_agent", "foreign_agent.reverse_tunnel", "sometimes", "foreign_agent.reverse_tunnel: must be one of off, "
     "offered, mandatory"),
    ("foreign_agent", "foreign_agent.pending_timeout", -1, "foreign_agent.pending_timeout: must be a number > 0"),
    ("foreign_agent", "foreign_agent.require_fa_ha_auth", "yes", "foreign_agent.require_fa_ha_auth: must be"),
    ("foreign_agent", "foreign_agent.visitor_limit", 1.5, "foreign_agent.visitor_limit: must be an integer >= 0"),
    ("foreign_agent", "foreign_agent.filters", {"home_agents": {"rules": [{"action": "deny", "prefix": "x"}]}},
     "foreign_agent.filters.home_agents.rules[0].prefix: must be an IPv4 address"),
    ("mobile_node", "mobile_node.home_prefix_length", 0, "mobile_node.home_prefix_length: must be an integer 1-32"),
    ("mobile_node", "mobile_node.interfaces", [], "mobile_node.interfaces: needs at least 1 item"),
    ("mobile_node", "mobile_node.nai", "no-at-sign", "mobile_node.nai: must be an NAI"),
    ("mobile_node", "mobile_node.reregister_margin", 2000, "mobile_node.reregister_margin: 2000 must be shorter than "
     "lifetime (1800)"),
    ("mobile_node", "mobile_node.encapsulation", "vxlan", "mobile_node.encapsulation: must be one of ipip, gre, "
     "minimal"),
    ("mobile_node", "mobile_node.home_agent", h.HOME, "mobile_node.home_agent: is the mobile node's own home address"),
    ("mobile_node", "mobile_node.solicit_interval", 0, "mobile_node.solicit_interval: must be a number > 0"),
    ("mobile_node", "mobile_node.home_gateway", "gw", "mobile_node.home_gateway: must be an IPv4 address"),
]


@pytest.mark.parametrize(("role", "where", "value", "expected"), FIELD_ERRORS,
                         ids=[f"{w}={v!r}"[:60] for _, w, v, _ in FIELD_ERRORS])
def test_field_errors_name_their_path(tmp_path, role, where, value, expected):
    cfg = ha_fa_mn(role)
    h.set_path(cfg, where, value)
    err = load_error(tmp_path, cfg, MN_KEYS if role == "mobile_node" else None)
    assert expected in str(err)
    assert err.file == str(tmp_path / "mipd.yaml")


KEY_ERRORS = [
    ("spi", 12, "security_associations[0].spi: 0-255 are reserved (RFC 5944 §1.6), got a number (value hidden)"),
    ("spi", 0, "security_associations[0].spi: 0-255 are reserved"),
    ("spi", 2**32, "security_associations[0].spi: must be an integer 256-4294967295"),
    ("spi", "257", "security_associations[0].spi: must be an integer 256-4294967295, got a string (value hidden)"),
    ("algorithm", "sha1",
     "security_associations[0].algorithm: must be one of hmac-md5, md5-prefix-suffix, rfc2002-md5"),
    ("replay", "sometimes", "security_associations[0].replay: must be one of timestamp, nonce, none"),
    ("replay_window", 0, "security_associations[0].replay_window: must be an integer 1-3600, got a number "
     "(value hidden)"),
    ("key_format", "base64", "security_associations[0].key_format: must be one of hex, ascii"),
    ("peer", "not an address", "security_associations[0].peer: must be an IPv4 address or an NAI"),
    ("peer", None, "security_associations[0].peer: is required"),
    ("fallback", "no", "security_associations[0].fallback: must be true or false, got a string (value hidden)"),
    ("roles", ["home_agent", "router"], "security_associations[0].roles[1]: must be one of home_agent, "
     "foreign_agent, mobile_node, got a string (value hidden)"),
    ("roles", [], "security_associations[0].roles: needs at least 1 item"),
    ("key", None, "security_associations[0].key: is required"),
]


@pytest.mark.parametrize(("field", "value", "expected"), KEY_ERRORS, ids=[f"{f}={v!r}" for f, v, _ in KEY_ERRORS])
def test_keys_file_field_errors(tmp_path, field, value, expected):
    keys = {"security_associations": [{"peer": h.HOME, "spi": 300, "key": SECRET}, dict(h.BASE_KEYS[
        "security_associations"][0])]}
    keys["security_associations"] = [keys["security_associations"][1]]
    keys["security_associations"][0][field] = value
    err = load_error(tmp_path, h.config(), keys)
    assert expected in str(err)
    assert err.file == str(tmp_path / "keys.yaml")


def test_keys_file_error_names_the_entry_index(tmp_path):
    good = dict(h.BASE_KEYS["security_associations"][0])
    entries = [good, {**good, "spi": 258}, {**good, "spi": 12}]
    err = load_error(tmp_path, h.config(), {"security_associations": entries})
    assert str(err).startswith("security_associations[2].spi: 0-255 are reserved")


def test_duplicate_security_association(tmp_path):
    good = dict(h.BASE_KEYS["security_associations"][0])
    err = load_error(tmp_path, h.config(), {"security_associations": [good, {**good, "key": "00ff"}]})
    assert "security_associations[1].spi: peer 10.1.0.10 already has an SA with SPI 257" in str(err)


# ------------------------------------------------------------------ unknown keys


UNKNOWN = [
    ("max_lifetme", "home_agent", "home_agent: unknown key 'max_lifetme' (did you mean 'max_lifetime'?)"),
    ("dataplan", "", "unknown key 'dataplan' (did you mean 'dataplane'?)"),
    ("colour", "log", "log: unknown key 'colour'"),
    ("prefx", "home_agent.filters.care_of.rules[0]", "home_agent.filters.care_of.rules[0]: unknown key 'prefx'"),
    ("adress", "foreign_agent.interfaces[0]", "foreign_agent.interfaces[0]: unknown key 'adress' (did you mean "
     "'address'?)"),
    ("intervall", "foreign_agent.advertisement", "foreign_agent.advertisement: unknown key 'intervall'"),
]


@pytest.mark.parametrize(("key", "where", "expected"), UNKNOWN, ids=[k for k, _, _ in UNKNOWN])
def test_unknown_keys_are_refused(tmp_path, key, where, expected):
    cfg = h.config(foreign_agent=h.FA_SECTION)
    cfg["home_agent"]["filters"] = {"care_of": {"rules": [{"action": "deny", "prefix": "192.0.2.0/24"}]}}
    target = cfg
    if where:
        node = cfg
        for part in where.replace("[", ".[").split("."):
            node = node[int(part[1:-1])] if part.startswith("[") else node.setdefault(part, {})
        target = node
    target[key] = 1
    assert expected in str(load_error(tmp_path, cfg))


def test_unknown_key_in_keys_file_is_located_without_its_name_or_value(tmp_path):
    entry = dict(h.BASE_KEYS["security_associations"][0])
    entry["kye"] = SECRET  # a typo'd key field: its value is a key
    err = load_error(tmp_path, h.config(), {"security_associations": [entry]})
    assert str(err) == "security_associations[0]: unknown key (name hidden) (did you mean 'key'?)"
    err = load_error(tmp_path, h.config(), {"security_associations": [], "extra": SECRET})
    assert str(err) == "unknown key (name hidden) (expected one of: security_associations, radius_secrets)"
    err = load_error(tmp_path, h.config(), {"security_associations": [], SECRET: 1})  # a key as a mapping key
    assert str(err) == "unknown key (name hidden) (expected one of: security_associations, radius_secrets)"


def test_unknown_key_in_main_file_is_named_unless_it_looks_like_key_material(tmp_path):
    cfg = h.config()
    cfg["home_agent"]["mobile-hosts"] = 1
    assert "home_agent: unknown key 'mobile-hosts' (did you mean 'mobile_hosts'?)" in str(load_error(tmp_path, cfg))
    for name in (SECRET, "0x" + SECRET, "c2VjcmV0IGtleQ==", "pass word"):
        cfg = h.config()
        cfg[name] = 1
        assert str(load_error(tmp_path, cfg)).startswith("unknown key (name hidden) (expected one of: dataplane,")


def test_key_material_in_the_main_file_is_refused(tmp_path):
    cfg = h.config()
    cfg["security_associations"] = h.BASE_KEYS["security_associations"]
    err = load_error(tmp_path, cfg)
    assert "unknown key 'security_associations'" in str(err)


def test_duplicate_yaml_key_is_refused(tmp_path):
    text = "dataplane: {backend: none}\nhome_agent:\n  address: 10.1.0.1\n  address: 10.1.0.2\n"
    err = load_error(tmp_path, text)
    assert "duplicate key 'address'" in str(err) and "line 4" in str(err)


# ------------------------------------------------------------------ key material never echoed


BAD_KEYS = [
    {"key": SECRET + "z"},  # not hex
    {"key": SECRET + "0"},  # odd number of digits
    {"key": SECRET, "key_format": "ascii", "peer": "bad peer"},
    {"key": "é" + SECRET, "key_format": "ascii"},  # not ASCII
    {"key": SECRET * 20},  # too long
]


@pytest.mark.parametrize("change", BAD_KEYS, ids=["not-hex", "odd", "other-field", "non-ascii", "too-long"])
def test_bad_key_errors_never_echo_the_key(tmp_path, change):
    entry = {**h.BASE_KEYS["security_associations"][0], **change}
    err = load_error(tmp_path, h.config(), {"security_associations": [entry]})
    assert "security_associations[0]." in str(err)
    assert SECRET not in str(err) and SECRET[:8] not in str(err)


def test_unquoted_numeric_key_is_refused_without_echo(tmp_path):
    text = "security_associations:\n  - {peer: 10.1.0.10, spi: 257, key: 12345678901234567890}\n"
    err = load_error(tmp_path, h.config(), text)
    assert "security_associations[0].key: must be a quoted string" in str(err)
    assert "1234567890" not in str(err)


def test_yaml_syntax_error_in_keys_file_does_not_quote_the_line(tmp_path):
    text = f'security_associations:\n  - peer: 10.1.0.10\n    key: "{SECRET}\n    spi: [257\n'
    err = load_error(tmp_path, h.config(), text)
    assert "YAML error at line" in str(err)


# ------------------------------------------------------------------ structure and cross-checks


def test_no_role(tmp_path):
    assert "no role configured" in str(load_error(tmp_path, h.config(home_agent=None)))


def test_null_role_section(tmp_path):
    cfg = h.config()
    cfg["foreign_agent"] = None
    assert "foreign_agent: must be a mapping" in str(load_error(tmp_path, cfg))


def test_mobile_node_cannot_be_an_agent_too(tmp_path):
    err = load_error(tmp_path, h.config(mobile_node=h.MN_SECTION), MN_KEYS)
    assert str(err).startswith("mobile_node: a mobile node cannot also be")


def test_mobile_node_needs_an_sa_with_its_home_agent(tmp_path):
    err = load_error(tmp_path, h.config(home_agent=None, mobile_node=h.MN_SECTION))
    assert "needs an SA with its home agent 10.1.0.1" in str(err)
    assert err.file == str(tmp_path / "keys.yaml")


def test_missing_keys_file(tmp_path):
    path = h.write(tmp_path, h.config(keys_file="nowhere.yaml"))
    with pytest.raises(ConfigError, match=r"keys_file: cannot read .*nowhere.yaml"):
        load_config(str(path))


def test_keys_file_null_means_no_security_associations(tmp_path):
    path = h.write(tmp_path, h.config(keys_file=None) | {"keys_file": None})
    c = load_config(str(path))
    assert c.keys_file is None and len(c.sas) == 0
    assert any("discard every request" in w for w in c.warnings)


def test_keys_file_permissions(tmp_path):
    path = h.write(tmp_path, h.config())
    os.chmod(tmp_path / "keys.yaml", 0o644)
    c = load_config(str(path))
    assert any("readable by group or others (mode 0644)" in w for w in c.warnings)
    with pytest.raises(ConfigError, match=r"keys_file: .* readable by group or others \(mode 0644\); chmod 600 it"):
        load_config(str(path), check_key_permissions=True)
    os.chmod(tmp_path / "keys.yaml", 0o600)
    assert load_config(str(path), check_key_permissions=True).warnings == ()


def test_not_yaml_mapping(tmp_path):
    assert "must be a mapping, got a list" in str(load_error(tmp_path, "- 1\n- 2\n"))


def test_unreadable_config(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(str(tmp_path / "absent.yaml"))


# ------------------------------------------------------------------ what a valid file produces


def test_home_agent_config_and_paths(tmp_path):
    cfg = h.config()
    cfg["home_agent"].update({
        "virtual_networks": ["10.9.0.0/16"],
        "simultaneous_bindings": 2,
        "binding_limit": 100,
        "encapsulations": ["ipip", "gre"],
        "filters": {"care_of": {"default": "permit", "rules": [{"action": "deny", "prefix": "192.0.2.0/24"}]},
                    "roaming": {"default": "deny", "rules": [{"action": "permit", "nai": "*@example.net"},
                                                             {"action": "permit", "prefix": "10.1.0.10"}]}},
    })
    cfg["home_agent"]["advertisement"] = {"enabled": False, "interval": 2, "lifetime": 9, "code": 0}
    cfg["log"] = {"level": "debug", "file": "logs/mipd.log"}
    c = load_config(str(h.write(tmp_path, cfg)))
    assert c.roles == ("home_agent",)
    assert c.home_agent == HomeAgentConfig(
        address="10.1.0.1",
        interface="lo",
        home_networks=("10.1.0.0/24",),
        virtual_networks=("10.9.0.0/16",),
        mobile_hosts=HostSet(("10.1.0.0/24", "*@example.net")),
        max_lifetime=1800,
        simultaneous_bindings=2,
        binding_limit=100,
        encapsulations=frozenset({"ipip", "gre"}),
        filters=RegistrationFilters(
            care_of=RuleList((FilterRule("deny", prefix="192.0.2.0/24"),), "permit"),
            roaming=RuleList((FilterRule("permit", nai="*@example.net"), FilterRule("permit", prefix="10.1.0.10/32")),
                             "deny"),
        ),
        advertise=False,
        advertisement_interval=2.0,
        advertisement_lifetime=9,
        advertisement_code=0,
    )
    assert c.control_socket == str(tmp_path / "mipd.sock")
    assert c.state_db == str(tmp_path / "state.db")
    assert c.keys_file == str(tmp_path / "keys.yaml")
    assert c.log_file == str(tmp_path / "logs" / "mipd.log")
    assert (c.log_level, c.dataplane_backend, c.tun, c.state_sync) == ("debug", "none", "mip0", "normal")
    sa = c.sas.get(h.HOME, h.SPI)
    assert sa is not None and sa.key == h.KEY and sa.algorithm == "hmac-md5" and sa.replay == "timestamp"


def test_nai_hosts_bind_nais_to_home_addresses_and_unbound_nai_sas_are_warned_about(tmp_path):
    """RFC 2794: an NAI SA authenticates only the addresses nai_hosts gives its NAI; check-config says
    which NAI SAs hold none. On an HA+FA host the FA's addresses are the HA's own too (never bound)."""
    cfg = h.config()
    cfg["home_agent"]["nai_hosts"] = [{"nai": "mn11@example.net", "home_addresses": ["10.1.0.11", "10.1.0.12"]}]
    cfg["foreign_agent"] = {"interfaces": [{"name": "lo", "address": "10.2.0.1", "care_of_addresses": ["10.2.0.9"]}]}
    keys = {"security_associations": [*h.BASE_KEYS["security_associations"],
                                      {"peer": "mn11@example.net", "spi": 300, "key": h.KEY_HEX},
                                      {"peer": "stray@example.net", "spi": 300, "key": h.KEY_HEX}]}
    c = load_config(str(h.write(tmp_path, cfg, keys)))
    ha = c.home_agent
    assert ha is not None
    assert ha.holds("mn11@example.net", "10.1.0.12") and not ha.holds("mn11@example.net", h.HOME)
    assert ha.holds(h.HOME, h.HOME) and not ha.holds(h.HOME, "10.1.0.11")
    assert {"10.1.0.1", "10.1.0.0", "10.1.0.255", "10.2.0.1", "10.2.0.9"} <= ha.reserved
    assert [w for w in c.warnings if "stray@example.net" in w] == [
        "security_associations: the SA of stray@example.net authenticates no home address: give it one in "
        "home_agent.nai_hosts (RFC 2794); its requests are refused with code 131"]
    assert not [w for w in c.warnings if "mn11@" in w]


def test_defaults(tmp_path):
    cfg = {"home_agent": {"address": "10.1.0.1", "interface": "eth0", "home_networks": ["10.1.0.0/24"]}}
    c = load_config(str(h.write(tmp_path, cfg)))
    assert c.control_socket == "/run/mipd/mipd.sock" and c.state_db == "/var/lib/mipd/state.db"
    assert c.dataplane_backend == "auto" and c.log_level == "info" and c.log_file is None
    assert c.home_agent.max_lifetime == 1800 and c.home_agent.reverse_tunnel is True
    assert c.home_agent.advertise is True and c.home_agent.advertisement_interval == 5.0
    assert any("mobile_hosts: empty" in w for w in c.warnings)


def test_foreign_agent_config(tmp_path):
    fa = {
        "interfaces": [{"name": "fa-visit", "address": "10.2.0.1", "prefix_length": 24},
                       {"name": "fa-two", "address": "10.3.0.1", "care_of_addresses": ["10.3.0.2", "10.3.0.3"]}],
        "advertisement": {"interval": 1, "lifetime": 3, "code": 0, "prefix_lengths": False, "challenge": True,
                          "broadcast": True},
        "registration_lifetime": 600,
        "registration_required": True,
        "reverse_tunnel": False,  # a bare YAML `off`
        "encapsulations": ["ipip"],
        "visitor_limit": 10,
        "pending_limit": 0,
        "pending_timeout": 3.5,
        "require_fa_ha_auth": True,
        "filters": {"home_agents": {"default": "deny", "rules": [{"action": "permit", "prefix": "10.1.0.0/16"}]}},
    }
    c = load_config(str(h.write(tmp_path, h.config(home_agent=None, foreign_agent=fa))))
    f = c.foreign_agent
    assert [i.name for i in f.interfaces] == ["fa-visit", "fa-two"]
    assert f.interfaces[0].care_of_addresses == ("10.2.0.1",)
    assert f.interfaces[1].care_of_addresses == ("10.3.0.2", "10.3.0.3") and f.interfaces[1].prefix_length == 24
    assert (f.advertisement_interval, f.advertisement_lifetime, f.advertisement_code) == (1.0, 3, 0)
    assert f.advertise_prefix_lengths is False and f.challenge is True and f.advertise_broadcast is True
    assert (f.registration_lifetime, f.registration_required, f.reverse_tunnel) == (600, True, "off")
    assert f.encapsulations == frozenset({"ipip"})
    assert (f.visitor_limit, f.pending_limit, f.pending_timeout) == (10, 0, 3.5)
    assert f.require_fa_ha_auth is True
    assert f.filters.home_agents.permits("10.1.2.3") and not f.filters.home_agents.permits("10.2.0.9")


def test_bare_yaml_off_is_reverse_tunnel_off(tmp_path):
    text = yaml.safe_dump(h.config(home_agent=None, foreign_agent=h.FA_SECTION)) + ""
    text = text.replace("foreign_agent:\n", "foreign_agent:\n  reverse_tunnel: off\n")
    c = load_config(str(h.write(tmp_path, text)))
    assert c.foreign_agent.reverse_tunnel == "off"


def test_mobile_node_config(tmp_path):
    mn = {**h.MN_SECTION, "home_gateway": "10.1.0.254", "nai": "mn10@example.net", "colocated": True,
          "reverse_tunnel": True, "encapsulation": "gre", "lifetime": 600, "reregister_margin": 30,
          "solicit_interval": 0.5, "max_retransmit_interval": 8}
    c = load_config(str(h.write(tmp_path, h.config(home_agent=None, mobile_node=mn), MN_KEYS)))
    m = c.mobile_node
    assert (m.home_address, m.home_agent, m.home_prefix_length, m.home_gateway) == (h.HOME, h.HA_ADDRESS, 24,
                                                                                    "10.1.0.254")
    assert (m.nai, m.interfaces, m.colocated, m.reverse_tunnel, m.encapsulation) == (
        "mn10@example.net", ("mn-eth0",), True, True, "gre")
    assert (m.lifetime, m.reregister_margin, m.solicit_interval, m.max_retransmit_interval) == (600, 30, 0.5, 8.0)


def test_keys_file_fields(tmp_path):
    keys = {"security_associations": [
        {"peer": "mn@example.net", "spi": 4294967295, "key": "pass phrase", "key_format": "ascii",
         "algorithm": "md5-prefix-suffix", "replay": "nonce", "replay_window": 30, "fallback": True},
        {"peer": "10.2.0.1", "spi": 256, "key": "0X00ff", "algorithm": "rfc2002-md5", "replay": "none"},
    ]}
    sas = load_keys(str(h.write(tmp_path, h.config(), keys).parent / "keys.yaml"))
    a = sas.get("mn@example.net", 4294967295)
    b = sas.get("10.2.0.1", 256)
    assert a.key == b"pass phrase" and (a.algorithm, a.replay, a.replay_window, a.fallback) == (
        "md5-prefix-suffix", "nonce", 30, True)
    assert b.key == b"\x00\xff" and (b.algorithm, b.replay) == ("rfc2002-md5", "none")
    assert SECRET not in repr(list(sas))


def test_security_associations_limited_to_roles(tmp_path):
    """On an HA+FA host the MN-HA SA (peer = home address) must not count as an MN-FA SA."""
    keys = {"security_associations": [
        {"peer": h.HOME, "spi": 257, "key": SECRET, "roles": ["home_agent"]},
        {"peer": "10.2.0.9", "spi": 300, "key": SECRET, "roles": ["foreign_agent", "home_agent"]},
        {"peer": "10.9.9.9", "spi": 301, "key": SECRET},
    ]}
    c = load_config(str(h.write(tmp_path, h.config(foreign_agent=h.FA_SECTION), keys)))
    assert len(c.sas) == 3
    assert sorted(sa.peer for sa in c.sas_for("home_agent")) == [h.HOME, "10.2.0.9", "10.9.9.9"]
    assert sorted(sa.peer for sa in c.sas_for("foreign_agent")) == ["10.2.0.9", "10.9.9.9"]
    assert c.sa_roles == {(h.HOME, 257): ("home_agent",), ("10.2.0.9", 300): ("foreign_agent", "home_agent")}


def test_mobile_node_sa_limited_to_another_role_does_not_count(tmp_path):
    keys = {"security_associations": [{"peer": h.HA_ADDRESS, "spi": 257, "key": SECRET, "roles": ["home_agent"]}]}
    err = load_error(tmp_path, h.config(home_agent=None, mobile_node=h.MN_SECTION), keys)
    assert "needs an SA with its home agent" in str(err)
