"""A mixed fleet end to end: site.yml, verify.yml and rotate_keys.yml on a namespace lab whose home agent
and second foreign agent are IOS-like routers (the simulator with a real mipd behind its CLI) and whose
first foreign agent and mobile node are Linux hosts running mipd.

The node registers with the IOS-like home agent through the Linux foreign agent and through the IOS-like
one; verify.yml reads both platforms and prints one table; the keys rotate across both with no refused
registration; site.yml with the rotated keys as the current ones changes nothing on any host.
"""

from __future__ import annotations

import json
import os

import pytest
import site_helpers as sh

pytestmark = [pytest.mark.lab, pytest.mark.skipif(sh.unavailable() is not None, reason=str(sh.unavailable()))]
IOS_HOSTS = ["ha", "fa2"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    yield from sh.mixed_lab(tmp_path_factory.mktemp("mixed"), f"mix{os.getpid() % 100000}", IOS_HOSTS)


def test_site_configures_both_platforms(lab: sh.SiteLab) -> None:
    proc, recaps = lab.ok("site.yml")
    assert all(recaps[host]["changed"] > 0 for host in ("ha", "fa1", "fa2", "mn1")), proc.stdout[-4000:]
    assert "ip mobile home-agent" in (lab.state_dir / "ios-ha" / "startup-config").read_text()  # saved
    assert "ip mobile foreign-agent care-of" in (lab.state_dir / "ios-fa2" / "startup-config").read_text()


@pytest.mark.parametrize("network, care_of", [("visit2", "10.100.3.1"), ("visit1", "10.100.2.1")])
def test_the_node_registers_through_either_foreign_agent(lab: sh.SiteLab, network: str, care_of: str) -> None:
    lab.roam("mn1", network)
    proc, _recaps = lab.ok("verify.yml", "-e", json.dumps({"verify_care_of": {"mn1": care_of}}))
    table = proc.stdout.split("TASK [Verified (every host of either platform)]", 1)[1]
    assert f"mn1             linux     mobile node    away via {care_of}, code 0" in table
    assert "ha              ios       home agent     10.100.1.10 via " + care_of in table
    serving = "fa2" if network == "visit2" else "fa1"
    platform = "ios      " if serving == "fa2" else "linux    "
    assert f"{serving}             {platform} foreign agent  10.100.1.10" in table


def test_rotation_across_both_platforms_then_site_changes_nothing(lab: sh.SiteLab) -> None:
    proc, recaps = lab.ok("rotate_keys.yml", inventories=(lab.inventory, lab.keys_inventory, lab.next_inventory))
    assert "ha: rotation done; registrations refused during it: 0." in proc.stdout, proc.stdout[-4000:]
    assert recaps["ha"]["changed"] > 0 and recaps["mn1"]["changed"] > 0
    lab.write_keys(promoted=True)
    proc, recaps = lab.ok("site.yml")
    assert all(r["changed"] == 0 for host, r in recaps.items() if host != "localhost"), proc.stdout[-4000:]
