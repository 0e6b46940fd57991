"""The config modules run for real with platform=ios, as the action plugin runs them on the
controller for an IOS-like router: rendered and parsed offline for every resource, a value IOS
cannot hold refused naming it, the model's own gaps warned, the states that need the router
failing with one line, and keys (given, or read from a running-config) in nothing returned."""

from __future__ import annotations

from typing import Any

import mobileip_helpers as h
import pytest
from ansible_collections.netmobility.mobileip.plugins.module_utils import changes, model
from test_ios_platform import EXAMPLES, FA, FIXTURES, HA, INTERFACES, KEY, KEY2, SAS, full, sent_text

HA_RUNNING = (FIXTURES / "ha_running_config.txt").read_text()


def run(name: str, **args: Any) -> h.ModuleRun:
    result = h.run_module(name, {"platform": "ios", **args})
    for secret in (KEY, KEY.upper(), KEY2, KEY2.upper(), "ascii-key-of-16-chars"):
        assert secret not in result.stdout and secret not in result.stderr, "a key leaked into the module's output"
    return result


def ok(result: h.ModuleRun) -> h.ModuleRun:
    assert not result.failed and result.rc == 0, result.result.get("msg", result.stdout)
    return result


@pytest.mark.parametrize("name", sorted(model.RESOURCES))
def test_rendered_then_parsed_offline(name):
    config = SAS if name == "security_associations" else EXAMPLES[name]
    # offline, the router's interfaces are not known: care-of addresses on a served interface, no FA filter
    offline = config
    if name == "foreign_agent":
        offline = {**FA, "interfaces": [{"name": "Ethernet0/1", "address": "10.2.0.1"}]}
    elif name == "registration_filters":
        offline = {k: v for k, v in config.items() if k != "home_agents"}
    rendered = ok(run(name, state="rendered", config=offline))
    assert rendered["changed"] is False
    assert rendered["rendered"].startswith(("router mobile\n", "access-list", "aaa new-model\n"))
    value = full(name, config)
    base = INTERFACES
    if name == "registration_filters":
        base = sent_text("foreign_agent", full("foreign_agent", FA), sent_text("home_agent", full("home_agent", HA)))
    text = sent_text(name, value, base)  # as the router shows it: keys in clear
    parsed = ok(run(name, state="parsed", running_config=text))
    assert parsed["parsed"] == ok(run(name, state="parsed", running_config=text))["parsed"]
    assert parsed["parsed"] == changes.masked(model.RESOURCES[name].field, value)


def test_keys_read_from_a_running_config_come_back_as_fingerprints():
    parsed = ok(run("security_associations", state="parsed", running_config=HA_RUNNING))["parsed"]
    assert [sa["spi"] for sa in parsed] == [0x101, 0x102, 0x100]
    assert all(sa["key_fingerprint"].startswith("sha256:") and "key" not in sa for sa in parsed)


def test_a_value_ios_cannot_hold_is_refused_before_anything():
    without_kind = {k: v for k, v in SAS[0].items() if k != "kind"}
    result = run("security_associations", state="rendered", config=[{**without_kind, "fallback": True}])
    assert result.failed and result["msg"] == (
        "config[0].kind: is required on IOS-like routers: host, visitor, home-agent or foreign-agent (ip mobile secure "
        "KIND); config[0].fallback: IOS-like routers have no fallback security association")
    result = run("home_agent", state="rendered", config={**HA, "mobile_hosts": ["10.1.0.0/24"]})
    assert result.failed and result["msg"].startswith("config.mobile_hosts[0]: '10.1.0.0/24': IOS-like routers serve")


def test_what_the_model_cannot_express_is_warned_when_parsed():
    text = (FIXTURES / "ha_unheld.txt").read_text()
    result = ok(run("home_agent", state="parsed", running_config=text))
    assert "ip mobile home-agent suppress-unreachable" in result.warnings
    assert result["parsed"]["mobile_hosts"] == ["10.1.0.10-10.1.0.20"]


@pytest.mark.parametrize("state", ["merged", "replaced", "overridden", "deleted", "gathered"])
def test_states_that_need_the_router_fail_with_one_line(state):
    args: dict[str, Any] = {"state": state}
    if state not in ("deleted", "gathered"):
        args["config"] = SAS
    name = "security_associations" if "config" in args else "home_agent"
    result = run(name, **args)
    assert result.failed and result.rc == 1
    assert result["msg"] == (f"{name}: no way to the router: run the task through the collection's action plugin (it "
                             "passes the inventory's connection variables), or use state=rendered or state=parsed")
    assert "Traceback" not in result.stdout + result.stderr


def test_a_bad_value_is_refused_before_the_missing_transport():
    result = run("home_agent", config={**HA, "address": "10.1.0.300"})
    assert result.failed and result["msg"].startswith("config.address: must be an IPv4 address")


def test_ios_interface_names_are_accepted_linux_ones_still_checked_on_linux(files):
    assert ok(run("mobile_node", state="rendered", config={**EXAMPLES["mobile_node"],
                                                           "interfaces": ["GigabitEthernet0/0/1.100"]}))
    linux = h.run_module("mobile_node", {**files, "state": "rendered",
                                         "config": {**EXAMPLES["mobile_node"], "interfaces": ["Ethernet0/1"]}})
    assert linux.failed and linux["msg"] == ("config.interfaces[0]: must be an interface name (1-15 characters, no "
                                             "'/', ':' or spaces), got 'Ethernet0/1'")
