"""The data model's checks: every bad value is refused with a message that names its option path,
secrets are never echoed, and the argument specs the modules use come from the same schemas."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.netmobility.mobileip.plugins.module_utils import keys, model, states
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.fields import Schema

KEY = "0123456789abcdef0123456789abcdef"
HA = {"address": "10.1.0.1", "interface": "ha-home", "home_networks": ["10.1.0.0/24"], "mobile_hosts": ["10.1.0.0/24"]}
FA = {"interfaces": [{"name": "fa-visit", "address": "10.2.0.1"}]}
MN = {"home_address": "10.1.0.10", "home_agent": "10.1.0.1", "interfaces": ["mn-eth0"]}
SA = {"peer": "10.1.0.10", "spi": 257, "key": KEY}


def with_(base: dict, path: str, value: object) -> dict:
    """`base` with the dotted `path` ("interfaces[0].address") set to `value`."""
    out = copy.deepcopy(base)
    node = out
    parts = path.replace("]", "").replace("[", ".").split(".")
    for i, part in enumerate(parts):
        key = int(part) if part.isdigit() else part
        if i == len(parts) - 1:
            node[key] = value
        else:
            node = node[key]
    return out


def refusal(resource: str, config: object, state: str = "overridden") -> ModelError:
    res = model.RESOURCES[resource]
    with pytest.raises(ModelError) as e:
        states.build(res, state, res.empty, states.want(res, state, config))
    return e.value


# (resource, base config, option path, bad value, the path the error names, words in the message)
BAD_VALUES = [
    ("home_agent", HA, "address", "10.1.0.300", "config.address", "IPv4 address"),
    ("home_agent", HA, "address", "224.0.0.1", "config.address", "unicast"),
    ("home_agent", HA, "interface", "a b", "config.interface", "interface name"),
    ("home_agent", HA, "interface", "x" * 65, "config.interface", "1-64 characters"),
    ("home_agent", HA, "home_networks", ["10.1.0.0"], "config.home_networks[0]", "IPv4 prefix"),
    ("home_agent", HA, "home_networks", ["10.1.0.0/24", "10.1.0.1/24"], "config.home_networks[1]", "listed twice"),
    ("home_agent", HA, "mobile_hosts", ["10.1.0.20-10.1.0.10"], "config.mobile_hosts[0]", "reversed"),
    ("home_agent", HA, "mobile_hosts", ["not a host"], "config.mobile_hosts[0]", "NAI pattern"),
    ("home_agent", HA, "nai_hosts", [{"nai": "*@x.net", "home_addresses": ["10.1.0.5"]}], "config.nai_hosts[0].nai",
     "not a pattern"),
    ("home_agent", HA, "nai_hosts", [{"nai": "a@x.net"}], "config.nai_hosts[0].home_addresses", "required"),
    ("home_agent", HA, "nai_hosts", [{"nai": "a@x.net", "home_addresses": ["10.1.0.1"]}],
     "config.nai_hosts[0].home_addresses[0]", "home agent's own address"),
    ("home_agent", HA, "nai_hosts", [{"nai": "a@x.net", "home_addresses": ["10.1.0.0"]}],
     "config.nai_hosts[0].home_addresses[0]", "network or broadcast"),
    ("home_agent", HA, "nai_hosts", [{"nai": "a@x.net", "home_addresses": ["10.9.0.5"]}],
     "config.nai_hosts[0].home_addresses[0]", "not in a home or virtual network"),
    ("home_agent", HA, "nai_hosts", [{"nai": "a@x.net", "home_addresses": ["10.1.0.5"]},
                                     {"nai": "b@x.net", "home_addresses": ["10.1.0.5"]}],
     "config.nai_hosts[1].home_addresses[0]", "already held by a@x.net"),
    ("home_agent", HA, "max_lifetime", 0, "config.max_lifetime", "1-65535"),
    ("home_agent", HA, "max_lifetime", 65536, "config.max_lifetime", "1-65535"),
    ("home_agent", HA, "simultaneous_bindings", 256, "config.simultaneous_bindings", "0-255"),
    ("home_agent", HA, "binding_limit", -1, "config.binding_limit", ">= 0"),
    ("home_agent", HA, "encapsulations", ["ipip", "vxlan"], "config.encapsulations[1]", "one of ipip, gre, minimal"),
    ("home_agent", HA, "encapsulations", [], "config.encapsulations", "at least 1 item"),
    ("home_agent", HA, "advertisement", {"interval": 6.0}, "config.advertisement.interval", "third"),
    ("home_agent", HA, "advertisement", {"code": 3}, "config.advertisement.code", "16"),
    ("foreign_agent", FA, "interfaces[0].address", "10.2.0", "config.interfaces[0].address", "IPv4 address"),
    ("foreign_agent", FA, "interfaces[0].prefix_length", 33, "config.interfaces[0].prefix_length", "1-32"),
    ("foreign_agent", FA, "interfaces[0].care_of_addresses", [], "config.interfaces[0].care_of_addresses",
     "at least 1"),
    ("foreign_agent", FA, "interfaces", [{"name": "a", "address": "10.2.0.1"}, {"name": "a", "address": "10.3.0.1"}],
     "config.interfaces[1].name", "name=a is listed twice"),
    ("foreign_agent", FA, "advertisement", {"interval": 1.5, "lifetime": 4}, "config.advertisement.interval",
     "more than a third"),
    ("foreign_agent", FA, "advertisement", {"interval": 0}, "config.advertisement.interval", "> 0"),
    ("foreign_agent", FA, "advertisement", {"lifetime": 0}, "config.advertisement.lifetime", "1-65535"),
    ("foreign_agent", FA, "registration_lifetime", 70000, "config.registration_lifetime", "1-65535"),
    ("foreign_agent", FA, "reverse_tunnel", "sometimes", "config.reverse_tunnel", "off, offered, mandatory"),
    ("foreign_agent", FA, "pending_timeout", 3601.0, "config.pending_timeout", "<= 3600"),
    ("foreign_agent", FA, "visitor_limit", -5, "config.visitor_limit", ">= 0"),
    ("mobile_node", MN, "home_agent", "10.1.0.10", "config.home_agent", "own home address"),
    ("mobile_node", MN, "home_prefix_length", 0, "config.home_prefix_length", "1-32"),
    ("mobile_node", MN, "home_gateway", "10.9.0.1", "config.home_gateway", "not on the home network"),
    ("mobile_node", MN, "nai", "no-realm", "config.nai", "NAI"),
    ("mobile_node", MN, "interfaces", [], "config.interfaces", "at least 1"),
    ("mobile_node", MN, "reregister_margin", 1800, "config.reregister_margin", "shorter than lifetime"),
    ("mobile_node", MN, "max_retransmit_interval", 0.5, "config.max_retransmit_interval", "shorter than"),
    ("mobile_node", MN, "encapsulation", "vxlan", "config.encapsulation", "one of"),
    ("mobile_node", MN, "lifetime", 0, "config.lifetime", "1-65535"),
]


@pytest.mark.parametrize(("resource", "base", "path", "value", "named", "words"), BAD_VALUES,
                         ids=[f"{r}.{p}={v!r}"[:60] for r, _b, p, v, _n, _w in BAD_VALUES])
def test_every_bad_value_is_refused_naming_its_option(resource, base, path, value, named, words):
    error = refusal(resource, with_(base, path, value))
    assert error.path == named
    assert str(error).startswith(f"{named}: ") and words in str(error)


BAD_SAS = [
    ({"spi": 255}, "config[0].spi", "reserved"),
    ({"spi": 0}, "config[0].spi", "reserved"),
    ({"spi": 2**32}, "config[0].spi", "256-4294967295"),
    ({"spi": True}, "config[0].spi", "integer"),
    ({"peer": "10.1.0"}, "config[0].peer", "IPv4 address or an NAI"),
    ({"peer": "a b@example.net"}, "config[0].peer", "NAI"),
    ({"algorithm": "sha1"}, "config[0].algorithm", "hmac-md5"),
    ({"replay": "counter"}, "config[0].replay", "timestamp, nonce, none"),
    ({"replay_window": 0}, "config[0].replay_window", "1-3600"),
    ({"key": "0123"}, "config[0].key", "2 bytes; 16-256"),
    ({"key": "xyz" * 11}, "config[0].key", "even number of hex digits"),
    ({"key": "0123456789abcdef0123456789abcde"}, "config[0].key", "even number of hex digits"),
    ({"key": "short", "key_format": "ascii"}, "config[0].key", "5 bytes"),
    ({"key": "é" * 16, "key_format": "ascii"}, "config[0].key", "ASCII"),
    ({"key": "ab" * 257}, "config[0].key", "257 bytes"),
    ({"key_format": "base64"}, "config[0].key_format", "hex, ascii"),
]


@pytest.mark.parametrize(("change", "named", "words"), BAD_SAS, ids=[str(c)[:50] for c, _n, _w in BAD_SAS])
def test_security_association_checks_name_the_element_and_never_echo_the_key(change, named, words):
    config = [dict(SA, **change)]
    error = refusal("security_associations", config)
    assert error.path == named and words in str(error)
    if "key" in change:
        assert change["key"] not in str(error)


def test_a_key_is_never_echoed_even_when_it_is_the_wrong_type_of_text():
    secret = "this-is-a-very-secret-passphrase!"
    error = refusal("security_associations", [dict(SA, key=secret)])  # hex expected
    assert secret not in str(error) and error.path == "config[0].key"


def test_duplicate_sas_and_required_fields():
    assert refusal("security_associations", [SA, SA]).path == "config[1].spi"
    assert "spi=257 is listed twice" in str(refusal("security_associations", [SA, SA]))
    assert refusal("security_associations", [{"peer": "10.1.0.10", "spi": 257}]).path == "config[0].key"
    assert refusal("security_associations", [{"peer": "10.1.0.10", "key": KEY}], "merged").path == "config[0].spi"
    error = refusal("security_associations", [{"peer": "10.1.0.10", "spi": 258, "key_format": "ascii"}], "merged")
    assert error.path == "config[0].key_format" and "give key too" in str(error)


def test_conflicting_and_missing_options():
    error = refusal("home_agent", dict(HA, reverse_tunnel=False, reverse_tunnel_mandatory=True))
    assert error.path == "config.reverse_tunnel_mandatory" and "needs reverse_tunnel" in str(error)
    error = refusal("home_agent", {k: v for k, v in HA.items() if k != "home_networks"})
    assert error.path == "config.home_networks" and "at least one home network" in str(error)
    assert refusal("home_agent", {"address": "10.1.0.1", "home_networks": ["10.1.0.0/24"]}).path == "config.interface"
    assert refusal("foreign_agent", {"visitor_limit": 3}).path == "config.interfaces"
    assert refusal("mobile_node", {"home_address": "10.1.0.10"}).path == "config.home_agent"


def test_conflicts_are_checked_on_the_merged_result():
    res = model.RESOURCES["home_agent"]
    config = dict(HA, reverse_tunnel_mandatory=True)
    have = states.build(res, "overridden", None, states.want(res, "overridden", config))
    with pytest.raises(ModelError, match=r"config.reverse_tunnel_mandatory: true needs reverse_tunnel"):
        states.build(res, "merged", have, states.want(res, "merged", {"reverse_tunnel": False}))


def test_filter_rules():
    def bad(rules: list, default: str = "permit") -> ModelError:
        return refusal("registration_filters", {"care_of": {"default": default, "rules": rules}})

    assert bad([{"action": "deny"}]).path == "config.care_of.rules[0]"
    assert "exactly one of prefix or nai" in str(bad([{"action": "deny", "prefix": "10.0.0.0/8", "nai": "a@b"}]))
    assert bad([{"action": "drop", "prefix": "10.0.0.0/8"}]).path == "config.care_of.rules[0].action"
    assert bad([{"action": "deny", "prefix": "10.0.0.0/33"}]).path == "config.care_of.rules[0].prefix"
    assert bad([{"action": "deny", "prefix": "10.0.0.0/8"}, {"action": "permit", "prefix": "10.1.2.3/8"}]).path == \
        "config.care_of.rules[1].prefix"
    assert bad([], default="maybe").path == "config.care_of.default"


def test_an_address_in_a_rule_means_its_host_prefix():
    res = model.RESOURCES["registration_filters"]
    value = states.build(res, "merged", res.empty,
                         states.want(res, "merged", {"roaming": {"rules": [{"action": "deny", "prefix": "10.1.0.7"}]}}))
    assert value["roaming"]["rules"] == [{"action": "deny", "prefix": "10.1.0.7/32", "nai": None}]


def test_canonical_forms():
    res = model.RESOURCES["home_agent"]
    value = states.build(res, "overridden", None, states.want(res, "overridden", dict(
        HA, home_networks=["10.1.0.77/24"], encapsulations=["minimal", "ipip"])))
    assert value["home_networks"] == ["10.1.0.0/24"]
    assert value["encapsulations"] == ["ipip", "minimal"]  # a set: canonical order
    sa = model.RESOURCES["security_associations"]
    value = states.build(sa, "overridden", [], states.want(sa, "overridden", [dict(SA, key="0X" + KEY.upper())]))
    assert value[0]["key"] == KEY and value[0]["key_format"] == "hex"


def test_fingerprint_is_the_agents():
    mipd_keys = pytest.importorskip("mipd.security.keys")
    assert keys.fingerprint(KEY, "hex") == mipd_keys.fingerprint(bytes.fromhex(KEY))
    assert keys.fingerprint("a" * 20, "ascii") == mipd_keys.fingerprint(b"a" * 20)


def test_argument_specs_come_from_the_schemas():
    spec = model.RESOURCES["security_associations"].field.schema.argument_spec()
    assert spec["key"] == {"type": "str", "no_log": True}
    assert spec["key_format"]["no_log"] is False  # looks secret to validate-modules, is not
    assert spec["algorithm"]["choices"] == list(model.ALGORITHMS)
    ha = model.HOME_AGENT.argument_spec()
    assert ha["encapsulations"] == {"type": "list", "elements": "str", "choices": ["ipip", "gre", "minimal"]}
    assert ha["advertisement"]["options"]["code"] == {"type": "int", "choices": [0, 16]}
    fa = model.FOREIGN_AGENT.argument_spec()
    assert fa["interfaces"]["elements"] == "dict" and set(fa["interfaces"]["options"]) == {
        "name", "address", "prefix_length", "care_of_addresses"}
    assert all("default" not in entry for entry in ha.values())  # merged must see what was not given


def test_unknown_options_in_a_file_are_refused():
    with pytest.raises(ModelError, match=r"^home_agent: unknown option 'max_lifetme'"):
        model.HOME_AGENT.normalize(dict(HA, max_lifetme=5), "home_agent")


def test_schema_types_from_files_are_strict():
    with pytest.raises(ModelError, match="home_agent.reverse_tunnel: must be true or false, got 'yes'"):
        model.HOME_AGENT.normalize(dict(HA, reverse_tunnel="yes"), "home_agent")
    with pytest.raises(ModelError, match="must be an integer 1-65535, got true"):
        model.HOME_AGENT.normalize(dict(HA, max_lifetime=True), "home_agent")
    assert isinstance(model.HOME_AGENT, Schema)
