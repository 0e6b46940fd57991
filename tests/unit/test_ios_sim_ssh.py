"""The IOS-like router (roles/lab/files/ios_sim) as a process over real SSH on 127.0.0.1, with real clients.

netmiko's cisco_ios driver: login, enable, show, send_config_set, save_config, a rejected line,
abbreviations, the startup-config across a restart, the session log (keys masked), wrong
password / wrong enable secret, public-key login; the process's PID file and clean stop.
Ansible's network_cli (cisco.ios, ansible-pylibssh) when those collections are installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

netmiko = pytest.importorskip("netmiko")
asyncssh = pytest.importorskip("asyncssh")

from ios_sim.harness import RouterProcess  # noqa: E402

KEY = "7a1f39d04e5c8b2a6e9d0c3f1b2a4d5e"
ERRORS = r"% Invalid|% Incomplete|% Ambiguous|Bad mask"
HA_LINES = [
    "router mobile",
    "ip mobile home-agent lifetime 7200",
    "ip mobile virtual-network 10.99.0.0 255.255.0.0",
    "ip mobile host 10.99.0.11 10.99.0.20 virtual-network 10.99.0.0 255.255.0.0",
    f"ip mobile secure host 10.99.0.11 spi 100 key hex {KEY} algorithm md5 mode prefix-suffix",
    "interface Ethernet0/1",
    "ip mobile foreign-service registration-required reverse-tunnel",
]


@pytest.fixture
def router(tmp_path: Path):
    sim = RouterProcess(tmp_path / "r1").start()
    try:
        yield sim
    finally:
        sim.stop()


def _raw_shell(sim: RouterProcess, username: str, password: str):
    """A paramiko shell channel (what netmiko uses underneath), for byte-level checks."""
    import paramiko

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(sim.address, sim.port, username=username, password=password, look_for_keys=False,
                   allow_agent=False, timeout=10)
    channel = client.invoke_shell(width=511, height=1000)
    channel.settimeout(10)
    return client, channel


def _read_until(channel, marker: str, timeout: float = 10.0) -> str:
    data, deadline = "", time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        if channel.recv_ready():
            data += channel.recv(65536).decode()
        else:
            time.sleep(0.02)
    assert marker in data, data
    return data


def test_netmiko_configures_and_saves(router: RouterProcess) -> None:
    conn = router.netmiko()
    try:
        assert conn.find_prompt() == "R1>"
        conn.enable()
        assert conn.find_prompt() == "R1#"
        assert conn.send_command("show privilege") == "Current privilege level is 15"
        before = conn.send_command("show running-config")
        assert before.startswith("Building configuration...") and "\nhostname R1\n" in before
        out = conn.send_config_set(HA_LINES, error_pattern=ERRORS)
        assert "R1(config-router)#" in out and "R1(config-if)#" in out
        assert "[OK]" in conn.save_config()
        shown = conn.send_command("show running-config | include ^ip mobile|^router mobile")
        assert shown.splitlines() == HA_LINES[:5]
        assert conn.send_command("sh run | sec Ethernet0/1").splitlines() == [
            "interface Ethernet0/1", " no ip address", " " + HA_LINES[6]]
        assert "Ethernet0/1                unassigned" in conn.send_command("sh ip int br")
    finally:
        conn.disconnect()
    entries = router.commands()
    sent = [e["command"] for e in entries]
    assert "configure terminal" in sent and "write mem" in sent
    masked = [e for e in entries if e["command"].startswith("ip mobile secure")]
    assert masked[0]["command"] == "ip mobile secure host 10.99.0.11 spi 100 key hex ***** algorithm md5 mode " \
                                   "prefix-suffix"
    assert KEY not in (router.state_dir / "commands.log").read_text()
    assert KEY not in router.router_log()
    assert stat.S_IMODE((router.state_dir / "startup-config").stat().st_mode) == 0o600


def test_rejected_line_is_seen_by_netmiko(router: RouterProcess) -> None:
    conn = router.netmiko()
    try:
        conn.enable()
        with pytest.raises(netmiko.ConfigInvalidException) as error:
            conn.send_config_set(["router mobile", "ip mobile home-agent lifetime 99999", "ip mobile home-agent"],
                                 error_pattern=ERRORS)
        assert "ip mobile home-agent lifetime 99999" in str(error.value)
        conn.exit_config_mode()
        out = conn.send_config_set(["ip mobile hostname"], error_pattern="")
        caret_line = [line for line in out.splitlines() if line.strip() == "^"][0]
        assert caret_line.index("^") == len("R1(config)#ip mobile ")  # under the bad token, prompt counted
        assert "% Invalid input detected at '^' marker." in out
        out = conn.send_config_set(["ip mob"], error_pattern="")
        assert "% Incomplete command." in out
        assert '% Ambiguous command:  "i"' in conn.send_config_set(["i"], error_pattern="")
    finally:
        conn.disconnect()
    refused = [e for e in router.commands() if e["result"] != "ok"]
    assert [e["command"] for e in refused] == ["ip mobile home-agent lifetime 99999", "ip mobile hostname", "ip mob",
                                               "i"]
    assert "ip mobile home-agent" not in [e["command"] for e in router.commands()]  # netmiko stopped at the error


def test_startup_config_survives_restart(tmp_path: Path) -> None:
    sim = RouterProcess(tmp_path / "r1").start()
    try:
        conn = sim.netmiko()
        conn.enable()
        conn.send_config_set(HA_LINES, error_pattern=ERRORS)
        conn.save_config()
        conn.send_config_set(["ip mobile virtual-network 10.98.0.0 255.255.0.0"], error_pattern=ERRORS)  # not saved
        conn.disconnect()
        pid = sim.proc.pid
        assert (sim.state_dir / "ios_sim.pid").read_text().strip() == str(pid)
        assert sim.stop() == 0
        assert not (sim.state_dir / "ios_sim.pid").exists()  # clean stop on SIGTERM
        sim.start()
        conn = sim.netmiko()
        conn.enable()
        running = conn.send_command("show running-config")
        conn.disconnect()
    finally:
        sim.stop()
    for line in HA_LINES[:5]:
        assert f"\n{line}\n" in running
    assert "10.98.0.0" not in running
    assert "startup-config line refused" not in sim.router_log()


def test_wrong_password_and_unknown_user(router: RouterProcess) -> None:
    with pytest.raises(netmiko.NetmikoAuthenticationException):
        router.netmiko(password=router.password + "x")
    with pytest.raises(netmiko.NetmikoAuthenticationException):
        router.netmiko(username="nobody")
    assert "login failed for 'admin'" in router.router_log()
    assert router.password not in router.router_log()


def test_wrong_enable_secret(router: RouterProcess) -> None:
    client, channel = _raw_shell(router, router.username, router.password)
    try:
        _read_until(channel, "R1>")
        channel.send("enable\n")
        _read_until(channel, "Password: ")
        screen = ""
        for attempt in ("guess1", "guess2", "guess3"):
            channel.send(attempt + "\n")
            screen += _read_until(channel, "Password: " if attempt != "guess3" else "R1>")
        assert "% Bad secrets" in screen and "guess" not in screen  # echo off while the secret is typed
        channel.send("enable\n")
        _read_until(channel, "Password: ")
        channel.send(router.enable_secret + "\n")
        assert router.enable_secret not in _read_until(channel, "R1#")
    finally:
        client.close()
    conn = router.netmiko(secret="wrong", read_timeout_override=3)
    try:
        # IOS asks three times: netmiko waits for a prompt after its one try and gives up
        with pytest.raises((ValueError, netmiko.exceptions.ReadTimeout)):
            conn.enable()
    finally:
        conn.disconnect()
    entries = router.commands()
    assert all(router.enable_secret not in e["command"] and "guess" not in e["command"] for e in entries)


def test_public_key_login_at_privilege_15(tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(key.export_private_key())
    key_file.chmod(0o600)
    sim = RouterProcess(tmp_path / "r1", public_key=key.export_public_key().decode().strip(), privilege=15).start()
    try:
        conn = sim.netmiko(password=None, use_keys=True, key_file=str(key_file), allow_agent=False)
        assert conn.find_prompt() == "R1#"
        assert conn.send_command("show privilege") == "Current privilege level is 15"
        conn.disconnect()
    finally:
        sim.stop()


def test_users_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    sim = RouterProcess(tmp_path / "r1")
    sim.users_file.chmod(0o644)
    with pytest.raises(RuntimeError, match="make it 0600"):
        sim.start()
    assert sim.proc is not None and sim.proc.returncode == 2


def test_exec_request_and_copy_prompt(router: RouterProcess) -> None:
    client, channel = _raw_shell(router, router.username, router.password)
    try:
        _read_until(channel, "R1>")
        channel.send("enable\r")  # network_cli ends lines with CR
        _read_until(channel, "Password: ")
        channel.send(router.enable_secret + "\r")
        _read_until(channel, "R1#")
        channel.send("copy running-config startup-config\r")
        _read_until(channel, "Destination filename [startup-config]? ")
        channel.send("\r")
        assert "Building configuration...\n[OK]\nR1#" in _read_until(channel, "[OK]\nR1#")
    finally:
        client.close()
    assert (router.state_dir / "startup-config").exists()


# ------------------------------------------------------------------ Ansible network_cli


def _network_collections() -> str | None:
    """A collections path holding ansible.netcommon and cisco.ios (build/network_collections, or the env's)."""
    candidates = [Path(__file__).resolve().parents[2] / "build" / "network_collections",
                  *(Path(p) for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p)]
    for root in candidates:
        if (root / "ansible_collections" / "cisco" / "ios").is_dir() and \
                (root / "ansible_collections" / "ansible" / "netcommon").is_dir():
            return str(root)
    return None


@pytest.mark.ansible
def test_network_cli_ios_command_and_config(router: RouterProcess, tmp_path: Path) -> None:
    collections = _network_collections()
    if collections is None:
        pytest.skip("ansible.netcommon/cisco.ios not installed: python scripts/network_collections.py")
    pytest.importorskip("pylibsshext")
    ansible = Path(sys.executable).parent / "ansible"
    if not ansible.exists() and shutil.which("ansible") is None:
        pytest.skip("ansible-core is not installed")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        "all:\n  hosts:\n    r1:\n"
        f"      ansible_host: {router.address}\n      ansible_port: {router.port}\n"
        f"      ansible_user: {router.username}\n      ansible_password: {router.password}\n"
        "      ansible_connection: ansible.netcommon.network_cli\n      ansible_network_os: cisco.ios.ios\n"
        "      ansible_become: true\n      ansible_become_method: enable\n"
        f"      ansible_become_password: {router.enable_secret}\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_HOST_KEY_CHECKING="false",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))

    def adhoc(module: str, args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(ansible), "-i", str(inventory), "r1", "-m", module, "-a", args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    version = adhoc("cisco.ios.ios_command", "commands='show version'")
    assert version.returncode == 0, version.stdout + version.stderr
    assert "Version 12.4(25d)" in version.stdout
    config = adhoc("cisco.ios.ios_config", "parents='interface Ethernet0/1' "
                   "lines='ip mobile foreign-service registration-required' save_when=modified")
    assert config.returncode == 0 and '"changed": true' in config.stdout, config.stdout + config.stderr
    again = adhoc("cisco.ios.ios_config", "parents='interface Ethernet0/1' "
                  "lines='ip mobile foreign-service registration-required' save_when=modified")
    assert again.returncode == 0 and '"changed": false' in again.stdout, again.stdout + again.stderr
    bad = adhoc("cisco.ios.ios_config", "lines='ip mobile home-agent lifetime 1'")
    assert bad.returncode != 0 and "Invalid input detected" in bad.stdout
    assert "ip mobile foreign-service registration-required" in (router.state_dir / "startup-config").read_text()
    sent = [e["command"] for e in router.commands()]
    assert "copy running-config startup-config" in sent
    assert router.password not in version.stdout + config.stdout + bad.stdout


def test_stop_with_a_session_in_configuration_mode(tmp_path: Path) -> None:
    """SIGTERM while a client sits in configuration mode: sessions closed, exit 0, port free."""
    sim = RouterProcess(tmp_path / "r1").start()
    port = sim.port
    conn = sim.netmiko()
    conn.enable()
    conn.config_mode()
    assert sim.stop(timeout=5) == 0
    assert not (sim.state_dir / "ios_sim.pid").exists()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nothing left listening


def test_exec_request_runs_one_command(router: RouterProcess) -> None:
    """`ssh R1 show version`: IOS runs the command at the user's privilege and closes the channel."""
    import paramiko

    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(router.address, router.port, username=router.username, password=router.password,
                   look_for_keys=False, allow_agent=False, timeout=10)
    try:
        _stdin, stdout, _stderr = client.exec_command("show privilege", timeout=10)
        assert stdout.read().decode() == "Current privilege level is 1\n"
        _stdin, stdout, _stderr = client.exec_command("show running-config", timeout=10)
        assert "% Invalid input detected at '^' marker." in stdout.read().decode()  # privilege 1
    finally:
        client.close()


def test_hostile_input_does_not_break_the_router(router: RouterProcess) -> None:
    """Invalid UTF-8, control characters and a 1 MB line: refused or ignored, the session goes on."""
    client, channel = _raw_shell(router, router.username, router.password)
    try:
        _read_until(channel, "R1>")
        channel.send(b"\xff\xfeshow version\n")  # undecodable bytes: characters nothing accepts
        assert "% Invalid input detected at '^' marker." in _read_until(channel, "\nR1>")
        channel.send(b"\x00\x01\x02show \x1b[Aversion\x07 | include ^Cisco IOS\n")  # control keys dropped
        assert "Cisco IOS Software" in _read_until(channel, "\nR1>")
        channel.sendall(b"x" * 1_000_000 + b"\n")
        screen = _read_until(channel, "% Invalid input detected at '^' marker.", timeout=60)
        assert len(screen) < 20_000  # the line was cut at 4096 characters
        channel.send("show privilege\n")
        assert "Current privilege level is 1" in _read_until(channel, "Current privilege level is 1")
    finally:
        client.close()
    assert "failed" not in router.router_log()
