"""The reverse of test_mixed_fleet.py (issue 10): a Linux home agent, an IOS-like foreign agent and an
IOS-like mobile router, each IOS-like router the simulator with a real mipd behind its CLI.

site.yml configures all three from the same inventory variables (the mobile router's `ip mobile router`
section and its roaming interface from the mobile node's variables); the mobile router registers with
the Linux home agent through the IOS-like foreign agent; verify.yml reads the registration from the
router's `show ip mobile router`, the visitor from the foreign agent's `show ip mobile visitor` and the
binding from mipctl on the home agent, and prints one table; a second site.yml changes nothing.
"""

from __future__ import annotations

import json
import os

import pytest
import site_helpers as sh

pytestmark = [pytest.mark.lab, pytest.mark.skipif(sh.unavailable() is not None, reason=str(sh.unavailable()))]
IOS_HOSTS = ["fa2", "mn1"]
CARE_OF = "10.100.3.1"  # fa2's care-of address on visit2


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    yield from sh.mixed_lab(tmp_path_factory.mktemp("reverse"), f"rev{os.getpid() % 100000}", IOS_HOSTS)


def test_site_configures_a_linux_home_agent_and_ios_like_foreign_agent_and_mobile_router(lab: sh.SiteLab) -> None:
    proc, recaps = lab.ok("site.yml")
    assert all(recaps[host]["changed"] > 0 for host in ("ha", "fa2", "mn1")), proc.stdout[-4000:]
    startup = (lab.state_dir / "ios-mn1" / "startup-config").read_text()
    assert "ip mobile router" in startup and "ip mobile router-service roam" in startup  # saved after the change


def test_the_mobile_router_registers_through_the_ios_like_foreign_agent(lab: sh.SiteLab) -> None:
    lab.roam("mn1", "visit2")
    proc, _recaps = lab.ok("verify.yml", "-e", json.dumps({"verify_care_of": {"mn1": CARE_OF}}))
    table = proc.stdout.split("TASK [Verified (every host of either platform)]", 1)[1]
    assert f"mn1             ios       mobile node    away via {CARE_OF}, code 0" in table, table
    assert f"ha              linux     home agent     10.100.1.10 via {CARE_OF}" in table, table
    assert "fa2             ios       foreign agent  10.100.1.10" in table, table
    binding = next(b for b in lab.mipctl("ha", "bindings") if b["home_address"] == "10.100.1.10")
    assert binding["care_of_address"] == CARE_OF  # what the Linux home agent's own mipd holds


def test_a_second_site_run_changes_nothing_on_either_platform(lab: sh.SiteLab) -> None:
    proc, recaps = lab.ok("site.yml")
    assert all(r["changed"] == 0 for host, r in recaps.items() if host != "localhost"), proc.stdout[-4000:]
