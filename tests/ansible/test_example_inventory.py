"""inventories/example: the documented mixed fleet parses, its vaulted keys decrypt with the example vault
password, and every Linux host's configuration validates (the roles' validate entry points, offline, run
on the controller: the example hosts do not exist); the IOS-like routers are recognised and skipped."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import site_helpers as sh

EXAMPLE = sh.COLLECTION / "inventories" / "example"
VAULT = ["--vault-id", f"example@{EXAMPLE / 'vault-password.example'}"]
LINUX = {"ha1", "fa1", "fa2", "mn1", "mn2", "mn3"}
IOS = {"ha-core-rtr", "fa-branch-rtr"}

pytestmark = [
    pytest.mark.ansible,
    pytest.mark.skipif(not (sh.VENV_BIN / "ansible-playbook").exists(), reason="ansible-core is not installed"),
]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(sh.COLLECTIONS), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_RETRY_FILES_ENABLED="false")
    return subprocess.run(list(argv), capture_output=True, text=True, env=env, cwd=sh.COLLECTION, timeout=300,
                          check=False)


def test_example_inventory_groups_and_ios_markers():
    """The groups hold the Linux hosts and the IOS-like routers; the routers carry ansible_network_os
    cisco.ios.ios; the keys are vault-encrypted in the files (no key in clear text anywhere)."""
    proc = run(str(sh.VENV_BIN / "ansible-inventory"), "-i", str(EXAMPLE / "hosts.yml"), *VAULT, "--list")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data["linux_hosts"]["hosts"]) == LINUX and set(data["ios_like_routers"]["hosts"]) == IOS
    hv = data["_meta"]["hostvars"]
    assert all(hv[h]["ansible_network_os"] == "cisco.ios.ios" for h in IOS)
    assert all("ansible_network_os" not in hv[h] for h in LINUX)
    for path in (EXAMPLE / "host_vars").glob("*.yml"):
        text = path.read_text()
        assert "!vault |" in text and "$ANSIBLE_VAULT;1.2;AES256;example" in text


def test_example_inventory_validates_offline():
    """Every Linux host of the example fleet validates with the example vault password (keys decrypted, SPIs
    and keys in range); the IOS-like routers are not validated."""
    proc = run(str(sh.VENV_BIN / "ansible-playbook"), "-i", str(EXAMPLE / "hosts.yml"), *VAULT,
               str(sh.COLLECTION / "tests" / "ansible" / "validate_inventory.yml"))
    recap = sh.recaps(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert set(recap) == LINUX | IOS
    assert all(recap[h]["ok"] >= 4 for h in LINUX) and all(recap[h]["ok"] == 1 for h in IOS)


def test_example_inventory_bad_key_is_named():
    """An odd-length key for the mobile nodes fails validation with the option and the inventory variable
    named, and without the key in the output."""
    bad = "0123456789abcdef0123456789abcdef0"
    proc = run(str(sh.VENV_BIN / "ansible-playbook"), "-i", str(EXAMPLE / "hosts.yml"), *VAULT,
               str(sh.COLLECTION / "tests" / "ansible" / "validate_inventory.yml"), "-e", f"mip_mn_ha_key={bad}")
    assert proc.returncode != 0
    assert "even number of hex digits" in proc.stdout and "mip_mn_ha_key" in proc.stdout
    assert bad not in proc.stdout + proc.stderr
