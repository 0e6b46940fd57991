#!/usr/bin/env python3
"""Per-router cost of a no-change `home_agent` + `security_associations` run on IOS-like routers.

    .venv/bin/python benchmarks/ios_push.py [--routers N] [--rounds R] [--transport netmiko|network_cli]

Starts N IOS-like routers (roles/lab/files/ios_sim) on 127.0.0.1 only, configures a home agent with
two security associations on each with a first ansible-playbook run, then runs the same playbook R
more times (nothing to change: the modules read the running configuration and send no line) over
each transport: the collection's netmiko transport (the default) and the hosts' own
ansible.netcommon.network_cli connection (skipped when ansible.netcommon/cisco.ios or
ansible-pylibssh are missing). A playbook of one `ansible.builtin.set_fact` task over the same
hosts gives the fixed cost of ansible-playbook itself.

For each it prints the wall time per run and per router (median and maximum over the rounds), the
controller's CPU per router (ansible-playbook, its workers, the modules and, for network_cli, the
persistent `ansible-connection` processes: this script is their subreaper, so their CPU is counted
when they exit at the end of the play) and the routers' CPU per router (from /proc/PID/stat).
Prints figures; asserts nothing, but says so when a no-change run changed or failed.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "roles" / "lab" / "files"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ios_sim.harness import RouterProcess  # noqa: E402
from ios_sim_cli import process_cpu  # noqa: E402

VENV_BIN = Path(sys.executable).parent
COLLECTIONS = ROOT / "build" / "collections"
NETWORK_COLLECTIONS = ROOT / "build" / "network_collections"
KEYS = ("00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100")
SETUP = ["interface Ethernet0/0", "ip address 10.1.0.1 255.255.255.0"]
TASKS = [
    {
        "name": "home agent",
        "netmobility.mobileip.home_agent": {
            "config": {
                "address": "10.1.0.1",
                "interface": "Ethernet0/0",
                "home_networks": ["10.1.0.0/24"],
                "mobile_hosts": ["10.1.0.10-10.1.0.20"],
                "max_lifetime": 600,
            }
        },
    },
    {
        "name": "security associations",
        "netmobility.mobileip.security_associations": {
            "config": [
                {"peer": "10.1.0.10", "spi": 257, "key": KEYS[0], "kind": "host"},
                {"peer": "10.1.0.11", "spi": 257, "key": KEYS[1], "kind": "host"},
            ]
        },
    },
]
NOOP = [{"name": "nothing", "ansible.builtin.set_fact": {"nothing": True}}]
RECAP = re.compile(r"^\S+\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned descendants (network_cli's daemonised ansible-connection) become our children, so their CPU is
    counted in RUSAGE_CHILDREN once reaped."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("note: not a subreaper: network_cli's persistent connection CPU is not counted")


def reap_orphans(router_pids: set[int], timeout: float = 30.0) -> None:
    """Wait for every child that is not a router (the persistent connections shut down at the end of the play)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            children = set(map(int, Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()))
            if not children - router_pids:
                return
            time.sleep(0.05)
    print("note: a persistent connection outlived the play; its CPU is not counted")


class Fleet:
    """N routers on loopback, an inventory per transport, and timed ansible-playbook runs."""

    def __init__(self, tmp: Path, count: int) -> None:
        self.tmp = tmp
        self.routers = [
            RouterProcess(tmp / f"r{i}", f"R{i}", extra_args=("--translator", "none")).start()
            for i in range(1, count + 1)
        ]
        for router in self.routers:
            with router.netmiko() as session:
                session.enable()
                session.send_config_set(SETUP)
        self.env = dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=f"{COLLECTIONS}:{NETWORK_COLLECTIONS}",
            ANSIBLE_HOST_KEY_CHECKING="false",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-tmp"),
            ANSIBLE_PERSISTENT_CONTROL_PATH_DIR=str(tmp / "pc"),
        )

    def inventory(self, transport: str) -> Path:
        hosts = {f"r{i}": r.ansible_vars(transport == "network_cli") for i, r in enumerate(self.routers, 1)}
        path = self.tmp / f"{transport}.yml"
        path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
        return path

    def play(self, inventory: Path, tasks: list[dict[str, Any]]) -> tuple[float, float, float, tuple[int, ...]]:
        """One run: wall seconds, controller CPU seconds, routers' CPU seconds, (changed, unreachable, failed)."""
        book = self.tmp / "play.yml"
        book.write_text(yaml.safe_dump([{"hosts": "all", "gather_facts": False, "tasks": tasks}]))
        pids = {r.proc.pid for r in self.routers if r.proc}
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        routers_cpu = sum(process_cpu(pid) for pid in pids)
        start = time.perf_counter()
        proc = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "--forks", str(len(self.routers)), str(book)],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        reap_orphans(pids)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        controller_cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
        counts = [tuple(map(int, m)) for m in RECAP.findall(proc.stdout)]
        totals = tuple(sum(c[i] for c in counts) for i in range(3)) if counts else (-1, -1, -1)
        if proc.returncode != 0 or not counts:
            print(proc.stdout[-2000:] + proc.stderr[-2000:])
        return wall, controller_cpu, sum(process_cpu(pid) for pid in pids) - routers_cpu, totals

    def stop(self) -> None:
        for router in self.routers:
            router.stop()


def network_cli_missing() -> str | None:
    if not (NETWORK_COLLECTIONS / "ansible_collections" / "ansible" / "netcommon").is_dir():
        return "ansible.netcommon/cisco.ios not installed (./mip setup)"
    try:
        import pylibsshext  # noqa: F401
    except ImportError:
        return "ansible-pylibssh not installed"
    return None


def measure(fleet: Fleet, name: str, inventory: Path, tasks: list[dict[str, Any]], rounds: int) -> None:
    n = len(fleet.routers)
    walls, controller, routers, odd = [], 0.0, 0.0, []
    for _ in range(rounds):
        wall, controller_cpu, routers_cpu, totals = fleet.play(inventory, tasks)
        walls.append(wall)
        controller += controller_cpu
        routers += routers_cpu
        if totals[0] or totals[1] or totals[2]:
            odd.append(f"changed/unreachable/failed {totals}")
    print(
        f"{name:<34} run {statistics.median(walls):6.2f} s median {max(walls):6.2f} s max   per router "
        f"{statistics.median(walls) / n:6.2f} s   controller CPU/router {controller / rounds / n:6.2f} s   "
        f"router CPU/router {routers / rounds / n * 1e3:7.1f} ms   ({rounds} runs)"
    )
    for note in sorted(set(odd)):
        print(f"    NOT a no-change run: {note}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routers", type=int, default=4, help="routers per run (forks = routers; default 4)")
    ap.add_argument("--rounds", type=int, default=5, help="no-change runs per transport (default 5)")
    ap.add_argument(
        "--transport",
        choices=("netmiko", "network_cli"),
        action="append",
        help="only this transport (repeat; default both)",
    )
    args = ap.parse_args()
    become_subreaper()
    transports = args.transport or ["netmiko", "network_cli"]
    print(
        f"== ios_push: {args.routers} IOS-like routers on 127.0.0.1, {args.rounds} runs each, "
        f"{os.cpu_count()} CPUs, load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}"
    )
    with tempfile.TemporaryDirectory(prefix="ios-push-bench-") as tmp:
        fleet = Fleet(Path(tmp), args.routers)
        try:
            netmiko_inventory = fleet.inventory("netmiko")
            wall, _cpu, _routers, totals = fleet.play(netmiko_inventory, TASKS)
            print(
                f"first run (configures {args.routers} routers over netmiko): {wall:.2f} s, "
                f"changed/unreachable/failed {totals}"
            )
            measure(fleet, "ansible-playbook, one set_fact task", netmiko_inventory, NOOP, args.rounds)
            for transport in transports:
                missing = network_cli_missing() if transport == "network_cli" else None
                if missing:
                    print(f"{transport}: skipped ({missing})")
                    continue
                measure(fleet, f"no-change run over {transport}", fleet.inventory(transport), TASKS, args.rounds)
        finally:
            fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
