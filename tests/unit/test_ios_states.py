"""Every config module in every state on IOS-like routers, over both transports, by ansible-playbook.

A home agent + foreign agent router (home_agent, foreign_agent, security_associations,
registration_filters) and a mobile router (mobile_node), both the simulator over real SSH on
127.0.0.1, reached once with the collection's netmiko transport and once through
ansible.netcommon.network_cli. For each: merged, replaced, overridden, gathered and deleted, each
followed by a second run that changes nothing and sends no configuration line (the router's
commands.log); check mode sends none either. Over network_cli too: the connection failures are one
line, and no password, enable secret or key is in any output at -vvv.
(tests/unit/test_ios_push.py has the netmiko details: save_when, refusals, read-back.)
"""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mobileip_helpers as h
import pytest
import yaml
from ios_sim.harness import RouterProcess
from test_ios_push import FA, FILTERS, HA, KEY, KEY2, NETWORK_COLLECTIONS, SAS, Bench, config_lines, json_result, task

MN = {
    "home_address": "10.99.0.11",
    "home_prefix_length": 16,
    "home_agent": "10.1.0.1",
    "interfaces": ["Ethernet0/0"],
    "reverse_tunnel": True,
    "lifetime": 600,
    "solicit_interval": 0.5,
    "max_retransmit_interval": 8,
}
MN_SETUP = ["interface Ethernet0/0", "ip address 172.16.20.2 255.255.255.0"]
RECAPS = re.compile(r"^(r\d)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
# What each state sets, per host: (r1's tasks, r2's tasks)
CHANGED_HA = {**HA, "max_lifetime": 900}
CHANGED_SAS = [{**SAS[0], "key": KEY2}, SAS[1]]
CHANGED_FA = {**FA, "reverse_tunnel": "offered"}
CHANGED_FILTERS = {"roaming": {"default": "deny", "rules": [{"action": "permit", "prefix": "10.1.0.10"}]}}
CHANGED_MN = {**MN, "lifetime": 900}


class TwoRouters(Bench):
    """The parent's router (r1: agents) and a mobile router (r2), one inventory, plays per host."""

    def __init__(self, tmp: Path, network_cli: bool) -> None:
        self.mobile_router = RouterProcess(tmp / "mobile-router", "MR2", extra_args=("--translator", "none")).start()
        with self.mobile_router.netmiko() as session:
            session.enable()
            session.send_config_set(MN_SETUP)
        super().__init__(tmp, network_cli=network_cli)

    def write_inventory(self, **override: Any) -> None:
        hosts = {
            name: {**router.ansible_vars(self.network_cli), **override}
            for name, router in (("r1", self.router), ("r2", self.mobile_router))
        }
        self.inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))

    def plays(
        self, agent_tasks: list[dict[str, Any]], mobile_tasks: list[dict[str, Any]], args: tuple[str, ...] = ()
    ) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, int]]]:
        """Run r1's tasks and r2's as two plays of one playbook; the recap per host."""
        playbook = self.tmp / "plays.yml"
        playbook.write_text(
            yaml.safe_dump(
                [
                    {"hosts": "r1", "gather_facts": False, "tasks": agent_tasks},
                    {"hosts": "r2", "gather_facts": False, "tasks": mobile_tasks},
                ]
            )
        )
        proc = subprocess.run(
            [str(h.VENV_BIN / "ansible-playbook"), "-v", "-i", str(self.inventory), str(playbook), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.outputs.append(proc.stdout + proc.stderr)
        recaps = {
            m[0]: dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m[1:]), strict=True))
            for m in RECAPS.findall(proc.stdout)
        }
        assert set(recaps) == {"r1", "r2"}, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc, recaps

    def marks(self) -> tuple[int, int]:
        return len(self.router.commands()), len(self.mobile_router.commands())

    def config_sent_since(self, marks: tuple[int, int]) -> list[str]:
        """The configuration lines both routers got since `marks` (reads and session commands left out)."""
        sent = [e["command"] for e in self.router.commands()[marks[0] :]]
        sent += [e["command"] for e in self.mobile_router.commands()[marks[1] :]]
        return config_lines(sent)

    def secrets(self) -> list[str]:
        return [*super().secrets(), self.mobile_router.password, self.mobile_router.enable_secret]

    def stop(self) -> None:
        super().stop()
        self.mobile_router.stop()


def agent_tasks(state: str, ha: Any, sas: Any, fa: Any, filters: Any) -> list[dict[str, Any]]:
    """The four agent resources in `state` (filters before the home agent naming them, after it when deleted)."""
    tasks = [
        task("security_associations", sas, state),
        task("home_agent", ha, state),
        task("registration_filters", filters, state),
        task("foreign_agent", fa, state),
    ]
    return [tasks[0], tasks[2], tasks[1], tasks[3]] if state == "deleted" else tasks


def changes(proc: subprocess.CompletedProcess[str], recaps: dict[str, dict[str, int]]) -> tuple[int, int]:
    """(changed on r1, on r2) of a run that failed nowhere."""
    failures = [line for line in proc.stdout.splitlines() if line.startswith("fatal: ")]
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in recaps.values()), (recaps, failures)
    return recaps["r1"]["changed"], recaps["r2"]["changed"]


@pytest.fixture(scope="module", params=["netmiko", "network_cli"])
def routers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "network_cli":
        if not NETWORK_COLLECTIONS.exists():
            pytest.skip("ansible.netcommon/cisco.ios not installed (./mip setup)")
        pytest.importorskip("pylibsshext")
    pair = TwoRouters(tmp_path_factory.mktemp(f"ios-states-{request.param}"), request.param == "network_cli")
    yield pair
    pair.stop()
    for output in pair.outputs:
        for secret in pair.secrets():
            assert secret not in output, "a key or password in ansible-playbook's output"


def test_each_state_then_a_second_run_that_changes_nothing(routers: TwoRouters) -> None:
    steps = [  # state, r1's values, r2's value, changed on (r1, r2), check mode first
        ("merged", (HA, SAS, FA, FILTERS), MN, (4, 1), False),
        ("replaced", (CHANGED_HA, CHANGED_SAS, CHANGED_FA, CHANGED_FILTERS), CHANGED_MN, (4, 1), True),
        ("overridden", (HA, SAS, FA, FILTERS), MN, (4, 1), False),
        ("gathered", (None, None, None, None), None, (0, 0), False),
        ("deleted", (None, None, None, None), None, (4, 1), True),
    ]
    for state, agent_values, mobile_value, changed, check_first in steps:
        plays = (agent_tasks(state, *agent_values), [task("mobile_node", mobile_value, state)])
        marks = routers.marks()
        if check_first:
            proc, recaps = routers.plays(*plays, args=("--check",))
            assert changes(proc, recaps) == changed, (state, proc.stdout[-3000:])
            assert routers.config_sent_since(marks) == [], f"check mode sent configuration ({state})"
        proc, recaps = routers.plays(*plays)
        assert changes(proc, recaps) == changed, (state, proc.stdout[-4000:])
        if state == "gathered":
            assert_gathered(proc.stdout)
            assert routers.config_sent_since(marks) == []
            continue
        assert routers.config_sent_since(marks), state
        marks = routers.marks()
        proc, recaps = routers.plays(*plays)
        assert changes(proc, recaps) == (0, 0), (state, proc.stdout[-4000:])
        assert routers.config_sent_since(marks) == [], f"the second {state} run sent configuration"
    for router in (routers.router, routers.mobile_router):
        with router.netmiko() as session:
            session.enable()
            assert "ip mobile" not in session.send_command("show running-config"), "deleted left ip mobile lines"


def assert_gathered(stdout: str) -> None:
    """What overridden set, as gathered returns it (keys as fingerprints only)."""
    names = ["security_associations", "home_agent", "registration_filters", "foreign_agent", "mobile_node"]
    gathered = {name: json_result(stdout, f"{name} gathered")["gathered"] for name in names}
    assert gathered["home_agent"]["address"] == "10.1.0.1" and gathered["home_agent"]["max_lifetime"] == 600
    sas = gathered["security_associations"]
    assert sorted((sa["peer"], sa["spi"]) for sa in sas) == [("10.1.0.10", 257), ("10.2.0.5", 1000)]
    assert all(sa["key_fingerprint"].startswith("sha256:") and "key" not in sa for sa in sas)
    assert gathered["foreign_agent"]["reverse_tunnel"] == "mandatory"
    assert gathered["registration_filters"]["care_of"]["rules"] == [
        {"action": "deny", "prefix": "192.0.2.0/24", "nai": None}
    ]
    assert gathered["mobile_node"]["home_address"] == "10.99.0.11" and gathered["mobile_node"]["lifetime"] == 600
    assert KEY not in stdout and KEY2 not in stdout


@pytest.mark.parametrize(
    "line, rule",
    [
        ("access-list 91 permit 10.1.0.10", {"action": "permit", "prefix": "10.1.0.10/32"}),  # how IOS shows a host
        ("access-list 91 permit host 10.1.0.10", {"action": "permit", "prefix": "10.1.0.10/32"}),
        ("access-list 91 permit 10.1.0.10 0.0.0.0", {"action": "permit", "prefix": "10.1.0.10/32"}),
        ("access-list 91 deny   10.0.0.0 0.255.255.255", {"action": "deny", "prefix": "10.0.0.0/8"}),
    ],
)
def test_access_list_entries_as_ios_shows_them(line: str, rule: dict[str, str]) -> None:
    """A wildcard is not a netmask: `A 0.0.0.0` is one host (not 0.0.0.0/0, as IPv4Network reads it)."""
    text = f"ip mobile home-agent roam-access 91\n{line}\naccess-list 91 deny   any\n"
    result = h.run_module("registration_filters", {"platform": "ios", "state": "parsed", "running_config": text})
    assert not result.failed, result.result
    assert result["parsed"]["roaming"] == {"default": "deny", "rules": [{**rule, "nai": None}]}


def test_a_non_contiguous_wildcard_is_named() -> None:
    """Named as what the model cannot hold (a warning here, a refusal before a change), not a traceback."""
    text = "ip mobile home-agent roam-access 91\naccess-list 91 permit 10.0.0.0 0.255.0.255\n"
    result = h.run_module("registration_filters", {"platform": "ios", "state": "parsed", "running_config": text})
    assert not result.failed and "Traceback" not in result.stdout + result.stderr, result.result
    assert result.warnings == [
        "access-list 91 permit 10.0.0.0 0.255.0.255: a wildcard that is not a prefix (the model's rules are prefixes)"
    ]


def test_vvv_shows_no_password_secret_or_key(routers: TwoRouters) -> None:
    """At -vvv Ansible prints the module's arguments (the transport's secrets are no_log) and its result."""
    marks = routers.marks()
    proc, recaps = routers.plays(
        [task("security_associations", [{**SAS[0], "key": KEY2}], "replaced")],
        [task("mobile_node", None, "gathered")],
        args=("-vvv", "--diff"),
    )
    assert changes(proc, recaps) == (1, 0)
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in proc.stdout or routers.network_cli
    for secret in routers.secrets():
        assert secret not in proc.stdout + proc.stderr
    assert routers.config_sent_since(marks)
    routers.plays([task("security_associations", SAS, "overridden")], [task("mobile_node", None, "gathered")])


# ------------------------------------------------------------------ network_cli failures


@pytest.fixture(scope="module")
def network_cli_router(tmp_path_factory: pytest.TempPathFactory):
    if not NETWORK_COLLECTIONS.exists():
        pytest.skip("ansible.netcommon/cisco.ios not installed (./mip setup)")
    pytest.importorskip("pylibsshext")
    bench = Bench(tmp_path_factory.mktemp("ios-network-cli-failures"), network_cli=True)
    yield bench
    bench.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "case, override, expected",
    [
        ("password", {"ansible_password": "wrong-password"}, "authentication failed for user admin"),
        ("enable", {"ansible_become_password": "wrong-secret"}, "enable failed: wrong enable secret"),
        ("no enable", {"ansible_become": False}, "at privilege level 1 (ansible_become, ansible_become_method"),
        ("unreachable", {"ansible_port": "FREE"}, "cannot connect: Connection refused"),
    ],
)
def test_network_cli_failures_are_one_clear_line(network_cli_router: Bench, case: str, override: dict, expected: str):
    if override.get("ansible_port") == "FREE":
        override = {**override, "ansible_port": _free_port()}
    try:
        network_cli_router.write_inventory(**override)
        proc, recap = network_cli_router.play(task("home_agent", None, "gathered"))
    finally:
        network_cli_router.write_inventory()
    out = proc.stdout + proc.stderr
    assert recap["failed"] == 1 and "Traceback" not in out, out[-3000:]
    port = override.get("ansible_port", network_cli_router.router.port)
    assert f"IOS-like router 127.0.0.1:{port}: {expected}" in out, out[-3000:]
    for secret in [*network_cli_router.secrets(), "wrong-password", "wrong-secret"]:
        assert secret not in out


# ------------------------------------------------------------------ for the modules that only read


def test_open_connection_gives_a_router_to_show_on(tmp_path: Path) -> None:
    """transport.open_connection(module): what mobility_info and verify_registration will read with."""
    from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.base import PlatformError
    from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios import transport

    router = RouterProcess(tmp_path / "r", "R9", extra_args=("--translator", "none")).start()
    params = {
        "host": router.address,
        "port": router.port,
        "username": router.username,
        "password": router.password,
        "enable_secret": router.enable_secret,
        "connect_timeout": 10,
        "command_timeout": 10,
    }
    try:
        connection = transport.open_connection(SimpleNamespace(params={"transport": params}))
        try:
            assert connection.show("show privilege").strip() == "Current privilege level is 15"
        finally:
            connection.close()
        with pytest.raises(PlatformError) as refused:
            transport.open_connection(SimpleNamespace(params={"transport": {**params, "password": "wrong-password"}}))
        assert str(refused.value) == (
            f"IOS-like router 127.0.0.1:{router.port}: authentication failed for user admin "
            "(ansible_user, ansible_password or ansible_ssh_private_key_file)"
        )
        with pytest.raises(PlatformError, match="^no way to the router"):
            transport.open_connection(SimpleNamespace(params={"transport": None}))
    finally:
        router.stop()
    assert [e["command"] for e in router.commands() if e["command"] == "show privilege"]


def test_the_newline_after_the_enable_secret_comes_with_the_prompt(tmp_path: Path) -> None:
    """network_cli (cisco.ios, prompt_retry_check) takes `Password: ` followed by a lone newline for the question
    asked again ("answer is not valid"): the router sends the newline and the next prompt as one write."""
    from test_ios_sim_ssh import _raw_shell, _read_until

    router = RouterProcess(tmp_path / "r", "R7", extra_args=("--translator", "none")).start()
    try:
        client, channel = _raw_shell(router, router.username, router.password)
        try:
            _read_until(channel, "R7>")
            channel.send("enable\r")
            _read_until(channel, "Password: ")
            channel.send(router.enable_secret + "\r")
            after = channel.recv(65536).decode()
        finally:
            client.close()
    finally:
        router.stop()
    assert after.strip() == "R7#", repr(after)


def test_mobility_config_sends_each_resource_and_saves_once(routers: TwoRouters) -> None:
    """mobility_config (what the roles run) on an IOS-like router: r1's SAs, home agent, registration filters and
    foreign agent in one task over one connection. The run sends the lines and saves once; a second run sends
    nothing and does not save; the removal of all four (filters before the home agent naming them) sends nothing in
    check mode and leaves no ip mobile line."""

    def one_task(state: str, *values: Any) -> list[dict[str, Any]]:
        names = ("security_associations", "home_agent", "registration_filters", "foreign_agent")
        given = {n: {"config": v, "state": state} for n, v in zip(names, values, strict=True)}
        return [{"name": f"mobility_config {state}", "netmobility.mobileip.mobility_config": given}]

    def saves(marks: tuple[int, int]) -> int:
        return sum(e["command"] == "write memory" for e in routers.router.commands()[marks[0]:])

    plays = (one_task("merged", SAS, HA, FILTERS, FA), [task("mobile_node", MN, "merged")])
    marks = routers.marks()
    proc, recaps = routers.plays(*plays)
    assert changes(proc, recaps) == (1, 1), proc.stdout[-4000:]
    assert routers.config_sent_since(marks) and saves(marks) == 1
    marks = routers.marks()
    proc, recaps = routers.plays(*plays)
    assert changes(proc, recaps) == (0, 0) and routers.config_sent_since(marks) == [] and saves(marks) == 0
    removal = (one_task("deleted", None, None, None, None), [task("mobile_node", None, "deleted")])
    proc, recaps = routers.plays(*removal, args=("--check",))
    assert changes(proc, recaps) == (1, 1) and routers.config_sent_since(marks) == [] and saves(marks) == 0
    proc, recaps = routers.plays(*removal)
    assert changes(proc, recaps) == (1, 1), proc.stdout[-4000:]
    with routers.router.netmiko() as session:
        session.enable()
        assert "ip mobile" not in session.send_command("show running-config")
