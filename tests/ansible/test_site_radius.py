"""Keys held in RADIUS, end to end over real SSH (issue 12): a lab with its own FreeRADIUS (lab_radius: true),
site.yml provisions the mobile nodes' SAs into it (role radius_keys) and configures the home agent to fetch
them (its keys file holds none of them); both nodes register through their foreign agents; rotate_keys.yml
then rotates the keys held in RADIUS (new SPI served, the home agent's fetched SAs dropped, nodes moved
over one by one, old SPI removed) while the nodes keep re-registering: no registration refused, and the
home agent ends up with only the new SPI from RADIUS. No key in any playbook output."""

from __future__ import annotations

import os
import time

import pytest
import site_helpers as sh

PREFIX = f"mrad{os.getpid() % 10_000_000}"
CARE_OF = {"mn1": "10.100.2.1", "mn2": "10.100.3.1"}
HOME = {"mn1": "10.100.1.10", "mn2": "10.100.1.11"}
VERIFY_CARE_OF = ["-e", '{"verify_care_of": {"mn1": "10.100.2.1", "mn2": "10.100.3.1"}}']


pytestmark = [
    pytest.mark.lab,
    pytest.mark.ansible,
    pytest.mark.skipif(sh.unavailable() is not None, reason=str(sh.unavailable())),
    pytest.mark.skipif(not os.path.exists("/usr/sbin/freeradius"), reason="freeradius is not installed"),
]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory):
    lab = sh.SiteLab(tmp_path_factory.mktemp("site-radius"), PREFIX)
    lab.lab_vars += ["-e", "lab_radius=true"]
    try:
        lab.up()
        lab.roam("mn1", "visit1")
        lab.roam("mn2", "visit2")
        yield lab
    finally:
        lab.teardown()
        for output in lab.outputs:
            for key in lab.all_keys():
                assert key not in output, "a key in a playbook's output"


def radius_sas(lab: sh.SiteLab) -> list[tuple[str, int]]:
    return sorted((sa["peer"], sa["spi"]) for sa in lab.mipctl("ha", "sas") if sa.get("source") == "radius")


def denials(lab: sh.SiteLab) -> dict[str, dict[str, int]]:
    return {"ha": lab.denied("ha", "home_agent")} | {mn: lab.denied(mn, "mobile_node") for mn in lab.mobile_nodes}


def test_site_provisions_radius_and_the_home_agent_fetches_the_nodes_sas(lab):
    proc, recap = lab.ok("site.yml", "--diff")
    assert recap["aaa"]["changed"] >= 2, proc.stdout[-3000:]
    lab.ok("verify.yml", *VERIFY_CARE_OF)
    keys_file = (lab.agent_dir("ha") / "etc/mipd/keys.yaml").read_text()
    assert HOME["mn1"] not in keys_file and "radius_secrets" in keys_file  # the nodes' SAs are on the server
    assert radius_sas(lab) == [(HOME["mn1"], lab.spi), (HOME["mn2"], lab.spi)]
    proc, recap = lab.ok("site.yml")
    assert all(r["changed"] == 0 for r in recap.values()), proc.stdout[-3000:]


def test_rotate_keys_held_in_radius_without_a_failed_registration(lab):
    everything = (lab.inventory, lab.keys_inventory, lab.next_inventory)
    denied_before = denials(lab)
    accepted_before = lab.mipctl("ha", "counters")["roles"]["home_agent"].get("accepted.registration", 0)
    start = time.monotonic()
    proc, _recap = lab.ok("rotate_keys.yml", "--diff", "-e", "rotate_keys_serial=1", inventories=everything)
    took = time.monotonic() - start
    assert "registrations refused during it: 0" in proc.stdout
    assert "10.100.1.10 (mn1): spi 257, 258" in proc.stdout and "10.100.1.10 (mn1): spi 258" in proc.stdout
    assert denials(lab) == denied_before
    accepted = lab.mipctl("ha", "counters")["roles"]["home_agent"].get("accepted.registration", 0) - accepted_before
    assert lab.capture_request_spis("mn1") == [lab.next_spi]
    lab.ok("verify.yml", *VERIFY_CARE_OF)
    deadline = time.monotonic() + 60  # each node's next registration after the last drop-sas fetches the new set
    while time.monotonic() < deadline and radius_sas(lab) != [(HOME["mn1"], lab.next_spi), (HOME["mn2"], lab.next_spi)]:
        time.sleep(1)
    assert radius_sas(lab) == [(HOME["mn1"], lab.next_spi), (HOME["mn2"], lab.next_spi)]
    print(f"\nrotate_keys.yml with RADIUS: {took:.1f} s, {accepted} registrations accepted meanwhile, none refused")
