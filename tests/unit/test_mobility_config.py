"""netmobility.mobileip.mobility_config run for real, as Ansible runs it on a host (a subprocess given a
JSON arguments file, editing mipd files in a temporary directory): several resources in one run make
one write, one check-config and no second run's change; check mode checks a mobile node section against
the SA staged before it; a refusal of any resource touches nothing; keys never in any output, a key put
in the wrong option included."""

from __future__ import annotations

from typing import Any

from test_module_runs import KEY, KEY2, MN, SA_HA, keys_path, main_file, ok, run, snapshot

SA_MN = {"peer": "10.1.0.1", "spi": 257, "key": KEY}  # the mobile node's SA with its home agent
HA = {"address": "10.1.0.1", "interface": "ha-home", "home_networks": ["10.1.0.0/24"],
      "mobile_hosts": ["10.1.0.0/24"]}


def node(sas: list[dict[str, Any]] | None = None, **mn: Any) -> dict[str, Any]:
    return {"security_associations": {"config": sas or [SA_MN], "state": "replaced"},
            "mobile_node": {"config": {**MN, **mn}, "state": "replaced"}}


def test_a_node_and_its_sa_in_one_run_then_nothing_to_do(files, mipd_bin):
    first = ok(run("mobility_config", files, agent_bin_dir=mipd_bin, **node()))
    assert first["changed"] and set(first["results"]) == {"security_associations", "mobile_node"}
    assert first["written"] == [keys_path(files), files["config_path"]] and first["validated"] is True
    assert first["commands"] == (first["results"]["security_associations"]["commands"]
                                 + first["results"]["mobile_node"]["commands"])
    assert main_file(files)["mobile_node"]["home_agent"] == "10.1.0.1"
    before = snapshot(files["config_path"], keys_path(files))
    second = ok(run("mobility_config", files, agent_bin_dir=mipd_bin, **node()))
    assert second["changed"] is False and second["commands"] == [] and "written" not in second.result
    assert snapshot(files["config_path"], keys_path(files)) == before
    # the same as the two modules would hold: each reports no change either
    assert ok(run("security_associations", files, config=[SA_MN], state="replaced"))["changed"] is False
    assert ok(run("mobile_node", files, config=MN, state="replaced"))["changed"] is False


def test_check_mode_checks_the_section_against_the_sa_before_it(files, mipd_bin):
    """A fresh node in check mode: the mobile_node module alone refuses (no SA with its home agent yet);
    here the SA staged first makes it valid, nothing is written, and the diff shows both."""
    alone = run("mobile_node", files, check=True, config=MN, state="replaced")
    assert alone.failed and "security association with its home agent" in alone.result["msg"]
    before = snapshot(files["config_path"], keys_path(files))
    checked = ok(run("mobility_config", files, check=True, diff=True, agent_bin_dir=mipd_bin, **node()))
    assert checked["changed"] and "written" not in checked.result
    assert [d["before_header"] for d in checked["diff"]] == [keys_path(files), files["config_path"]]
    assert snapshot(files["config_path"], keys_path(files)) == before


def test_one_change_among_several_resources(files, mipd_bin):
    ok(run("mobility_config", files, agent_bin_dir=mipd_bin, **node()))
    changed = ok(run("mobility_config", files, agent_bin_dir=mipd_bin, **node(lifetime=600)))
    assert changed["commands"] == ["mobile_node.lifetime: 1800 -> 600"]
    assert changed["written"] == [files["config_path"]]
    assert changed["results"]["security_associations"]["changed"] is False


def test_a_refused_resource_changes_nothing(files, mipd_bin):
    """The SA is fine, the mobile node section is not (a home agent without its SA): nothing is written,
    the error names the resource and the option."""
    ok(run("mobility_config", files, agent_bin_dir=mipd_bin, **node()))
    before = snapshot(files["config_path"], keys_path(files))
    refused = run("mobility_config", files, agent_bin_dir=mipd_bin, **node(home_agent="10.1.0.2", lifetime=600))
    assert refused.failed and refused.result["msg"].startswith("mobile_node.config: ")
    assert "security association with its home agent 10.1.0.2" in refused.result["msg"]
    assert snapshot(files["config_path"], keys_path(files)) == before
    bad = run("mobility_config", files, agent_bin_dir=mipd_bin, **node(lifetime="often"))
    assert bad.failed and bad.result["msg"].startswith("mobile_node: ") and "lifetime" in bad.result["msg"]
    assert snapshot(files["config_path"], keys_path(files)) == before


def test_keys_are_never_shown(files, mipd_bin):
    """run() asserts no key in stdout or stderr of any of these: the echoed arguments of a success, of a
    refusal by the model, of a refusal by the argument checks, and a key pasted into the wrong option."""
    done = ok(run("mobility_config", files, agent_bin_dir=mipd_bin, **node([SA_MN, {**SA_HA, "key": KEY2}])))
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in str(done.result["invocation"])
    wrong_option = run("mobility_config", files, **node([{**SA_MN, "algorithm": KEY2}]))
    assert wrong_option.failed and "algorithm" in wrong_option.result["msg"]
    bad_state = run("mobility_config", files, security_associations={"config": [SA_MN], "state": "gathered"})
    assert bad_state.failed and "state" in bad_state.result["msg"]
    spi_refused = run("mobility_config", files, **node([{**SA_MN, "spi": 12}]))
    assert spi_refused.failed and spi_refused.result["msg"].startswith("security_associations.config[0].spi: ")


def test_nothing_given_is_refused(files):
    refused = run("mobility_config", files)
    assert refused.failed and "nothing to do" in refused.result["msg"]
