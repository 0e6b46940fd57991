"""The shipped example configurations validate, and `mipd check-config` / `mipctl` behave at the
command line (exit codes, messages, no key material in any output)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import runtime_helpers as h
from mipd.cli import mipctl, tables
from mipd.runtime.config import load_config

EXAMPLES = Path(__file__).resolve().parents[3] / "agent" / "examples"
ROLES = {
    "ha.yaml": ("home_agent",),
    "fa.yaml": ("foreign_agent",),
    "ha-fa.yaml": ("home_agent", "foreign_agent"),
    "mn.yaml": ("mobile_node",),
}


def mipd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([h.MIPD, *args], capture_output=True, text=True, timeout=30)


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.yaml")) == sorted([*ROLES, "keys.yaml"])


@pytest.mark.parametrize("name", sorted(ROLES))
def test_examples_validate(name, tmp_path):
    config = load_config(str(EXAMPLES / name))
    assert config.roles == ROLES[name]
    assert config.keys_file == str(EXAMPLES / "keys.yaml")
    # Installed as the keys file asks (0600), the example raises no warning at all.
    shutil.copy(EXAMPLES / name, tmp_path / name)
    shutil.copy(EXAMPLES / "keys.yaml", tmp_path / "keys.yaml")
    os.chmod(tmp_path / "keys.yaml", 0o600)
    assert load_config(str(tmp_path / name), check_key_permissions=True).warnings == ()


@pytest.mark.parametrize("name", sorted(ROLES))
def test_check_config_accepts_examples(name):
    r = mipd("check-config", str(EXAMPLES / name))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"config OK: roles {', '.join(ROLES[name])}; 4 security associations")
    keys = (EXAMPLES / "keys.yaml").read_text()
    secrets = [line.split('"')[1] for line in keys.splitlines() if line.strip().startswith("key:")]
    assert secrets and not any(s in r.stdout + r.stderr for s in secrets)


def test_check_config_error_exit_code_and_message(tmp_path):
    cfg = h.config()
    cfg["home_agent"]["max_lifetime"] = "abc"
    r = mipd("check-config", str(h.write(tmp_path, cfg)))
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip() == f"mipd: {tmp_path / 'mipd.yaml'}: home_agent.max_lifetime: must be an integer " \
                               "1-65535, got 'abc'"


def test_check_config_keys_error_never_shows_the_key(tmp_path):
    entry = {**h.BASE_KEYS["security_associations"][0], "key": h.KEY_HEX + "x", "spi": 12}
    r = mipd("check-config", str(h.write(tmp_path, h.config(), {"security_associations": [entry]})))
    assert r.returncode == 1
    assert "security_associations[0].spi: 0-255 are reserved (RFC 5944 §1.6), got a number (value hidden)" in r.stderr
    entry["spi"] = 300
    r = mipd("check-config", str(h.write(tmp_path, h.config(), {"security_associations": [entry]})))
    assert r.returncode == 1 and "security_associations[0].key: hex key must be" in r.stderr
    assert h.KEY_HEX not in r.stdout + r.stderr


def test_check_config_warnings_go_to_stderr(tmp_path):
    path = h.write(tmp_path, h.config())
    os.chmod(tmp_path / "keys.yaml", 0o640)
    r = mipd("check-config", str(path))
    assert r.returncode == 0 and r.stdout.startswith("config OK: roles home_agent; 1 security association\n")
    assert "warning: keys_file:" in r.stderr and "mode 0640" in r.stderr


def test_run_refuses_an_invalid_config(tmp_path):
    cfg = h.config()
    cfg["home_agent"]["adress"] = "10.1.0.1"
    r = mipd("run", "--config", str(h.write(tmp_path, cfg)), "--foreground")
    assert r.returncode == 1 and "home_agent: unknown key 'adress'" in r.stderr


def test_run_refuses_a_world_readable_keys_file(tmp_path):
    path = h.write(tmp_path, h.config())
    os.chmod(tmp_path / "keys.yaml", 0o644)
    r = mipd("run", "--config", str(path), "--foreground")
    assert r.returncode == 1 and "chmod 600" in r.stderr


def test_usage_errors():
    assert mipd().returncode == 2
    assert subprocess.run([h.MIPCTL, "frobnicate"], capture_output=True).returncode == 2


def test_mipctl_unreachable_daemon(tmp_path, capsys):
    assert mipctl.main(["--socket", str(tmp_path / "none.sock"), "status"]) == mipctl.EXIT_UNREACHABLE
    assert "cannot reach mipd at" in capsys.readouterr().err
    assert mipctl.main(["--socket", str(tmp_path / "none.sock"), "--json", "bindings"]) == mipctl.EXIT_UNREACHABLE
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and "cannot reach mipd" in out["error"]


def test_mipctl_reads_the_socket_path_from_the_config(tmp_path):
    path = h.write(tmp_path, h.config())
    args = mipctl.parser().parse_args(["--config", str(path), "status"])
    assert mipctl._socket_path(args) == str(tmp_path / "mipd.sock")


def test_tables_align_columns():
    text = tables.table([{"a": "10.1.0.10", "b": 1}, {"a": "x", "b": None}], [("a", "HOME"), ("b", "N")])
    assert text.splitlines() == ["HOME       N", "10.1.0.10  1", "x          -"]
    assert tables.table([], [("a", "A")]) == "(none)"
    assert tables.block([("roles", ["home_agent", "foreign_agent"]), ("uptime", 1.5), ("ok", True)]).splitlines() \
        == ["roles:   home_agent,foreign_agent", "uptime:  1.5", "ok:      yes"]


@pytest.mark.parametrize("command", sorted(mipctl.FORMATS))
def test_every_command_has_a_human_format(command):
    assert command in mipctl.COMMANDS


def test_run_reports_an_unwritable_log_file(tmp_path):
    r = mipd("run", "--config", str(h.write(tmp_path, h.config())), "--foreground", "--log-file",
             str(tmp_path / "no" / "such" / "dir" / "mipd.log"))
    assert r.returncode == 1 and "cannot start: log file" in r.stderr
