"""The lab with its own FreeRADIUS (lab_radius: true, issue 12): host aaa in its namespace on the management
network, named by the generated inventory (group radius_servers with the radius_keys role's settings; the
home agent's mip_radius_servers and secret), provisioned over SSH by the radius_keys role, answering mipd's
own RADIUS client from the controller with the SA it holds, and gone after lab_down (no process, no file)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import lab_helpers
import labenv
import pytest
import radius_server
import yaml
from ansible_collections.netmobility.mobileip.plugins.module_utils import lab_topology as lt

ROOT = lab_helpers.ROOT
VENV_BIN = Path(sys.executable).parent
PREFIX = f"rlab{os.getpid() % 100000}"
STATE_DIR = Path("/var/lib/netmobility-lab") / PREFIX
KEY = secrets.token_hex(16)

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(not Path("/usr/sbin/freeradius").exists(), reason="freeradius is not installed"),
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="openssh-server is not installed"),
]
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class RadiusLab:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.inventory = tmp / "hosts.yml"
        self.env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(lab_helpers.COLLECTIONS), "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_LOCALHOST_WARNING": "false", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
                    "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp / "cp"), "ANSIBLE_RETRY_FILES_ENABLED": "false",
                    "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
        self.extra = ["-e", f"lab_prefix={PREFIX}", "-e", f"lab_mgmt_network={labenv.free_network('10.254', 100, 249)}",
                      "-e", f"lab_inventory_path={self.inventory}", "-e", "lab_radius=true"]
        self.outputs: list[str] = []

    def playbook(self, path: Path, *args: str) -> dict[str, dict[str, int]]:
        proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(path), *args], capture_output=True, text=True,
                              env=self.env, cwd=ROOT, timeout=300, check=False)
        self.outputs.append(proc.stdout + proc.stderr)
        assert proc.returncode == 0, f"{path.name} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
        return {m[0]: dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m[1:]), strict=True))
                for m in RECAP.findall(proc.stdout)}

    def up(self) -> dict[str, dict[str, int]]:
        return self.playbook(ROOT / "playbooks" / "lab_up.yml", *self.extra)

    def down(self) -> None:
        self.playbook(ROOT / "playbooks" / "lab_down.yml", *self.extra)

    def teardown(self) -> None:
        subprocess.run([str(VENV_BIN / "ansible-playbook"), str(ROOT / "playbooks" / "lab_down.yml"), *self.extra],
                       capture_output=True, env=self.env, cwd=ROOT, timeout=300, check=False)
        lt.ensure_absent(PREFIX, [f"{PREFIX}-mg"])
        shutil.rmtree(STATE_DIR, ignore_errors=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    lab = RadiusLab(tmp_path_factory.mktemp("radius-lab"))
    try:
        lab.up()
        yield lab
    finally:
        lab.teardown()
    for output in lab.outputs:
        assert KEY not in output and (STATE_DIR / "radius" / "secret").exists() is False


def fetch(address: str, secret: str, identity: str):
    return radius_server.fetch_sas(address, 1812, secret, identity)


def test_the_inventory_names_the_radius_server_and_the_home_agent_uses_it(lab):
    inventory = yaml.safe_load(lab.inventory.read_text())
    aaa = inventory["all"]["children"]["radius_servers"]["hosts"]["aaa"]
    ha = inventory["all"]["children"]["home_agents"]["hosts"]["ha"]
    assert ha["mip_radius_servers"] == [{"address": aaa["ansible_host"]}]
    assert aaa["radius_keys_users_file"] == str(STATE_DIR / "radius" / "mobileip")
    assert os.stat(STATE_DIR / "radius" / "secret").st_mode & 0o077 == 0
    again = lab.up()
    assert again["localhost"]["changed"] == 0, again


def test_radius_keys_provisions_it_over_ssh_and_mipd_fetches_the_sa(lab):
    keys = lab.tmp / "keys.yml"
    keys.write_text(yaml.safe_dump({"mobile_nodes": {"hosts": {"mn1": {"mip_mn_ha_spi": 300, "mip_mn_ha_key": KEY}}}}))
    play = lab.tmp / "radius.yml"
    play.write_text(yaml.safe_dump([{"hosts": "radius_servers", "gather_facts": False,
                                     "roles": ["netmobility.mobileip.radius_keys"]}]))
    recap = lab.playbook(play, "-i", str(lab.inventory), "-i", str(keys), "--diff")
    assert recap["aaa"]["changed"] >= 2 and recap["aaa"]["failed"] == 0
    inventory = yaml.safe_load(lab.inventory.read_text())
    address = inventory["all"]["children"]["radius_servers"]["hosts"]["aaa"]["ansible_host"]
    home = inventory["all"]["children"]["mobile_nodes"]["hosts"]["mn1"]["mip_home_address"]
    result = fetch(address, (STATE_DIR / "radius" / "secret").read_text().strip(), home)
    assert result.outcome == "accept", result.reason
    assert [(sa.spi, sa.key.hex()) for sa in result.sas] == [(300, KEY)]
    assert fetch(address, (STATE_DIR / "radius" / "secret").read_text().strip(), "10.1.2.3").outcome == "reject"
    assert lab.playbook(play, "-i", str(lab.inventory), "-i", str(keys))["aaa"]["changed"] == 0


def test_lab_down_stops_freeradius(lab):
    lab.down()
    procs = subprocess.run(["pgrep", "-af", str(STATE_DIR)], capture_output=True, text=True, check=False).stdout
    assert procs.strip() == "" and not STATE_DIR.exists()
