"""The IOS platform offline: model -> IOS lines -> model for every resource, running-config
fixtures (full configs and the 12.2 `| include` output) parsed tolerantly, the commands of every
state with their order rules, what IOS cannot hold (and what the model cannot express) refused
naming it, and keys that never reach anything shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible_collections.netmobility.mobileip.plugins.module_utils import changes, keys, model, states
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import Commands, refuse
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios import lines
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.platform import (
    KINDS,
    IosPlatform,
    RunningConfig,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ios"
IOS = IosPlatform()
KEY = "6d69706420746573742073656372657421"  # distinctive, so a leak is easy to spot
KEY2 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
INTERFACES = ("interface Ethernet0/0\n ip address 10.1.0.1 255.255.255.0\n!\n"
              "interface Ethernet0/1\n ip address 10.2.0.1 255.255.255.0\n!\n"
              "interface Ethernet0/2\n ip address 172.16.20.1 255.255.255.0\n!\n")
HA = {"address": "10.1.0.1", "interface": "Ethernet0/0", "home_networks": ["10.1.0.0/24"],
      "virtual_networks": ["10.99.0.0/16"], "mobile_hosts": ["10.1.0.10-10.1.0.20", "10.99.0.11"],
      "nai_hosts": [{"nai": "mn@example.net", "home_addresses": ["10.1.0.30", "10.1.0.31"]}], "max_lifetime": 600,
      "reverse_tunnel": False}
FA = {"interfaces": [{"name": "Ethernet0/1", "address": "10.2.0.1", "care_of_addresses": ["172.16.20.1"]}],
      "advertisement": {"interval": 5, "lifetime": 15, "challenge": True, "broadcast": True},
      "reverse_tunnel": "mandatory", "visitor_limit": 10, "pending_timeout": 60, "registration_required": True}
MN = {"home_address": "10.99.0.11", "home_prefix_length": 16, "home_agent": "10.1.0.1",
      "interfaces": ["Ethernet0/1", "Ethernet0/2"], "reverse_tunnel": True, "colocated": True, "encapsulation": "gre",
      "lifetime": 600, "solicit_interval": 0.5, "max_retransmit_interval": 8}
SAS = [{"peer": "10.1.0.10", "spi": 257, "key": KEY, "kind": "host"},
       {"peer": "mn@example.net", "spi": 300, "key": KEY2, "kind": "host", "algorithm": "md5-prefix-suffix",
        "replay_window": 10},
       {"peer": "172.16.20.1", "spi": 4096, "key": "ascii-key-of-16-chars", "key_format": "ascii",
        "kind": "foreign-agent"}]
FILTERS = {"care_of": {"rules": [{"action": "deny", "prefix": "192.0.2.0/24"}]},
           "roaming": {"default": "deny", "rules": [{"action": "permit", "prefix": "10.1.0.10"},
                                                    {"action": "permit", "prefix": "10.99.0.0/16"}]},
           "home_agents": {"rules": [{"action": "deny", "prefix": "198.51.100.7"}]}}
AAA = {"servers": [{"address": "192.0.2.50", "port": 1812, "secret": "radius-secret-of-16-bytes"},
                   {"address": "192.0.2.51", "port": 1645, "secret": "another-radius-secret-2"}],
       "timeout": 3, "retries": 3, "dead_time": 120}
EXAMPLES = {"home_agent": HA, "foreign_agent": FA, "mobile_node": MN, "registration_filters": FILTERS, "aaa": AAA}


def full(name: str, config: Any) -> Any:
    res = model.RESOURCES[name]
    return states.build(res, "overridden", res.empty, states.want(res, "overridden", config))


def sent_text(name: str, value: Any, base: str = INTERFACES) -> str:
    """The running-config once `value` is on a router holding `base` (keys in clear, as the router shows them)."""
    config = RunningConfig(base, list(KINDS.values()))
    facts = IOS._apply(model.RESOURCES[name], value, config.facts, config)
    return INTERFACES + lines.render(facts, KINDS, shown=False)


def change(name: str, state: str, config: Any, running: str) -> tuple[Any, Any, Commands]:
    """(before, after, commands) of `state` on a router whose running-config is `running`."""
    res = model.RESOURCES[name]
    found = RunningConfig(running, list(KINDS.values()))
    have = IOS.parse(res, found)
    assert IOS.unheld(res, found) == []
    after = states.build(res, state, have, states.want(res, state, config))
    refuse(IOS.unsupported(res, after))
    done = IOS.change(res, found, have, after)
    return have, done.after, done.commands


# ---------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_model_to_ios_lines_and_back(name):
    value = full(name, EXAMPLES[name])
    base = INTERFACES
    if name == "registration_filters":  # the agents whose lines name the access lists
        base = sent_text("foreign_agent", full("foreign_agent", FA), sent_text("home_agent", full("home_agent", HA),
                                                                               INTERFACES))
    text = sent_text(name, value, base)
    assert IOS.parse(model.RESOURCES[name], text) == value
    assert IOS.unheld(model.RESOURCES[name], text) == []


def test_security_associations_to_ios_lines_and_back():
    value = full("security_associations", SAS)
    text = sent_text("security_associations", value)
    assert "ip mobile secure host 10.1.0.10 spi 101 key hex " + KEY + " algorithm hmac-md5" in text
    assert ("ip mobile secure host nai mn@example.net spi 12C key hex " + KEY2 +
            " replay timestamp 10 algorithm md5 mode prefix-suffix") in text
    assert IOS.parse(model.RESOURCES["security_associations"], text) == value


def test_rendered_text_masks_keys_and_starts_the_mobile_ip_process():
    rendered = IOS.render(model.RESOURCES["security_associations"], full("security_associations", SAS))
    assert KEY not in rendered and KEY2 not in rendered and "ascii-key-of-16-chars" not in rendered
    assert rendered.splitlines()[0] == "router mobile"
    assert f"key hex {keys.MASK} algorithm hmac-md5" in rendered
    assert IOS.render(model.RESOURCES["home_agent"], full("home_agent", HA)) == (
        "router mobile\n"
        "ip mobile home-agent address 10.1.0.1 lifetime 600 reverse-tunnel-off\n"
        "ip mobile virtual-network 10.99.0.0 255.255.0.0\n"
        "ip mobile host 10.1.0.10 10.1.0.20 interface Ethernet0/0\n"
        "ip mobile host 10.99.0.11 virtual-network 10.99.0.0 255.255.0.0\n"
        "ip mobile host nai mn@example.net static-address 10.1.0.30 10.1.0.31 interface Ethernet0/0\n"
        "interface Ethernet0/0\n ip irdp\n ip irdp maxadvertinterval 5\n!\n")


# ---------------------------------------------------------------------- running-config fixtures


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_a_full_home_agent_running_config():
    text = fixture("ha_running_config.txt")
    ha = IOS.parse(model.RESOURCES["home_agent"], text)
    assert ha == full("home_agent", {
        "address": "10.1.0.1", "interface": "Ethernet0/0", "home_networks": ["10.1.0.0/24"],
        "virtual_networks": ["10.99.0.0/16"], "mobile_hosts": ["10.1.0.10-10.1.0.20", "10.99.0.11-10.99.0.20"],
        "nai_hosts": [{"nai": "mn1@example.net", "home_addresses": ["10.1.0.30", "10.1.0.31"]}],
        "max_lifetime": 3600, "advertisement": {"interval": 10, "lifetime": 30}})
    sas = IOS.parse(model.RESOURCES["security_associations"], text)
    # SPIs are hexadecimal on IOS; keys lower-cased; `replay timestamp within N` read as N
    assert [(sa["peer"], sa["spi"], sa["kind"], sa["algorithm"], sa["replay_window"]) for sa in sas] == [
        ("10.1.0.10", 0x101, "host", "hmac-md5", 7), ("10.1.0.10", 0x102, "host", "md5-prefix-suffix", 10),
        ("172.16.20.1", 0x100, "foreign-agent", "md5-prefix-suffix", 7)]
    assert sas[0]["key"] == KEY
    filters = IOS.parse(model.RESOURCES["registration_filters"], text)
    assert filters["care_of"] == {"default": "permit", "rules": [{"action": "deny", "prefix": "192.0.2.0/24",
                                                                  "nai": None}]}
    assert IOS.parse(model.RESOURCES["foreign_agent"], text) is None
    for name in model.RESOURCES:  # `ip mobile tunnel`, `router ospf`, `line vty`: not ours, ignored
        assert IOS.unheld(model.RESOURCES[name], text) == []


def test_the_12_2_include_output_reads_like_the_full_config():
    """`show running-config | include ^router mobile|^ip mobile|^access-list|^interface|^ ip ...` (no `| section`)."""
    text = fixture("include_output_12_2.txt")
    ha = IOS.parse(model.RESOURCES["home_agent"], text)
    assert ha["home_networks"] == ["10.1.0.0/24"] and ha["mobile_hosts"] == ["10.1.0.10-10.1.0.20"]
    assert ha["advertisement"]["interval"] == 10.0
    assert IOS.parse(model.RESOURCES["registration_filters"], text)["care_of"]["rules"][0]["action"] == "deny"


def test_a_foreign_agent_and_a_mobile_router():
    fa = IOS.parse(model.RESOURCES["foreign_agent"], fixture("fa_running_config.txt"))
    assert fa["interfaces"] == [{"name": "Ethernet0/1", "address": "10.50.0.1", "prefix_length": 24,
                                 "care_of_addresses": ["172.16.20.1"]}]
    assert (fa["registration_lifetime"], fa["registration_required"], fa["reverse_tunnel"]) == (600, True, "offered")
    assert fa["advertisement"] == {"interval": 10.0, "lifetime": 30, "code": 16, "prefix_lengths": True,
                                   "challenge": False, "broadcast": True}
    assert fa["pending_timeout"] == 60.0
    mn = IOS.parse(model.RESOURCES["mobile_node"], fixture("mr_running_config.txt"))
    assert (mn["home_address"], mn["home_prefix_length"], mn["home_agent"]) == ("10.99.0.11", 16, "172.16.10.1")
    assert (mn["interfaces"], mn["reverse_tunnel"], mn["lifetime"]) == (["Serial0"], True, 600)


def test_what_the_model_cannot_express_is_named():
    text = fixture("ha_unheld.txt")
    notes = IOS.unheld(model.RESOURCES["home_agent"], text)
    assert "ip mobile home-agent broadcast" in notes and "ip mobile home-agent suppress-unreachable" in notes
    assert "ip mobile host 10.1.0.10 10.1.0.20 interface Ethernet0/0: aaa load-sa" in notes
    assert any(n.startswith("ip mobile host nai mn2@example.net address pool") for n in notes)
    assert not any("redundancy" in n for n in notes)  # a command of its own, left alone
    sa_notes = IOS.unheld(model.RESOURCES["security_associations"], text)
    assert sa_notes == ["ip mobile secure host 10.1.0.10 spi 101: an address range (the model's peer is one address "
                        "or NAI)"]
    assert KEY2 not in " ".join(sa_notes)


def test_a_router_without_the_home_interface_address_says_where_it_looked():
    with pytest.raises(ModelError, match=r"home_agent.home_networks: at least one home network .*\(in the running "
                                         r"configuration\)"):
        IOS.parse(model.RESOURCES["home_agent"], "router mobile\nip mobile home-agent address 10.1.0.1\n"
                                                 "ip mobile host 10.1.0.10 interface Ethernet0/0\n")


# ---------------------------------------------------------------------- commands of every state


HA_RUNNING = fixture("ha_running_config.txt")


def test_merged_sends_only_the_lines_that_change():
    _have, after, commands = change("home_agent", "merged", {"max_lifetime": 1800, "mobile_hosts": ["10.1.0.40"]},
                                    HA_RUNNING)
    assert commands.shown == ["ip mobile home-agent address 10.1.0.1 care-of-access 90 lifetime 1800",
                              "ip mobile host 10.1.0.40 interface Ethernet0/0"]
    assert after["max_lifetime"] == 1800  # care-of-access 90 (a registration filter) kept on the line
    rerun = sent_text("home_agent", after, HA_RUNNING)
    assert IOS.parse(model.RESOURCES["home_agent"], rerun) == after  # the router read back holds what was meant
    assert change("home_agent", "merged", {"max_lifetime": 1800, "mobile_hosts": ["10.1.0.40"]}, rerun)[2].shown == []


def test_replaced_and_overridden_remove_what_is_not_given_no_lines_first():
    config = {"address": "10.1.0.1", "interface": "Ethernet0/0", "home_networks": ["10.1.0.0/24"],
              "mobile_hosts": ["10.1.0.10-10.1.0.25"], "advertisement": {"interval": 10, "lifetime": 30}}
    _have, after, commands = change("home_agent", "overridden", config, HA_RUNNING)
    assert commands.shown == [
        "no ip mobile host nai mn1@example.net",
        "no ip mobile host 10.1.0.10 10.1.0.20",  # before the range that replaces it (they overlap)
        "no ip mobile host 10.99.0.11 10.99.0.20",
        "no ip mobile virtual-network 10.99.0.0 255.255.0.0",  # after the hosts that use it
        "ip mobile home-agent address 10.1.0.1 care-of-access 90 lifetime 1800",  # the model's default lifetime
        "ip mobile host 10.1.0.10 10.1.0.25 interface Ethernet0/0",
    ]
    rerun = sent_text("home_agent", after, HA_RUNNING)
    assert change("home_agent", "overridden", config, rerun)[2].shown == []
    _have, _after, replaced = change("home_agent", "replaced", config, HA_RUNNING)
    assert replaced.shown == commands.shown  # one-per-host resource: replaced and overridden agree


def test_deleted_removes_the_home_agent_lines_and_leaves_the_rest():
    _have, after, commands = change("home_agent", "deleted", None, HA_RUNNING)
    assert after is None
    assert commands.shown == [
        "no ip mobile host nai mn1@example.net", "no ip mobile host 10.1.0.10 10.1.0.20",
        "no ip mobile host 10.99.0.11 10.99.0.20", "no ip mobile virtual-network 10.99.0.0 255.255.0.0",
        "no ip mobile home-agent",
        "interface Ethernet0/0", "no ip irdp holdtime", "no ip irdp maxadvertinterval", "no ip irdp"]
    assert not any("router mobile" in c or "secure" in c for c in commands.shown)


def test_a_new_spi_is_added_before_the_old_one_is_removed():
    """RFC 5944 §5.6 rollover: the router never lacks a key the mobile node may be using."""
    have = [{"peer": "10.1.0.10", "spi": 257, "key": KEY, "kind": "host"}]
    running = sent_text("security_associations", full("security_associations", have), INTERFACES)
    new = [{"peer": "10.1.0.10", "spi": 258, "key": KEY2, "kind": "host"}]
    _b, after, commands = change("security_associations", "overridden", new, running)
    assert commands.shown == [f"ip mobile secure host 10.1.0.10 spi 102 key hex {keys.MASK} algorithm hmac-md5",
                              "no ip mobile secure host 10.1.0.10 spi 101"]
    assert commands.sent()[0] == f"ip mobile secure host 10.1.0.10 spi 102 key hex {KEY2} algorithm hmac-md5"
    _b, after, commands = change("security_associations", "merged", new, running)
    assert [sa["spi"] for sa in after] == [257, 258] and len(commands) == 1
    _b, after, commands = change("security_associations", "deleted", [{"peer": "10.1.0.10", "spi": 257}],
                                 sent_text("security_associations", after, INTERFACES))
    assert commands.shown == ["no ip mobile secure host 10.1.0.10 spi 101"]


def test_a_key_change_resends_the_line_and_shows_no_key():
    running = sent_text("security_associations", full("security_associations", SAS[:1]), INTERFACES)
    have, after, commands = change("security_associations", "merged", [{**SAS[0], "key": KEY2}], running)
    assert commands.shown == [f"ip mobile secure host 10.1.0.10 spi 101 key hex {keys.MASK} algorithm hmac-md5"]
    shown = repr(commands) + str(changes.masked(model.RESOURCES["security_associations"].field, after))
    assert KEY2 not in shown and KEY not in shown
    assert KEY2 in commands.sent()[0]


def test_a_section_header_is_sent_only_with_lines_under_it():
    running = sent_text("foreign_agent", full("foreign_agent", FA), INTERFACES)
    _b, _a, commands = change("foreign_agent", "merged", {"pending_timeout": 30}, running)
    assert commands.shown == ["ip mobile foreign-agent reg-wait 30"]  # no `interface` header
    _b, _a, commands = change("foreign_agent", "merged", {"registration_lifetime": 900}, running)
    assert commands.shown == ["interface Ethernet0/1", "ip mobile registration-lifetime 900"]
    _b, _a, commands = change("foreign_agent", "merged", {"visitor_limit": 10}, running)
    assert commands.shown == []  # as it is: nothing, not even a header
    mr = sent_text("mobile_node", full("mobile_node", MN), INTERFACES)
    _b, _a, commands = change("mobile_node", "merged", {"lifetime": 900}, mr)
    assert commands.shown == ["ip mobile router", "register lifetime 900"]
    _b, after, commands = change("mobile_node", "deleted", None, mr)
    assert commands.shown == ["no ip mobile router", "interface Ethernet0/1", "no ip mobile router-service collocated",
                              "no ip mobile router-service roam", "interface Ethernet0/2",
                              "no ip mobile router-service collocated", "no ip mobile router-service roam"]


def test_router_mobile_is_sent_once_when_missing():
    _b, _a, commands = change("home_agent", "merged", {**HA, "nai_hosts": []}, INTERFACES)
    assert commands.shown[0] == "router mobile" and commands.shown.count("router mobile") == 1
    running = sent_text("home_agent", full("home_agent", {**HA, "nai_hosts": []}))
    _b, _a, commands = change("home_agent", "merged", {"max_lifetime": 900}, running)
    assert "router mobile" not in commands.shown


def test_filters_rewrite_an_access_list_no_line_first_and_name_it_on_the_agent_line():
    _b, after, commands = change("registration_filters", "merged",
                                 {"care_of": {"rules": [{"action": "deny", "prefix": "203.0.113.0/24"}]}}, HA_RUNNING)
    assert commands.shown == ["no access-list 90", "access-list 90 deny 192.0.2.0 0.0.0.255",  # merged: one more rule
                              "access-list 90 deny 203.0.113.0 0.0.0.255", "access-list 90 permit any"]
    roaming = {"default": "deny", "rules": [{"action": "permit", "prefix": "10.1.0.0/24"}]}
    _b, after, commands = change("registration_filters", "merged", {"roaming": roaming}, HA_RUNNING)
    assert commands.shown == ["access-list 91 permit 10.1.0.0 0.0.0.255", "access-list 91 deny any",
                              "ip mobile home-agent address 10.1.0.1 care-of-access 90 lifetime 3600 roam-access 91"]
    _b, after, commands = change("registration_filters", "deleted", None, HA_RUNNING)
    assert commands.shown == ["no access-list 90", "ip mobile home-agent address 10.1.0.1 lifetime 3600"]
    with pytest.raises(ModelError, match=r"config.home_agents: this router has no foreign_agent"):
        change("registration_filters", "merged", {"home_agents": {"default": "deny"}}, HA_RUNNING)


def test_interfaces_and_addresses_must_be_the_routers():
    with pytest.raises(ModelError, match=r"config.interface: the router has no interface Ethernet9"):
        change("home_agent", "merged", {**HA, "interface": "Ethernet9"}, INTERFACES)
    with pytest.raises(ModelError, match=r"config.home_networks: 10.1.0.0/24, 10.7.0.0/24: on an IOS-like router the "
                                         r"home networks are Ethernet0/0's addresses \(10.1.0.0/24\)"):
        change("home_agent", "merged", {"home_networks": ["10.7.0.0/24"]}, HA_RUNNING)
    with pytest.raises(ModelError, match=r"config.interfaces\[0\].address: 10.2.0.9/24: Ethernet0/1 holds 10.2.0.1/24"):
        change("foreign_agent", "merged", {"interfaces": [{"name": "Ethernet0/1", "address": "10.2.0.9"}]}, INTERFACES)
    with pytest.raises(ModelError, match=r"care_of_addresses\[0\]: 192.0.2.1 is not an address of an interface"):
        change("foreign_agent", "merged", {"interfaces": [{"name": "Ethernet0/1", "address": "10.2.0.1",
                                                           "care_of_addresses": ["192.0.2.1"]}]}, INTERFACES)


# ---------------------------------------------------------------------- what IOS cannot hold

UNSUPPORTED = [
    ("home_agent", {**HA, "simultaneous_bindings": 2}, "config.simultaneous_bindings"),
    ("home_agent", {**HA, "binding_limit": 100}, "config.binding_limit"),
    ("home_agent", {**HA, "reverse_tunnel": True, "reverse_tunnel_mandatory": True}, "config.reverse_tunnel_mandatory"),
    ("home_agent", {**HA, "encapsulations": ["ipip"]}, "config.encapsulations"),
    ("home_agent", {**HA, "mobile_hosts": ["10.1.0.0/24"]}, "config.mobile_hosts[0]"),
    ("home_agent", {**HA, "mobile_hosts": ["*@example.net"]}, "config.mobile_hosts[0]"),
    ("home_agent", {**HA, "advertisement": {"interval": 1.5, "lifetime": 15}}, "config.advertisement.interval"),
    ("home_agent", {**HA, "advertisement": {"code": 0}}, "config.advertisement.code"),
    ("foreign_agent", {**FA, "pending_limit": 9}, "config.pending_limit"),
    ("foreign_agent", {**FA, "pending_timeout": 7.5}, "config.pending_timeout"),
    ("foreign_agent", {**FA, "advertisement": {"interval": 1.0, "lifetime": 3}}, "config.advertisement.interval"),
    ("foreign_agent", {**FA, "interfaces": [*FA["interfaces"], {"name": "Ethernet0/2", "address": "10.3.0.1"}]},
     "config.interfaces[1].care_of_addresses"),
    ("mobile_node", {**MN, "home_gateway": "10.99.0.1"}, "config.home_gateway"),
    ("mobile_node", {**MN, "nai": "mr@example.net"}, "config.nai"),
    ("mobile_node", {**MN, "reregister_margin": 30}, "config.reregister_margin"),
    ("mobile_node", {**MN, "encapsulation": "minimal"}, "config.encapsulation"),
    ("mobile_node", {**MN, "solicit_interval": 0.0005}, "config.solicit_interval"),
    ("security_associations", [{**SAS[0], "kind": None}], "config[0].kind"),
    ("security_associations", [{**SAS[0], "algorithm": "rfc2002-md5"}], "config[0].algorithm"),
    ("security_associations", [{**SAS[0], "replay": "nonce"}], "config[0].replay"),
    ("security_associations", [{**SAS[0], "fallback": True}], "config[0].fallback"),
    ("security_associations", [{**SAS[0], "roles": ["home_agent"]}], "config[0].roles"),
    ("security_associations", [{**SAS[0], "key_format": "ascii", "key": "secret value 1234567"}], "config[0].key"),
    ("registration_filters", {"roaming": {"rules": [{"action": "deny", "nai": "guest*@example.net"}]}},
     "config.roaming.rules[0].nai"),
    ("registration_filters", {"care_of": {"default": "deny", "rules": [{"action": "permit", "prefix": "0.0.0.0/0"}]}},
     "config.care_of.rules[0].prefix"),
]


@pytest.mark.parametrize(("name", "config", "named"), UNSUPPORTED, ids=[n for _r, _c, n in UNSUPPORTED])
def test_what_ios_cannot_hold_is_refused_naming_the_option(name, config, named):
    errors = IOS.unsupported(model.RESOURCES[name], full(name, config))
    assert [e.path for e in errors] == [named], [str(e) for e in errors]
    assert KEY not in str(errors[0]) and "secret value" not in str(errors[0])


def test_the_ios_table_is_documented():
    """docs/ios_mapping.md names every IOS line kind the tables write."""
    doc = (Path(__file__).parents[2] / "docs" / "ios_mapping.md").read_text()
    for kind in KINDS.values():
        assert f"`{kind.name}`" in doc, kind.name
        for field in kind.model:
            assert field in doc, (kind.name, field)
