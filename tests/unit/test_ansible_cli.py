"""The collection through Ansible's own command-line tools: ansible-doc for every module, and
ansible-playbook on localhost (the action plugins, module_defaults groups, check and diff mode,
no_log, idempotency) and against an IOS-like host (rendered offline; merged without a login user in
the inventory: one clear line, nothing reached)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import mobileip_helpers as h
import pytest

pytestmark = pytest.mark.ansible

MODULES = ["aaa", "foreign_agent", "home_agent", "mobile_node", "mobility_info", "registration_filters",
           "security_associations", "verify_registration"]
KEY = "6d69706420746573742073656372657421"


def cli(tool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = h.VENV_BIN / tool
    if not exe.exists():
        pytest.skip(f"{tool} is not installed in the project venv (./mip setup)")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300, cwd=cwd, check=False,
                          env=h.subprocess_env(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                                               ANSIBLE_PYTHON_INTERPRETER=str(h.VENV_BIN / "python"),
                                               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0"))


def test_ansible_doc_documents_every_module():
    listed = cli("ansible-doc", "-l", "netmobility.mobileip")
    assert listed.returncode == 0, listed.stderr
    assert set(MODULES) <= set(re.findall(r"^netmobility\.mobileip\.(\w+)", listed.stdout, re.M))
    for name in MODULES:
        doc = cli("ansible-doc", f"netmobility.mobileip.{name}")
        assert doc.returncode == 0, doc.stderr
        assert "EXAMPLES:" in doc.stdout and "RETURN VALUES:" in doc.stdout
    sa = cli("ansible-doc", "netmobility.mobileip.security_associations").stdout
    assert "keys_path" in sa and "agent_bin_dir" in sa and "overridden" in sa  # the doc fragments


PLAYBOOK = """
- name: Linux host
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    group/netmobility.mobileip.mobileip:
      config_path: {config}
  tasks:
    - name: SAs
      netmobility.mobileip.security_associations:
        config:
          - {{peer: 10.1.0.10, spi: 257, key: "{key}"}}
      no_log: true
    - name: Home agent
      netmobility.mobileip.home_agent:
        config:
          address: 10.1.0.1
          interface: ha-home
          home_networks: [10.1.0.0/24]
          mobile_hosts: [10.1.0.0/24]
          max_lifetime: "{{{{ lifetime | default(1800) }}}}"
      register: ha
    - name: What it says
      ansible.builtin.debug:
        msg: "commands={{{{ ha.commands }}}}"
    - name: SAs as the host has them
      netmobility.mobileip.security_associations:
        state: gathered
      register: sas
    - name: Fingerprint
      ansible.builtin.debug:
        msg: "fingerprint={{{{ sas.gathered[0].key_fingerprint }}}}"
      when: sas.gathered | length > 0  # nothing was written in check mode

- name: IOS-like router
  hosts: router
  connection: local
  gather_facts: false
  tasks:
    - name: Home agent on IOS
      netmobility.mobileip.home_agent:
        config:
          address: 10.1.0.1
      ignore_errors: true
      register: ios
    - name: The IOS lines of a home agent, offline
      netmobility.mobileip.home_agent:
        config:
          address: 10.1.0.1
          interface: Ethernet0/0
          home_networks: [10.1.0.0/24]
          mobile_hosts: [10.1.0.10-10.1.0.20]
        state: rendered
      register: ios_rendered
    - name: The answer
      ansible.builtin.assert:
        that:
          - ios is failed
          - "ios.msg == 'IOS-like router 127.0.0.1:22: no ansible_user in the inventory'"
          - "'ip mobile host 10.1.0.10 10.1.0.20 interface Ethernet0/0' in ios_rendered.rendered"
          - ios_rendered is not changed
"""


@pytest.fixture
def playbook(tmp_path: Path) -> tuple[Path, Path, Path]:
    config = tmp_path / "etc" / "mipd.yaml"
    book = tmp_path / "site.yml"
    book.write_text(PLAYBOOK.format(config=config, key=KEY))
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("localhost ansible_connection=local\n"
                         "router ansible_network_os=cisco.ios.ios ansible_host=127.0.0.1\n")
    return book, inventory, config


def recap(output: str, host: str) -> dict[str, int]:
    line = re.search(rf"^{host}\s*:(.*)$", output, re.M)
    assert line, output
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line.group(1))}


def test_playbook_check_apply_rerun(playbook):
    book, inventory, config = playbook
    dry = cli("ansible-playbook", "-i", str(inventory), str(book), "--check", "--diff")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert not config.exists() and KEY not in dry.stdout + dry.stderr
    assert "+  max_lifetime: 1800" in dry.stdout or "max_lifetime: 1800" in dry.stdout  # the diff shows the plan
    assert recap(dry.stdout, "router")["failed"] == 0 and recap(dry.stdout, "router")["ignored"] == 1

    first = cli("ansible-playbook", "-i", str(inventory), str(book), "--diff")
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout, "localhost")["changed"] == 2 and config.exists()
    assert KEY not in first.stdout + first.stderr
    assert re.search(r"fingerprint=sha256:[0-9a-f]{12}", first.stdout)
    assert "home_agent: added" in first.stdout

    second = cli("ansible-playbook", "-i", str(inventory), str(book))
    assert recap(second.stdout, "localhost")["changed"] == 0, second.stdout

    third = cli("ansible-playbook", "-i", str(inventory), str(book), "-e", "lifetime=600", "--check", "--diff")
    assert recap(third.stdout, "localhost")["changed"] == 1
    assert "home_agent.max_lifetime: 1800 -> 600" in third.stdout
    assert "max_lifetime: 1800" in config.read_text()  # check mode changed nothing


def test_a_bad_option_fails_the_task_with_its_name(playbook):
    book, inventory, config = playbook
    bad = book.parent / "bad.yml"
    text = book.read_text()
    bad.write_text(text.replace("address: 10.1.0.1\n          interface", "address: 10.1.0.300\n          interface"))
    result = cli("ansible-playbook", "-i", str(inventory), str(bad), "--limit", "localhost")
    assert result.returncode != 0
    assert "config.address: must be an IPv4 address, got '10.1.0.300'" in result.stdout
    assert not config.exists()  # the SA task wrote the keys file only
