"""Real runs of the lab: playbooks/lab_up.yml, roam.yml and lab_down.yml on this machine (root).

One lab is shared by the tests of this module (a module-scoped fixture), with its own prefix
(``mlab<pid>``), management network, inventory file and state directory, so parallel runs, the
default lab and the integration tests' namespaces do not collide. It is always removed at the end
(lab_down, then the Python API as a fallback), also when a test fails. The tests run in file order:
up, second up, check mode, SSH, inventory, roam, down. fa2 is an IOS-like router (lab_ios_like_hosts):
the simulator of roles/lab/files/ios_sim in its namespace in place of sshd.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import lab_helpers
import labenv
import pytest
import yaml
from ansible_collections.netmobility.mobileip.plugins.module_utils import lab_topology as lt

ROOT = lab_helpers.ROOT
VENV_BIN = Path(sys.executable).parent
PREFIX = f"mlab{os.getpid()}"
STATE_ROOT = Path("/var/lib/netmobility-lab")
STATE_DIR = STATE_ROOT / PREFIX
HOSTS = ["rt", "ha", "fa1", "fa2", "cn", "mn1", "mn2"]
IOS_HOSTS = ["fa2"]
LINUX_HOSTS = [h for h in HOSTS if h not in IOS_HOSTS]

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(not (VENV_BIN / "ansible-playbook").exists(), reason="ansible-core is not installed"),
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="openssh-server is not installed"),
]

RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def recap_of(stdout: str) -> dict[str, int]:
    """The localhost line of a PLAY RECAP: ok, changed, unreachable, failed."""
    m = RECAP.search(stdout)
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups()), strict=True))


class Lab:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.inventory = tmp / "hosts.yml"
        self.mgmt = labenv.free_network("10.254", 100, 249)  # site tests use 20-99
        self.env = dict(os.environ)
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(lab_helpers.COLLECTIONS),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp / "cp"),
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        })
        self.extra = ["-e", f"lab_prefix={PREFIX}", "-e", f"lab_mgmt_network={self.mgmt}",
                      "-e", f"lab_inventory_path={self.inventory}", "-e", "lab_mobile_nodes=2",
                      "-e", '{"lab_ios_like_hosts": ["fa2"]}']
        self.runs: dict[str, tuple[subprocess.CompletedProcess[str], float]] = {}
        self.down = False

    def run(self, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), capture_output=True, text=True, env=self.env, cwd=ROOT,
                              timeout=timeout, check=False)

    def playbook(self, name: str, *args: str, inventory: bool = False) -> tuple[subprocess.CompletedProcess[str], dict]:
        argv = [str(VENV_BIN / "ansible-playbook"), str(ROOT / "playbooks" / name), *args]
        if inventory:
            argv += ["-i", str(self.inventory)]
        proc = self.run(*argv)
        assert RECAP.search(proc.stdout), \
            f"{name}: no PLAY RECAP (rc {proc.returncode})\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        recap = recap_of(proc.stdout)
        assert proc.returncode == 0 and recap["failed"] == 0, f"{name} failed:\n{proc.stdout[-4000:]}"
        return proc, recap

    def up(self, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
        return self.playbook("lab_up.yml", *self.extra, *args)

    def teardown(self) -> None:
        """Remove whatever is left: lab_down first, then the Python API and the files directly."""
        if not self.down:
            proc = self.run(str(VENV_BIN / "ansible-playbook"), str(ROOT / "playbooks" / "lab_down.yml"),
                            *self.extra)
            if proc.returncode != 0:
                print(proc.stdout[-3000:], proc.stderr[-3000:])
        lt.ensure_absent(PREFIX, [f"{PREFIX}-mg"])
        shutil.rmtree(STATE_DIR, ignore_errors=True)


def snapshot() -> dict[str, object]:
    """What this lab can leave behind on the machine: namespaces, root links, processes, files.

    Namespaces and links are those named after the lab's prefix (other tests make their own meanwhile).
    """
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
    procs = subprocess.run(["pgrep", "-af", str(STATE_DIR)], capture_output=True, text=True, check=False).stdout
    return {
        "namespaces": sorted(n for n in lt.list_namespaces(lt.Runner()) if n.startswith(PREFIX)),
        "root_links": sorted(name for name in (line.split(":")[1].strip().split("@")[0]
                                               for line in links.splitlines()) if name.startswith(PREFIX)),
        "root_addresses": subprocess.run(["ip", "-4", "-o", "addr", "show", "to", "10.254.0.0/16"],
                                         capture_output=True, text=True, check=False).stdout.count(" inet "),
        "processes": procs.strip(),
        "state_dir": STATE_DIR.exists(),
        "state_root": STATE_ROOT.exists(),
        "run_sshd": Path("/run/sshd").exists(),
    }


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    lab = Lab(tmp_path_factory.mktemp("lab"))
    lab.before = snapshot()
    assert not lab.inventory.exists()
    try:
        start = time.monotonic()
        lab.runs["up"] = (lab.up()[0], time.monotonic() - start)
        yield lab
    finally:
        lab.teardown()


def bridge_of(host: str, ifname: str = "eth0") -> str | None:
    return lt.attachment(PREFIX, host, ifname)


# ------------------------------------------------------------------------------------------


def test_lab_up_builds_every_host(lab):
    """lab_up makes one namespace per host plus the switch namespace, bridges only there, and the inventory."""
    proc = lab.runs["up"][0]
    recap = recap_of(proc.stdout)
    assert recap["changed"] > 0 and recap["failed"] == 0 and recap["unreachable"] == 0
    names = set(lt.list_namespaces(lt.Runner()))
    assert {f"{PREFIX}-{h}" for h in HOSTS} | {f"{PREFIX}-sw"} <= names
    root_bridges = subprocess.run(["ip", "-o", "link", "show", "type", "bridge"], capture_output=True,
                                  text=True, check=False).stdout
    assert PREFIX not in root_bridges and "br-home" not in root_bridges
    sw_bridges = subprocess.run(["ip", "-n", f"{PREFIX}-sw", "-o", "link", "show", "type", "bridge"],
                                capture_output=True, text=True, check=False).stdout
    for net in ("mgmt", "home", "visit1", "visit2", "core-ha", "core-fa1", "core-fa2", "cn"):
        assert f"br-{net}:" in sw_bridges
    assert lab.inventory.exists()
    assert bridge_of("mn1") == "br-home" and bridge_of("mn2") == "br-home"


def test_second_lab_up_changes_nothing(lab):
    """Running lab_up again on the up lab reports changed=0 (and restarts neither sshd nor a router)."""
    pids = sorted(Path(p).read_text().strip() for p in STATE_DIR.glob("sshd-*.pid"))
    routers = (STATE_DIR / "ios-fa2" / "ios_sim.pid").read_text()
    start = time.monotonic()
    proc, recap = lab.up()
    lab.runs["again"] = (proc, time.monotonic() - start)
    assert recap["changed"] == 0, proc.stdout[-4000:]
    assert sorted(Path(p).read_text().strip() for p in STATE_DIR.glob("sshd-*.pid")) == pids
    assert len(pids) == len(LINUX_HOSTS)
    assert (STATE_DIR / "ios-fa2" / "ios_sim.pid").read_text() == routers


def test_check_mode_on_an_up_lab_changes_nothing(lab):
    """lab_up --check on the up lab reports changed=0 and leaves the namespaces and links as they were."""
    before = snapshot()
    proc, recap = lab.up("--check")
    assert recap["changed"] == 0, proc.stdout[-4000:]
    assert snapshot() == before


def test_every_host_answers_ansible_ping_over_ssh(lab):
    """ansible -i <generated inventory> all -m ping succeeds for every host, over SSH into its namespace."""
    proc = lab.run(str(VENV_BIN / "ansible"), "-i", str(lab.inventory), "all:!fa2", "-m", "ansible.builtin.ping",
                   "-f", "10")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(re.findall(r"^(\w+) \| SUCCESS", proc.stdout, re.M)) == sorted(LINUX_HOSTS)
    # it really ran inside the namespace: ha sees its home link, the controller's namespace has none
    proc = lab.run(str(VENV_BIN / "ansible"), "-i", str(lab.inventory), "ha", "-m", "ansible.builtin.command",
                   "-a", "ip -4 -o addr show dev home0")
    assert proc.returncode == 0 and "10.100.1.1/24" in proc.stdout, proc.stdout + proc.stderr


def test_sshd_listens_on_the_management_address_only(lab):
    """Each host's sshd listens on its management address only, not on its Mobile IP links."""
    inv = yaml.safe_load(lab.inventory.read_text())
    ha = inv["all"]["children"]["home_agents"]["hosts"]["ha"]
    out = subprocess.run(["ip", "netns", "exec", f"{PREFIX}-ha", "ss", "-Hltn"], capture_output=True,
                         text=True, check=False).stdout
    listening = sorted(line.split()[3] for line in out.splitlines())
    assert listening == [f"{ha['ansible_host']}:22"]


def test_inventory_has_groups_connection_and_mobile_ip_facts(lab):
    """The generated inventory has the five groups, SSH connection settings and each host's Mobile IP facts."""
    proc = lab.run(str(VENV_BIN / "ansible-inventory"), "-i", str(lab.inventory), "--list")
    assert proc.returncode == 0, proc.stderr
    data = yaml.safe_load(proc.stdout)
    groups = {g: sorted(data[g]["hosts"]) for g in
              ("home_agents", "foreign_agents", "mobile_nodes", "correspondents", "routers")}
    assert groups == {"home_agents": ["ha"], "foreign_agents": ["fa1", "fa2"], "mobile_nodes": ["mn1", "mn2"],
                      "correspondents": ["cn"], "routers": ["rt"]}
    hv = data["_meta"]["hostvars"]
    net = lab.mgmt.rsplit(".", 1)[0]
    assert hv["ha"]["ansible_host"] == f"{net}.3" and hv["mn2"]["ansible_host"] == f"{net}.102"
    for host in LINUX_HOSTS:
        v = hv[host]
        assert v["ansible_user"] == "root"
        assert v["ansible_python_interpreter"] == "/usr/bin/python3"
        assert v["ansible_ssh_private_key_file"] == str(STATE_DIR / "id_ed25519")
        assert "StrictHostKeyChecking=no" in v["ansible_ssh_common_args"]
        assert v["mip_lab_namespace"] == f"{PREFIX}-{host}"
    assert hv["ha"]["mip_role"] == "home_agent" and hv["ha"]["mip_home_interface"] == "home0"
    assert hv["ha"]["mip_mobile_hosts"] == ["10.100.1.10", "10.100.1.11"]
    assert hv["fa1"]["mip_care_of_address"] == "10.100.2.1" and hv["fa1"]["mip_visit_interface"] == "visit0"
    # the IOS-like router: its platform, login, enable secret (read from 0600 files), IOS interface names
    fa2 = hv["fa2"]
    assert fa2["ansible_network_os"] == "cisco.ios.ios" and fa2["ansible_user"] == "admin"
    assert fa2["ansible_become"] is True and fa2["ansible_become_method"] == "netmobility.mobileip.enable"
    assert fa2["ansible_password"].startswith("{{ lookup('ansible.builtin.file', ")
    assert fa2["mip_care_of_address"] == "10.100.3.1" and fa2["mip_visit_interface"] == "Ethernet0/1"
    assert fa2["mip_core_interface"] == "Ethernet0/2" and fa2["mip_lab_namespace"] == f"{PREFIX}-fa2"
    for name in ("login-password", "enable-secret", "users.yaml", "startup-config"):
        assert (STATE_DIR / "ios-fa2" / name).stat().st_mode & 0o777 == 0o600, name
    assert hv["mn1"]["mip_home_address"] == "10.100.1.10" and hv["mn1"]["mip_home_agent_address"] == "10.100.1.1"
    assert hv["mn2"]["mip_roam_networks"] == ["home", "visit1", "visit2"]
    assert hv["cn"]["mip_address"] == "10.100.20.2"


def test_the_ios_like_router_answers_netmiko_with_the_lab_addresses(lab):
    """fa2's router listens on its management address only, takes the generated login and enable secret,
    and its interfaces carry the addresses the lab gave the links they stand for."""
    from netmiko import ConnectHandler

    out = subprocess.run(["ip", "netns", "exec", f"{PREFIX}-fa2", "ss", "-Hltn"], capture_output=True,
                         text=True, check=False).stdout
    net = lab.mgmt.rsplit(".", 1)[0]
    assert sorted(line.split()[3] for line in out.splitlines()) == [f"{net}.12:22"]
    secret = (STATE_DIR / "ios-fa2" / "enable-secret").read_text().strip()
    with ConnectHandler(device_type="cisco_ios", host=f"{net}.12", username="admin", secret=secret,
                        password=(STATE_DIR / "ios-fa2" / "login-password").read_text().strip()) as router:
        assert router.find_prompt() == "fa2>"
        router.enable()
        brief = router.send_command("show ip interface brief")
    assert re.search(r"^Ethernet0/1\s+10\.100\.3\.1\s", brief, re.M), brief
    assert re.search(r"^Ethernet0/2\s+10\.100\.13\.2\s", brief, re.M), brief


def test_roam_moves_the_mobile_node_with_a_link_change(lab):
    """roam.yml moves mn1's port to visit1, visit2, home (carrier down/up seen in mn1); a repeat and lab_up: no-op."""
    monitor = subprocess.Popen(["ip", "-n", f"{PREFIX}-mn1", "monitor", "link"], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.2)
        start = time.monotonic()
        recap = lab.playbook("roam.yml", "-e", "node=mn1", "-e", "to=visit1", inventory=True)[1]
        lab.runs["roam"] = (None, time.monotonic() - start)
        assert recap["changed"] == 1 and bridge_of("mn1") == "br-visit1"
    finally:
        time.sleep(0.2)
        monitor.terminate()
        events = monitor.communicate(timeout=5)[0]
    assert "NO-CARRIER" in events and "LOWER_UP" in events
    assert bridge_of("mn2") == "br-home"  # the other node stays
    recap = lab.playbook("roam.yml", "-e", "node=mn1", "-e", "to=visit1", inventory=True)[1]
    assert recap["changed"] == 0
    recap = lab.playbook("roam.yml", "-e", "node=mn1", "-e", "to=visit2", inventory=True)[1]
    assert recap["changed"] == 1 and bridge_of("mn1") == "br-visit2"
    # lab_up after a roam changes nothing: the node stays where it roamed
    proc, recap = lab.up()
    assert recap["changed"] == 0 and bridge_of("mn1") == "br-visit2", proc.stdout[-4000:]
    recap = lab.playbook("roam.yml", "-e", "node=mn1", "-e", "to=home", inventory=True)[1]
    assert recap["changed"] == 1 and bridge_of("mn1") == "br-home"


def sshd_zombie(tmp: Path) -> subprocess.Popen[bytes]:
    """A process named sshd that has exited and is not reaped yet (state Z) until its ``wait()``."""
    exe = tmp / "sshd"
    shutil.copy("/bin/true", exe)
    child = subprocess.Popen([str(exe)])
    stat = Path(f"/proc/{child.pid}/stat")
    while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)
    return child


def test_lab_down_leaves_nothing_behind(lab):
    """lab_down removes every namespace, root link, sshd, the state dir and inventory; a second run changes nothing."""
    assert snapshot() != lab.before
    zombie = sshd_zombie(lab.tmp)  # a killed sshd that PID 1 has not reaped yet is not a running sshd
    try:
        start = time.monotonic()
        proc, recap = lab.playbook("lab_down.yml", *lab.extra)
        lab.runs["down"] = (proc, time.monotonic() - start)
    finally:
        zombie.wait()
    lab.down = True
    assert recap["changed"] > 0
    time.sleep(0.2)
    after = snapshot()
    assert after == lab.before
    assert not any(n.startswith(f"{PREFIX}-") for n in after["namespaces"])
    assert not lab.inventory.exists() and not STATE_DIR.exists()
    assert subprocess.run(["pgrep", "-f", f"ListenAddress={lab.mgmt.rsplit('.', 1)[0]}."],
                          check=False).returncode == 1
    recap = lab.playbook("lab_down.yml", *lab.extra)[1]
    assert recap["changed"] == 0
    print("\nlab timings: " + ", ".join(f"{k} {v[1]:.1f} s" for k, v in lab.runs.items()))
