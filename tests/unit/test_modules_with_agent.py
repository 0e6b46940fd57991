"""The modules against a real running mipd: a home agent in a network namespace, configured by the
modules, registering a mobile node, reloaded by the modules without losing its binding, and
reported on by mobility_info and verify_registration."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mobileip_helpers as h
import pytest

pytestmark = pytest.mark.netns

HA_ADDRESS, HOME, COA = "10.1.0.1", "10.1.0.10", "192.0.2.77"
KEY = "6d69706420746573742073656372657421"
KEY2 = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
HA = {"address": HA_ADDRESS, "interface": "ha-home", "home_networks": ["10.1.0.0/24"],
      "mobile_hosts": ["10.1.0.0/24"], "advertisement": {"interval": 1.0, "lifetime": 3}}
REGISTER = """
import socket, sys, time
from mipd.security import SecurityAssociation, sign
from mipd.security.replay import ntp_timestamp
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE
home, ha, coa, spi, key = sys.argv[1:6]
req = reg.RegistrationRequest(0, 600, home, ha, coa, ntp_timestamp(time.time()))
data = sign(SecurityAssociation(home, int(spi), bytes.fromhex(key)), req.encode(), MHAE)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((coa, 0))
s.settimeout(5)
s.sendto(data, (ha, 434))
print(reg.decode(s.recvfrom(4096)[0]).code)
"""


def ip(*args: str, ns: str | None = None) -> None:
    subprocess.run(["ip", *(["-n", ns] if ns else []), *args], check=True, capture_output=True, text=True)


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create network namespaces")
    name = f"mipcoll-{uuid.uuid4().hex[:8]}"
    ip("netns", "add", name)
    try:
        ip("link", "set", "lo", "up", ns=name)
        ip("link", "add", "ha-home", "type", "veth", "peer", "name", "ha-peer", ns=name)
        ip("addr", "add", f"{HA_ADDRESS}/24", "dev", "ha-home", ns=name)
        for dev in ("ha-home", "ha-peer"):
            ip("link", "set", dev, "up", ns=name)
        ip("addr", "add", f"{COA}/32", "dev", "lo", ns=name)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


class Agent:
    """mipd run --foreground in the namespace, on the files the modules wrote."""

    def __init__(self, ns: str, config: Path) -> None:
        self.ns, self.config, self.log = ns, config, config.parent / "mipd.log"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Agent:
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, str(h.VENV_BIN / "mipd"), "run", "--config",
                                      str(self.config), "--foreground", "--log-file", str(self.log)],
                                     text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mipd exited: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            r = subprocess.run([str(h.VENV_BIN / "mipctl"), "--config", str(self.config), "status"],
                               capture_output=True, text=True, check=False)
            if r.returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("mipd did not come up")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def register(self, spi: int = 257, key: str = KEY) -> int:
        r = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, "-c", REGISTER, HOME, HA_ADDRESS, COA,
                            str(spi), key], capture_output=True, text=True, timeout=30, check=False)
        assert r.returncode == 0, r.stderr
        return int(r.stdout.strip())


@pytest.fixture
def agent(netns: str, tmp_path: Path, mipd_bin: str) -> Iterator[tuple[Agent, dict[str, Any]]]:
    """The daemon settings as the agent role would write them, then the modules configure the roles."""
    config = tmp_path / "mipd.yaml"
    config.write_text("dataplane: {backend: none, tun: mip0}\ncontrol_socket: mipd.sock\nstate_db: state.db\n")
    opts = {"config_path": str(config), "agent_bin_dir": mipd_bin}
    assert run("security_associations", opts, config=[{"peer": HOME, "spi": 257, "key": KEY}])["changed"]
    assert run("home_agent", opts, config=HA)["validated"]
    daemon = Agent(netns, config).start()
    try:
        yield daemon, opts
    finally:
        daemon.stop()


def run(name: str, opts: dict[str, Any], expect_failure: bool = False, **args: Any) -> h.ModuleRun:
    result = h.run_module(name, {**opts, **args})
    assert KEY not in result.stdout and KEY2 not in result.stdout
    assert result.failed == expect_failure, result.result.get("msg")
    return result


def test_gather_register_verify_reload(agent):
    daemon, opts = agent
    info = run("mobility_info", opts)["mobility_info"]
    assert info["status"]["roles"] == ["home_agent"] and info["bindings"] == []
    assert set(info) == {"status", "bindings", "counters", "sas"}
    assert info["sas"][0]["peer"] == HOME and info["sas"][0]["key_fingerprint"].startswith("sha256:")

    failed = run("verify_registration", opts, expect_failure=True, bindings=[{"home_address": HOME}],
                 wait=True, timeout=4, interval=0.2)
    assert failed["mismatches"] == [f"binding for {HOME}: none (the agent has: none)"] and failed["attempts"] >= 2
    assert failed["msg"] == f"mobility state not as expected (1 mismatch): {failed['mismatches'][0]}"

    assert daemon.register() == 0
    bound = run("verify_registration", opts, bindings=[{"home_address": HOME, "care_of_address": COA}])
    assert bound["mismatches"] == [] and bound["changed"] is False
    assert bound["mobility_info"]["bindings"][0]["care_of_address"] == COA
    wrong = run("verify_registration", opts, expect_failure=True,
                bindings=[{"home_address": HOME, "care_of_address": "192.0.2.99", "reverse": True}])
    assert wrong["mismatches"] == [f"binding for {HOME}: care_of_address is {COA}, expected 192.0.2.99",
                                   f"binding for {HOME}: reverse is false, expected true"]

    # A change reloads the running agent; its binding stays (RFC 5944 §3.8.2.2).
    changed = run("home_agent", opts, config={"max_lifetime": 900})
    assert changed["reloaded"] is True and changed["restart_needed"] == []
    assert run("mobility_info", opts, gather=["bindings"])["mobility_info"]["bindings"][0]["home_address"] == HOME
    assert "written" not in run("home_agent", opts, config={"max_lifetime": 900}).result  # second run: nothing

    # Key rotation: the new SPI is loaded next to the old one, then the old one goes.
    added = run("security_associations", opts, config=[{"peer": HOME, "spi": 258, "key": KEY2}])
    assert added["reloaded"] is True
    run("verify_registration", opts, security_associations=[{"peer": HOME, "spi": 257}, {"peer": HOME, "spi": 258}])
    assert daemon.register(258, KEY2) == 0
    run("security_associations", opts, config=[{"peer": HOME, "spi": 257}], state="deleted")
    gone = run("verify_registration", opts, expect_failure=True, security_associations=[{"peer": HOME, "spi": 257}])
    assert gone["mismatches"] == [f"security association {HOME} spi 257: not loaded in mipd"]
    assert daemon.register(257, KEY) != 0  # the old key is refused now
    assert run("verify_registration", opts, bindings=[{"home_address": HOME, "care_of_address": COA}])


def test_a_role_change_asks_for_a_restart(agent):
    _daemon, opts = agent
    result = run("foreign_agent", opts, config={"interfaces": [{"name": "ha-peer", "address": "10.1.0.2"}],
                                                "advertisement": {"interval": 1.0, "lifetime": 3}})
    assert result["restart_needed"] == ["roles"] and result["reloaded"] is False
    assert any("must be restarted" in w for w in result.warnings)


def test_info_for_roles_the_host_lacks_and_a_stopped_agent(agent):
    daemon, opts = agent
    refused = run("mobility_info", opts, expect_failure=True, gather=["registration"])
    assert "this host is not a mobile node" in refused["msg"]
    daemon.stop()
    stopped = run("mobility_info", opts, expect_failure=True)
    assert "cannot reach mipd" in stopped["msg"]
    changed = run("home_agent", opts, config={"max_lifetime": 300})
    assert changed["reloaded"] is False  # nothing to reload: the socket is gone
