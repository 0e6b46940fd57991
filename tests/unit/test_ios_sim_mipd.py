"""The IOS-like router with a real mipd behind it, in a network namespace of the test's own.

The router runs inside the namespace (as in the lab, in place of sshd) with a mipd next to it:
`show ip mobile globals|binding` come from that mipd (`mipctl --json`) after a real
registration on UDP 434; leaving configuration mode runs the apply hook (translate, write the
files 0600, `mipd check-config`, start / reload / stop mipd); SIGTERM stops both by PID.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent" / "runtime"))
import runtime_helpers as rh

pytest.importorskip("netmiko")
from ios_sim.fixed_translator import ENVIRONMENT
from ios_sim.harness import RouterProcess

pytestmark = pytest.mark.netns

HOME_IF, PEER_IF = "ha-home", "ha-peer"


@pytest.fixture
def netns():
    if not rh.have_netns():
        pytest.skip("needs root and iproute2 to create network namespaces")
    ns = rh.Netns("iossim")
    try:
        rh.ip("link", "add", HOME_IF, "type", "veth", "peer", "name", PEER_IF, ns=ns.name)
        rh.ip("addr", "add", f"{rh.HA_ADDRESS}/24", "dev", HOME_IF, ns=ns.name)
        for dev in (HOME_IF, PEER_IF):
            rh.ip("link", "set", dev, "up", ns=ns.name)
        rh.ip("addr", "add", f"{rh.COA}/32", "dev", "lo", ns=ns.name)
        yield ns
    finally:
        ns.close()


def ha_config() -> dict:
    cfg = rh.config()
    cfg["home_agent"].update({"interface": HOME_IF, "virtual_networks": ["10.99.0.0/16"]})
    return cfg


def in_router(router: RouterProcess, ns: rh.Netns, commands: list[str] | None = None,
              config: list[str] | None = None) -> list[str]:
    """Outputs of `commands` (after `config` lines) over netmiko, from inside the namespace."""

    def session() -> list[str]:
        conn = router.netmiko()
        try:
            conn.enable()
            if config:
                conn.send_config_set(config, error_pattern=r"% Invalid|% Incomplete|% Ambiguous")
            return [conn.send_command(c) for c in commands or []]
        finally:
            conn.disconnect()

    return rh.in_netns(ns.name, session)


def wait_for_log(router: RouterProcess, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = router.router_log()
        if text in log:
            return log
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the router log:\n{router.router_log()}")


def test_show_ip_mobile_from_the_attached_mipd(netns, tmp_path: Path) -> None:
    config_path = rh.write(tmp_path / "mipd", ha_config())
    router = RouterProcess(tmp_path / "r1", "HA1", netns=netns.name,
                           extra_args=("--mipd-config", str(config_path), "--interface", f"Ethernet0/0={HOME_IF}"))
    router.start()
    try:
        globals_before, empty = in_router(router, netns, ["show ip mobile globals", "show ip mobile binding"])
        expected = ["IP Mobility global information:", "", "Home Agent",
                    "    Registration lifetime: 00:30:00 (1800 secs)"]
        assert globals_before.splitlines()[:4] == expected
        assert "        10.99.0.0/16" in globals_before
        assert empty.splitlines() == ["Mobility Binding List:", "Total 0"]
        sock = rh.udp_socket(netns.name)
        try:
            data, ident = rh.request(lifetime=600, flags=0x02)  # T: reverse tunnel (RFC 3024)
            assert rh.exchange(sock, data).code == 0
        finally:
            sock.close()
        (binding,) = in_router(router, netns, ["sh ip mob bind"])
        lines = binding.splitlines()
        assert lines[:4] == ["Mobility Binding List:", "Total 1", f"{rh.HOME}:",
                             f"    Care-of Addr {rh.COA}, Src Addr {rh.COA},"]
        assert lines[4].startswith("    Lifetime granted 00:10:00 (600), remaining 00:")
        assert lines[5].startswith("    Flags sbdmgvT, Identification ")
        assert lines[6:] == [f"    Tunnel0 src {rh.HA_ADDRESS} dest {rh.COA} reverse-allowed",
                             "    Routing Options - (T)Reverse-tunnel"]
        mipd_pid = int(rh.Mipd(netns, config_path).ctl_json("status")["pid"])
    finally:
        assert router.stop() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(mipd_pid, 0)  # the router stopped its mipd


def test_apply_hook_starts_reloads_and_stops_mipd(netns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    translation = tmp_path / "translation.yaml"
    translation.write_text(yaml.safe_dump({"config": ha_config(), "keys": rh.BASE_KEYS}))
    monkeypatch.setenv(ENVIRONMENT, str(translation))
    router = RouterProcess(tmp_path / "r1", "HA1", netns=netns.name,
                           extra_args=("--translator", "ios_sim.fixed_translator:translate"))
    router.start()
    try:
        assert "apply: no Mobile IP configuration: mipd stopped" in router.router_log()
        (globals_text,) = in_router(router, netns, ["show ip mobile globals"], ["router mobile"])
        wait_for_log(router, "apply: mipd started")
        assert "Home Agent" in globals_text
        keys = router.state_dir / "mipd" / "keys.yaml"
        assert stat.S_IMODE(keys.stat().st_mode) == 0o600
        assert rh.KEY_HEX not in router.router_log()
        in_router(router, netns, [], ["ip mobile home-agent lifetime 600"])
        wait_for_log(router, "apply: mipd reloaded")
        bad = ha_config()
        bad["home_agent"]["max_lifetime"] = "forever"
        translation.write_text(yaml.safe_dump({"config": bad, "keys": rh.BASE_KEYS}))
        in_router(router, netns, [], ["ip mobile home-agent lifetime 700"])
        log = wait_for_log(router, "apply: mipd check-config refused the translated configuration")
        assert "max_lifetime" in log
        in_router(router, netns, [], ["no router mobile"])
        wait_for_log(router, "mipd stopped (pid")
        (empty,) = in_router(router, netns, ["show ip mobile binding"])
        assert empty.splitlines() == ["Mobility Binding List:", "Total 0"]
    finally:
        assert router.stop() == 0


def test_without_translator_the_router_says_so(netns, tmp_path: Path) -> None:
    router = RouterProcess(tmp_path / "r1", netns=netns.name).start()
    try:
        in_router(router, netns, [], ["router mobile", "ip mobile home-agent"])
        wait_for_log(router, "apply: no translator configured: running configuration kept, mipd not reconfigured")
        assert not (router.state_dir / "mipd" / "mipd.yaml").exists()
    finally:
        router.stop()
