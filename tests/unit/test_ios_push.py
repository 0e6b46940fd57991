"""The config modules against the IOS-like router over real SSH on 127.0.0.1, run by ansible-playbook
as a user runs them, over the collection's netmiko transport (from the inventory's variables): saving,
the rotation order, save_when, what is refused before a line is sent, and the error paths.
(tests/unit/test_ios_states.py runs every state over both transports, check mode and -vvv.)

The router's session log (commands.log) is the witness of what was sent: check mode sends no
configuration line, a second run none at all beyond reads. Errors (refused line, read-back mismatch,
authentication, enable secret, unreachable, timeout) are one line with no password in any output.
Its `--refuse` and `--ignore` options stand for a release that lacks a line or silently drops it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import mobileip_helpers as h
import pytest
import yaml

pytest.importorskip("netmiko")
pytest.importorskip("asyncssh")

from ios_sim.harness import RouterProcess

KEY = "6d69706420746573742073656372657421"
KEY2 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
FA_KEY = "00112233445566778899aabbccddeeff"
SETUP = ["interface Ethernet0/0", "ip address 10.1.0.1 255.255.255.0",
         "interface Ethernet0/1", "ip address 10.2.0.1 255.255.255.0"]
HA = {"address": "10.1.0.1", "interface": "Ethernet0/0", "home_networks": ["10.1.0.0/24"],
      "mobile_hosts": ["10.1.0.10-10.1.0.20"], "max_lifetime": 600}
SAS = [{"peer": "10.1.0.10", "spi": 257, "key": KEY, "kind": "host"},
       {"peer": "10.2.0.5", "spi": 1000, "key": FA_KEY, "kind": "foreign-agent"}]
FA = {"interfaces": [{"name": "Ethernet0/1", "address": "10.2.0.1"}], "reverse_tunnel": "mandatory"}
FILTERS = {"care_of": {"rules": [{"action": "deny", "prefix": "192.0.2.0/24"}]}}
NETWORK_COLLECTIONS = h.ROOT / "build" / "network_collections"
RECAP = re.compile(r"^r1\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class Bench:
    """A router and ansible-playbook runs against it (inventory in `tmp`)."""

    def __init__(self, tmp: Path, *router_args: str, network_cli: bool = False) -> None:
        self.tmp = tmp
        self.router = RouterProcess(tmp / "router", "R1", extra_args=("--translator", "none", *router_args)).start()
        with self.router.netmiko() as session:
            session.enable()
            session.send_config_set(SETUP)
        self.network_cli = network_cli
        self.inventory = tmp / "hosts.yml"
        self.write_inventory()
        self.outputs: list[str] = []

    def write_inventory(self, **override: Any) -> None:
        r = self.router
        host: dict[str, Any] = {"ansible_host": r.address, "ansible_port": r.port, "ansible_user": r.username,
                                "ansible_password": r.password, "ansible_network_os": "cisco.ios.ios",
                                "ansible_become": True, "ansible_become_password": r.enable_secret,
                                "ansible_become_method": "netmobility.mobileip.enable"}
        if self.network_cli:
            host.update(ansible_connection="ansible.netcommon.network_cli",
                        ansible_become_method="ansible.netcommon.enable")
        host.update(override)
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": {"r1": host}}}))

    def env(self) -> dict[str, str]:
        paths = [str(h.COLLECTIONS)] + ([str(NETWORK_COLLECTIONS)] if NETWORK_COLLECTIONS.exists() else [])
        return h.subprocess_env(ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(paths), ANSIBLE_HOST_KEY_CHECKING="false",
                                ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(self.tmp / "ansible-tmp"),
                                ANSIBLE_PERSISTENT_CONTROL_PATH_DIR=str(self.tmp / "pc"),
                                ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_STDOUT_CALLBACK="default")

    def play(self, *tasks: dict[str, Any], args: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess[str], dict]:
        playbook = self.tmp / "play.yml"
        playbook.write_text(yaml.safe_dump([{"hosts": "r1", "gather_facts": False, "tasks": list(tasks)}]))
        proc = subprocess.run([str(h.VENV_BIN / "ansible-playbook"), "-v", "-i", str(self.inventory), str(playbook),
                               *args],
                              env=self.env(), capture_output=True, text=True, timeout=300, check=False)
        self.outputs.append(proc.stdout + proc.stderr)
        m = RECAP.search(proc.stdout)
        assert m, proc.stdout[-3000:] + proc.stderr[-3000:]
        recap = dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups()), strict=True))
        return proc, recap

    def sent_since(self, mark: int) -> list[str]:
        return [entry["command"] for entry in self.router.commands()[mark:]]

    def mark(self) -> int:
        return len(self.router.commands())

    def secrets(self) -> list[str]:
        return [KEY, KEY2, FA_KEY, self.router.password, self.router.enable_secret]

    def stop(self) -> None:
        self.router.stop()


def task(module: str, config: Any, state: str = "merged", **extra: Any) -> dict[str, Any]:
    return {"name": f"{module} {state}", f"netmobility.mobileip.{module}": {"config": config, "state": state, **extra}}


def config_lines(sent: list[str]) -> list[str]:
    return [c for c in sent if not c.startswith(("show ", "terminal ", "enable", "exit", "disable"))]


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory):
    b = Bench(tmp_path_factory.mktemp("ios-push"))
    yield b
    b.stop()
    for output in b.outputs:
        for secret in b.secrets():
            assert secret not in output, "a key or password in ansible-playbook's output"


def test_config_modules_push_save_and_then_change_nothing(bench: Bench) -> None:
    tasks = [task("security_associations", SAS), task("home_agent", HA), task("registration_filters", FILTERS),
             task("foreign_agent", FA)]
    mark = bench.mark()
    proc, recap = bench.play(*tasks)
    assert recap == {"ok": 4, "changed": 4, "unreachable": 0, "failed": 0}, proc.stdout[-4000:]
    sent = bench.sent_since(mark)
    assert sent.count("write memory") == 4  # saved after each change (save_when: changed)
    assert "ip mobile secure host 10.1.0.10 spi 101 key hex ***** algorithm hmac-md5" in sent  # the log masks it
    startup = (bench.router.state_dir / "startup-config").read_text()
    assert "ip mobile home-agent address 10.1.0.1" in startup and "ip mobile foreign-service reverse-tunnel" in startup
    mark = bench.mark()
    proc, recap = bench.play(*tasks)
    assert recap["changed"] == 0 and recap["failed"] == 0, proc.stdout[-4000:]
    assert config_lines(bench.sent_since(mark)) == []  # reads only


def test_rotation_adds_the_new_spi_before_the_old_goes(bench: Bench) -> None:
    rotated = [{**SAS[0], "spi": 258, "key": KEY2}, SAS[1]]
    proc, recap = bench.play(task("security_associations", rotated, "overridden"))
    result = json_result(proc.stdout, "security_associations overridden")
    assert result["commands"] == ["ip mobile secure host 10.1.0.10 spi 102 key hex ******** algorithm hmac-md5",
                                  "no ip mobile secure host 10.1.0.10 spi 101"], result["commands"]
    gathered = json_result(bench.play(task("security_associations", None, "gathered"))[0].stdout,
                           "security_associations gathered")["gathered"]
    assert sorted((sa["peer"], sa["spi"]) for sa in gathered) == [("10.1.0.10", 258), ("10.2.0.5", 1000)]
    assert all("key" not in sa and sa["key_fingerprint"].startswith("sha256:") for sa in gathered)
    proc, recap = bench.play(task("security_associations", SAS, "overridden"))
    assert recap["changed"] == 1 and recap["failed"] == 0


def test_save_when_never_and_always(bench: Bench) -> None:
    mark = bench.mark()
    proc, recap = bench.play(task("home_agent", {**HA, "max_lifetime": 700}, save_when="never"))
    assert recap["changed"] == 1 and "write memory" not in bench.sent_since(mark)
    assert "lifetime 700" not in (bench.router.state_dir / "startup-config").read_text()
    mark = bench.mark()
    proc, recap = bench.play(task("home_agent", {**HA, "max_lifetime": 700}, save_when="always"))
    assert recap["changed"] == 1 and bench.sent_since(mark).count("write memory") == 1  # no change, saved anyway
    assert config_lines(bench.sent_since(mark)) == ["write memory"]
    assert "lifetime 700" in (bench.router.state_dir / "startup-config").read_text()
    bench.play(task("home_agent", HA))


def test_a_value_ios_cannot_hold_is_refused_before_any_line(bench: Bench) -> None:
    mark = bench.mark()
    node = {"home_address": "10.99.0.11", "home_prefix_length": 16, "home_agent": "10.1.0.1",
            "interfaces": ["Ethernet0/1"], "max_retransmit_interval": 32}
    proc, recap = bench.play(task("mobile_node", node))
    assert recap["failed"] == 1
    assert "config.max_retransmit_interval: 32 s: IOS-like mobile routers take 0.01-10 s" in proc.stdout
    assert config_lines(bench.sent_since(mark)) == []


def show(bench: Bench, command: str) -> str:
    with bench.router.netmiko() as session:
        session.enable()
        return session.send_command(command)


def json_result(stdout: str, name: str) -> dict[str, Any]:
    """A task's result from the default callback's `=> {...}` line (JSON result format)."""
    section = stdout.split(f"TASK [{name}]", 1)[1]
    return yaml.safe_load(section.split("=> ", 1)[1].split("\n\n", 1)[0])


# ------------------------------------------------------------------ errors


def test_a_refused_line_fails_with_the_routers_message_and_what_was_applied(tmp_path: Path) -> None:
    b = Bench(tmp_path, "--refuse", r"ip mobile registration-lifetime \d+")
    try:
        proc, recap = b.play(task("foreign_agent", FA))
    finally:
        b.stop()
    assert recap["failed"] == 1 and "Traceback" not in proc.stdout + proc.stderr
    msg = json_result(proc.stdout.replace("fatal: [r1]: FAILED! =>", "=>"), "foreign_agent merged")["msg"]
    assert msg.startswith(f"IOS-like router {b.router.address}:{b.router.port} refused "
                          "'ip mobile registration-lifetime 1800': % Invalid input detected at '^' marker.; "
                          "applied before it: 'router mobile'; 'ip mobile foreign-agent care-of Ethernet0/1'"), msg


def test_a_push_the_router_does_not_take_fails_after_reading_it_back(tmp_path: Path) -> None:
    b = Bench(tmp_path, "--ignore", r"ip irdp maxadvertinterval \d+")
    try:
        mark = b.mark()
        proc, recap = b.play(task("home_agent", HA))
        sent = b.sent_since(mark)
    finally:
        b.stop()
    assert recap["failed"] == 1
    assert ("home_agent: the router's configuration is not what was sent: applying it again would still send "
            "'interface Ethernet0/0'; 'ip irdp maxadvertinterval 5'") in proc.stdout
    assert "write memory" not in sent


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory):
    b = Bench(tmp_path_factory.mktemp("ios-failures"))
    yield b
    b.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("case, override, expected", [
    ("password", {"ansible_password": "wrong-password"}, "authentication failed for user admin"),
    ("enable", {"ansible_become_password": "wrong-secret"}, "enable failed: wrong enable secret"),
    ("no enable", {"ansible_become": False}, "not at privilege level 15 and no enable secret is given"),
    ("unreachable", {"ansible_port": "FREE"}, "cannot connect: Connection refused"),
    ("timeout", {"ansible_port": "SILENT", "ansible_connect_timeout": 2}, "no answer within 2 s"),
])
def test_connection_failures_are_one_clear_line(failures: Bench, case: str, override: dict, expected: str) -> None:
    silent = None
    if override.get("ansible_port") == "FREE":
        override = {**override, "ansible_port": _free_port()}
    elif override.get("ansible_port") == "SILENT":  # accepts TCP, never speaks SSH
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        override = {**override, "ansible_port": silent.getsockname()[1]}
    try:
        failures.write_inventory(**override)
        proc, recap = failures.play(task("home_agent", None, "gathered"))
    finally:
        failures.write_inventory()
        if silent:
            silent.close()
    out = proc.stdout + proc.stderr
    assert recap["failed"] == 1 and "Traceback" not in out, out[-3000:]
    assert expected in out, out[-3000:]
    for secret in [*failures.secrets(), "wrong-password", "wrong-secret"]:
        assert secret not in out
