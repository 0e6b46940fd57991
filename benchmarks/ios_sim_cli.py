#!/usr/bin/env python3
"""How fast the IOS-like router (roles/lab/files/ios_sim) answers netmiko, and what it costs in CPU.

    .venv/bin/python benchmarks/ios_sim_cli.py [--hosts N] [--rounds R] [--lines L]

Starts one router on 127.0.0.1 (loopback only) holding a home agent configuration with N mobile
hosts and N security associations, then measures with netmiko's cisco_ios driver: connecting and
entering enable mode, `show running-config` (full and `| include ^ip mobile secure`), and a
`send_config_set` of L Mobile IP lines (one SPI rotation step per line). For each it prints the
wall time per operation (median and maximum), the router process's CPU per operation (from
/proc/PID/stat) and the client's CPU per operation, so a slow figure can be told from a busy
machine (benchmarks/machine_stalls.py measures that floor). Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "roles" / "lab" / "files"))

from ios_sim.harness import RouterProcess  # noqa: E402

KEY = "00112233445566778899aabbccddeeff"


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, pid: int, rounds: int, operation: Callable[[], object], per: int = 1) -> None:
    """Run `operation` `rounds` times; print wall time and router/client CPU per unit (`per` units a round)."""
    walls: list[float] = []
    router_before, client_before = process_cpu(pid), time.process_time()
    for _ in range(rounds):
        start = time.perf_counter()
        operation()
        walls.append((time.perf_counter() - start) / per)
    units = rounds * per
    router_cpu = (process_cpu(pid) - router_before) / units
    client_cpu = (time.process_time() - client_before) / units
    print(f"{name:<44} {statistics.median(walls) * 1e3:9.2f} ms median {max(walls) * 1e3:9.2f} ms max   "
          f"router CPU {router_cpu * 1e3:8.3f} ms   client CPU {client_cpu * 1e3:8.3f} ms   ({units} ops)")


def home_agent_lines(hosts: int) -> list[str]:
    lines = ["router mobile", "ip mobile home-agent", "ip mobile virtual-network 10.99.0.0 255.255.0.0"]
    for index in range(hosts):
        address = f"10.99.{index // 250}.{index % 250 + 1}"
        lines.append(f"ip mobile host {address} virtual-network 10.99.0.0 255.255.0.0")
        lines.append(f"ip mobile secure host {address} spi 100 key hex {KEY} algorithm hmac-md5")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=200, help="mobile hosts (and SAs) configured (default 200)")
    parser.add_argument("--rounds", type=int, default=20, help="repetitions of each measurement (default 20)")
    parser.add_argument("--lines", type=int, default=50, help="lines per send_config_set (default 50)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ios-sim-bench-") as state:
        router = RouterProcess(Path(state) / "r1").start()
        try:
            pid = router.proc.pid if router.proc else 0
            setup = router.netmiko()
            setup.enable()
            start = time.perf_counter()
            setup.send_config_set(home_agent_lines(args.hosts), read_timeout=600)
            size = len(setup.send_command("show running-config"))
            print(f"loaded {2 * args.hosts + 3} lines in {time.perf_counter() - start:.2f} s; "
                  f"running config {size} bytes; load {os.getloadavg()[0]:.2f}")

            def connect() -> None:
                conn = router.netmiko()
                conn.enable()
                conn.disconnect()

            measure("connect + enable + disconnect", pid, max(3, args.rounds // 4), connect)
            measure("show running-config", pid, args.rounds, lambda: setup.send_command("show running-config"))
            measure("show running-config | include ^ip mobile secure", pid, args.rounds,
                    lambda: setup.send_command("show running-config | include ^ip mobile secure"))
            spi = iter(range(0x200, 0x200 + args.rounds * args.lines))

            def rotate() -> None:
                setup.send_config_set([f"ip mobile secure host 10.99.0.1 spi {next(spi):X} key hex {KEY}"
                                       for _ in range(args.lines)])

            measure(f"send_config_set, per line ({args.lines} lines a call)", pid, args.rounds, rotate,
                    per=args.lines)
            measure("save_config (write mem)", pid, max(3, args.rounds // 4), setup.save_config)
            setup.disconnect()
        finally:
            router.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
