#!/usr/bin/env python3
"""Run every benchmark with modest defaults and print their figures (`./mip bench`).

    benchmarks/run_all.py [NAME ...] [--full]

NAME picks benchmarks by script name (default: every *.py script here but this one: those listed
in BENCHMARKS first, with their modest arguments, then any other, without arguments). --full
runs each with its own, larger defaults (binding_scale then builds 1,000,000 bindings; that
takes minutes). Each benchmark runs
as its own process and cleans up after itself; one failing does not stop the others. The
machine's load average is printed before each one: the figures are only comparable on an
otherwise idle machine. Nothing is asserted; the exit status is 1 if a benchmark failed to run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# script -> arguments for the modest run (--full drops them)
BENCHMARKS: dict[str, list[str]] = {
    "ha_core.py": ["--rounds", "5"],
    "registration_rate.py": ["--seconds", "3"],
    "binding_scale.py": ["--large", "200000", "--measure", "10000", "--repeats", "2"],
    "store_scale.py": ["--large", "100000", "--measure", "100000"],
    "handoff.py": ["--rounds", "10"],
    "tunnel_forwarding.py": ["--seconds", "3"],
    "fuzz.py": ["--inputs", "100000"],
    "flood.py": ["--seconds", "3"],
    "reload_service.py": ["--sas", "20000"],
    "ios_sim_cli.py": ["--hosts", "50", "--rounds", "5"],
    "ios_state.py": ["--entries", "100", "--rounds", "5"],
    "ios_push.py": ["--routers", "2", "--rounds", "3"],
    "keys_scale.py": ["--sas", "10000", "50000"],
    "radius_lookup.py": ["--nodes", "500", "--seconds", "3"],
    "release_tooling.py": ["--rounds", "2"],
}
NEEDS_ROOT = {"registration_rate.py", "handoff.py", "tunnel_forwarding.py", "flood.py", "reload_service.py",
              "radius_lookup.py"}


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="benchmarks to run (script names, with or without .py)")
    ap.add_argument("--full", action="store_true", help="each benchmark's own (larger) defaults")
    args = ap.parse_args()
    scripts = list(BENCHMARKS) + sorted(p.name for p in HERE.glob("*.py")
                                        if p.name not in BENCHMARKS and p.name != Path(__file__).name)
    wanted = [n if n.endswith(".py") else f"{n}.py" for n in args.names] or scripts
    unknown = [n for n in wanted if n not in scripts]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; one of {', '.join(scripts)}")
    print(f"== benchmarks on {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; load average {load()}")
    failed = []
    for name in wanted:
        script = HERE / name
        if not script.exists():
            print(f"\n== {name}: not present, skipped")
            continue
        if name in NEEDS_ROOT and os.geteuid() != 0:
            print(f"\n== {name}: skipped (needs root: network namespaces)")
            continue
        extra = [] if args.full else BENCHMARKS.get(name, [])
        print(f"\n== {name} {' '.join(extra)} (load average {load()})", flush=True)
        t = time.monotonic()
        code = subprocess.call([sys.executable, str(script), *extra])
        print(f"== {name}: {'done' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - t:.0f} s",
              flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\n== failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
