#!/usr/bin/env python3
"""What reading an IOS-like router's Mobile IP state costs: the TextFSM parsers, and a gather over netmiko.

    .venv/bin/python benchmarks/ios_state.py [--entries N] [--rounds R]

1. Parsing alone (platforms/ios/show_templates.py + state.py, no router): `show ip mobile binding` with N
   bindings (the layout of the IOS-like router of the tests, from its own renderer), `secure` with N SAs
   and `host` with N hosts: CPU per output and per entry.
2. Over netmiko, against one IOS-like router on 127.0.0.1 (loopback only; no namespace, so no mipd: its
   lists are empty) configured as a home agent with N hosts and N security associations: the reader's
   gather of status, counters and sas, as mobility_info does it (one session, 6 show commands): wall time,
   router CPU and client CPU (netmiko and parsing) per gather.

Prints figures, asserts nothing (benchmarks/machine_stalls.py measures the machine's floor).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import ios_sim_cli as cli  # this folder: process_cpu, measure, home_agent_lines

sys.path.insert(0, str(cli.ROOT / "tests"))
import labenv

labenv.importable(labenv.linked_collections("ios-state-bench-"))  # the checkout as netmobility.mobileip
from ansible_collections.netmobility.mobileip.plugins.module_utils.platforms.ios import (  # noqa: E402
    show_templates,
    state,
)
from ios_sim import mobileip_show  # noqa: E402
from ios_sim.harness import RouterProcess  # noqa: E402


def bindings_output(entries: int) -> str:
    rows = [{"home_address": f"10.99.{i // 250}.{i % 250 + 1}", "care_of_address": f"172.16.{i % 200}.1",
             "source": f"172.16.{i % 200}.1", "lifetime": 600, "lifetime_left": 590, "encap": "ipip",
             "reverse": i % 2 == 0, "identification": f"{i:016x}"} for i in range(entries)]
    return "\n".join(mobileip_show.bindings_text(rows, "172.16.10.1"))


def parse_cost(name: str, text: str, entries: int, rounds: int) -> None:
    start_cpu = time.process_time()
    for _ in range(rounds):
        rows = show_templates.parse(name, text)
    cpu = (time.process_time() - start_cpu) / rounds
    assert len(rows) == entries, (name, len(rows))
    print(f"parse show ip mobile {name:<8} {entries:6d} entries {len(text):8d} bytes   CPU {cpu * 1e3:8.2f} ms "
          f"per output, {cpu / entries * 1e6:7.1f} us per entry")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200, help="bindings, hosts and SAs (default 200)")
    parser.add_argument("--rounds", type=int, default=10, help="repetitions of each measurement (default 10)")
    args = parser.parse_args()
    print(f"load {os.getloadavg()[0]:.2f}")
    parse_cost("binding", bindings_output(args.entries), args.entries, args.rounds)
    with tempfile.TemporaryDirectory(prefix="ios-state-bench-") as directory:
        router = RouterProcess(Path(directory) / "r1").start()
        try:
            pid = router.proc.pid if router.proc else 0
            session = router.netmiko()
            session.enable()
            session.send_config_set(cli.home_agent_lines(args.entries), read_timeout=600)
            parse_cost("secure", session.send_command("show ip mobile secure"), args.entries, args.rounds)
            parse_cost("host", session.send_command("show ip mobile host"), args.entries, args.rounds)
            reader = state.IosStateReader(session.send_command)
            cli.measure("gather status, counters, sas (6 shows)", pid, args.rounds,
                        lambda: reader.gather(("status", "counters", "sas")))
            session.disconnect()
        finally:
            router.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
