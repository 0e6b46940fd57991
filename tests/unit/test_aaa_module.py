"""The aaa module on a Linux host (issue 12): the home agent's RADIUS client as mipd's `radius:` section, the
shared secrets in the keys file beside the SAs. Real module runs (a subprocess, as Ansible runs them), real
`mipd check-config`; every state, check and diff mode; secrets never in any output; each of aaa and
security_associations keeps what the other put in the keys file; bad input refused naming the option."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_module_runs import HA, KEY, SA_HA, install, keys_path, main_file, ok, snapshot
from test_module_runs import run as run_module

SECRET = "radius-shared-secret-one-0123"  # distinctive, so a leak is easy to spot
SECRET2 = "radius-shared-secret-two-4567"
SECRET3 = "radius-shared-secret-new-8901"
AAA = {"servers": [{"address": "192.0.2.50", "secret": SECRET},
                   {"address": "192.0.2.51", "port": 1645, "secret": SECRET2}],
       "source_address": "10.1.0.1", "timeout": 1.5, "dead_time": 10}


def run(name: str, files: dict[str, str], **args: Any):
    result = run_module(name, files, **args)  # asserts no SA key in the output
    for secret in (SECRET, SECRET2, SECRET3):
        assert secret not in result.stdout and secret not in result.stderr, "a RADIUS secret leaked"
    return result


def keys_file(files: dict[str, str]) -> dict[str, Any]:
    return yaml.safe_load(Path(keys_path(files)).read_text())


@pytest.fixture
def ha(files: dict[str, str]) -> dict[str, str]:
    """A home agent with one SA with a mobile node."""
    install(files, home_agent=HA, security_associations=[SA_HA])
    return files


def test_merged_writes_the_radius_section_and_the_secrets_validated_by_mipd(ha, mipd_bin):
    first = ok(run("aaa", ha, diff=True, config=AAA, agent_bin_dir=mipd_bin))
    assert first["changed"] and first["validated"] is True and first["written"] == [keys_path(ha), ha["config_path"]]
    radius = main_file(ha)["radius"]
    assert radius["servers"] == [{"address": "192.0.2.50", "port": 1812}, {"address": "192.0.2.51", "port": 1645}]
    assert (radius["timeout"], radius["dead_time"], radius["cache_lifetime"]) == (1.5, 10, "binding")
    assert keys_file(ha)["radius_secrets"] == {"192.0.2.50": SECRET, "192.0.2.51:1645": SECRET2}
    assert keys_file(ha)["security_associations"][0]["key"] == KEY  # the SAs stay
    assert stat.S_IMODE(os.stat(keys_path(ha)).st_mode) == 0o600
    assert "aaa.servers[192.0.2.50]: added (port=1812, secret set)" in first["commands"]
    servers = first["after"]["servers"]
    assert all(s["secret_fingerprint"].startswith("sha256:") and "secret" not in s for s in servers)
    assert "secret_fingerprint" in first["diff"]["after"] and first["diff"]["before"] == ""
    before = snapshot(ha["config_path"], keys_path(ha))
    again = ok(run("aaa", ha, config=AAA, agent_bin_dir=mipd_bin))
    assert again["changed"] is False and again["commands"] == []
    assert snapshot(ha["config_path"], keys_path(ha)) == before


def test_security_associations_keep_the_secrets_and_aaa_keeps_the_sas(ha, mipd_bin):
    ok(run("aaa", ha, config=AAA))
    more = [{"peer": "10.1.0.11", "spi": 300, "key": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}]
    ok(run("security_associations", ha, config=more, agent_bin_dir=mipd_bin))
    assert keys_file(ha)["radius_secrets"] == {"192.0.2.50": SECRET, "192.0.2.51:1645": SECRET2}
    ok(run("security_associations", ha, state="overridden", config=[SA_HA], agent_bin_dir=mipd_bin))
    assert keys_file(ha)["radius_secrets"] == {"192.0.2.50": SECRET, "192.0.2.51:1645": SECRET2}
    changed = ok(run("aaa", ha, config={"servers": [{"address": "192.0.2.50", "secret": SECRET3}]},
                     agent_bin_dir=mipd_bin))
    assert changed["commands"] == ["aaa.servers[192.0.2.50].secret: changed"]
    assert keys_file(ha)["radius_secrets"]["192.0.2.50"] == SECRET3
    assert [sa["peer"] for sa in keys_file(ha)["security_associations"]] == ["10.1.0.10"]
    deleted = ok(run("aaa", ha, state="deleted", agent_bin_dir=mipd_bin))
    assert deleted["commands"] == ["aaa: removed"] and "radius" not in main_file(ha)
    assert "radius_secrets" not in keys_file(ha) and keys_file(ha)["security_associations"][0]["key"] == KEY


def test_merged_changes_one_option_and_keeps_the_secrets(ha):
    ok(run("aaa", ha, config=AAA))
    result = ok(run("aaa", ha, config={"retries": 4, "cache_lifetime": 3600}))
    assert result["commands"] == ["aaa.retries: 2 -> 4", "aaa.cache_lifetime: 0 -> 3600"]
    assert main_file(ha)["radius"]["cache_lifetime"] == 3600
    assert keys_file(ha)["radius_secrets"]["192.0.2.50"] == SECRET


def test_every_state(ha):
    other = {"servers": [{"address": "192.0.2.60", "secret": SECRET3}]}
    for state, value in (("merged", AAA), ("merged", {"timeout": 3.0}), ("replaced", AAA), ("overridden", other),
                         ("deleted", None)):
        args = {"state": state} if value is None else {"state": state, "config": value}
        first = ok(run("aaa", ha, diff=True, **args))
        assert first["changed"] and first["commands"] and first["diff"]["before"] != first["diff"]["after"], state
        again = ok(run("aaa", ha, **args))
        assert again["changed"] is False and again["commands"] == [], state
    after = ok(run("aaa", ha, state="overridden", config=other))["after"]
    assert ok(run("aaa", ha, state="gathered"))["gathered"] == after
    before = snapshot(ha["config_path"], keys_path(ha))
    offline = {"config_path": "/nonexistent/mipd.yaml"}
    rendered = ok(run("aaa", offline, state="rendered", config=other))["rendered"]
    assert "radius:" in rendered and '"192.0.2.60": "********"' in rendered.replace("192.0.2.60:", '"192.0.2.60":')
    both = Path(ha["config_path"]).read_text() + Path(keys_path(ha)).read_text()
    assert ok(run("aaa", offline, state="parsed", running_config=both))["parsed"] == after
    main_only = ok(run("aaa", offline, state="parsed", running_config=Path(ha["config_path"]).read_text()))["parsed"]
    assert main_only["servers"] == [{"address": "192.0.2.60", "port": 1812}]  # the secret is in the keys file
    assert ok(run("aaa", offline, state="parsed", running_config=rendered))["parsed"] == main_only
    assert snapshot(ha["config_path"], keys_path(ha)) == before


def test_check_mode_changes_nothing(ha):
    before = snapshot(ha["config_path"], keys_path(ha))
    result = ok(run("aaa", ha, check=True, diff=True, config=AAA))
    assert result["changed"] and "written" not in result.result and "secret_fingerprint" in result["diff"]["after"]
    assert snapshot(ha["config_path"], keys_path(ha)) == before


BAD = [
    ({"servers": [{"address": "192.0.2.50", "secret": "short-secret"}]}, "config.servers[0].secret: is 12 bytes"),
    ({"servers": [{"address": "192.0.2.50"}]}, "config.servers[0].secret: is required"),
    ({"servers": [{"address": "192.0.2.50", "secret": SECRET}], "cache_lifetime": 30},
     "config.refresh_margin: 60 must be shorter than cache_lifetime (30)"),
    ({"servers": [{"address": "192.0.2.50", "secret": SECRET}], "timeout": 0}, "config.timeout:"),
    ({"servers": []}, "config.servers: needs at least 1 item"),
    ({"servers": [{"address": SECRET2, "secret": SECRET}]},
     "config.servers[0].address: must be an IPv4 address, got '(value hidden)'"),
]


@pytest.mark.parametrize(("config", "message"), BAD, ids=[m[:40] for _c, m in BAD])
def test_bad_input_is_refused_naming_the_option_and_touches_nothing(ha, config, message):
    before = snapshot(ha["config_path"], keys_path(ha))
    result = run("aaa", ha, config=config)  # run() asserts no secret is in the output
    assert result.failed and message in result["msg"], result["msg"]
    assert snapshot(ha["config_path"], keys_path(ha)) == before


def test_a_foreign_agent_fetches_its_fa_ha_sas_from_radius(files, mipd_bin):
    install(files, foreign_agent={"interfaces": [{"name": "fa-visit", "address": "10.2.0.1"}]})
    first = ok(run("aaa", files, config=AAA, agent_bin_dir=mipd_bin))
    assert first["changed"] and first["validated"] is True  # mipd check-config took it
    assert main_file(files)["radius"]["servers"][0] == {"address": "192.0.2.50", "port": 1812}


def test_only_a_home_or_foreign_agent_fetches_sas_from_radius(files):
    result = run("aaa", files, config=AAA)
    assert result.failed and result["msg"].startswith("config: only a home agent (mobile nodes' SAs")


def test_a_secret_the_keys_file_names_by_address_and_port_keeps_its_name(ha, mipd_bin):
    """mipd looks a secret up by "address:port", then "address": a secret already there under either name is
    not rewritten when it does not change."""
    text = Path(keys_path(ha)).read_text() + f'radius_secrets:\n  "192.0.2.50:1812": "{SECRET}"\n'
    Path(keys_path(ha)).write_text(text)
    with open(ha["config_path"], "a") as f:
        f.write("radius:\n  servers:\n    - {address: 192.0.2.50}\n  cache_lifetime: binding\n")
    gathered = ok(run("aaa", ha, state="gathered"))["gathered"]
    assert gathered["servers"][0]["secret_fingerprint"].startswith("sha256:")
    result = ok(run("aaa", ha, config={"servers": [{"address": "192.0.2.50", "secret": SECRET}], "retries": 3},
                    agent_bin_dir=mipd_bin))
    assert result["commands"] == ["aaa.retries: 2 -> 3"] and result["validated"]
    assert keys_file(ha)["radius_secrets"] == {"192.0.2.50:1812": SECRET}


def test_parsing_one_resource_from_the_keys_file_hides_the_other_ones_keys(ha):
    """running_config is echoed in the module's arguments: parsing the SAs out of a keys file that also holds
    RADIUS secrets (and the other way round) must hide both, also when the parse fails."""
    ok(run("aaa", ha, config=AAA))
    text = Path(keys_path(ha)).read_text()
    offline = {"config_path": "/nonexistent/mipd.yaml"}
    assert ok(run("security_associations", offline, state="parsed", running_config=text))["parsed"][0]["peer"]
    assert ok(run("aaa", offline, state="parsed", running_config=text))["parsed"] == {}
    broken = text.replace("radius_secrets:", "radius_secrets:\n  not-an-address: 7\n  ")
    assert run("aaa", offline, state="parsed", running_config=broken).failed


@pytest.mark.ansible
def test_home_agent_role_sets_the_radius_client_from_the_inventory(ha, tmp_path):
    """roles/home_agent tasks/aaa.yml: servers from mip_radius_servers, secrets from mip_radius_secrets (the
    vault's), no secret in ansible-playbook's output at -vvv; removed with []; left alone when unset."""
    import subprocess

    import mobileip_helpers as h

    def play(host_vars: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        inventory = {"all": {"hosts": {"ha1": {"ansible_connection": "local",
                                               "ansible_python_interpreter": str(h.VENV_BIN / "python"),
                                               "agent_config_path": ha["config_path"],
                                               "agent_keys_path": keys_path(ha), "agent_bin_dir": None,
                                               **host_vars}}}}
        (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
        (tmp_path / "play.yml").write_text(yaml.safe_dump([{"hosts": "ha1", "gather_facts": False, "tasks": [
            {"ansible.builtin.include_role": {"name": "netmobility.mobileip.home_agent", "tasks_from": "aaa"}}]}]))
        proc = subprocess.run([str(h.VENV_BIN / "ansible-playbook"), "-vvv", "-i", str(tmp_path / "hosts.yml"),
                               str(tmp_path / "play.yml")], capture_output=True, text=True, timeout=300, check=False,
                              env=h.subprocess_env(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "at")))
        for secret in (SECRET, SECRET2, KEY):
            assert secret not in proc.stdout + proc.stderr, "a secret in ansible-playbook's output"
        return proc

    servers = [{"address": "192.0.2.50"}, {"address": "192.0.2.51", "port": 1645, "secret": SECRET2}]
    proc = play({"mip_radius_servers": servers, "mip_radius_secrets": {"192.0.2.50": SECRET}})
    assert proc.returncode == 0 and "aaa.servers[192.0.2.50]: added" in proc.stdout, proc.stdout[-3000:]
    assert keys_file(ha)["radius_secrets"] == {"192.0.2.50": SECRET, "192.0.2.51:1645": SECRET2}
    unset = play({})
    assert unset.returncode == 0 and "radius" in main_file(ha)
    refused = play({"mip_radius_servers": [{"address": "192.0.2.50"}]})  # no secret anywhere
    assert refused.returncode != 0 and "config.servers[0].secret: is required" in refused.stdout
    gone = play({"mip_radius_servers": []})
    assert gone.returncode == 0 and "radius" not in main_file(ha) and "radius_secrets" not in keys_file(ha)
