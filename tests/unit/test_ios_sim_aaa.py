"""The IOS-like router's AAA and RADIUS lines (roles/lab/files/ios_sim/aaa_commands.py): what a home agent
holding its SAs on a RADIUS server is configured with, as IOS prints it, their `no` forms, and the
RADIUS shared secrets masked in the session log."""

from __future__ import annotations

from pathlib import Path

from ios_sim import cmdlog
from test_ios_sim_cli import config_of

SECRET = "radius-shared-secret-0123"
SECRET2 = "another-radius-secret-4567"
AAA_LINES = [
    "aaa new-model",
    "aaa authorization ipmobile default group radius",
    f"radius-server host 192.0.2.50 auth-port 1812 key {SECRET}",
    f"radius-server host 192.0.2.51 auth-port 1812 acct-port 1813 key 7 {SECRET2}",
    "radius-server timeout 2",
    "radius-server retransmit 3",
    "radius-server deadtime 1",
    "router mobile",
    "ip mobile home-agent",
    "ip mobile virtual-network 10.99.0.0 255.255.0.0",
    "ip mobile host 10.99.0.11 10.99.0.20 virtual-network 10.99.0.0 255.255.0.0 aaa load-sa",
]


def test_aaa_and_radius_lines_as_ios_prints_them(tmp_path: Path) -> None:
    router, screen = config_of(tmp_path, *AAA_LINES)
    assert "% " not in screen
    lines = router.config.lines()
    assert lines.index("aaa new-model") < lines.index("aaa authorization ipmobile default group radius") < \
        lines.index("router mobile")
    assert f"radius-server host 192.0.2.50 auth-port 1812 acct-port 1646 key {SECRET}" in lines
    assert f"radius-server host 192.0.2.51 auth-port 1812 acct-port 1813 key 7 {SECRET2}" in lines
    assert "radius-server timeout 2" in lines and "radius-server deadtime 1" in lines
    assert "radius-server retransmit 3" not in lines  # the default is not shown
    assert "ip mobile host 10.99.0.11 10.99.0.20 virtual-network 10.99.0.0 255.255.0.0 aaa load-sa" in lines


def test_servers_keep_the_order_they_were_added_in(tmp_path: Path) -> None:
    """IOS tries RADIUS servers in configuration order: a new one goes last, a changed one keeps its place."""
    router, _screen = config_of(tmp_path, "radius-server host 192.0.2.60 key k1", "radius-server host 10.0.0.1 key k2",
                                "radius-server host 192.0.2.60 auth-port 1812 key k3")
    hosts = [line for line in router.config.lines() if line.startswith("radius-server host")]
    assert hosts == ["radius-server host 192.0.2.60 auth-port 1812 acct-port 1646 key k3",
                     "radius-server host 10.0.0.1 auth-port 1645 acct-port 1646 key k2"]


def test_no_forms_remove_them(tmp_path: Path) -> None:
    router, screen = config_of(tmp_path, *AAA_LINES, "no radius-server host 192.0.2.50",
                               "no aaa authorization ipmobile default group radius", "no radius-server timeout",
                               "radius-server deadtime 0")
    assert "% " not in screen
    text = router.config.text()
    assert "192.0.2.50" not in text and "authorization ipmobile" not in text
    assert "radius-server timeout" not in text and "deadtime" not in text and "192.0.2.51" in text


def test_radius_secrets_are_masked_in_the_session_log(tmp_path: Path) -> None:
    config_of(tmp_path, *AAA_LINES, f"radius-server key {SECRET}", f"radius-server host 192.0.2.52 key {SECRET} bogus")
    raw = (tmp_path / "commands.log").read_text()
    assert SECRET not in raw and SECRET2 not in raw
    commands = [e["command"] for e in cmdlog.read(tmp_path / "commands.log")]
    assert "radius-server host 192.0.2.50 auth-port 1812 key *****" in commands


def test_a_wrong_method_is_refused(tmp_path: Path) -> None:
    router, screen = config_of(tmp_path, "aaa authorization ipmobile local", "radius-server timeout 0")
    assert screen.count("% Invalid input") == 2
    assert "aaa authorization" not in router.config.text()
