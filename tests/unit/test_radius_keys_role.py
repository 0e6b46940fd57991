"""Role radius_keys against a real FreeRADIUS (issue 12): ansible-playbook provisions the mobile nodes' SAs
from the inventory into a users file the server includes, the server is signalled only when the file
changed, and mipd's own RADIUS client then fetches exactly those SAs (the current and, during a rotation,
the next SPI). Keys never in ansible-playbook's output (-vvv --diff); the file is 0640; check mode changes
nothing."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import mobileip_helpers as h
import pytest
import radius_server
import yaml
from mipd.protocol.aaa import LookupResult

pytestmark = [pytest.mark.ansible,
              pytest.mark.skipif(not radius_server.available(), reason="needs root and FreeRADIUS (./mip setup)")]

KEY1, KEY1_NEXT = "6d69706420746573742073656372657421", "a1a2a3a4a5a6a7a8a9aaabacadaeafb0"
KEY2 = "0F1E2D3C4B5A69788796A5B4C3D2E1F0"
MOBILE_NODES = {
    "mn1": {"mip_home_address": "10.1.0.10", "mip_home_agent_address": "10.1.0.1", "mip_mn_ha_spi": 300,
            "mip_mn_ha_key": KEY1, "mip_mn_ha_spi_next": 301, "mip_mn_ha_key_next": KEY1_NEXT},
    "mn2": {"mip_home_address": "10.1.0.11", "mip_home_agent_address": "10.1.0.1", "mip_nai": "mn2@example.net",
            "mip_mn_ha_spi": 400, "mip_mn_ha_key": "0x" + KEY2, "mip_mn_ha_algorithm": "md5-prefix-suffix",
            "mip_mn_ha_spi_next": 401, "mip_mn_ha_key_next": KEY1_NEXT},
    "mn3": {"mip_home_address": "10.9.0.10", "mip_home_agent_address": "10.9.0.1", "mip_mn_ha_spi": 500,
            "mip_mn_ha_key": KEY1},
}


class Bench:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.server = radius_server.RadiusServer(tmp / "raddb", port=18133).start()
        self.pid_file = tmp / "radiusd.pid"
        self.pid_file.write_text(f"{self.server.proc.pid}\n")  # type: ignore[union-attr]
        self.users_file = self.server.directory / "mobileip"
        inventory = {"all": {"hosts": {"radius": {"ansible_connection": "local",
                                                  "ansible_python_interpreter": str(h.VENV_BIN / "python")}},
                             "children": {"mobile_nodes": {"hosts": MOBILE_NODES}}}}
        self.inventory = tmp / "hosts.yml"
        self.inventory.write_text(yaml.safe_dump(inventory))

    def play(self, *args: str, **role_vars: Any) -> subprocess.CompletedProcess[str]:
        variables = {"radius_keys_users_file": str(self.users_file),
                     "radius_keys_include_in": str(self.server.directory / "users"),
                     "radius_keys_group": "root", "radius_keys_reload": "pid_file",
                     "radius_keys_pid_file": str(self.pid_file), "radius_keys_home_agents": ["10.1.0.1"], **role_vars}
        playbook = self.tmp / "play.yml"
        playbook.write_text(yaml.safe_dump([{"hosts": "radius", "gather_facts": False, "roles": [
            {"role": "netmobility.mobileip.radius_keys", "vars": variables}]}]))
        env = h.subprocess_env(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(self.tmp / "ansible-tmp"),
                               ANSIBLE_LOCALHOST_WARNING="false")
        proc = subprocess.run([str(h.VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), str(playbook), *args],
                              env=env, capture_output=True, text=True, timeout=300, check=False)
        output = proc.stdout + proc.stderr
        for key in (KEY1, KEY1_NEXT, KEY2, KEY2.lower()):
            assert key not in output, "a key in ansible-playbook's output"
        assert proc.returncode == 0, output[-4000:]
        return proc

    def reloads(self) -> int:
        return self.server.log_text().count("HUP")

    def fetch(self, identity: str) -> LookupResult:
        """The SAs mipd's own RADIUS client gets for `identity` (Message-Authenticator checked)."""
        return radius_server.fetch_sas(self.server.address, self.server.port, self.server.secret, identity)


@pytest.fixture
def bench(tmp_path: Path):
    b = Bench(tmp_path)
    yield b
    b.server.stop()


def changed(proc: subprocess.CompletedProcess[str]) -> int:
    return int(proc.stdout.rsplit("changed=", 1)[1].split()[0])


def test_provisioned_sas_are_what_mipd_fetches_and_a_second_run_changes_nothing(bench: Bench) -> None:
    first = bench.play("--diff", "-vvv")
    assert changed(first) >= 2 and "10.1.0.10 (mn1): spi 300" in first.stdout
    assert stat.S_IMODE(os.stat(bench.users_file).st_mode) == 0o640
    assert (bench.server.directory / "users").read_text().startswith(f"$INCLUDE {bench.users_file}\n")
    result = bench.fetch("10.1.0.10")
    assert result.outcome == "accept", result.reason
    assert [(sa.spi, sa.key.hex(), sa.algorithm) for sa in result.sas] == [(300, KEY1, "hmac-md5")]
    by_nai = bench.fetch("mn2@example.net")  # a node with an NAI is looked up by it
    assert [(sa.spi, sa.key.hex(), sa.algorithm) for sa in by_nai.sas] == [(400, KEY2.lower(), "md5-prefix-suffix")]
    assert bench.fetch("10.9.0.10").outcome == "reject"  # another home agent's node: not provisioned here
    hups = bench.reloads()
    again = bench.play()
    assert changed(again) == 0 and bench.reloads() == hups  # unchanged: FreeRADIUS is not signalled


def test_a_rotation_adds_the_next_spi_then_removes_the_old_one(bench: Bench) -> None:
    bench.play()
    both = bench.play(radius_keys_key_generations=["current", "next"])
    assert changed(both) >= 1 and "10.1.0.10 (mn1): spi 300, 301" in both.stdout
    assert [sa.spi for sa in bench.fetch("10.1.0.10").sas] == [300, 301]
    bench.play(radius_keys_key_generations=["next"])
    result = bench.fetch("10.1.0.10")
    assert [(sa.spi, sa.key.hex()) for sa in result.sas] == [(301, KEY1_NEXT)]


def test_check_mode_changes_nothing(bench: Bench) -> None:
    proc = bench.play("--check", "--diff")
    assert changed(proc) >= 1 and not bench.users_file.exists()
    assert "$INCLUDE" not in (bench.server.directory / "users").read_text()
    assert bench.fetch("10.1.0.10").outcome == "reject"


def test_an_algorithm_the_avpair_cannot_carry_fails_naming_the_node(bench: Bench, tmp_path: Path) -> None:
    inventory = yaml.safe_load(bench.inventory.read_text())
    inventory["all"]["children"]["mobile_nodes"]["hosts"]["mn1"]["mip_mn_ha_algorithm"] = "rfc2002-md5"
    bench.inventory.write_text(yaml.safe_dump(inventory))
    with pytest.raises(AssertionError, match="mn1: the Cisco mobileip AV-pair carries hmac-md5 or md5-prefix-suffix"):
        bench.play()
    assert not bench.users_file.exists()
