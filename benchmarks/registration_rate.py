#!/usr/bin/env python3
"""End-to-end registration rate of the home agent daemon over real UDP (RFC 5944 §3.3-3.4, §3.8).

A `mipd run` home agent (signalling only: ``dataplane: {backend: none}``; bindings, replay state
and group commits in its SQLite database, ``state_sync: normal``) serves UDP 434 on the loopback
of a network namespace of its own (single-threaded: it uses one core at most; with --pin it is
pinned to the first CPU and the generator to the last). A load generator in that namespace acts
as many mobile nodes: one security association per node (a keys file
with thousands of SAs), requests pre-signed with HMAC-MD5 and timestamp identifications, sent
round-robin over the nodes so each node's requests carry increasing timestamps.

1. Maximum rate: a closed loop keeps `--window` requests outstanding for `--seconds`; prints
   accepted replies per second, and the daemon's CPU seconds per registration, split into the
   protocol core (the same refreshes through an in-process HomeAgent) and the rest, the runtime (from
   /proc/<pid>/stat: registrations per CPU-second is the one-core figure even when the daemon
   was not saturated). Issue target: >= 20,000 registrations/s on one core.
2. Latency: paced at half the 20,000/s target (the issue's "half that rate"), then at half the
   measured maximum, for `--seconds` each; p50/p99/max of the time from a request's sendto() to
   its reply's recvfrom() in the generator. Target: p99 <= 5 ms. Then 2,000 requests one at a
   time: the round trip without queueing. On a machine shared with other work both include the
   time the daemon or the generator waits for a CPU. Beside it runs the probe of
   benchmarks/machine_stalls.py: the share of time the machine ran over 3x slower than usual,
   the share of requests sent during such a stall or within 100 ms after one (a stall of tens
   of ms leaves a backlog that takes about as long to drain at half load), and the p99 of the
   others: what the daemon itself adds when the machine does not stall.
3. The number of bindings the daemon then holds and its RSS (VmRSS of /proc/<pid>/status)
   before and after, per binding.

With `--spread` (for a fleet of up to millions of nodes, `--nodes 1000000`), what is measured is a large
fleet's steady state instead: every node registers once, then random nodes refresh until the state store's log
has grown to its size and been compacted once through (mipd.runtime.store), all before measuring; the measured
refreshes, and the in-process protocol core's, are of nodes picked at random. The home agent's CPU per
registration at 1,000 nodes against 1,000,000 is the daemon's figure of the issue's 1k-vs-1M cost ratio
(benchmarks/binding_scale.py measures the same in process, without sockets or decision log).

Prints figures, asserts nothing. Needs root (namespace, port 434). Everything it creates (the
namespace ``mipbench-rr-<pid>``, a temporary directory, the daemon) is removed at exit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine_stalls import STALL, Stalls, stall_share
from own_namespace import assert_inside

VENV_BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
MIPD = str(VENV_BIN / "mipd")
HA = "10.0.0.1"
HOME_NETWORK = "10.0.0.0/8"  # the home network and the mobile hosts: up to 16 million nodes
NS_PREFIX = "mipbench-rr-"
SPI = 300
TARGET = 20_000  # registrations/s on one core (the target); latency is measured at half of it
LOOKBACK = 0.1  # a reply counts as delayed by a machine stall if one fell within 100 ms before its request
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def node_address(i: int) -> str:
    a = (10 << 24) + 256 + i  # 10.0.1.0 onward
    return f"10.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}"


def settling(nodes: int) -> int:
    """Refreshes of random nodes that bring the daemon's state store to the steady state of a home agent that has
    run long, once every node has registered (mipd.runtime.store): its log grows to LOG_PER_KEY rows a node (at
    least LOG_MIN_ROWS) before it is compacted, then is compacted once through, at least one row per row logged."""
    from mipd.runtime.store import LOG_MIN_ROWS, LOG_PER_KEY

    return 2 * max(LOG_MIN_ROWS, LOG_PER_KEY * nodes)


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def size(path: Path) -> float:
    return path.stat().st_size / 1e6 if path.exists() else 0.0


def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def protocol_us(sas: list[tuple[str, str]], count: int, spread: bool) -> float:
    """CPU us per registration of the protocol core alone: the same kind of requests (refreshes of the
    same nodes, in the same order, HMAC-MD5, timestamps) through an in-process HomeAgent with the same SAs,
    no I/O."""
    import random

    from mipd.protocol.actions import Packet
    from mipd.protocol.config import HomeAgentConfig
    from mipd.protocol.filters import HostSet
    from mipd.protocol.home_agent import HomeAgent
    from mipd.security import SecurityAssociation, SecurityAssociations

    table = SecurityAssociations([SecurityAssociation(home, SPI, bytes.fromhex(key), replay_window=3600)
                                  for home, key in sas])
    config = HomeAgentConfig(HA, "lo", (HOME_NETWORK,), mobile_hosts=HostSet((HOME_NETWORK,)), max_lifetime=1800,
                             advertise=False)
    ha = HomeAgent(config, table, random.Random(1))
    requests = build_requests(sas, len(sas) + count, spread)
    packets = [Packet(data, f"192.0.2.{1 + i % len(sas) % 250}", HA, 434) for i, data in enumerate(requests)]
    for pkt in packets[:len(sas)]:  # first registrations: what follows are refreshes, as in the daemon
        ha.on_packet(pkt, time.time())
    now = time.time()
    c0 = time.process_time()
    for pkt in packets[len(sas):]:
        ha.on_packet(pkt, now)
    cpu = time.process_time() - c0
    accepted = ha.counters["accepted.registration"]
    if accepted != len(packets):
        print(f"    WARNING: the in-process home agent accepted {accepted} of {len(packets)}")
    return cpu / count * 1e6


# ------------------------------------------------------------------ load generator (in the namespace)


def build_requests(sas: list[tuple[str, str]], count: int, spread: bool) -> list[bytes]:
    """`count` signed requests: round-robin over the nodes, each round's timestamps a millisecond later; with
    `spread`, each node once in turn, then nodes picked at random (timestamps 4 us apart: a node picked twice
    still has rising ones), as a large fleet's refreshes reach its home agent."""
    import random

    from mipd.security import SecurityAssociation, sign
    from mipd.security.replay import ntp_timestamp
    from mipd.wire import registration as reg
    from mipd.wire.extensions import MHAE

    objs = [SecurityAssociation(home, SPI, bytes.fromhex(key), replay_window=3600) for home, key in sas]
    now = time.time()
    out = []
    n = len(objs)
    rng = random.Random(n)
    for i in range(count):
        node = rng.randrange(n) if spread and i >= n else i % n
        sa = objs[node]
        coa = f"192.0.2.{1 + node % 250}"
        stamp = ntp_timestamp(now + i * 4e-6) if spread else ntp_timestamp(now + i // n * 0.001, i & 0xFFF)
        req = reg.RegistrationRequest(0, 1800, sa.peer, HA, coa, stamp)
        out.append(sign(sa, req.encode(), MHAE))
    return out


class Generator:
    def __init__(self, requests: list[bytes], daemon_pid: int) -> None:
        self.requests = requests
        self.next = 0
        self.pid = daemon_pid
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ)
        self.dest = (HA, 434)
        self.sent_at: dict[bytes, float] = {}
        self.codes: dict[int, int] = {}
        self.lost = 0
        self.series: list[tuple[float, float]] | None = None

    def send(self, now: float) -> bool:
        if self.next >= len(self.requests):
            return False
        data = self.requests[self.next]
        self.next += 1
        try:
            self.sock.sendto(data, self.dest)
        except BlockingIOError:
            self.next -= 1
            return False
        self.sent_at[data[16:24]] = now  # the reply echoes the Identification (§3.4)
        return True

    def drain(self, latencies: list[float] | None) -> int:
        got = 0
        recv = self.sock.recv
        perf = time.perf_counter
        while True:
            try:
                data = recv(2048)
            except BlockingIOError:
                return got
            t = perf()
            sent = self.sent_at.pop(data[12:20], None)
            if sent is None:
                continue
            got += 1
            code = data[1]
            self.codes[code] = self.codes.get(code, 0) + 1
            if latencies is not None:
                latencies.append(t - sent)
                if self.series is not None:
                    self.series.append((sent, t - sent))

    def max_rate(self, seconds: float, window: int, warmup: float) -> dict[str, Any]:
        """Closed loop: `window` requests in flight; replies per second after `warmup`."""
        perf = time.perf_counter
        start = perf()
        counted = 0
        cpu0 = t0 = None
        last_reply = start
        while True:
            now = perf()
            if t0 is None and now - start >= warmup:
                t0, counted, cpu0 = now, 0, cpu_seconds(self.pid)
            if t0 is not None and now - t0 >= seconds:
                break
            while len(self.sent_at) < window and self.send(now):
                pass
            got = self.drain(None)
            if got:
                counted += got
                last_reply = now
            elif not self.sent_at and self.next >= len(self.requests):
                break  # ran out of pre-signed requests
            else:
                self.sel.select(0.005)
                if perf() - last_reply > 0.5:  # replies lost: forget them
                    self.lost += len(self.sent_at)
                    self.sent_at.clear()
                    last_reply = perf()
        elapsed = perf() - (t0 or start)
        cpu = cpu_seconds(self.pid) - (cpu0 or 0.0)
        self.settle()
        return {"replies": counted, "seconds": elapsed, "rate": counted / elapsed, "daemon_cpu": cpu,
                "per_cpu_second": counted / cpu if cpu > 0 else None}

    def prefill(self, count: int, window: int) -> dict[str, Any]:
        """The first `count` requests, `window` in flight, as fast as they are answered, not measured."""
        requests, self.requests = self.requests, self.requests[:count]
        try:
            return self.max_rate(math.inf, window, warmup=0.0)
        finally:
            self.requests = requests

    def paced(self, rate: float, seconds: float) -> dict[str, Any]:
        """Open loop at `rate` requests/s; latency of each reply, and [wall-clock send time, latency]
        of each (`series`, to match against the machine_stalls probe)."""
        perf = time.perf_counter
        latencies: list[float] = []
        self.series = series = []
        wall0 = time.time() - perf()
        interval = 1.0 / rate
        start = perf()
        due = start
        sent = 0
        while perf() - start < seconds:
            now = perf()
            while due <= now:
                if not self.send(now):
                    break
                sent += 1
                due += interval
            self.drain(latencies)
            wait = due - perf()
            if wait > 0:
                self.sel.select(min(wait, 0.001))
        end = perf() + 1.0
        while self.sent_at and perf() < end:
            self.drain(latencies)
            self.sel.select(0.01)
        self.lost += len(self.sent_at)
        self.sent_at.clear()
        self.series = None
        series[:] = [(round(wall0 + t, 6), round(lat, 7)) for t, lat in series]
        latencies.sort()

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

        return {"sent": sent, "replies": len(latencies), "offered": sent / seconds, "p50_ms": pct(0.50),
                "p99_ms": pct(0.99), "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
                "series": series}

    def ping_pong(self, count: int) -> dict[str, Any]:
        """One request at a time: the round trip without any queueing (service time + loopback)."""
        latencies: list[float] = []
        perf = time.perf_counter
        for _ in range(count):
            if not self.send(perf()):
                break
            deadline = perf() + 1.0
            while self.sent_at and perf() < deadline:
                if not self.drain(latencies):
                    self.sel.select(0.1)
            if self.sent_at:
                self.lost += len(self.sent_at)
                self.sent_at.clear()
        latencies.sort()
        n = len(latencies)
        return {"replies": n, "p50_ms": latencies[n // 2] * 1000 if n else float("nan"),
                "p99_ms": latencies[min(n - 1, int(0.99 * n))] * 1000 if n else float("nan")}

    def settle(self) -> None:
        end = time.perf_counter() + 1.0
        while self.sent_at and time.perf_counter() < end:
            self.drain(None)
            self.sel.select(0.01)
        self.lost += len(self.sent_at)
        self.sent_at.clear()


def generate(args: argparse.Namespace) -> None:
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    if args.realtime:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    assert_inside(args.ns, NS_PREFIX, HA, "registration_rate", args.outer)
    sas = json.loads(Path(args.sas).read_text())
    before = len(sas) + settling(len(sas)) if args.spread else 0  # every node registered, the store settled
    t = time.perf_counter()
    requests = build_requests(sas, before + args.requests, args.spread)
    signing = time.perf_counter() - t
    gen = Generator(requests, args.daemon_pid)
    filled = gen.prefill(before, args.window) if before else None
    batches = batch_times(args.control)
    top = gen.max_rate(args.seconds, args.window, warmup=1.0)
    top["batches"] = {k: v - batches.get(k, 0) for k, v in batch_times(args.control).items()}
    rates = [args.latency_rate] if args.latency_rate else [TARGET / 2, top["rate"] / 2]
    lat = [gen.paced(rate, args.seconds) for rate in rates]
    single = gen.ping_pong(2000)
    print(json.dumps({"max": top, "latency": lat, "single": single, "codes": gen.codes, "lost": gen.lost,
                      "presigned": len(requests), "signing_s": signing, "used": gen.next, "filled": filled}))


def batch_times(path: str) -> dict[str, int]:
    """The daemon's batch time histogram so far (mipd.runtime.daemon: each batch from its read to its last reply)."""
    runtime = (control(path, "counters") or {}).get("runtime", {})
    return {k: v for k, v in runtime.items() if k in ("batch.le_1ms", "batch.le_5ms", "batch.gt_5ms")}


# ------------------------------------------------------------------ driver (root namespace)


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("registration_rate: skipped (needs root: a network namespace and UDP port 434)")
        return 0
    cpus = sorted(os.sched_getaffinity(0))
    daemon_cpu, gen_cpu = (cpus[0], cpus[-1]) if args.pin else (-1, -1)
    ns = f"{NS_PREFIX}{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="mipbench-rr-"))
    proc: subprocess.Popen[bytes] | None = None
    prober: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        subprocess.run(["ip", "-n", ns, "addr", "add", f"{HA}/32", "dev", "lo"], check=True)
        sas = [(node_address(i), secrets.token_hex(16)) for i in range(args.nodes)]
        keys = "security_associations:\n" + "".join(
            f"  - {{peer: {home}, spi: {SPI}, key: \"{key}\", replay_window: 3600}}\n" for home, key in sas)
        (tmp / "keys.yaml").write_text(keys)
        os.chmod(tmp / "keys.yaml", 0o600)
        (tmp / "sas.json").write_text(json.dumps(sas))
        (tmp / "mipd.yaml").write_text(
            "dataplane: {backend: none}\ncontrol_socket: mipd.sock\nstate_db: state.db\nstate_sync: normal\n"
            f"keys_file: keys.yaml\nlog: {{level: {args.log_level}, file: mipd.log}}\n"
            f"home_agent:\n  address: {HA}\n  interface: lo\n  home_networks: [{HOME_NETWORK}]\n"
            f"  mobile_hosts: [{HOME_NETWORK}]\n  max_lifetime: 1800\n  advertisement: {{enabled: false}}\n")
        t = time.perf_counter()
        proc = subprocess.Popen(["ip", "netns", "exec", ns, MIPD, "run", "--config", str(tmp / "mipd.yaml"),
                                 "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        status = wait_up(str(tmp / "mipd.sock"), proc)
        started = time.perf_counter() - t
        if args.pin:
            os.sched_setaffinity(proc.pid, {daemon_cpu})
        if args.realtime:  # every thread of the daemon (the checkpointer too)
            for tid in os.listdir(f"/proc/{proc.pid}/task"):
                os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(10))
        rss0 = rss_kib(proc.pid)
        print(f"registration_rate: home agent daemon, {args.nodes:,} security associations, SQLite "
              f"state_sync=normal, log level {args.log_level}, data plane none; "
              + (f"daemon on CPU {daemon_cpu}, generator on CPU {gen_cpu}" if args.pin else "not pinned")
              + (", both SCHED_FIFO" if args.realtime else "")
              + f"; load average before: {load()}")
        print(f"  daemon up in {started:.2f} s; {status['counts']}")
        # the machine_stalls probe runs beside the generator: which replies did a stall of the machine delay?
        stalls_file = tmp / "stalls.json"
        prober = subprocess.Popen([sys.executable, str(HERE / "machine_stalls.py"), "--seconds", "3600",
                                   "--cpu", str(daemon_cpu), "--json", str(stalls_file)])
        gen = subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, "--generate", "--ns", ns,
                              "--outer", str(os.stat("/proc/self/ns/net").st_ino),
                              "--sas", str(tmp / "sas.json"), "--requests", str(args.requests),
                              "--seconds", str(args.seconds), "--window", str(args.window),
                              "--daemon-pid", str(proc.pid), "--cpu", str(gen_cpu), "--control", str(tmp / "mipd.sock"),
                              "--latency-rate", str(args.latency_rate)] + (["--realtime"] if args.realtime else [])
                             + (["--spread"] if args.spread else []),
                             capture_output=True, text=True, timeout=600 + (args.nodes + settling(args.nodes)) / 5_000
                             if args.spread else 600)
        prober.terminate()
        prober.wait(30)
        if gen.returncode != 0:
            print(f"  generator failed: {gen.stderr.strip()}")
            return 1
        res = json.loads(gen.stdout.strip().splitlines()[-1])
        top = res["max"]
        samples = json.loads(stalls_file.read_text()) if stalls_file.exists() else []
        status = control(str(tmp / "mipd.sock"), "status")
        bindings = status["counts"]["bindings"]
        rss1 = rss_kib(proc.pid)
        per_cpu = top["per_cpu_second"]
        print(f"  pre-signed {res['presigned']:,} requests in {res['signing_s']:.1f} s, used {res['used']:,}; "
              f"reply codes {res['codes']}, lost {res['lost']}")
        if res["filled"]:
            print(f"  before measuring: every node registered, then {settling(args.nodes):,} refreshes of random nodes "
                  f"(the state store's log grown and compacted once through): {res['filled']['replies']:,} replies in "
                  f"{res['filled']['seconds']:.0f} s")
        print(f"  maximum: {top['rate']:,.0f} registrations/s over {top['seconds']:.1f} s (window {args.window}); "
              f"daemon CPU {top['daemon_cpu']:.2f} s -> {per_cpu:,.0f} registrations per CPU-second "
              f"({1e6 / per_cpu:.1f} us each) [target >= 20,000/s on one core]" if per_cpu else
              f"  maximum: {top['rate']:,.0f} registrations/s")
        timed = top["batches"]
        print(f"    the daemon's batches in the warm-up and the measurement (read to last reply): "
              f"{timed.get('batch.le_1ms', 0):,} within 1 ms, {timed.get('batch.le_5ms', 0):,} within 5 ms, "
              f"{timed.get('batch.gt_5ms', 0):,} longer")
        if per_cpu:
            core = protocol_us(sas, 50_000, args.spread)
            print(f"    split: protocol core {core:.1f} us (HomeAgent.on_packet in process, the same refreshes), "
                  f"runtime {1e6 / per_cpu - core:.1f} us (sockets, SQLite rows and commit, decision log, event "
                  "loop) [target <= 30 us in all]")
        names = ["as asked"] if args.latency_rate else ["half the target", "half the maximum"]
        for name, lat in zip(names, res["latency"], strict=True):
            print(f"  latency at {lat['offered']:,.0f}/s offered ({name}): p50 {lat['p50_ms']:.2f} ms, "
                  f"p99 {lat['p99_ms']:.2f} ms, max {lat['max_ms']:.2f} ms over {lat['replies']:,} replies "
                  f"[target p99 <= 5 ms]")
            print("    " + stall_report(lat["series"], samples))
        single = res["single"]
        print(f"  one request at a time (no queueing): p50 {single['p50_ms']:.2f} ms, p99 {single['p99_ms']:.2f} ms "
              f"over {single['replies']:,} round trips")
        print(f"  bindings at the end: {bindings:,}; daemon RSS {rss0 / 1024:.1f} MiB before the load, "
              f"{rss1 / 1024:.1f} MiB after: {(rss1 - rss0) * 1024 / max(1, bindings):,.0f} bytes per binding "
              f"added ({rss1 * 1024 / max(1, bindings):,.0f} bytes of RSS per binding in all, SAs included); "
              f"state database {size(tmp / 'state.db'):.1f} MB + WAL {size(tmp / 'state.db-wal'):.1f} MB")
        runtime = (control(str(tmp / "mipd.sock"), "counters") or {}).get("runtime", {})
        batches = {k: v for k, v in sorted(runtime.items()) if k.startswith(("batch.", "store."))}
        if batches:
            print(f"  daemon batches: {batches}")
        print(f"  load average after: {load()}")
        return 0
    finally:
        if prober is not None and prober.poll() is None:
            prober.kill()
            prober.wait(10)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def stall_report(series: list[list[float]], samples: list[list[float]]) -> str:
    """How much of the latency tail the machine's own stalls explain (see machine_stalls.py)."""
    if not series or not samples:
        return "machine stalls: no probe samples"
    window = [s for s in samples if series[0][0] - LOOKBACK <= s[0] <= series[-1][0] + series[-1][1]]
    stalls = Stalls(samples)
    clear = sorted(lat for t, lat in series if not stalls.within(t - LOOKBACK, t + lat))
    slow_share = stall_share(window) if window else 0.0
    p99 = f"{clear[min(len(clear) - 1, int(0.99 * len(clear)))] * 1000:.2f} ms" if clear else "-"
    return (f"machine stalls: the probe ran over {STALL:g}x its median in {slow_share * 100:.1f}% of its samples "
            f"meanwhile; {(len(series) - len(clear)) / len(series) * 100:.1f}% of the requests were sent in a "
            f"stall or within {LOOKBACK * 1000:.0f} ms after one; p99 of the other {len(clear):,}: {p99}")


def control(path: str, command: str) -> Any:
    from mipd.runtime import control as ctl

    answer = ctl.request(path, command, timeout=30.0)
    return answer.get("result")


def wait_up(path: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"mipd exited with {proc.returncode}: {err}")
        try:
            return control(path, "status")
        except (OSError, ValueError):
            time.sleep(0.05)
    raise RuntimeError("mipd did not come up")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10_000, help="mobile nodes = security associations")
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each measurement")
    ap.add_argument("--window", type=int, default=256, help="requests in flight in the closed loop")
    ap.add_argument("--requests", type=int, default=300_000, help="requests to pre-sign")
    ap.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                    help="the daemon's log level (info: one line per registration decision)")
    ap.add_argument("--latency-rate", type=float, default=0.0,
                    help="requests/s of the latency measurement (default: half the measured maximum)")
    ap.add_argument("--realtime", action="store_true",
                    help="run the daemon and the generator SCHED_FIFO: other work on a shared machine cannot "
                         "preempt them (the latency figures then show the daemon, not the machine's load)")
    ap.add_argument("--spread", action="store_true", help="every node registers once, then the state store is brought "
                    "to a long-running home agent's steady state, and the measured refreshes are of nodes picked at "
                    "random (default: round-robin over the nodes from the first request); for a large --nodes")
    ap.add_argument("--pin", action="store_true", help="pin the daemon and the generator to different CPUs")
    ap.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sas", help=argparse.SUPPRESS)
    ap.add_argument("--daemon-pid", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--cpu", type=int, default=-1, help=argparse.SUPPRESS)
    ap.add_argument("--control", help=argparse.SUPPRESS)
    ap.add_argument("--ns", default="", help=argparse.SUPPRESS)
    ap.add_argument("--outer", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        generate(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
