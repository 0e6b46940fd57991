#!/usr/bin/env python3
"""Service during a reload: does a home agent keep answering while it reloads a big keys file?

A `mipd run` home agent (signalling only) serves UDP 434 on the loopback of a network namespace of
its own. It starts with a keys file of `--clients` SAs; a sender in that namespace registers those
nodes at `--rate` requests/s (open loop, round robin, fresh timestamps) while the keys file is
replaced by one of N SAs (the clients' SAs, unchanged, and N - clients more) and `mipctl reload`
runs. Printed per N: reload wall time (what `mipctl reload` waited), the longest gap between two
replies while it ran (and, for comparison, in as long a time right after it, without a reload),
the p99 reply latency during the reload, requests sent / answered / lost (not answered 3 s after
the last was sent), the daemon's CPU seconds for the reload (and per 1,000 SAs), and mipctl's exit status.
With `--changed K` the daemon starts with the N SAs already and the reload changes the keys of K of
them (not the clients'): the fleet-scale issue's case, 1,000 changed among 100,000, where only the
difference may cost the running agent anything (target: p99 within 50 ms, none lost).
Before issue 9 the daemon parsed on its event loop: 20,000 SAs ~4 s without replies, 40,000 ~9 s,
65,000 ~10 s and `mipctl reload` exited 3 although the reload was applied.

Prints figures, asserts nothing. Needs root (namespace, port 434). Sends only inside the namespace
it creates (``mipbench-reload-<pid>``); that namespace, a temporary directory and the daemon are
removed at exit.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
MIPD = str(VENV_BIN / "mipd")
MIPCTL = str(VENV_BIN / "mipctl")
HA = "10.1.0.1"
SPI = 300
TICKS = os.sysconf("SC_CLK_TCK")
CLONE_NEWNET = 0x40000000
DRAIN = 3.0  # seconds a reply may still come after the last request


def node_address(i: int) -> str:
    block = (i >> 8) + 1  # 10.1.1.0 onwards (10.1.0.1 is the home agent)
    return f"10.{1 + (block >> 8)}.{block & 255}.{i & 255}"


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def keys_text(keys: list[str]) -> str:
    return "security_associations:\n" + "".join(
        f'  - {{peer: {node_address(i)}, spi: {SPI}, key: "{key}", replay_window: 3600}}\n'
        for i, key in enumerate(keys))


def write_keys(path: Path, keys: list[str]) -> None:
    tmp = path.with_suffix(".new")
    tmp.write_text(keys_text(keys))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def socket_in(ns: str) -> socket.socket:
    """A UDP socket made inside namespace `ns` (a thread enters it; the socket stays there)."""
    libc = ctypes.CDLL(None, use_errno=True)
    out: list[socket.socket] = []

    def make() -> None:
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            out.append(s)
        finally:
            os.close(fd)

    t = threading.Thread(target=make)
    t.start()
    t.join()
    if not out:
        raise RuntimeError(f"cannot open a socket in namespace {ns}")
    return out[0]


class Load:
    """Registers the client nodes at `rate`/s on one thread, records reply arrival times on another."""

    def __init__(self, sock: socket.socket, keys: list[str], rate: float) -> None:
        from mipd.security import SecurityAssociation

        self.sock = sock
        self.sas = [SecurityAssociation(node_address(i), SPI, bytes.fromhex(k), replay_window=3600)
                    for i, k in enumerate(keys)]
        self.rate = rate
        self.sent = 0
        self.replies: list[float] = []
        self.sent_at: dict[bytes, float] = {}  # the low 32 bits of a request's Identification (echoed, §5.7)
        self.latencies: list[tuple[float, float]] = []  # (reply arrival, seconds since its request)
        self.halt = threading.Event()
        self.halted = float("inf")
        self.threads = [threading.Thread(target=self._send, daemon=True),
                        threading.Thread(target=self._receive, daemon=True)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def _send(self) -> None:
        from mipd.security import sign
        from mipd.security.replay import ntp_timestamp
        from mipd.wire import registration as reg
        from mipd.wire.extensions import MHAE

        start = time.monotonic()
        while not self.halt.is_set():
            due = start + self.sent / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sa = self.sas[self.sent % len(self.sas)]
            ident = ntp_timestamp(time.time(), self.sent)
            req = reg.RegistrationRequest(0, 1800, sa.peer, HA, "192.0.2.1", ident)
            self.sent_at[(ident & 0xFFFFFFFF).to_bytes(4, "big")] = time.monotonic()
            self.sock.sendto(sign(sa, req.encode(), MHAE), (HA, 434))
            self.sent += 1

    def _receive(self) -> None:
        self.sock.settimeout(0.2)
        while not (self.halt.is_set() and time.monotonic() - self.halted > DRAIN):
            try:
                reply = self.sock.recv(4096)
            except TimeoutError:
                continue
            now = time.monotonic()
            self.replies.append(now)
            sent = self.sent_at.pop(reply[16:20], None)
            if sent is not None:
                self.latencies.append((now, now - sent))

    def stop(self) -> None:
        self.halted = time.monotonic()
        self.halt.set()
        for t in self.threads:
            t.join(DRAIN + 5)

    def p99(self, begin: float, end: float) -> float:
        """The 99th percentile latency of the replies that came from `begin` to `end`."""
        during = sorted(latency for t, latency in self.latencies if begin < t < end)
        return during[min(len(during) - 1, int(len(during) * 0.99))] if during else float("nan")

    def longest_gap(self, begin: float, end: float) -> float:
        """The longest time without a reply from `begin` to `end`."""
        times = [begin, *(t for t in self.replies if begin < t < end), end]
        return max(b - a for a, b in zip(times, times[1:], strict=False))


def measure(ns: str, tmp: Path, sas: int, clients: int, rate: float, changed: int = 0) -> dict[str, float]:
    keys = [secrets.token_hex(16) for _ in range(clients)]
    others = [secrets.token_hex(16) for _ in range(sas - clients)]
    (tmp / "keys.yaml").unlink(missing_ok=True)
    write_keys(tmp / "keys.yaml", keys + others if changed else keys)
    (tmp / "state.db").unlink(missing_ok=True)
    proc = subprocess.Popen(["ip", "netns", "exec", ns, MIPD, "run", "--config", str(tmp / "mipd.yaml"),
                             "--foreground", "--log-file", str(tmp / "mipd.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_up(str(tmp / "mipd.sock"), proc)
        load = Load(socket_in(ns), keys, rate)
        load.start()
        time.sleep(1.0)
        if changed:  # K of the others get new keys; nothing else changes
            others[:changed] = [secrets.token_hex(16) for _ in range(changed)]
        write_keys(tmp / "keys.yaml", keys + others)
        cpu0 = cpu_seconds(proc.pid)
        begin = time.monotonic()
        r = subprocess.run([MIPCTL, "--socket", str(tmp / "mipd.sock"), "reload"], capture_output=True, text=True)
        end = time.monotonic()
        cpu = cpu_seconds(proc.pid) - cpu0
        time.sleep(0.2 + end - begin)  # as long again without a reload: what the machine itself does
        load.stop()
        answered = len(load.replies)
        return {"sas": sas, "wall": end - begin, "gap": load.longest_gap(begin, end), "p99": load.p99(begin, end),
                "baseline": load.longest_gap(end + 0.2, 2 * end - begin + 0.2), "sent": load.sent,
                "answered": answered, "lost": load.sent - answered, "cpu": cpu, "exit": r.returncode,
                "applied": f"{sas} security associations" in r.stdout}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_up(path: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    from mipd.runtime import control

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"mipd exited with {proc.returncode}: {err}")
        try:
            if control.request(path, "status", timeout=5.0).get("ok"):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise RuntimeError("mipd did not come up")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sas", type=int, nargs="+", default=[20_000, 40_000, 65_000],
                    help="SAs in the reloaded keys file")
    ap.add_argument("--clients", type=int, default=1000, help="nodes registering during the reload (SAs kept)")
    ap.add_argument("--rate", type=float, default=1000.0, help="registrations per second during the reload")
    ap.add_argument("--changed", type=int, default=0,
                    help="start with the SAs already and change this many keys (default: the reload adds them)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("reload_service: skipped (needs root: a network namespace and UDP port 434)")
        return 0
    ns = f"mipbench-reload-{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="mipbench-reload-"))
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", ns, "addr", "add", f"{HA}/32", "dev", "lo"], check=True)
        (tmp / "mipd.yaml").write_text(
            "dataplane: {backend: none}\ncontrol_socket: mipd.sock\nstate_db: state.db\nlog: {level: warning}\n"
            f"home_agent: {{address: {HA}, interface: lo, home_networks: [10.0.0.0/8], "
            "mobile_hosts: [10.0.0.0/8], max_lifetime: 1800}\n")
        what = f"{args.changed} keys changed among" if args.changed else "reloading to"
        print(f"reload_service: {what} N SAs; {args.clients} nodes registering at {args.rate:g}/s during the reload; "
              f"load {' '.join(open('/proc/loadavg').read().split()[:3])}")
        print(f"{'SAs':>7} {'reload s':>9} {'max gap ms':>11} {'(no reload)':>11} {'p99 ms':>7} {'sent':>6} "
              f"{'answered':>9} {'lost':>5} {'daemon CPU s':>13} {'CPU ms/1k SAs':>14} {'mipctl exit':>12}")
        for sas in args.sas:
            m = measure(ns, tmp, sas, args.clients, args.rate, args.changed)
            print(f"{m['sas']:>7} {m['wall']:>9.2f} {m['gap'] * 1e3:>11.1f} {m['baseline'] * 1e3:>11.1f} "
                  f"{m['p99'] * 1e3:>7.1f} "
                  f"{m['sent']:>6} {m['answered']:>9} {m['lost']:>5} {m['cpu']:>13.2f} {m['cpu'] / sas * 1e6:>14.1f} "
                  f"{m['exit']:>7}{'' if m['applied'] else ' (not applied)'}")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
