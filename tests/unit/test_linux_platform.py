"""The Linux platform: the YAML writer, reading and writing the mipd files, render/parse round trips,
and the agent's own example files read by the collection's parser."""

from __future__ import annotations

import math

import mobileip_helpers as h
import pytest
import yaml
from ansible_collections.netmobility.mobileip.plugins.module_utils import keys, model, states, yaml_text
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import IOS, LINUX, platform_of
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.document import LinuxDocument
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.platform import LinuxPlatform
from hypothesis import given, settings
from hypothesis import strategies as st

EXAMPLES = h.ROOT / "agent" / "examples"
KEY = "00112233445566778899aabbccddeeff"
PLATFORM = LinuxPlatform()

# ---------------------------------------------------------------------- the YAML writer

TRICKY = ["off", "Off", "yes", "no", "on", "y", "n", "true", "null", "~", "", " ", "1800", "0x10", "1e5", "1.5", ".5",
          "*@example.net", "@x", "&a", "!tag", "a: b", "a #b", "#c", "-", "- x", "? x", "[x]", "{x}", "10:20:30",
          "2026-11-26", "'q'", '"q"', "tab\there", "line\nbreak", "é", "ключ", "\x7f", "%x", "`x`", "|", ">", "=",
          "<<", "10.1.0.1", "10.1.0.0/24", "10.1.0.10-10.1.0.20", "hmac-md5", "/run/mipd/mipd.sock", "mip0"]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_strings_read_back_as_the_same_string(text):
    assert yaml.safe_load(yaml_text.dump({"v": text, "l": [text]})) == {"v": text, "l": [text]}


def test_plain_where_safe_quoted_where_not():
    assert yaml_text.scalar("10.1.0.1") == "10.1.0.1" and yaml_text.scalar("hmac-md5") == "hmac-md5"
    assert yaml_text.scalar("off") == '"off"' and yaml_text.scalar("*@example.net") == '"*@example.net"'
    assert yaml_text.scalar("1800") == '"1800"' and yaml_text.scalar(1800) == "1800"
    assert yaml_text.scalar(1e-05) == "0.00001" and yaml_text.scalar(1e16) == "10000000000000000.0"
    with pytest.raises(ValueError):
        yaml_text.scalar(math.inf)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                    st.floats(allow_nan=False, allow_infinity=False))
trees = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), trees, max_size=5))
def test_any_document_reads_back_equal(data):
    text = yaml_text.dump(data)
    assert yaml.safe_load(text) == (data or {})


def test_forced_quotes_for_keys():
    assert '"00112233445566778899aabbccddeeff"' in yaml_text.dump({"key": KEY}, quoted=("key",))
    assert yaml_text.dump({"key": "1234"}, quoted=("key",)) == 'key: "1234"\n'


# ---------------------------------------------------------------------- the mipd files


def test_every_agent_example_is_read():
    found = {p.name for p in EXAMPLES.glob("*.yaml")}
    assert {"fa.yaml", "ha-fa.yaml", "ha.yaml", "keys.yaml", "mn.yaml"} <= found
    for name in ("ha.yaml", "fa.yaml", "ha-fa.yaml", "mn.yaml"):
        doc = LinuxDocument()
        doc.read_main((EXAMPLES / name).read_text(), name)
        assert doc.has_role and doc.settings["keys_file"] == "keys.yaml"
    doc = LinuxDocument()
    doc.read_keys((EXAMPLES / "keys.yaml").read_text(), "keys.yaml")
    assert len(doc.sas) == 4 and doc.sas[1]["peer"] == "mn11@example.net"


def test_the_examples_survive_a_rewrite_unchanged():
    """Read, write, read again: the same document (only comments are lost)."""
    for name in ("ha.yaml", "fa.yaml", "ha-fa.yaml", "mn.yaml"):
        first = LinuxDocument()
        first.read_main((EXAMPLES / name).read_text(), name)
        second = LinuxDocument()
        second.read_main(first.render_main(), name)
        assert second.main_equal(first)
        assert second.settings == first.settings
        assert list(second.settings) == list(first.settings)
    first = LinuxDocument()
    first.read_keys((EXAMPLES / "keys.yaml").read_text(), "keys.yaml")
    second = LinuxDocument()
    second.read_keys(first.render_keys(), "keys.yaml")
    assert second.sas == first.sas


def test_filters_are_read_from_and_written_to_their_role_sections():
    doc = LinuxDocument()
    doc.read_main((EXAMPLES / "ha.yaml").read_text(), "ha.yaml")
    filters = doc.get("registration_filters")
    assert filters["care_of"]["rules"] == [{"action": "deny", "prefix": "192.0.2.0/24", "nai": None}]
    assert filters["roaming"]["rules"] == [{"action": "deny", "prefix": None, "nai": "guest*@example.net"}]
    written = yaml.safe_load(doc.render_main())
    assert written["home_agent"]["filters"]["care_of"] == {"default": "permit", "rules": [
        {"action": "deny", "prefix": "192.0.2.0/24"}]}
    assert "filters" not in written.get("foreign_agent", {})


def test_filters_need_their_section():
    doc = LinuxDocument()
    filters = model.REGISTRATION_FILTERS.defaults()
    filters["home_agents"] = {"default": "deny", "rules": []}
    with pytest.raises(ModelError, match="config.home_agents: this host has no foreign_agent section"):
        doc.set("registration_filters", filters)
    doc.set("registration_filters", model.REGISTRATION_FILTERS.defaults())  # defaults need nothing


def test_deleting_a_role_drops_its_filters():
    doc = LinuxDocument()
    doc.read_main((EXAMPLES / "ha.yaml").read_text(), "ha.yaml")
    doc.set("home_agent", None)
    assert doc.get("registration_filters") == model.REGISTRATION_FILTERS.defaults()
    assert "home_agent" not in yaml.safe_load(doc.render_main())


def test_cross_resource_rules():
    doc = LinuxDocument()
    doc.read_main((EXAMPLES / "mn.yaml").read_text(), "mn.yaml")
    with pytest.raises(ModelError, match="needs a security association with its home agent 10.1.0.1"):
        doc.check()
    doc.read_keys((EXAMPLES / "keys.yaml").read_text(), "keys.yaml")
    doc.check()
    doc.read_main((EXAMPLES / "ha.yaml").read_text(), "ha.yaml")
    with pytest.raises(ModelError, match="either a mobile node or a home/foreign agent"):
        doc.check()


def test_file_errors_name_the_field_and_the_file():
    doc = LinuxDocument()
    with pytest.raises(ModelError) as e:
        doc.read_main("home_agent:\n  address: 10.1.0.1\n  interface: eth0\n  home_networks: [10.1.0.0/24]\n"
                      "  max_lifetime: 0\n", "/etc/mipd/mipd.yaml")
    assert str(e.value) == ("home_agent.max_lifetime: must be an integer 1-65535, got 0 (in /etc/mipd/mipd.yaml)")
    with pytest.raises(ModelError, match="home_agent: must be a mapping"):
        doc.read_main("home_agent:\n", "f")
    with pytest.raises(ModelError, match="mobile_node: unknown option 'filters'"):
        doc.read_main("mobile_node: {home_address: 10.1.0.10, home_agent: 10.1.0.1, interfaces: [a], filters: {}}",
                      "f")


def test_keys_file_errors_never_show_a_key():
    secret = "6d69706420746573742073656372657421zz"
    doc = LinuxDocument()
    with pytest.raises(ModelError) as e:
        doc.read_keys(f'security_associations:\n  - {{peer: 10.1.0.1, spi: 257, key: "{secret}"}}\n', "k")
    assert secret not in str(e.value) and e.value.path == "security_associations[0].key"
    with pytest.raises(ModelError) as e:  # a YAML error: position and problem, never the line
        doc.read_keys(f'security_associations:\n  - {{peer: 10.1.0.1, spi: 257, key: "{secret}"\n', "k")
    assert secret not in str(e.value) and "not valid YAML (line" in str(e.value)
    with pytest.raises(ModelError, match=r"security_associations\[0\].kind: is not a mipd keys file option"):
        doc.read_keys(f"security_associations:\n  - {{peer: 10.1.0.1, spi: 257, key: '{KEY}', kind: host}}\n", "k")


# ---------------------------------------------------------------------- render / parse (the offline states)

CONFIGS = {
    "home_agent": {"address": "10.1.0.1", "interface": "ha-home", "home_networks": ["10.1.0.0/24"],
                   "virtual_networks": ["10.9.0.0/16"], "mobile_hosts": ["10.1.0.10-10.1.0.20", "*@example.net"],
                   "max_lifetime": 65535, "reverse_tunnel_mandatory": True, "encapsulations": ["gre", "ipip"],
                   "advertisement": {"enabled": False, "interval": 0.5, "lifetime": 2}},
    "foreign_agent": {"interfaces": [{"name": "v1", "address": "10.2.0.1", "care_of_addresses": ["10.2.0.1",
                                                                                                 "10.2.0.2"]}],
                      "advertisement": {"interval": 1.0, "lifetime": 3, "code": 0, "broadcast": True},
                      "reverse_tunnel": "off", "visitor_limit": 50, "pending_timeout": 2.5},
    "mobile_node": {"home_address": "10.1.0.10", "home_agent": "10.1.0.1", "home_gateway": "10.1.0.254",
                    "nai": "mn10@example.net", "interfaces": ["wlan0", "eth0"], "colocated": True, "lifetime": 65535,
                    "reregister_margin": 65535},
    "security_associations": [{"peer": "10.1.0.10", "spi": 257, "key": KEY},
                              {"peer": "mn@example.net", "spi": 4294967295, "key": "a" * 16, "key_format": "ascii",
                               "algorithm": "rfc2002-md5", "replay": "nonce", "fallback": True}],
    "registration_filters": {"care_of": {"default": "deny", "rules": [{"action": "permit", "prefix": "10.2.0.0/16"}]},
                             "home_agents": {"rules": [{"action": "deny", "nai": "*@evil.example"}]}},
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_render_then_parse_gives_the_model_back(name):
    res = model.RESOURCES[name]
    value = states.want(res, "overridden", CONFIGS[name])
    value = states.build(res, "overridden", res.empty, value)
    text = PLATFORM.render(res, value)
    if res.secret_file:  # the rendered keys file masks keys: parse what the host would hold instead
        assert KEY not in text and keys.MASK in text
        doc = LinuxDocument()
        doc.set(name, value)
        text, value = doc.render_keys(), doc.get(name)  # without `kind`, which the agent does not hold
    elif name == "registration_filters":  # filters are parsed from a whole file with their sections
        text = _whole(value)
    assert PLATFORM.parse(res, text) == value


def _whole(filters: dict) -> str:
    doc = LinuxDocument()
    doc.read_main("home_agent: {address: 10.1.0.1, interface: a, home_networks: [10.1.0.0/24]}\n"
                  "foreign_agent: {interfaces: [{name: b, address: 10.2.0.1}]}\n", "f")
    doc.set("registration_filters", filters)
    return doc.render_main()


def test_rendered_text_is_the_section_as_the_file_holds_it():
    res = model.RESOURCES["mobile_node"]
    value = states.build(res, "overridden", None, states.want(res, "overridden", {
        "home_address": "10.1.0.10", "home_agent": "10.1.0.1", "interfaces": ["eth0"]}))
    text = PLATFORM.render(res, value)
    assert text.startswith("mobile_node:\n  home_address: 10.1.0.10\n") and "home_gateway" not in text  # no nulls
    filters = PLATFORM.render(model.RESOURCES["registration_filters"], states.build(
        model.RESOURCES["registration_filters"], "overridden", None,
        states.want(model.RESOURCES["registration_filters"], "overridden", CONFIGS["registration_filters"])))
    assert yaml.safe_load(filters)["foreign_agent"]["filters"]["home_agents"]["rules"] == [
        {"action": "deny", "nai": "*@evil.example"}]


def test_platform_of_a_host():
    assert platform_of(None) == LINUX and platform_of("linux") == LINUX and platform_of("vyos") == LINUX
    for name in ("ios", "cisco.ios.ios", "netmobility.mobileip.ios", "IOS"):
        assert platform_of(name) == IOS
