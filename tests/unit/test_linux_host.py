"""LinuxHost in-process: reading the files when this Python has no PyYAML (through the agent's own
Python), and where the control socket and keys file are."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import mobileip_helpers as h
import pytest
from ansible_collections.netmobility.mobileip.plugins.module_utils import yaml_text
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.linux import host as linux_host

EXAMPLES = h.ROOT / "agent" / "examples"


class FakeModule:
    """What LinuxHost uses of AnsibleModule."""

    def __init__(self, **params: Any) -> None:
        self.params = {"config_path": "/etc/mipd/mipd.yaml", "keys_path": None, "agent_bin_dir": None,
                       "validate": True, "reload": True, **params}
        self.warnings: list[str] = []

    def run_command(self, argv: list[str], data: str | None = None, binary_data: bool = False) -> tuple[int, str, str]:
        r = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
        return r.returncode, r.stdout, r.stderr

    def get_bin_path(self, name: str) -> str | None:
        return shutil.which(name, path="/nonexistent")  # nothing on this PATH

    def warn(self, text: str) -> None:
        self.warnings.append(text)


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    for name in ("ha.yaml", "keys.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    return tmp_path / "ha.yaml"


def test_without_pyyaml_the_agents_python_reads_the_files(examples, monkeypatch, mipd_bin):
    with_yaml = linux_host.LinuxHost(FakeModule(config_path=str(examples))).read()
    monkeypatch.setattr(yaml_text, "yaml", None)
    host = linux_host.LinuxHost(FakeModule(config_path=str(examples), agent_bin_dir=mipd_bin))
    doc = host.read()
    assert doc.main_equal(with_yaml) and doc.sas == with_yaml.sas
    with pytest.raises(linux_host.MissingYaml):
        linux_host.LinuxHost(FakeModule(config_path=str(examples))).read()


def test_where_the_keys_file_and_control_socket_are(examples):
    host = linux_host.LinuxHost(FakeModule(config_path=str(examples)))
    doc = host.read()
    assert host.keys_path == str(examples.parent / "keys.yaml")
    assert host.control_socket(doc) == "/run/mipd/mipd.sock"
    doc.settings["control_socket"] = "run/ctl.sock"
    assert host.control_socket(doc) == str(examples.parent / "run" / "ctl.sock")
    examples.write_text(examples.read_text().replace("keys_file: keys.yaml", "keys_file: null"))
    host = linux_host.LinuxHost(FakeModule(config_path=str(examples)))
    assert host.read().sas == [] and host.keys_path is None
