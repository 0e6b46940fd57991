#!/usr/bin/env python3
"""What the release and execution-environment tooling costs: wall time and CPU per operation.

    .venv/bin/python benchmarks/release_tooling.py [--rounds N]

Each operation runs N times (default 3) as the tests run it (tests/ecosystem): `ansible-galaxy
collection build` of this checkout, `ansible-galaxy collection install` of the artifact into an
empty collections path, `ansible-doc` of every module and role from there, `antsibull-changelog
lint`, `antsibull-changelog release` on a copy, `ansible-builder create` on docs/ee, and verify.yml
on an inventory with no hosts by ansible-playbook and by `ansible-navigator run --ee false --mode
stdout` (navigator's own cost on top of the same run). Prints per operation the median wall time
and the median CPU of the processes it started (user + system), the artifact's size and file count,
and the load average. Asserts nothing; needs no root and starts no network traffic.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "ecosystem"), str(ROOT / "tests")]

from conftest import copy_for_release, galaxy, tool  # noqa: E402

EMPTY_INVENTORY = "all:\n  children:\n    home_agents: {}\n    foreign_agents: {}\n    mobile_nodes: {}\n"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, rounds: int, operation: Callable[[Path], None]) -> None:
    """Run `operation` in a fresh directory `rounds` times; print median wall and child CPU."""
    walls, cpus = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="mip-release-bench-") as tmp:
            cpu, start = children_cpu(), time.perf_counter()
            operation(Path(tmp))
            walls.append(time.perf_counter() - start)
            cpus.append(children_cpu() - cpu)
    print(f"  {name:<52} {statistics.median(walls) * 1000:9.0f} ms {statistics.median(cpus) * 1000:9.0f} ms")


def ok(proc: object) -> None:
    if getattr(proc, "returncode", 1) != 0:
        raise SystemExit(f"failed: {getattr(proc, 'args', '?')}\n{getattr(proc, 'stderr', '')[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    meta = galaxy()
    tarball_name = f"{meta['namespace']}-{meta['name']}-{meta['version']}.tar.gz"
    work = Path(tempfile.mkdtemp(prefix="mip-release-bench-"))
    ok(tool("ansible-galaxy", "collection", "build", "--output-path", str(work), str(ROOT), cwd=work))
    tarball = work / tarball_name
    installed = work / "installed"
    ok(tool("ansible-galaxy", "collection", "install", str(tarball), "-p", str(installed), cwd=work))
    modules = [f"netmobility.mobileip.{p.stem}" for p in sorted((ROOT / "plugins/modules").glob("*.py"))]
    roles = [f"netmobility.mobileip.{p.name}" for p in sorted((ROOT / "roles").iterdir())]
    (work / "empty.yml").write_text(EMPTY_INVENTORY)
    with tarfile.open(tarball) as tar:
        files = sum(1 for m in tar.getmembers() if m.isfile())

    print(f"load average {os.getloadavg()[0]:.2f}, {args.rounds} rounds, medians")
    print(f"  artifact {tarball_name}: {tarball.stat().st_size / 1024:.0f} KiB, {files} files")
    print(f"  {'operation':<52} {'wall':>12} {'CPU':>12}")
    measure(
        "ansible-galaxy collection build",
        args.rounds,
        lambda d: ok(tool("ansible-galaxy", "collection", "build", "--output-path", str(d), str(ROOT), cwd=d)),
    )
    measure(
        "ansible-galaxy collection install (artifact)",
        args.rounds,
        lambda d: ok(tool("ansible-galaxy", "collection", "install", str(tarball), "-p", str(d), cwd=d)),
    )
    measure(
        f"ansible-doc, {len(modules)} modules",
        args.rounds,
        lambda d: ok(tool("ansible-doc", "--json", *modules, cwd=d, collections=installed)),
    )
    measure(
        f"ansible-doc -t role, {len(roles)} roles",
        args.rounds,
        lambda d: ok(tool("ansible-doc", "-t", "role", "--json", *roles, cwd=d, collections=installed)),
    )
    measure("antsibull-changelog lint", args.rounds, lambda d: ok(tool("antsibull-changelog", "lint", cwd=ROOT)))
    measure(
        "antsibull-changelog release (a copy)",
        args.rounds,
        lambda d: ok(tool("antsibull-changelog", "release", "--version", meta["version"], cwd=copy_for_release(d))),
    )
    measure(
        "ansible-builder create (docs/ee)",
        args.rounds,
        lambda d: ok(
            tool(
                "ansible-builder",
                "create",
                "-f",
                str(ROOT / "docs/ee/execution-environment.yml"),
                "-c",
                str(d / "context"),
                cwd=d,
            )
        ),
    )
    verify = ["netmobility.mobileip.verify", "-i", str(work / "empty.yml")]
    measure(
        "verify.yml, no hosts: ansible-playbook",
        args.rounds,
        lambda d: ok(tool("ansible-playbook", *verify, cwd=d, collections=installed)),
    )
    measure(
        "verify.yml, no hosts: ansible-navigator --ee false",
        args.rounds,
        lambda d: ok(
            tool(
                "ansible-navigator",
                "run",
                *verify,
                "--ee",
                "false",
                "--mode",
                "stdout",
                "--pae",
                "false",
                "--lf",
                str(d / "navigator.log"),
                cwd=d,
                collections=installed,
            )
        ),
    )


if __name__ == "__main__":
    main()
