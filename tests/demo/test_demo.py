"""The end-to-end demo (playbooks/demo.yml, what ./mip demo runs) as a test, with a shorter stream.

The demo runs once for the module (a module-scoped fixture), from a frozen copy of the checkout
(edits made meanwhile do not reach it), with its own lab name (``mdemo<pid>``) and management
network (a free 10.253.N.0/24, a range no other test uses). It writes its summary as JSON
(-e demo_summary) and its logs (-e demo_logs) to a temporary directory and removes its lab itself
(the block's always). The tests read that summary: registration codes, the bindings and visitors
after each move, loss outside the handoff windows, the key rotation, the second site.yml run - and
then look for anything the lab left on the machine. If the demo leaves its lab behind anyway, the
fixture removes it (lab_down.yml, then the lab's Python API) after the tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import labenv
import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PREFIX = f"mdemo{os.getpid() % 10_000_000}"
STATE_DIR = Path("/var/lib/netmobility-lab") / PREFIX
STREAM_SECONDS = 1
HOME = "10.100.1.10"
CARE_OF = {"visit1": "10.100.2.1", "visit2": "10.100.3.1"}
FOREIGN_AGENT = {"visit1": "fa1", "visit2": "fa2"}
PHASES = [("home", "home", False), ("fa1", "visit1", True), ("fa2", "visit2", True), ("home again", "home", True),
          ("fa1 + rotation", "visit1", True), ("site.yml again", "visit1", False)]
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def _unavailable() -> str | None:
    return labenv.lab_unavailable()


pytestmark = [
    pytest.mark.demo,
    pytest.mark.lab,
    pytest.mark.ansible,
    pytest.mark.skipif(_unavailable() is not None, reason=str(_unavailable())),
]


def _leftovers(mgmt: str) -> dict[str, object]:
    """What the demo's lab could leave behind: namespaces, root links and addresses, processes, files."""
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=False).stdout
    net = mgmt.rsplit(".", 1)[0] + "."
    addresses = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=False).stdout
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=False).stdout
    procs = subprocess.run(["pgrep", "-af", str(STATE_DIR)], capture_output=True, text=True, check=False).stdout
    return {
        "namespaces": sorted(line.split()[0] for line in namespaces.splitlines()
                             if line.split() and line.split()[0].startswith(PREFIX + "-")),
        "root_links": sorted(name for name in (line.split(":")[1].strip().split("@")[0] for line in links.splitlines())
                             if name.startswith(PREFIX)),
        "root_addresses": [line for line in addresses.splitlines() if net in line],
        "root_routes": [line for line in routes.splitlines() if line.startswith(net)],
        "processes": [line for line in procs.splitlines() if line.strip()],  # sshd, mipd, stream of the lab
        "state_dir": STATE_DIR.exists(),
    }


class Demo:
    def __init__(self, tmp: Path, platforms: str) -> None:
        self.tmp = tmp
        self.platforms = platforms
        self.mgmt = labenv.free_network("10.253", 20, 219)  # a range no other test uses
        self.summary_path = tmp / "summary.json"
        self.logs = tmp / "logs"
        self.collections = labenv.frozen_collections("mobileip-demo-collections-")  # a copy: see labenv
        self.collection = self.collections / "ansible_collections" / "netmobility" / "mobileip"
        self.env = dict(os.environ)
        self.env.update({
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
            "ANSIBLE_RETRY_FILES_ENABLED": "false",
            "ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp / "cp"),
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        })
        self.lab = ["-e", f"lab_prefix={PREFIX}", "-e", f"lab_mgmt_network={self.mgmt}"]
        self.proc: subprocess.CompletedProcess[str] | None = None
        self.seconds = 0.0

    def run(self) -> None:
        argv = [str(VENV_BIN / "ansible-playbook"), str(self.collection / "playbooks" / "demo.yml"), *self.lab,
                "-e", f"demo_stream_seconds={STREAM_SECONDS}", "-e", f"demo_summary={self.summary_path}",
                "-e", f"demo_platforms={self.platforms}",
                "-e", f"demo_logs={self.logs}"]
        start = time.monotonic()
        self.proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, cwd=self.collection,
                                   timeout=1800, check=False)
        self.seconds = time.monotonic() - start
        self.leftovers = _leftovers(self.mgmt)

    def summary(self) -> dict:
        assert self.summary_path.exists(), f"no summary written:\n{self.output_tail()}"
        return json.loads(self.summary_path.read_text())

    def output_tail(self, n: int = 6000) -> str:
        return (self.proc.stdout[-n:] + "\n" + self.proc.stderr[-2000:]) if self.proc else "(not run)"

    def teardown(self) -> None:
        """Whatever the demo left: lab_down.yml first, then the lab's Python API and the files."""
        if not any(_leftovers(self.mgmt).values()):
            return
        subprocess.run([str(VENV_BIN / "ansible-playbook"), str(self.collection / "playbooks" / "lab_down.yml"),
                        *self.lab, "-e", f"lab_inventory_path={STATE_DIR}/hosts.yml"],
                       capture_output=True, text=True, env=self.env, cwd=self.collection, timeout=300, check=False)
        sys.path.insert(0, str(self.collections))
        from ansible_collections.netmobility.mobileip.plugins.module_utils import lab_topology as lt

        lt.ensure_absent(PREFIX, [f"{PREFIX}-mg"])
        shutil.rmtree(STATE_DIR, ignore_errors=True)


@pytest.fixture(scope="module", params=["mixed", "linux"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The demo as ./mip demo runs it (mixed: IOS-like home agent and FA2), and its Linux-only variant."""
    d = Demo(tmp_path_factory.mktemp("demo"), request.param)
    try:
        d.run()
        yield d
    finally:
        d.teardown()
        shutil.rmtree(d.collections, ignore_errors=True)


def _phase(summary: dict, name: str) -> dict:
    return next(p for p in summary["phases"] if p["phase"] == name)


def test_demo_passes_and_prints_its_summary(demo):
    """The playbook ends with failed=0 and exit status 0, prints the summary table (hosts, phases, the
    rotation, checks) and says DEMO OK; its JSON summary agrees (every check ok)."""
    recap = RECAP.search(demo.proc.stdout)
    assert demo.proc.returncode == 0 and recap and recap.group(4) == "0", demo.output_tail()
    summary = demo.summary()
    assert summary["ok"], [c for c in summary["checks"] if not c["ok"]]
    for text in ("Hosts", "Phases", "Key rotation: SPI", "DEMO OK", "home agent binding", "in handoff"):
        assert text in demo.proc.stdout
    assert [h["role"] for h in summary["hosts"]] == ["home_agent", "foreign_agent", "foreign_agent", "mobile_node",
                                                     "correspondent", "router"]
    # the mixed demo (the default): the home agent and FA2 are IOS-like routers, read through their show output
    ios = {"ha", "fa2"} if demo.platforms == "mixed" else set()
    assert {h["name"]: h["platform"] for h in summary["hosts"]} == {
        name: "ios" if name in ios else "linux" for name in ("ha", "fa1", "fa2", "mn1", "cn", "rt")}
    assert re.search(rf"\bha +home_agent +{'ios' if ios else 'linux'} ", demo.proc.stdout)
    print(f"\ndemo ({demo.platforms}): {demo.seconds:.0f} s")
    print("\n".join(summary["table"]))


def test_every_registration_accepted_with_code_0(demo):
    """After every move the mobile node's last registration reply has code 0 (registration via FA1 and FA2,
    deregistration at home), and neither the home agent nor the node counted a refused registration."""
    summary = demo.summary()
    assert [(p["phase"], p["network"], p["move"]) for p in summary["phases"]] == PHASES
    for p in summary["phases"]:
        if p["move"]:
            assert p["registration_code"] == 0, p
    assert summary["registrations_refused"] == {"home_agent": {}, "mobile_node": {}}


def test_bindings_and_visitors_right_after_each_move(demo):
    """Right after each move (the agents asked over SSH): away, exactly one binding home address -> the
    care-of address of that network's foreign agent, the node registered there and that foreign agent serving
    it; at home no binding and the node at home."""
    for p in demo.summary()["phases"]:
        bindings = {b["home_address"]: b["care_of_address"] for b in p["bindings"]}
        if p["network"] == "home":
            assert bindings == {} and p["mn_location"] == "home", p
            assert p["mn_registered"] is False or not p["move"], p
        else:
            coa = CARE_OF[p["network"]]
            assert bindings == {HOME: coa}, p
            assert p["mn_location"] == "away" and p["mn_care_of_address"] == coa and p["mn_registered"], p
            served = [v for v in p["visitors"][FOREIGN_AGENT[p["network"]]] if v["care_of_address"] == coa]
            assert [v["home_address"] for v in served] == [HOME], p


def test_no_loss_outside_the_handoff_windows(demo):
    """The correspondent's datagrams reach the node in every phase; none is lost outside a handoff window,
    and each move's handoff (carrier up on the new link to the first datagram there) was measured."""
    summary = demo.summary()
    for p in summary["phases"]:
        assert p["sent"] > 0 and p["received"] > 0, p
        assert p["lost_outside_handoff"] == 0, p
        assert p["lost"] == p["lost_in_handoff"], p
        if p["move"]:
            assert p["handoff_ms"] is not None and 0 <= p["handoff_ms"] < 10_000, p
        else:
            assert p["lost"] == 0, p
    stream = summary["stream"]
    assert stream["lost_outside_handoff"] == 0 and stream["received"] == stream["sent"] - stream["lost"]
    assert stream["duplicates"] == 0


def test_key_rotation_without_a_failed_registration(demo):
    """rotate_keys.yml ran while the node re-registered via FA1: at least one registration during it, none
    failed, and afterwards the node and its home agent hold only the new SPI."""
    rotation = demo.summary()["rotation"]
    assert rotation["accepted"] >= 1 and rotation["failed"] == 0, rotation
    assert rotation["denied_by_code"] == {} and rotation["mobile_node_denied_by_code"] == {}
    assert rotation["spi_after"] != rotation["spi_before"]
    assert rotation["mobile_node_spis"] == [rotation["spi_after"]]
    assert rotation["home_agent_spis"] == [rotation["spi_after"]]


def test_second_site_run_changes_nothing(demo):
    """The first site.yml changed every agent host; the second (after the rotation, its keys made the current
    ones) reports changed=0 for every host, and verify.yml passed in between."""
    runs = {r["name"]: r for r in demo.summary()["runs"]}
    assert set(runs) == {"site.yml", "rotate_keys.yml", "verify.yml", "site.yml again"}
    assert all(r["rc"] == 0 and r["failed"] == 0 for r in runs.values()), runs
    assert all(h["changed"] > 0 for h in runs["site.yml"]["recap"].values()), runs["site.yml"]
    assert {h: r["changed"] for h, r in runs["site.yml again"]["recap"].items()} == \
        dict.fromkeys(["ha", "fa1", "fa2", "mn1"], 0), runs["site.yml again"]["changed_tasks"]


def test_lab_down_leaves_nothing(demo):
    """Once the demo has ended (its always section ran lab_down): no namespace of its lab, no link, address
    or route of it in the root namespace, no process of the lab (sshd, mipd, the stream), no state directory."""
    assert demo.leftovers == {"namespaces": [], "root_links": [], "root_addresses": [], "root_routes": [],
                              "processes": [], "state_dir": False}
    assert (demo.logs / "summary.json").exists() and (demo.logs / "stream" / "arrivals.bin").exists()
