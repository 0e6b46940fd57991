"""The collection's playbooks over real SSH: site.yml, verify.yml and rotate_keys.yml against a namespace lab.

One lab is shared by the tests of this module (a module-scoped fixture): lab_up.yml with its own prefix
(``msite<pid>``), management network, inventory file and state directory, so it collides with neither
the lab tests nor another run; two mobile nodes, mn1 roamed to visit1 (foreign agent fa1, which also has
an FA-HA key) and mn2 to visit2 (fa2); short registration lifetimes so the nodes keep re-registering. It
is always removed at the end (lab_down.yml, then the lab's Python API), also when a test fails. The
tests run in file order: check mode on fresh hosts, deploy (at -vvv with --diff), second run, check mode,
bad options, rotation (at -vvv with --diff), the key leak checks: Ansible output, then the agents' logs
(at debug level throughout), `mipctl` output and state databases on every host.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import time

import pytest
import site_helpers as sh

PREFIX = f"msite{os.getpid() % 10_000_000}"
CARE_OF = {"mn1": "10.100.2.1", "mn2": "10.100.3.1"}
HOME = {"mn1": "10.100.1.10", "mn2": "10.100.1.11"}
VERIFY_CARE_OF = ["-e", '{"verify_care_of": {"mn1": "10.100.2.1", "mn2": "10.100.3.1"}}']

pytestmark = [
    pytest.mark.lab,
    pytest.mark.ansible,
    pytest.mark.skipif(sh.unavailable() is not None, reason=str(sh.unavailable())),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    lab = sh.SiteLab(tmp_path_factory.mktemp("site"), PREFIX)
    lab.extra += ["-e", "agent_log_level=debug"]  # every run: the most the agents ever log, for the leak check
    try:
        lab.up()
        lab.roam("mn1", "visit1")
        lab.roam("mn2", "visit2")
        yield lab
    finally:
        lab.teardown()


def test_check_mode_on_fresh_hosts_changes_nothing(lab):
    """site.yml --check --diff on hosts that have nothing yet succeeds, reports what it would do for every host
    (a mobile node's section in its diff: checked against the SA with its home agent that the same module
    run would add first) and leaves nothing behind: no agent directory on any host, no wheel built on the
    controller."""
    proc, recap = lab.ok("site.yml", "--check", "--diff")
    assert all(recap[h]["changed"] > 0 for h in lab.hosts()), proc.stdout[-3000:]
    assert "+mobile_node:" in proc.stdout and "security association with its home agent" not in proc.stdout
    assert not (lab.state_dir / "agents").exists()
    assert not (lab.tmp / "wheels").exists()


def test_site_brings_up_home_agent_foreign_agents_and_mobile_nodes(lab):
    """site.yml on a fresh lab installs and starts mipd everywhere; both nodes register with code 0 through
    their foreign agents (verify.yml passes with the expected care-of addresses) and mipctl on the home agent,
    the foreign agents and the nodes shows the bindings, visitors and registrations."""
    start = time.monotonic()
    proc, recap = lab.ok("site.yml", "-vvv", "--diff")  # for the key leak check: the most Ansible prints
    lab.first_run = time.monotonic() - start
    assert set(recap) == set(lab.hosts())
    assert all(recap[h]["changed"] > 0 for h in lab.hosts()), proc.stdout[-3000:]
    proc = lab.ok("verify.yml", *VERIFY_CARE_OF)[0]
    assert "mn1 bound via 10.100.2.1 (code 0)" in proc.stdout and "mn2 bound via 10.100.3.1 (code 0)" in proc.stdout
    bindings = {b["home_address"]: b["care_of_address"] for b in lab.mipctl("ha", "bindings")}
    assert bindings == {HOME["mn1"]: CARE_OF["mn1"], HOME["mn2"]: CARE_OF["mn2"]}
    assert [v["home_address"] for v in lab.mipctl("fa1", "visitors")] == [HOME["mn1"]]
    assert [v["home_address"] for v in lab.mipctl("fa2", "visitors")] == [HOME["mn2"]]
    for mn in lab.mobile_nodes:
        reg = lab.mipctl(mn, "registration")
        assert reg["registered"] and reg["last_reply_code"] == 0 and reg["care_of_address"] == CARE_OF[mn]
    status = lab.mipctl("ha", "status")
    assert status["roles"] == ["home_agent"] and status["dataplane"] == "userspace"
    assert status["config"] == str(lab.agent_dir("ha") / "etc/mipd/mipd.yaml")
    keys = lab.agent_dir("ha") / "etc/mipd/keys.yaml"
    assert oct(keys.stat().st_mode & 0o777) == "0o600"


def test_second_site_run_changes_nothing(lab):
    """A second site.yml reports changed=0 for every host (PLAY RECAP) and restarts no agent."""
    pids = lab.pids()
    start = time.monotonic()
    proc, recap = lab.ok("site.yml")
    lab.second_run = time.monotonic() - start
    assert {h: r["changed"] for h, r in recap.items()} == dict.fromkeys(lab.hosts(), 0), proc.stdout[-4000:]
    assert lab.pids() == pids
    print(f"\nsite.yml: first run {lab.first_run:.1f} s, second run {lab.second_run:.1f} s")


def test_check_mode_changes_nothing(lab):
    """site.yml --check --diff after a change of inventory (a longer lifetime on the home agent) reports the
    change for the home agent only, and every host's configuration and keys files keep their checksums."""
    before, pids = lab.checksums(), lab.pids()
    proc, recap = lab.ok("site.yml", "--check", "--diff", "-e", "home_agent_max_lifetime=900")
    assert recap["ha"]["changed"] > 0 and "-  max_lifetime: 1800\n+  max_lifetime: 900" in proc.stdout
    assert all(recap[h]["changed"] == 0 for h in lab.hosts() if h != "ha"), proc.stdout[-4000:]
    assert lab.checksums() == before
    assert lab.pids() == pids


def service(lab: sh.SiteLab, host: str, command: str) -> str:
    """The agent's supervisor script (role agent) on `host`: status, stop, ..."""
    script = lab.agent_dir(host) / "opt/mipd/bin/mipd-service"
    return subprocess.run(["ip", "netns", "exec", f"{lab.prefix}-{host}", str(script), command],
                          capture_output=True, text=True, timeout=60, check=False).stdout


def test_drift_is_repaired_where_it_is_and_nowhere_else(lab):
    """What site.yml finds in its one look at each host decides what it does there: a mipd stopped behind its
    back (fa2) is started again, a directory with another mode (mn2's configuration directory) is put back,
    and the other hosts report changed=0 and keep their agents. agent_state=stopped on one node stops its
    mipd; the next plain run starts it again, and only there."""
    config_dir = lab.agent_dir("mn2") / "etc/mipd"
    assert service(lab, "fa2", "stop").startswith("stopped")
    config_dir.chmod(0o700)
    pids = lab.pids()
    proc, recap = lab.ok("site.yml")
    changed = {h for h, r in recap.items() if r["changed"]}
    assert changed == {"fa2", "mn2"}, proc.stdout[-4000:]
    assert service(lab, "fa2", "status").startswith("running")
    assert oct(config_dir.stat().st_mode & 0o777) == "0o755"
    assert {h: p for h, p in lab.pids().items() if h != "fa2"} == {h: p for h, p in pids.items() if h != "fa2"}

    proc, recap = lab.ok("site.yml", "--limit", "mn1", "-e", "agent_state=stopped")
    assert recap["mn1"]["changed"] > 0 and service(lab, "mn1", "status").startswith("stopped")
    pids = lab.pids()
    proc, recap = lab.ok("site.yml")
    assert {h for h, r in recap.items() if r["changed"]} == {"mn1"}, proc.stdout[-4000:]
    assert service(lab, "mn1", "status").startswith("running")
    assert {h: p for h, p in lab.pids().items() if h != "mn1"} == {h: p for h, p in pids.items() if h != "mn1"}


@pytest.mark.parametrize(("option", "value", "named"), [
    ("mip_mn_ha_spi", "12", re.compile(r"config\[\d+\]\.spi: 0-255 are reserved .*mip_mn_ha_spi")),
    ("mip_mn_ha_key", "0123456789abcdef0123456789abcdef0",
     re.compile(r"config\[\d+\]\.key: .*even number of hex digits.*mip_mn_ha_key")),
], ids=["spi-12", "key-odd-hex-length"])
def test_bad_option_fails_clearly_and_touches_nothing(lab, option, value, named):
    """A bad SPI (12) or a key of odd hex length, for every mobile node, fails site.yml in its validation play
    with a message naming the option, before any host is touched (all files keep their checksums, no agent
    restarts), and the bad key itself is not printed."""
    before, pids = lab.checksums(), lab.pids()
    proc = lab.playbook("site.yml", "-e", f"{option}={value}")
    assert proc.returncode != 0
    assert named.search(proc.stdout), proc.stdout[-4000:]
    assert "PLAY [Home agents]" not in proc.stdout  # stopped in the validation play
    assert lab.checksums() == before
    assert lab.pids() == pids
    if option == "mip_mn_ha_key":
        assert value not in proc.stdout + proc.stderr


def test_rotate_keys_without_a_failed_registration(lab):
    """rotate_keys.yml --check --diff lists the SA changes (fingerprints only) and changes nothing; the real
    rotation completes while the nodes keep re-registering every few seconds: the home agent's and the nodes'
    denial counters do not move, verify.yml passes, only the new SPIs are loaded, and the nodes' registration
    requests now carry the new SPI (captured on mn1's link). With the new keys promoted to the current ones in
    the inventory, site.yml changes nothing."""
    everything = (lab.inventory, lab.keys_inventory, lab.next_inventory)
    before = lab.checksums()
    proc, recap = lab.ok("rotate_keys.yml", "--check", "--diff", "-vvv", inventories=everything)
    assert "security_associations[10.100.1.10 spi 258]: added" in proc.stdout
    assert "security_associations[10.100.1.10 spi 257]: removed" in proc.stdout
    assert lab.checksums() == before

    def denials() -> dict[str, dict[str, int]]:
        return {"ha": lab.denied("ha", "home_agent")} | {mn: lab.denied(mn, "mobile_node") for mn in lab.mobile_nodes}

    denied_before = denials()
    accepted_before = lab.mipctl("ha", "counters")["roles"]["home_agent"].get("accepted.registration", 0)
    assert lab.capture_request_spis("mn1") == [lab.spi]
    start = time.monotonic()
    proc, recap = lab.ok("rotate_keys.yml", "-vvv", "--diff", "-e", "rotate_keys_serial=1", inventories=everything)
    took = time.monotonic() - start
    assert "registrations refused during it: 0" in proc.stdout
    assert denials() == denied_before
    accepted = lab.mipctl("ha", "counters")["roles"]["home_agent"].get("accepted.registration", 0) - accepted_before
    # each node re-registered with its new SPI at least once (at once, on the reload that brought it); its
    # renewals, every lifetime - margin = 10 s, add more the longer the rotation takes, and none was refused
    assert accepted >= len(lab.mobile_nodes)
    assert sorted((sa["peer"], sa["spi"]) for sa in lab.mipctl("ha", "sas")) == sorted(
        [(HOME[mn], lab.next_spi) for mn in lab.mobile_nodes] + [(CARE_OF["mn1"], lab.fa_next_spi)])
    assert [(sa["peer"], sa["spi"]) for sa in lab.mipctl("fa1", "sas")] == [("10.100.1.1", lab.fa_next_spi)]
    assert lab.capture_request_spis("mn1") == [lab.next_spi]
    lab.ok("verify.yml", *VERIFY_CARE_OF)
    assert lab.denied("ha", "home_agent") == denied_before["ha"]

    lab.write_keys(promoted=True)
    proc, recap = lab.ok("site.yml", "-vvv")
    assert {h: r["changed"] for h, r in recap.items()} == dict.fromkeys(lab.hosts(), 0), proc.stdout[-4000:]
    print(f"\nrotate_keys.yml: {took:.1f} s, {accepted} registrations accepted meanwhile, none refused")


def test_keys_never_appear_in_playbook_output(lab):
    """No key, current or rotated, appears in any ansible-playbook output of this module: site.yml runs
    (first, second, --check --diff, refused options), the rotation and its --check --diff at -vvv, and
    site.yml at -vvv with the rotated keys."""
    assert len(lab.outputs) >= 10
    for key in lab.all_keys():
        for i, out in enumerate(lab.outputs):
            assert not any(form in out for form in key_forms(key)[0]), f"a key appears in playbook output #{i}"


MIPCTL_COMMANDS = ("status", "bindings", "visitors", "pending", "registration", "counters", "sas")


def key_forms(key_hex: str) -> tuple[list[str], list[bytes]]:
    """How a key could show: its hex (both cases), its bytes in base64 (JSON of bytes), as text; as bytes,
    those and the raw key bytes themselves (a BLOB in a database page)."""
    raw = bytes.fromhex(key_hex)
    texts = [key_hex.lower(), key_hex.upper(), base64.b64encode(raw).decode()]
    return texts, [raw, *(text.encode() for text in texts)]


def host_files(lab: sh.SiteLab, host: str) -> list:
    """Every regular file the agent and the collection left on `host` but its keys file and its venv:
    state database (with -wal and -shm), log, pid file, configuration, any stray temporary file."""
    root = lab.agent_dir(host)
    keys = root / "etc/mipd/keys.yaml"
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and p != keys
            and not p.is_relative_to(root / "opt")]


def test_no_key_material_in_agent_logs_mipctl_output_or_state_databases(lab):
    """After deploy, configuration and rotation at -vvv with --diff (agents logging at debug level), no key,
    current or rotated, appears on any host outside its keys file: not in the state database files
    (state.db, -wal, -shm: searched for the raw key bytes too), the log, any other file the agent or the
    collection left, nor in any `mipctl` output (tables and --json)."""
    files = {host: host_files(lab, host) for host in lab.hosts()}
    for host in lab.hosts():
        names = {p.name for p in files[host]}
        assert {"state.db", "mipd.log", "mipd.yaml"} <= names, (host, sorted(names))
    outputs = []
    for host in lab.hosts():
        mipctl = str(lab.agent_dir(host) / "opt/mipd/venv/bin/mipctl")
        socket = str(lab.agent_dir(host) / "run/mipd/mipd.sock")
        for command in MIPCTL_COMMANDS:
            for as_json in ((), ("--json",)):
                proc = subprocess.run(["ip", "netns", "exec", f"{lab.prefix}-{host}", mipctl, "--socket", socket,
                                       *as_json, command], capture_output=True, text=True, timeout=30, check=False)
                outputs.append((f"mipctl {' '.join(as_json)} {command} on {host}", proc.stdout + proc.stderr))
    assert any(text for _name, text in outputs)
    for key in lab.all_keys():
        texts, raws = key_forms(key)
        for where, text in outputs:
            assert not any(form in text for form in texts), f"a key appears in {where}"
        for host, paths in files.items():
            for path in paths:
                data = path.read_bytes()
                assert not any(form in data for form in raws), f"a key appears in {path} on {host}"
