#!/usr/bin/env python3
"""Keys at fleet scale: how long `mipd check-config` and a home agent's start take with N SAs, and the
memory each SA holds (the fleet-scale issue's targets: 1,000,000 SAs within 10 s each and at most 400
bytes of RSS per SA; 100,000 within 1 s).

For each N a keys file of N address SAs (hmac-md5, timestamps) is written next to a home agent
configuration; printed: the keys file's size, `mipd check-config` wall time, CPU seconds and peak
RSS; then `mipd run --foreground` (signalling only, in a network namespace of its own) until its
control socket answers `status`: wall time, CPU seconds, RSS once up, and RSS per SA above a daemon
with one SA. The machine stalls at times (benchmarks/machine_stalls.py): CPU seconds are the steadier
figure.

Prints figures, asserts nothing. The daemon part needs root (a namespace ``mipbench-keys-<pid>``,
removed at exit, as is the temporary directory); without root only check-config is measured.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from registration_rate import rss_kib
from reload_service import cpu_seconds, wait_up

VENV_BIN = Path(sys.executable).parent
MIPD = str(VENV_BIN / "mipd")
HA = "10.1.0.1"


def node_address(i: int) -> str:
    return f"10.{(i >> 16) + 16}.{(i >> 8) & 255}.{i & 255}"


def write_keys(path: Path, count: int) -> None:
    """A keys file of `count` SAs (written in chunks: a million lines is ~100 MB of text)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("security_associations:\n")
        for start in range(0, count, 10_000):
            out.write("".join(f'  - {{peer: {node_address(i)}, spi: 300, key: "{secrets.token_hex(16)}"}}\n'
                              for i in range(start, min(count, start + 10_000))))


def children_usage() -> tuple[float, int]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def check_config(tmp: Path) -> tuple[float, float, int, str]:
    """check-config: wall s, CPU s, peak RSS KiB (of the largest child so far: run the sizes in increasing
    order), its first output line."""
    cpu0, _ = children_usage()
    begin = time.monotonic()
    proc = subprocess.run([MIPD, "check-config", str(tmp / "mipd.yaml")], capture_output=True, text=True, check=False)
    wall = time.monotonic() - begin
    cpu1, peak = children_usage()
    first = (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr).strip() else ""
    return wall, cpu1 - cpu0, peak, first


def start_daemon(ns: str, tmp: Path, timeout: float = 900.0) -> tuple[float, float, int]:
    """Start mipd, wait for its control socket: wall s, CPU s, RSS KiB once up; then stop it by its PID."""
    (tmp / "state.db").unlink(missing_ok=True)
    begin = time.monotonic()
    proc = subprocess.Popen(["ip", "netns", "exec", ns, MIPD, "run", "--config", str(tmp / "mipd.yaml"),
                             "--foreground", "--log-file", str(tmp / "mipd.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_up(str(tmp / "mipd.sock"), proc, timeout)
        # `ip netns exec` execs mipd: the PID is the daemon's
        return time.monotonic() - begin, cpu_seconds(proc.pid), rss_kib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sas", type=int, nargs="+", default=[10_000, 100_000],
                    help="SAs in the keys file (increasing; 1000000 for the issue's target)")
    ap.add_argument("--no-daemon", action="store_true", help="only check-config")
    args = ap.parse_args()
    daemon = not args.no_daemon and os.geteuid() == 0
    ns = f"mipbench-keys-{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="mipbench-keys-"))
    try:
        (tmp / "mipd.yaml").write_text(
            "dataplane: {backend: none}\ncontrol_socket: mipd.sock\nstate_db: state.db\nlog: {level: warning}\n"
            f"home_agent: {{address: {HA}, interface: lo, home_networks: [10.0.0.0/8], "
            "mobile_hosts: [10.0.0.0/8], max_lifetime: 1800}\n")
        if daemon:
            subprocess.run(["ip", "netns", "add", ns], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
            subprocess.run(["ip", "-n", ns, "addr", "add", f"{HA}/32", "dev", "lo"], check=True)
            write_keys(tmp / "keys.yaml", 1)
            base_rss = start_daemon(ns, tmp)[2]
        print(f"keys_scale: load {' '.join(open('/proc/loadavg').read().split()[:3])}"
              + ("" if daemon else " (daemon start not measured: needs root)"))
        print(f"{'SAs':>9} {'file MB':>8} | {'check s':>8} {'CPU s':>7} {'peak MB':>8} | {'start s':>8} {'CPU s':>7} "
              f"{'RSS MB':>7} {'B/SA':>6}")
        for count in sorted(args.sas):
            write_keys(tmp / "keys.yaml", count)
            size = (tmp / "keys.yaml").stat().st_size / 1e6
            wall, cpu, peak, first = check_config(tmp)
            line = f"{count:>9} {size:>8.1f} | {wall:>8.2f} {cpu:>7.2f} {peak / 1024:>8.0f} |"
            if not first.startswith("config OK"):
                line += f" check-config: {first}"
            elif daemon:
                swall, scpu, rss = start_daemon(ns, tmp)
                line += f" {swall:>8.2f} {scpu:>7.2f} {rss / 1024:>7.0f} {(rss - base_rss) * 1024 / count:>6.0f}"
            print(line, flush=True)
    finally:
        if daemon:
            subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
