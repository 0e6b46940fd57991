"""The IOS reader against an IOS-like router with a real mipd behind it, in namespaces of the test's own.

A simulated router (roles/lab/files/ios_sim) runs in its namespace as a home agent, or as a foreign agent
relaying to a Linux home agent; a node registers (signed requests on UDP 434, RFC 5944 §3.3); then
`show ip mobile ...` read over a real netmiko session and parsed by the collection's templates
(platforms/ios/state.py) must give what `mipctl --json` of the same mipd gives, verify.py's checks must
pass on it (and fail on a wrong expectation), and the modules themselves, run in the namespace with
platform=ios, must say the same without showing a password or key. Every namespace, link and process
is the test's and is removed (processes by PID).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mobileip_helpers as h
import pytest
import test_ios_sim_mipd
import yaml
from ansible_collections.netmobility.mobileip.plugins.module_utils import verify
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios.state import IosStateReader
from test_ios_sim_mipd import (
    CARE_OF,
    FA_INTERFACES,
    FA_KEY_HEX,
    FA_LINES,
    FA_SERVED,
    FA_UP,
    HA_INTERFACES,
    HA_LINES,
    LINUX_HA_UP,
    MN_IF,
    in_router,
    register,
    request_via_fa,
    rh,
    wait_for_log,
)

pytest.importorskip("netmiko")
from ios_sim.harness import RouterProcess
from mipd.protocol import codes
from mipd.runtime.sockets import PacketSocket
from mipd.wire import icmp
from mipd.wire import registration as reg

pytestmark = pytest.mark.netns
# fixtures: namespaces, veth pairs and the Linux home agent, removed at the end
spaces = test_ios_sim_mipd.spaces
home_agent_lab = test_ios_sim_mipd.home_agent_lab
foreign_agent_lab = test_ios_sim_mipd.foreign_agent_lab

WRONG_KEY = bytes(range(16))
SILENT_HA = "10.3.0.9"  # a socket in the home agent's namespace that never reads: a request to it stays pending
PENDING_HOME = "10.1.0.11"
SHOWN = {"binding", "visitor", "pending", "globals", "host", "traffic", "tunnel", "secure"}
# Fields mipd has and IOS shows no source for (state.py): null on IOS.
UNSHOWN = {"bindings": {"expires"}, "visitors": {"delivery"}, "pending": {"encap"}}


def ios_state(router: RouterProcess, ns: rh.Netns, commands: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, str]]:
    """The reader's answers over one netmiko session made in the router's namespace, and the outputs it read."""
    outputs: dict[str, str] = {}
    session = rh.in_netns(ns.name, router.netmiko)
    try:
        session.enable()

        def show(command: str) -> str:
            outputs[command] = session.send_command(command)
            return outputs[command]

        return IosStateReader(show).gather(commands), outputs
    finally:
        session.disconnect()


def same_except(ios_rows: list[dict[str, Any]], mipd_rows: list[dict[str, Any]], what: str,
                names: dict[str, str] | None = None) -> None:
    """Row by row, every field mipctl gives equal on IOS, except the unshown ones (null there) and the time left
    (IOS read first: at least mipctl's, at most the lifetime); `names`: Linux link -> IOS interface."""
    assert len(ios_rows) == len(mipd_rows) > 0
    for ios, mipd in zip(sorted(ios_rows, key=lambda r: r["home_address"]),
                         sorted(mipd_rows, key=lambda r: r["home_address"]), strict=True):
        assert set(ios) == set(mipd)
        for field in UNSHOWN.get(what, ()):
            assert ios.pop(field) is None
            mipd.pop(field)
        left = "timeout_left" if what == "pending" else "lifetime_left"
        assert int(mipd[left]) <= ios.pop(left) <= ios["lifetime"]
        mipd.pop(left)
        if names:
            mipd["interface"] = names[mipd["interface"]]
        assert ios == mipd


def same_sas(ios: list[dict[str, Any]], mipd: list[dict[str, Any]]) -> None:
    """peer, SPI, algorithm, replay and key fingerprint as mipd loaded them (IOS does not say the roles)."""
    def keyed(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((r["peer"], r["spi"], r["algorithm"], r["replay"], r["replay_window"], r["key_fingerprint"])
                      for r in rows)

    assert keyed(ios) == keyed(mipd) and len(ios) > 0
    assert all(sa["roles"] is None and sa["fallback"] is False for sa in ios)


def run_in(ns: rh.Netns, router: RouterProcess, name: str, **args: Any) -> h.ModuleRun:
    """The module run as the action plugin runs it for an IOS host, from inside the router's namespace."""
    transport = {"host": router.address, "port": router.port, "username": router.username,
                 "password": router.password, "enable_secret": router.enable_secret, "connect_timeout": 20}
    result = h.run_module(name, {"platform": "ios", "transport": transport, **args},
                          prefix=("ip", "netns", "exec", ns.name))
    for secret in (router.password, router.enable_secret, rh.KEY_HEX, FA_KEY_HEX):
        assert secret not in result.stdout and secret not in result.stderr
    return result


# ---------------------------------------------------------------------- home agent


def test_home_agent_bindings_sas_counters_match_mipctl(home_agent_lab, tmp_path: Path):
    router_ns, client_ns = home_agent_lab
    router = RouterProcess(tmp_path / "r1", "HA1", netns=router_ns.name, extra_args=HA_INTERFACES)
    router.start()
    try:
        in_router(router, router_ns, [], HA_LINES)
        wait_for_log(router, "apply: mipd started")
        assert register(client_ns, key=WRONG_KEY).code == codes.HA_MN_AUTH
        assert register(client_ns).code == codes.ACCEPTED
        mipd = rh.Mipd(router_ns, router.state_dir / "mipd" / "mipd.yaml")

        commands = ("status", "bindings", "counters", "sas")
        ios, outputs = ios_state(router, router_ns, commands)
        linux = {command: mipd.ctl_json(command) for command in commands}
        assert rh.KEY_HEX in outputs["show ip mobile secure"]  # IOS prints the key ...
        assert rh.KEY_HEX not in repr(ios)  # ... the reader never returns it

        same_except(ios["bindings"], linux["bindings"], "bindings")
        same_sas(ios["sas"], linux["sas"])
        assert ios["status"]["roles"] == linux["status"]["roles"] == ["home_agent"]
        assert ios["status"]["counts"] == linux["status"]["counts"]
        ios_ha, mipd_ha = ios["counters"]["roles"]["home_agent"], linux["counters"]["roles"]["home_agent"]
        for name in ("rx.request", "accepted.registration", f"denied.{codes.HA_MN_AUTH}"):
            assert ios_ha[name] == mipd_ha[name] > 0
        assert {n: c for n, c in ios_ha.items() if not n.startswith("ios.")}.items() <= mipd_ha.items()

        want = verify.expected({"bindings": [{"home_address": rh.HOME, "care_of_address": rh.COA, "encap": "ipip",
                                              "reverse": False}], "exact_bindings": True,
                                "security_associations": [{"peer": rh.HOME, "spi": rh.SPI}]})
        assert verify.mismatches(want, ios) == []
        wrong = verify.expected({"bindings": [{"home_address": rh.HOME, "care_of_address": "192.0.2.99"}],
                                 "security_associations": [{"peer": rh.HOME, "spi": 0x999}]})
        assert verify.mismatches(wrong, ios) == [
            f"binding for {rh.HOME}: care_of_address is {rh.COA}, expected 192.0.2.99",
            f"security association {rh.HOME} spi {0x999}: not loaded in mipd"]

        info = run_in(router_ns, router, "mobility_info")
        assert not info.failed, info.result.get("msg")
        assert set(info["mobility_info"]) == {"status", "bindings", "counters", "sas"}
        same_except(info["mobility_info"]["bindings"], mipd.ctl_json("bindings"), "bindings")
        expected = [{"home_address": rh.HOME, "care_of_address": rh.COA}]
        checked = run_in(router_ns, router, "verify_registration", bindings=expected)
        assert not checked.failed and checked["mismatches"] == [] and checked["attempts"] == 1
        refused = run_in(router_ns, router, "verify_registration", registration={"state": "registered"})
        assert refused.failed and refused["msg"].startswith("registration: this router is not a mobile router")
    finally:
        assert router.stop() == 0


# ---------------------------------------------------------------------- foreign agent


def _wait(check: Any, timeout: float = 15.0) -> Any:
    """check() until it is true or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_foreign_agent_visitors_and_pending_match_mipctl(foreign_agent_lab, tmp_path: Path):
    router_ns, mn_ns, ha_ns, _linux_ha = foreign_agent_lab
    rh.ip("addr", "add", f"{SILENT_HA}/32", "dev", "lo", ns=ha_ns.name)
    rh.ip("route", "add", f"{SILENT_HA}/32", "via", LINUX_HA_UP, ns=router_ns.name)
    silent = rh.udp_socket(ha_ns.name, SILENT_HA, 434)
    router = RouterProcess(tmp_path / "r1", "FA1", netns=router_ns.name, extra_args=FA_INTERFACES)
    mn = None
    try:
        router.start()
        mn = rh.in_netns(mn_ns.name, lambda: PacketSocket(MN_IF, True, (icmp.ICMP_ROUTER_ADVERTISEMENT,)))
        in_router(router, router_ns, [], [*FA_LINES, "ip mobile foreign-agent reg-wait 300"])
        wait_for_log(router, "apply: mipd started")
        assert yaml.safe_load((router.state_dir / "mipd" / "mipd.yaml").read_text())["foreign_agent"][
            "pending_timeout"] == 300
        request_via_fa(mn)
        _mac, rx = rh.receive(mn, lambda m, r: r.proto == 17 and r.payload[:1] == b"\x03", timeout=5.0)
        assert reg.decode(rx.payload).code == codes.ACCEPTED
        request_via_fa(mn, PENDING_HOME, SILENT_HA)  # relayed to a home agent that never answers: stays pending
        mipd = rh.Mipd(router_ns, router.state_dir / "mipd" / "mipd.yaml")
        assert _wait(lambda: mipd.ctl_json("pending"))

        commands = ("status", "visitors", "pending", "sas")
        ios, outputs = ios_state(router, router_ns, commands)
        linux = {command: mipd.ctl_json(command) for command in commands}
        names = {FA_SERVED: "Ethernet0/1", FA_UP: "Ethernet0/0"}
        same_except(ios["visitors"], linux["visitors"], "visitors", names)
        same_except(ios["pending"], linux["pending"], "pending", names)
        assert ios["pending"][0]["home_agent"] == SILENT_HA
        same_sas(ios["sas"], linux["sas"])
        assert ios["status"]["roles"] == linux["status"]["roles"] == ["foreign_agent"]
        assert ios["status"]["counts"] == linux["status"]["counts"]
        assert FA_KEY_HEX in outputs["show ip mobile secure"] and FA_KEY_HEX not in repr(ios)

        want = verify.expected({"visitors": [{"home_address": rh.HOME, "care_of_address": CARE_OF,
                                              "home_agent": rh.HA_ADDRESS}]})
        assert verify.mismatches(want, ios) == []
        wrong = verify.expected({"visitors": [{"home_address": PENDING_HOME}]})
        assert verify.mismatches(wrong, ios) == [f"visitor for {PENDING_HOME}: none (the agent has: {rh.HOME})"]
        checked = run_in(router_ns, router, "verify_registration", visitors=[
            {"home_address": rh.HOME, "care_of_address": CARE_OF, "home_agent": rh.HA_ADDRESS}])
        assert not checked.failed and checked["mismatches"] == []
    finally:
        if mn is not None:
            mn.close()
        if router.proc is not None:
            assert router.stop() == 0
        silent.close()
