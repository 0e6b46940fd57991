"""verify_registration's comparisons, and both agent-facing modules against a stand-in mipctl
(a mobile node's registration, a foreign agent's visitors, polling until a state is reached)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import mobileip_helpers as h
import pytest
from ansible_collections.netmobility.mobileip.plugins.module_utils import verify
from ansible_collections.netmobility.mobileip.plugins.module_utils.errors import ModelError

REGISTERED = {"location": "away", "registered": True, "pending": False, "colocated": False,
              "care_of_address": "10.2.0.1", "agent_address": "10.2.0.1", "interface": "mn-eth0",
              "home_agent": "10.1.0.1", "lifetime_left": 590, "last_reply_code": 0, "last_reply_name": "accepted"}
PENDING = dict(REGISTERED, registered=False, pending=True, last_reply_code=None, last_reply_name=None)
DENIED = dict(REGISTERED, registered=False, last_reply_code=131, last_reply_name="mobile node failed authentication")
VISITORS = [{"home_address": "10.1.0.10", "nai": None, "care_of_address": "10.2.0.1", "home_agent": "10.1.0.1"}]


def want(**params: Any) -> dict[str, Any]:
    return verify.expected(params)


def test_registration_states_and_codes():
    assert verify.registration_state(REGISTERED) == "registered"
    assert verify.registration_state(PENDING) == "pending"
    assert verify.registration_state(DENIED) == "unregistered"
    expectation = want(registration={"state": "registered", "code": 0})
    assert verify.mismatches(expectation, {"registration": REGISTERED}) == []
    assert verify.mismatches(expectation, {"registration": DENIED}) == [
        "registration: state is unregistered, expected registered", "registration: code is 131, expected 0"]
    assert verify.mismatches(want(registration={"location": "home"}), {"registration": REGISTERED}) == [
        "registration: location is away, expected home"]


def test_bindings_exact_and_listed():
    found = [{"home_address": "10.1.0.10", "care_of_address": "10.2.0.1", "reverse": False, "encap": "ipip"},
             {"home_address": "10.1.0.11", "care_of_address": "10.3.0.1", "reverse": True, "encap": "gre"}]
    assert verify.mismatches(want(bindings=[{"home_address": "10.1.0.10"}]), {"bindings": found}) == []
    assert verify.mismatches(want(bindings=[{"home_address": "10.1.0.10"}], exact_bindings=True),
                             {"bindings": found}) == ["binding for 10.1.0.11 via 10.3.0.1: not expected"]
    absent = want(bindings=[{"home_address": "10.1.0.12", "care_of_address": "10.2.0.1"}])
    assert verify.mismatches(absent, {"bindings": found}) == [
        "binding for 10.1.0.12: none (the agent has: 10.1.0.10, 10.1.0.11)"]
    assert verify.mismatches(want(bindings=[{"home_address": "10.1.0.11", "encap": "ipip"}]), {"bindings": found}) == [
        "binding for 10.1.0.11: encap is gre, expected ipip"]
    assert verify.mismatches(want(exact_bindings=True), {"bindings": []}) == []


def test_visitors():
    assert verify.mismatches(want(visitors=[{"home_address": "10.1.0.10", "home_agent": "10.1.0.1"}]),
                             {"visitors": VISITORS}) == []
    other = want(visitors=[{"home_address": "10.1.0.10", "home_agent": "10.9.0.1"}])
    assert verify.mismatches(other, {"visitors": VISITORS}) == [
        "visitor for 10.1.0.10: home_agent is 10.1.0.1, expected 10.9.0.1"]


def test_what_to_ask_the_agent():
    assert verify.commands_for(want(bindings=[{"home_address": "10.1.0.10"}], registration={"code": 0})) == (
        "bindings", "registration")
    assert verify.commands_for(want(security_associations=[{"peer": "10.1.0.1", "spi": 300}])) == ("sas",)
    assert verify.commands_for(want()) == ()


@pytest.mark.parametrize(("params", "path"), [
    ({"bindings": [{"care_of_address": "10.2.0.1"}]}, "bindings[0].home_address"),
    ({"bindings": [{"home_address": "10.1.0"}]}, "bindings[0].home_address"),
    ({"registration": {"code": 300}}, "registration.code"),
    ({"security_associations": [{"peer": "10.1.0.1", "spi": 3}]}, "security_associations[0].spi"),
])
def test_expectations_are_checked_naming_the_option(params, path):
    with pytest.raises(ModelError) as e:
        verify.expected(params)
    assert e.value.path == path


# ---------------------------------------------------------------------- the modules with a stand-in mipctl


@pytest.fixture
def fake_mipctl(tmp_path: Path):
    """A mipctl answering from answers.json; `registration` answers come from a list, one per call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answers = tmp_path / "answers.json"
    script = f"""#!{sys.executable}
import json, sys
answers = json.load(open({str(answers)!r}))
command = sys.argv[-1]
if answers.get("down"):
    print(json.dumps({{"ok": False, "error": "cannot reach mipd at /run/mipd/mipd.sock: No such file or directory"}}))
    sys.exit(3)
value = answers[command]
if command == "registration" and isinstance(value, list):
    value = value.pop(0) if len(value) > 1 else value[0]
    json.dump(answers, open({str(answers)!r}, "w"))
if isinstance(value, dict) and "error" in value:
    print(json.dumps({{"ok": False, "error": value["error"]}}))
    sys.exit(1)
print(json.dumps({{"ok": True, "result": value}}))
"""
    (bin_dir / "mipctl").write_text(script)
    (bin_dir / "mipctl").chmod(0o755)

    def set_answers(**values: Any) -> dict[str, Any]:
        answers.write_text(json.dumps(values))
        return {"agent_bin_dir": str(bin_dir), "config_path": str(tmp_path / "absent.yaml")}

    return set_answers


def test_info_of_a_mobile_node(fake_mipctl):
    opts = fake_mipctl(status={"roles": ["mobile_node"]}, registration=REGISTERED, counters={"roles": {}},
                       sas=[{"peer": "10.1.0.1", "spi": 257}])
    result = h.run_module("mobility_info", opts)
    assert result["mobility_info"] == {"status": {"roles": ["mobile_node"]}, "registration": REGISTERED,
                                       "counters": {"roles": {}}, "sas": [{"peer": "10.1.0.1", "spi": 257}]}
    only = h.run_module("mobility_info", {**opts, "gather": ["sas", "registration"]})
    assert set(only["mobility_info"]) == {"registration", "sas"}


def test_info_of_a_foreign_agent(fake_mipctl):
    opts = fake_mipctl(status={"roles": ["foreign_agent"]}, visitors=VISITORS, pending=[], counters={}, sas=[])
    info = h.run_module("mobility_info", opts)["mobility_info"]
    assert info["visitors"] == VISITORS and info["pending"] == []


def test_wait_until_registered(fake_mipctl):
    opts = fake_mipctl(registration=[PENDING, PENDING, REGISTERED])
    result = h.run_module("verify_registration", {**opts, "registration": {"state": "registered", "code": 0},
                                                  "wait": True, "timeout": 20, "interval": 0.1})
    assert not result.failed and result["attempts"] == 3 and result["mismatches"] == []


def test_no_wait_fails_at_once_listing_each_mismatch(fake_mipctl):
    opts = fake_mipctl(registration=[DENIED])
    result = h.run_module("verify_registration", {**opts, "registration": {"state": "registered", "code": 0}})
    assert result.failed and result["attempts"] == 1 and result["changed"] is False
    assert result["msg"] == ("mobility state not as expected (2 mismatches): registration: state is unregistered, "
                             "expected registered; registration: code is 131, expected 0")


def test_timeout_while_the_agent_is_down(fake_mipctl):
    opts = fake_mipctl(down=True)
    result = h.run_module("verify_registration", {**opts, "registration": {"state": "registered"},
                                                  "wait": True, "timeout": 0.5, "interval": 0.1})
    assert result.failed and result["attempts"] >= 2 and "cannot reach mipd" in result["msg"]
    assert "cannot reach mipd" in h.run_module("mobility_info", opts)["msg"]


def test_nothing_to_verify_and_no_mipctl(fake_mipctl, tmp_path):
    opts = fake_mipctl()
    assert "nothing to verify" in h.run_module("verify_registration", opts)["msg"]
    missing = {"agent_bin_dir": str(tmp_path / "nowhere")}
    result = h.run_module("mobility_info", missing)
    assert result.failed and result["msg"].startswith(f"mipctl not found in {tmp_path / 'nowhere'}")
    result = h.run_module("verify_registration", {**missing, "bindings": [{"home_address": "10.1.0"}]})
    assert result["msg"] == "bindings[0].home_address: must be an IPv4 address, got '10.1.0'"
