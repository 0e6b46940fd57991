"""The config modules run for real, as Ansible runs them on a host: a subprocess given a JSON
arguments file, editing mipd files in a temporary directory. Every state, check mode, diff mode,
idempotency, keys never in any output, bad options refused before anything is touched."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from pathlib import Path
from typing import Any

import mobileip_helpers as h
import pytest
import yaml
from ansible_collections.netmobility.mobileip.plugins.module_utils import model, states
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux.document import LinuxDocument

KEY = "6d69706420746573742073656372657421"  # distinctive, so a leak is easy to spot
KEY_UPPER = KEY.upper()
KEY2 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
HA = {"address": "10.1.0.1", "interface": "ha-home", "home_networks": ["10.1.0.0/24"],
      "mobile_hosts": ["10.1.0.0/24", "*@example.net"]}
FA = {"interfaces": [{"name": "fa-visit", "address": "10.2.0.1"}], "advertisement": {"interval": 1.0, "lifetime": 3}}
MN = {"home_address": "10.1.0.10", "home_agent": "10.1.0.1", "interfaces": ["mn-eth0"]}
SA_HA = {"peer": "10.1.0.10", "spi": 257, "key": KEY}


def run(name: str, files: dict[str, str], check: bool = False, diff: bool = False, **args: Any) -> h.ModuleRun:
    result = h.run_module(name, {**files, **args}, check=check, diff=diff)
    for secret in (KEY, KEY_UPPER, KEY2, KEY2.upper()):
        assert secret not in result.stdout and secret not in result.stderr, "a key leaked into the module's output"
    return result


def ok(result: h.ModuleRun) -> h.ModuleRun:
    assert not result.failed and result.rc == 0, result.result.get("msg", result.stdout)
    return result


def snapshot(*paths: str) -> dict[str, Any]:
    """Content, mode and mtime of each file (None when absent), to prove nothing was touched."""
    out: dict[str, Any] = {}
    for p in paths:
        try:
            st = os.stat(p)
            out[p] = (Path(p).read_bytes(), stat.S_IMODE(st.st_mode), st.st_mtime_ns)
        except FileNotFoundError:
            out[p] = None
    return out


def install(files: dict[str, str], **resources: Any) -> None:
    """Write the mipd files for `resources` directly (faster than running modules to set a test up)."""
    doc = LinuxDocument()
    for name, config in resources.items():
        res = model.RESOURCES[name]
        doc.set(name, states.build(res, "overridden", res.empty, states.want(res, "overridden", config)))
    path = Path(files["config_path"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc.render_main())
    Path(keys_path(files)).write_text(doc.render_keys())
    os.chmod(keys_path(files), 0o600)


def main_file(files: dict[str, str]) -> dict[str, Any]:
    return yaml.safe_load(Path(files["config_path"]).read_text())


def keys_path(files: dict[str, str]) -> str:
    return str(Path(files["config_path"]).parent / "keys.yaml")


# ---------------------------------------------------------------------- home agent


def test_merged_creates_the_section_then_changes_nothing(files, mipd_bin):
    first = ok(run("home_agent", files, config=HA, agent_bin_dir=mipd_bin))
    assert first["changed"] and first["before"] == {} and first["after"]["max_lifetime"] == 1800
    assert first["written"] == [keys_path(files), files["config_path"]]
    assert first["validated"] is True and first["reloaded"] is False
    assert "home_agent: added" in first["commands"]
    # the agent refuses a configuration without its keys file: an empty one (0600) comes with it
    assert first["commands"][-1] == f"{keys_path(files)}: created (no security associations yet)"
    assert stat.S_IMODE(os.stat(keys_path(files)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(files["config_path"]).st_mode) == 0o644
    assert main_file(files)["home_agent"]["mobile_hosts"] == ["10.1.0.0/24", "*@example.net"]
    before = snapshot(files["config_path"])
    second = ok(run("home_agent", files, config=HA, agent_bin_dir=mipd_bin))
    assert second["changed"] is False and second["commands"] == [] and "written" not in second.result
    assert second["before"] == second["after"] == first["after"]
    assert snapshot(files["config_path"]) == before


def test_nai_hosts_are_written_validated_by_mipd_and_merged_by_nai(files, mipd_bin):
    """RFC 2794: nai_hosts reach mipd's file, which `mipd check-config` accepts; merged by NAI, no change twice."""
    hosts = [{"nai": "mn11@example.net", "home_addresses": ["10.1.0.11"]}]
    first = ok(run("home_agent", files, config={**HA, "nai_hosts": hosts}, agent_bin_dir=mipd_bin))
    assert first["validated"] is True
    assert main_file(files)["home_agent"]["nai_hosts"] == hosts
    more = [{"nai": "mn12@example.net", "home_addresses": ["10.1.0.12"]}]
    second = ok(run("home_agent", files, config={"nai_hosts": more}, agent_bin_dir=mipd_bin))
    assert [h["nai"] for h in main_file(files)["home_agent"]["nai_hosts"]] == ["mn11@example.net", "mn12@example.net"]
    assert second["changed"]
    assert ok(run("home_agent", files, config={"nai_hosts": more}, agent_bin_dir=mipd_bin))["changed"] is False


def test_merged_change_lines_and_a_second_run(files):
    ok(run("home_agent", files, config=HA))
    change = {"max_lifetime": 600, "home_networks": ["10.1.2.0/24"]}
    result = ok(run("home_agent", files, config=change))
    assert result["commands"] == ["home_agent.home_networks: + 10.1.2.0/24", "home_agent.max_lifetime: 1800 -> 600"]
    assert ok(run("home_agent", files, config=change))["changed"] is False


def test_check_mode_computes_and_changes_nothing(files):
    before = snapshot(files["config_path"], keys_path(files))
    result = ok(run("home_agent", files, check=True, config=HA))
    assert result["changed"] and result["after"]["address"] == "10.1.0.1" and "written" not in result.result
    assert snapshot(files["config_path"], keys_path(files)) == before
    ok(run("home_agent", files, config=HA))
    before = snapshot(files["config_path"])
    result = ok(run("home_agent", files, check=True, diff=True, config={"max_lifetime": 900}))
    assert result["changed"] and result["commands"] == ["home_agent.max_lifetime: 1800 -> 900"]
    assert "max_lifetime: 1800" in result["diff"]["before"] and "max_lifetime: 900" in result["diff"]["after"]
    assert result["diff"]["before_header"] == files["config_path"]
    assert snapshot(files["config_path"]) == before


def test_replaced_overridden_deleted(files):
    ok(run("home_agent", files, config={**HA, "max_lifetime": 600, "binding_limit": 5}))
    result = ok(run("home_agent", files, config={**HA, "binding_limit": 5}, state="replaced"))
    assert result["commands"] == ["home_agent.max_lifetime: 600 -> 1800"]
    result = ok(run("home_agent", files, config=HA, state="overridden"))
    assert result["commands"] == ["home_agent.binding_limit: 5 -> 0"]
    result = ok(run("home_agent", files, state="deleted"))
    assert result["commands"] == ["home_agent: removed"] and result["after"] == {}
    assert any("mipd does not start without one" in w for w in result.warnings)
    assert "home_agent" not in (main_file(files) or {})
    assert ok(run("home_agent", files, state="deleted"))["changed"] is False


def test_gathered_rendered_parsed(files):
    assert ok(run("home_agent", files, state="gathered"))["gathered"] == {}
    ok(run("home_agent", files, config=HA))
    gathered = ok(run("home_agent", files, state="gathered"))
    assert gathered["changed"] is False and gathered["gathered"]["address"] == "10.1.0.1"
    offline = {"config_path": "/nonexistent/dir/mipd.yaml"}  # never read or written
    rendered = ok(run("home_agent", offline, config=HA, state="rendered"))
    assert rendered["changed"] is False and yaml.safe_load(rendered["rendered"])["home_agent"]["interface"] == "ha-home"
    parsed = ok(run("home_agent", offline, running_config=Path(files["config_path"]).read_text(), state="parsed"))
    assert parsed["parsed"] == gathered["gathered"]
    assert not Path("/nonexistent/dir").exists()


def test_the_agent_settings_in_the_file_are_kept(files):
    path = Path(files["config_path"])
    path.parent.mkdir(parents=True)
    path.write_text("# hand-written\ndataplane: {backend: userspace, tun: mip7}\ncontrol_socket: ctl.sock\n"
                    "state_sync: full\nlog: {level: debug, file: /var/log/mipd.log}\n")
    ok(run("home_agent", files, config=HA))
    data = main_file(files)
    assert data["dataplane"] == {"backend": "userspace", "tun": "mip7"} and data["state_sync"] == "full"
    assert data["control_socket"] == "ctl.sock" and data["log"]["file"] == "/var/log/mipd.log"
    assert list(data)[:5] == ["dataplane", "control_socket", "state_sync", "log", "home_agent"]


BAD_OPTIONS = [
    ("home_agent", {"config": {**HA, "max_lifetime": 0}}, "config.max_lifetime: must be an integer 1-65535"),
    ("home_agent", {"config": {**HA, "address": "10.1.0.256"}}, "config.address: must be an IPv4 address"),
    ("home_agent", {"config": {**HA, "reverse_tunnel": False, "reverse_tunnel_mandatory": True}},
     "config.reverse_tunnel_mandatory: true needs reverse_tunnel: true"),
    ("home_agent", {"config": {**HA, "encapsulations": ["vxlan"]}}, "encapsulations"),
    ("home_agent", {"config": {"max_lifetime": 5}, "state": "deleted"}, "config: is not used with state=deleted"),
    ("foreign_agent", {"config": {**FA, "advertisement": {"interval": 2.0, "lifetime": 3}}},
     "config.advertisement.interval: 2 s is more than a third"),
    ("foreign_agent", {"config": {"interfaces": [{"name": "fa-visit"}]}}, "config.interfaces[0].address: is required"),
    ("mobile_node", {"config": {**MN, "home_gateway": "10.9.9.9"}}, "config.home_gateway: 10.9.9.9 is not on the home"),
    ("security_associations", {"config": [{**SA_HA, "spi": 100}]},
     "config[0].spi: 0-255 are reserved (RFC 5944 §1.6), got (value hidden)"),
    ("security_associations", {"config": [{**SA_HA, "key": KEY[:-4]}]}, "config[0].key: is 15 bytes"),
    ("security_associations", {"config": [{**SA_HA, "key": KEY[:-1]}]}, "config[0].key: a hex key must be"),
    ("security_associations", {"config": [{**SA_HA, "algorithm": "sha1"}]}, "algorithm"),
    ("registration_filters", {"config": {"care_of": {"rules": [{"action": "deny"}]}}},
     "config.care_of.rules[0]: needs exactly one of prefix or nai"),
    ("home_agent", {"config": HA, "state": "sometimes"}, "state"),
]


@pytest.mark.parametrize(("name", "args", "message"), BAD_OPTIONS, ids=[f"{n}-{m[:30]}" for n, _a, m in BAD_OPTIONS])
def test_a_bad_option_fails_naming_it_and_touches_nothing(files, name, args, message):
    install(files, home_agent=HA, security_associations=[SA_HA])
    before = snapshot(files["config_path"], keys_path(files))
    result = run(name, files, **args)
    assert result.failed and result.rc == 1
    assert message in result["msg"]
    if name == "security_associations":
        assert KEY[:-4] not in result["msg"]
    assert snapshot(files["config_path"], keys_path(files)) == before


def test_a_configuration_the_agent_refuses_is_not_installed(files, tmp_path):
    """mipd check-config has the last word: a refusal fails the task and changes nothing."""
    ok(run("home_agent", files, config=HA))
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mipd").write_text("#!/bin/sh\necho \"mipd: $2: home_agent.interface: no such link\" >&2\nexit 1\n")
    (fake / "mipd").chmod(0o755)
    before = snapshot(files["config_path"], keys_path(files))
    result = run("home_agent", files, config={"max_lifetime": 60}, agent_bin_dir=str(fake))
    assert result.failed
    assert result["msg"] == ("mipd check-config refused the new configuration, nothing was changed: "
                             f"mipd: {files['config_path']}: home_agent.interface: no such link")
    assert snapshot(files["config_path"], keys_path(files)) == before
    assert sorted(os.listdir(Path(files["config_path"]).parent)) == ["keys.yaml", "mipd.yaml"]  # no temporary file


def test_files_are_written_private_whatever_the_umask_and_no_temporary_file_stays(files):
    old = os.umask(0)  # the module inherits it
    try:
        ok(run("home_agent", files, config=HA))
        ok(run("security_associations", files, config=[SA_HA]))
        ok(run("home_agent", files, config={"max_lifetime": 60}))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(keys_path(files)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(files["config_path"]).st_mode) == 0o644
    assert sorted(os.listdir(Path(files["config_path"]).parent)) == ["keys.yaml", "mipd.yaml"]


def have_unshare() -> bool:
    return os.geteuid() == 0 and shutil.which("unshare") is not None and shutil.which("mount") is not None


@pytest.mark.parametrize("keys_before", ["absent", "mode-0644"])
def test_a_failed_rename_puts_the_first_file_back(files, tmp_path, keys_before):
    """The main file is bind-mounted in place (as a container's often is): its rename fails with EBUSY
    after the keys file was replaced; the keys file as it was comes back (or goes, if it was new)."""
    if not have_unshare():
        pytest.skip("needs root, unshare and mount (a private mount namespace)")
    config = Path(files["config_path"])
    config.parent.mkdir(parents=True)
    config.write_text("dataplane: {backend: none, tun: mip0}\n")
    if keys_before == "mode-0644":  # the module rewrites it 0600 along with the main file
        Path(keys_path(files)).write_text(f'security_associations:\n- {{peer: 10.1.0.10, spi: 257, key: "{KEY}"}}\n')
        os.chmod(keys_path(files), 0o644)
    before = snapshot(str(config), keys_path(files))
    inode = os.stat(keys_path(files)).st_ino if keys_before != "absent" else None
    mounted = ("unshare", "--mount", "--propagation", "private", "sh", "-c", f'mount --bind "{config}" "{config}" '
               '&& exec "$@"', "sh")
    result = h.run_module("home_agent", {**files, "config": HA}, prefix=mounted)
    assert KEY not in result.stdout + result.stderr
    assert result.failed
    assert result["msg"] == (f"cannot replace {config}: Device or resource busy; the previous files were put back, "
                             "nothing was changed")
    assert snapshot(str(config), keys_path(files)) == before
    if inode is not None:
        assert os.stat(keys_path(files)).st_ino == inode  # the very file, not a copy
    expected = ["keys.yaml", "mipd.yaml"] if keys_before != "absent" else ["mipd.yaml"]
    assert sorted(os.listdir(config.parent)) == expected  # no temporary file, no backup


def test_a_reload_the_agent_refuses_puts_the_old_files_back(files, tmp_path, mipd_bin):
    """check-config accepted the files, the running agent refused them (another version of it, for one):
    the old files come back and the task fails saying so."""
    install(files, home_agent=HA, security_associations=[SA_HA])
    config = Path(files["config_path"])
    with config.open("a") as f:
        f.write("control_socket: mipd.sock\n")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mipd").symlink_to(Path(mipd_bin) / "mipd")
    (fake / "mipctl").write_text('#!/bin/sh\necho \'{"ok": false, "error": "reload refused: home_agent: '
                                 'not today; the running configuration stays"}\'\nexit 1\n')
    (fake / "mipctl").chmod(0o755)
    before = snapshot(str(config), keys_path(files))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as agent:
        agent.bind(str(config.parent / "mipd.sock"))  # the agent's control socket: it runs
        agent.listen()
        result = run("home_agent", files, config={"max_lifetime": 60}, agent_bin_dir=str(fake))
        rotated = run("security_associations", files, config=[{**SA_HA, "key": KEY2}], agent_bin_dir=str(fake))
    for refused in (result, rotated):
        assert refused.failed and refused["msg"] == (
            "mipd refused to reload the new configuration: reload refused: home_agent: not today; the running "
            "configuration stays; the previous files were put back, nothing was changed")
    assert snapshot(str(config), keys_path(files)) == before
    assert sorted(os.listdir(config.parent)) == ["keys.yaml", "mipd.sock", "mipd.yaml"]


def test_a_reload_still_being_applied_keeps_the_new_files_and_warns(files, tmp_path, mipd_bin):
    """mipctl exit 4: the reload was delivered and is still running (a big keys file): not a refusal, so the
    new files stay and the task warns where to see the outcome."""
    install(files, home_agent=HA, security_associations=[SA_HA])
    config = Path(files["config_path"])
    with config.open("a") as f:
        f.write("control_socket: mipd.sock\n")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mipd").symlink_to(Path(mipd_bin) / "mipd")
    (fake / "mipctl").write_text('#!/bin/sh\necho \'{"ok": false, "error": "no answer within 300 s"}\'\nexit 4\n')
    (fake / "mipctl").chmod(0o755)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as agent:
        agent.bind(str(config.parent / "mipd.sock"))
        agent.listen()
        result = ok(run("home_agent", files, config={"max_lifetime": 60}, agent_bin_dir=str(fake)))
    assert result["changed"] and result["reloaded"] is True
    assert any("still applying" in w for w in result.warnings)
    assert main_file(files)["home_agent"]["max_lifetime"] == 60


# ---------------------------------------------------------------------- foreign agent, mobile node, filters


def test_foreign_agent(files, mipd_bin):
    first = ok(run("foreign_agent", files, config={**FA, "reverse_tunnel": "off"}, agent_bin_dir=mipd_bin))
    assert first["validated"] and main_file(files)["foreign_agent"]["reverse_tunnel"] == "off"
    more = {"interfaces": [{"name": "fa-two", "address": "10.3.0.1"}]}
    result = ok(run("foreign_agent", files, config=more, agent_bin_dir=mipd_bin))
    assert result["commands"] == ["foreign_agent.interfaces[fa-two]: added (address=10.3.0.1, prefix_length=24, "
                                  "care_of_addresses=[10.3.0.1])"]
    assert ok(run("foreign_agent", files, config=more))["changed"] is False
    result = ok(run("foreign_agent", files, config={"interfaces": [{"name": "fa-two", "address": "10.3.0.9"}]},
                    state="replaced"))
    assert [i["name"] for i in result["after"]["interfaces"]] == ["fa-visit", "fa-two"]
    assert result["after"]["reverse_tunnel"] == "offered"  # replaced: back to the default


def test_mobile_node_needs_its_security_association_first(files, mipd_bin):
    result = run("mobile_node", files, config=MN)
    assert result.failed and "needs a security association with its home agent 10.1.0.1" in result["msg"]
    assert not Path(files["config_path"]).exists()
    ok(run("security_associations", files, config=[{"peer": "10.1.0.1", "spi": 257, "key": KEY}]))
    result = ok(run("mobile_node", files, config=MN, agent_bin_dir=mipd_bin))
    assert result["validated"] and result["after"]["home_agent"] == "10.1.0.1"
    conflict = run("home_agent", files, config=HA)
    assert conflict.failed and "either a mobile node or a home/foreign agent" in conflict["msg"]


def test_registration_filters(files, mipd_bin):
    rules = {"care_of": {"rules": [{"action": "deny", "prefix": "192.0.2.0/24"}]}}
    result = run("registration_filters", files, config=rules)
    assert result.failed and "config.care_of: this host has no home_agent section" in result["msg"]
    ok(run("home_agent", files, config=HA))
    result = ok(run("registration_filters", files, config=rules, agent_bin_dir=mipd_bin))
    assert result["commands"] == ["home_agent.filters.care_of.rules: [] -> [deny 192.0.2.0/24]"]
    assert main_file(files)["home_agent"]["filters"] == {"care_of": {"default": "permit", "rules": [
        {"action": "deny", "prefix": "192.0.2.0/24"}]}}
    assert ok(run("registration_filters", files, config=rules))["changed"] is False
    assert ok(run("home_agent", files, config={**HA, "max_lifetime": 900}, state="replaced"))["changed"]
    assert main_file(files)["home_agent"]["filters"]["care_of"]["rules"]  # the HA module keeps the filters
    result = ok(run("registration_filters", files, state="deleted"))
    assert result["after"]["care_of"] == {"default": "permit", "rules": []}
    assert "filters" not in main_file(files)["home_agent"]


# ---------------------------------------------------------------------- security associations and keys


def test_keys_file_is_root_only_and_keys_never_leave(files, mipd_bin):
    ok(run("home_agent", files, config=HA))
    result = ok(run("security_associations", files, diff=True, agent_bin_dir=mipd_bin,
                    config=[{**SA_HA, "key": KEY_UPPER}, {"peer": "mn@example.net", "spi": 300, "key": KEY2}]))
    assert result["validated"] and stat.S_IMODE(os.stat(keys_path(files)).st_mode) == 0o600
    assert result["after"][0]["key_fingerprint"].startswith("sha256:") and "key" not in result["after"][0]
    assert "key_fingerprint" in result["diff"]["after"] and result["diff"]["before_header"] == keys_path(files)
    assert "key set" in result["commands"][0]
    assert KEY in Path(keys_path(files)).read_text()  # only the keys file holds it (lower-case hex)
    for state in ("gathered",):
        assert ok(run("security_associations", files, state=state))["gathered"] == result["after"]
    rendered = ok(run("security_associations", files, state="rendered", config=[SA_HA]))["rendered"]
    assert "********" in rendered
    parsed = ok(run("security_associations", files, state="parsed",
                    running_config=Path(keys_path(files)).read_text()))["parsed"]
    assert parsed == result["after"]
    again = ok(run("security_associations", files, config=[{**SA_HA, "key": "0x" + KEY_UPPER}]))
    assert again["changed"] is False  # the same key written differently


@pytest.mark.parametrize("option", ["peer", "spi", "algorithm", "replay", "replay_window", "key_format", "fallback",
                                    "roles", "kind"])
def test_a_key_in_the_wrong_option_is_hidden_from_the_failure(files, option):
    """A second key pasted into another option (a rotation's next key in the wrong variable): Ansible's own
    type/choice error and the model's name the option and say "(value hidden)", the echoed arguments too."""
    sa = {"peer": "10.1.0.10", "spi": 257, "key": KEY, option: [KEY2] if option == "roles" else KEY2}
    result = run("security_associations", files, config=[sa])  # run() asserts neither key is in the output
    assert result.failed and option in result.result["msg"] and "(value hidden)" in result.result["msg"]
    assert result.result["invocation"]["module_args"]["config"][0][option] in ("(value hidden)", ["(value hidden)"])


def test_key_rotation_with_overlap(files, mipd_bin):
    ok(run("home_agent", files, config=HA))
    ok(run("security_associations", files, config=[SA_HA]))
    add = ok(run("security_associations", files, check=True, diff=True,
                 config=[{"peer": "10.1.0.10", "spi": 258, "key": KEY2}]))
    assert add["changed"] and add["commands"][0].startswith("security_associations[10.1.0.10 spi 258]: added")
    assert len(main_sas(files)) == 1  # check mode
    ok(run("security_associations", files, config=[{"peer": "10.1.0.10", "spi": 258, "key": KEY2}],
           agent_bin_dir=mipd_bin))
    assert [sa["spi"] for sa in main_sas(files)] == [257, 258]
    done = ok(run("security_associations", files, config=[{"peer": "10.1.0.10", "spi": 257}], state="deleted"))
    assert done["commands"] == ["security_associations[10.1.0.10 spi 257]: removed"]
    assert [sa["spi"] for sa in main_sas(files)] == [258]


def main_sas(files: dict[str, str]) -> list[dict[str, Any]]:
    return yaml.safe_load(Path(keys_path(files)).read_text())["security_associations"]


def test_a_readable_keys_file_is_made_root_only(files):
    ok(run("security_associations", files, config=[SA_HA]))
    os.chmod(keys_path(files), 0o644)
    result = ok(run("security_associations", files, config=[SA_HA]))
    assert result["commands"] == [f"{keys_path(files)}: mode 0644 -> 0600"]
    assert stat.S_IMODE(os.stat(keys_path(files)).st_mode) == 0o600
    assert ok(run("security_associations", files, config=[SA_HA]))["changed"] is False


def test_a_key_change_says_changed_and_nothing_more(files):
    ok(run("security_associations", files, config=[SA_HA]))
    result = ok(run("security_associations", files, diff=True, config=[{**SA_HA, "key": KEY2}]))
    assert result["commands"] == ["security_associations[10.1.0.10 spi 257].key: changed"]
    assert result["before"][0]["key_fingerprint"] != result["after"][0]["key_fingerprint"]


def test_kind_is_accepted_and_not_stored_on_linux(files):
    ok(run("security_associations", files, config=[{**SA_HA, "kind": "host", "roles": ["home_agent"]}]))
    assert main_sas(files)[0]["roles"] == ["home_agent"] and "kind" not in main_sas(files)[0]
    assert ok(run("security_associations", files, config=[{**SA_HA, "kind": "host"}]))["changed"] is False


def test_keys_path_option(files, tmp_path):
    elsewhere = str(tmp_path / "secret" / "mip-keys.yaml")
    ok(run("security_associations", files, config=[SA_HA], keys_path=elsewhere))
    assert stat.S_IMODE(os.stat(elsewhere).st_mode) == 0o600 and not Path(keys_path(files)).exists()
    result = ok(run("home_agent", files, config=HA, keys_path=elsewhere))
    assert f"keys_file: (absent) -> {elsewhere}" in result["commands"]
    assert main_file(files)["keys_file"] == elsewhere
    assert ok(run("security_associations", files, state="gathered"))["gathered"][0]["peer"] == "10.1.0.10"
    wrong = run("home_agent", files, config=HA, keys_path=str(tmp_path / "other.yaml"))
    assert wrong.failed and wrong["msg"].startswith(f"keys_path: {tmp_path / 'other.yaml'} is not the keys file")


def test_unreadable_or_broken_files_fail_clearly(files):
    path = Path(files["config_path"])
    path.parent.mkdir(parents=True)
    path.write_text("home_agent: [1, 2\n")
    result = run("home_agent", files, state="gathered")
    assert result.failed and result["msg"].startswith(f"{path}: not valid YAML (line")
    path.write_text("home_agent:\n  address: 10.1.0.1\n  interface: eth0\n  home_networks: [10.1.0.0/24]\n"
                    "  max_lifetime: nope\n")
    result = run("home_agent", files, config={"binding_limit": 3})
    assert result.failed and result["msg"] == (
        f"home_agent.max_lifetime: must be an integer 1-65535, got 'nope' (in {path})")


# ---------------------------------------------------------------------- every state of every config module

SETUP = {"mobile_node": {"security_associations": [{"peer": "10.1.0.1", "spi": 257, "key": KEY}]},
         "registration_filters": {"home_agent": HA, "foreign_agent": FA}}
# per module: a complete config, a partial change (merged), what `replaced` is given, another complete config
STATES = {
    "home_agent": (HA, {"max_lifetime": 600}, HA, {**HA, "interface": "ha-other"}),
    "foreign_agent": (FA, {"visitor_limit": 9}, FA, {"interfaces": [{"name": "fa-two", "address": "10.3.0.1"}]}),
    "mobile_node": (MN, {"lifetime": 600}, MN, {**MN, "interfaces": ["wlan0"]}),
    "security_associations": ([SA_HA], [{"peer": "10.1.0.10", "spi": 258, "key": KEY2}], [SA_HA],
                              [{"peer": "mn@example.net", "spi": 300, "key": KEY2}]),
    "registration_filters": ({"roaming": {"rules": [{"action": "deny", "nai": "guest*@example.net"}]}},
                             {"home_agents": {"default": "deny",
                                              "rules": [{"action": "permit", "prefix": "10.1.0.1"}]}},
                             {"home_agents": {"default": "permit"}},
                             {"care_of": {"rules": [{"action": "deny", "prefix": "192.0.2.0/24"}]}}),
}


@pytest.mark.parametrize("name", sorted(STATES))
def test_every_state(files, name):
    """merged, replaced, overridden and deleted change, then change nothing the second time;
    gathered returns what is there; rendered and parsed work without touching the host."""
    install(files, **SETUP.get(name, {}))
    config, change, replacement, other = STATES[name]
    path = keys_path(files) if name == "security_associations" else files["config_path"]
    for state, value in (("merged", config), ("merged", change), ("replaced", replacement), ("overridden", other),
                         ("deleted", None)):
        args = {"state": state} if value is None else {"state": state, "config": value}
        first = ok(run(name, files, diff=True, **args))
        assert first["changed"] and first["commands"], (state, first.result)
        assert first["diff"]["before"] != first["diff"]["after"]
        again = ok(run(name, files, **args))
        assert again["changed"] is False and again["commands"] == [], (state, again.result)
    expected = ok(run(name, files, state="overridden", config=other))["after"]
    assert ok(run(name, files, state="gathered"))["gathered"] == expected
    before = snapshot(files["config_path"], keys_path(files))
    offline = {"config_path": "/nonexistent/mipd.yaml"}
    rendered = ok(run(name, offline, state="rendered", config=other))["rendered"]
    assert rendered and KEY2 not in rendered
    assert ok(run(name, offline, state="parsed", running_config=Path(path).read_text()))["parsed"] == expected
    assert snapshot(files["config_path"], keys_path(files)) == before
