"""Resource-module states on the model: merged, replaced, overridden, deleted; order stability and
the change lines they produce."""

from __future__ import annotations

import pytest
from ansible_collections.netmobility.mobileip.plugins.module_utils import model, states
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.platform import LinuxPlatform

KEY1 = "00112233445566778899aabbccddeeff"
KEY2 = "ffeeddccbbaa99887766554433221100"
HA = {"address": "10.1.0.1", "interface": "ha-home", "home_networks": ["10.1.0.0/24"], "mobile_hosts": ["10.1.0.0/24"]}
LINUX = LinuxPlatform()


def apply(name: str, state: str, have: object, config: object) -> object:
    res = model.RESOURCES[name]
    return states.build(res, state, have, states.want(res, state, config))


def lines(name: str, before: object, after: object) -> list[str]:
    return LINUX.commands(model.RESOURCES[name], before, after).shown


@pytest.fixture
def ha():
    return apply("home_agent", "merged", None, HA)


def test_merged_sets_given_options_and_adds_to_sets(ha):
    after = apply("home_agent", "merged", ha, {"max_lifetime": 600, "home_networks": ["10.1.2.0/24", "10.1.0.0/24"]})
    assert after["max_lifetime"] == 600 and after["home_networks"] == ["10.1.0.0/24", "10.1.2.0/24"]
    assert after["interface"] == "ha-home"
    assert lines("home_agent", ha, after) == ["home_agent.home_networks: + 10.1.2.0/24",
                                              "home_agent.max_lifetime: 1800 -> 600"]


def test_the_same_request_twice_changes_nothing(ha):
    for state, config in (("merged", HA), ("replaced", HA), ("overridden", HA), ("merged", {"max_lifetime": 1800})):
        assert apply("home_agent", state, ha, config) == ha
        assert lines("home_agent", ha, apply("home_agent", state, ha, config)) == []


def test_a_different_order_of_a_set_is_not_a_change(ha):
    have = apply("home_agent", "merged", ha, {"mobile_hosts": ["10.1.0.0/24", "*@example.net"]})
    after = apply("home_agent", "replaced", have, dict(HA, mobile_hosts=["*@example.net", "10.1.0.0/24"]))
    assert after == have


def test_replaced_reverts_options_not_given_to_their_defaults(ha):
    changed = apply("home_agent", "merged", ha, {"max_lifetime": 600, "binding_limit": 10})
    after = apply("home_agent", "replaced", changed, dict(HA, binding_limit=10))
    assert after["max_lifetime"] == 1800 and after["binding_limit"] == 10
    assert lines("home_agent", changed, after) == ["home_agent.max_lifetime: 600 -> 1800"]


def test_new_sections_list_every_value_and_deleted_sections_one_line(ha):
    assert lines("home_agent", None, ha)[:3] == ["home_agent: added", "home_agent.address: (absent) -> 10.1.0.1",
                                                 "home_agent.interface: (absent) -> ha-home"]
    assert apply("home_agent", "deleted", ha, None) is None
    assert lines("home_agent", ha, None) == ["home_agent: removed"]


def test_deleted_with_config_on_a_one_per_host_resource_is_refused(ha):
    with pytest.raises(ModelError, match="config: is not used with state=deleted: it removes the whole home_agent"):
        apply("home_agent", "deleted", ha, {"max_lifetime": 5})


def test_action_states_need_config():
    with pytest.raises(ModelError, match="config: is required with state=merged"):
        apply("home_agent", "merged", None, {"max_lifetime": None})
    with pytest.raises(ModelError, match="config: is required with state=overridden"):
        apply("security_associations", "overridden", [], [])


# ---------------------------------------------------------------------- foreign agent interfaces

FA = {"interfaces": [{"name": "fa1", "address": "10.2.0.1"}, {"name": "fa2", "address": "10.3.0.1"}]}


def test_foreign_agent_interfaces_are_matched_by_name():
    fa = apply("foreign_agent", "merged", None, FA)
    assert fa["interfaces"][1]["care_of_addresses"] == ["10.3.0.1"]  # default: the interface address
    after = apply("foreign_agent", "merged", fa, {"interfaces": [{"name": "fa2", "prefix_length": 16},
                                                                 {"name": "fa3", "address": "10.4.0.1"}]})
    assert [i["name"] for i in after["interfaces"]] == ["fa1", "fa2", "fa3"]
    assert after["interfaces"][1]["prefix_length"] == 16 and after["interfaces"][1]["address"] == "10.3.0.1"
    assert lines("foreign_agent", fa, after) == [
        "foreign_agent.interfaces[fa2].prefix_length: 24 -> 16",
        "foreign_agent.interfaces[fa3]: added (address=10.4.0.1, prefix_length=24, care_of_addresses=[10.4.0.1])",
    ]


def test_a_new_interface_must_be_complete():
    fa = apply("foreign_agent", "merged", None, FA)
    with pytest.raises(ModelError, match=r"^config.interfaces\[0\].address: is required"):
        apply("foreign_agent", "merged", fa, {"interfaces": [{"name": "fa9"}]})


def test_replaced_replaces_named_interfaces_and_keeps_the_others_overridden_drops_them():
    fa = apply("foreign_agent", "merged", None, dict(FA, visitor_limit=5))
    replaced = apply("foreign_agent", "replaced", fa, {"interfaces": [{"name": "fa2", "address": "10.3.0.2"}]})
    assert [(i["name"], i["address"]) for i in replaced["interfaces"]] == [("fa1", "10.2.0.1"), ("fa2", "10.3.0.2")]
    assert replaced["visitor_limit"] == 0
    overridden = apply("foreign_agent", "overridden", fa, {"interfaces": [{"name": "fa2", "address": "10.3.0.2"}]})
    assert [i["name"] for i in overridden["interfaces"]] == ["fa2"]
    assert "foreign_agent.interfaces[fa1]: removed" in lines("foreign_agent", fa, overridden)


def test_interfaces_in_another_order_are_not_a_change():
    fa = apply("foreign_agent", "merged", None, FA)
    assert apply("foreign_agent", "overridden", fa, {"interfaces": FA["interfaces"][::-1]}) == fa


# ---------------------------------------------------------------------- security associations


def sa(peer: str, spi: int, key: str = KEY1, **kw: object) -> dict:
    return {"peer": peer, "spi": spi, "key": key, **kw}


@pytest.fixture
def sas():
    return apply("security_associations", "merged", [], [sa("10.1.0.10", 257), sa("10.1.0.11", 300),
                                                         sa("mn@example.net", 400)])


def test_merged_adds_a_second_spi_for_rotation_and_updates_in_place(sas):
    change = [sa("10.1.0.10", 258, KEY2), {"peer": "10.1.0.11", "spi": 300, "replay": "nonce"}]
    after = apply("security_associations", "merged", sas, change)
    assert [(s["peer"], s["spi"]) for s in after] == [
        ("10.1.0.10", 257), ("10.1.0.11", 300), ("mn@example.net", 400), ("10.1.0.10", 258)]
    assert after[1]["replay"] == "nonce" and after[1]["key"] == KEY1  # the key stays when not given
    assert lines("security_associations", sas, after) == [
        "security_associations[10.1.0.11 spi 300].replay: timestamp -> nonce",
        "security_associations[10.1.0.10 spi 258]: added (algorithm=hmac-md5, key set, key_format=hex, "
        "replay=timestamp, replay_window=7, fallback=false)",
    ]


def test_a_key_change_is_a_line_without_the_key(sas):
    after = apply("security_associations", "merged", sas, [sa("10.1.0.10", 257, KEY2)])
    assert lines("security_associations", sas, after) == ["security_associations[10.1.0.10 spi 257].key: changed"]
    assert apply("security_associations", "merged", sas, [sa("10.1.0.10", 257, "0x" + KEY1.upper())]) == sas


def test_replaced_replaces_the_sas_of_each_named_peer_in_place(sas):
    after = apply("security_associations", "replaced", sas, [sa("10.1.0.11", 301, KEY2)])
    assert [(s["peer"], s["spi"]) for s in after] == [("10.1.0.10", 257), ("10.1.0.11", 301), ("mn@example.net", 400)]
    assert lines("security_associations", sas, after) == [
        "security_associations[10.1.0.11 spi 301]: added (algorithm=hmac-md5, key set, key_format=hex, "
        "replay=timestamp, replay_window=7, fallback=false)",
        "security_associations[10.1.0.11 spi 300]: removed",
    ]
    again = apply("security_associations", "replaced", after, [sa("10.1.0.11", 301, KEY2)])
    assert again == after


def test_overridden_is_exact_and_order_is_a_change(sas):
    after = apply("security_associations", "overridden", sas, [sa("mn@example.net", 400), sa("10.1.0.10", 257)])
    assert [(s["peer"], s["spi"]) for s in after] == [("mn@example.net", 400), ("10.1.0.10", 257)]
    assert lines("security_associations", sas, after) == [
        "security_associations[10.1.0.11 spi 300]: removed",
        "security_associations: order -> [mn@example.net spi 400, 10.1.0.10 spi 257]",
    ]


def test_deleted_by_peer_by_peer_and_spi_and_all(sas):
    rotated = apply("security_associations", "merged", sas, [sa("10.1.0.10", 258, KEY2)])
    after = apply("security_associations", "deleted", rotated, [{"peer": "10.1.0.10", "spi": 257}])
    assert [(s["peer"], s["spi"]) for s in after] == [("10.1.0.11", 300), ("mn@example.net", 400), ("10.1.0.10", 258)]
    after = apply("security_associations", "deleted", rotated, [{"peer": "10.1.0.10"}])
    assert [s["peer"] for s in after] == ["10.1.0.11", "mn@example.net"]
    assert apply("security_associations", "deleted", rotated, None) == []
    assert apply("security_associations", "deleted", sas, [{"peer": "10.9.9.9"}]) == sas  # nothing to delete
    with pytest.raises(ModelError, match=r"config\[0\].spi: 0-255 are reserved \(RFC 5944 §1.6\), got 7"):
        apply("security_associations", "deleted", sas, [{"peer": "10.1.0.10", "spi": 7}])


def test_the_platform_drops_what_it_cannot_hold():
    assert LINUX.dropped(model.RESOURCES["security_associations"]) == ("kind",)
    assert LINUX.dropped(model.RESOURCES["home_agent"]) == ()


@pytest.mark.parametrize(("name", "value", "named"), [
    ("home_agent", {"interface": "a/b"}, "config.interface"),
    ("home_agent", {"interface": "x" * 16}, "config.interface"),
    ("foreign_agent", {"interfaces": [{"name": "ok"}, {"name": "Ethernet0/1"}]}, "config.interfaces[1].name"),
    ("mobile_node", {"interfaces": ["eth0", "a:b"]}, "config.interfaces[1]"),
])
def test_linux_refuses_interface_names_linux_cannot_have(name, value, named):
    """The model takes any platform's interface names (IOS: Ethernet0/1); Linux refuses what Linux cannot name."""
    errors = LINUX.unsupported(model.RESOURCES[name], value)
    assert [e.path for e in errors] == [named]
    assert "must be an interface name (1-15 characters, no '/', ':' or spaces)" in str(errors[0])


# ---------------------------------------------------------------------- registration filters

DENY_DOC = {"action": "deny", "prefix": "192.0.2.0/24"}
DENY_GUESTS = {"action": "deny", "nai": "guest*@example.net"}


@pytest.fixture
def filters():
    res = model.RESOURCES["registration_filters"]
    return apply("registration_filters", "merged", res.empty, {"care_of": {"rules": [DENY_DOC]},
                                                               "roaming": {"rules": [DENY_GUESTS]}})


def test_merged_rules_update_by_match_and_append(filters):
    after = apply("registration_filters", "merged", filters, {"care_of": {"default": "deny", "rules": [
        {"action": "permit", "prefix": "192.0.2.0/24"}, {"action": "permit", "prefix": "10.0.0.0/8"}]}})
    assert [(r["action"], r["prefix"]) for r in after["care_of"]["rules"]] == [
        ("permit", "192.0.2.0/24"), ("permit", "10.0.0.0/8")]
    assert after["care_of"]["default"] == "deny" and after["roaming"] == filters["roaming"]
    assert lines("registration_filters", filters, after) == [
        "home_agent.filters.care_of.default: permit -> deny",
        "home_agent.filters.care_of.rules: [deny 192.0.2.0/24] -> [permit 192.0.2.0/24, permit 10.0.0.0/8]",
    ]


def test_replaced_keeps_lists_not_named_overridden_resets_them(filters):
    replaced = apply("registration_filters", "replaced", filters, {"care_of": {"rules": []}})
    assert replaced["care_of"]["rules"] == [] and replaced["roaming"] == filters["roaming"]
    overridden = apply("registration_filters", "overridden", filters, {"care_of": {"rules": [DENY_DOC]}})
    assert overridden["roaming"] == {"default": "permit", "rules": []}
    assert overridden["care_of"] == filters["care_of"]


def test_rule_order_matters(filters):
    two = apply("registration_filters", "merged", filters, {"care_of": {"rules": [{"action": "permit",
                                                                                  "prefix": "10.0.0.0/8"}]}})
    swapped = apply("registration_filters", "replaced", two, {"care_of": {"rules": two["care_of"]["rules"][::-1]}})
    assert swapped != two
    assert lines("registration_filters", two, swapped) == [
        "home_agent.filters.care_of.rules: [deny 192.0.2.0/24, permit 10.0.0.0/8] -> "
        "[permit 10.0.0.0/8, deny 192.0.2.0/24]"]


def test_deleted_resets_named_lists_or_all(filters):
    after = apply("registration_filters", "deleted", filters, {"roaming": {}})
    assert after["roaming"] == {"default": "permit", "rules": []} and after["care_of"] == filters["care_of"]
    everything = apply("registration_filters", "deleted", filters, None)
    assert everything == model.REGISTRATION_FILTERS.defaults()
