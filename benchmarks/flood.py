#!/usr/bin/env python3
"""One source floods the home agent while legitimate nodes re-register (issue 9, "Medium: floods").

A `mipd run` home agent (signalling only, SQLite state, log level info to a file) serves UDP 434 in
a network namespace this script creates (``mipbench-flood-<pid>``; the HA address and every source
address live on that namespace's loopback). Three phases of `--seconds` each:

1. quiet: only the legitimate nodes;
2. random bytes: one source (192.0.2.66) sends datagrams of random bytes (1-1024 bytes) as fast as
   one Python process can;
3. forged authenticators: one source (192.0.2.67) sends well-formed requests naming a real node and
   its SPI with a wrong key (each earns a 131 denial, RFC 5944 §3.8.2.1), as fast as it can.

Throughout, `--nodes` mobile nodes, each from its own co-located care-of address, send a signed
re-registration every `--interval` seconds (no retransmission: a request not answered within a
second is a failure). Per phase it prints the flood rate achieved, the legitimate success rate and
reply latency p50/p99/max (with the machine_stalls probe beside it, as registration_rate.py does),
log bytes written, the daemon's CPU time per datagram it read, the datagrams the kernel dropped for
a full receive buffer (Udp RcvbufErrors of the namespace), and the daemon's drop and denial
counters. Issue target: while one source floods at line rate, legitimate p99 <= 50 ms and no
failures. Prints figures, asserts nothing. Needs root (a namespace, port 434); the traffic
generators refuse to send unless they run inside the namespace this script created.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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

from own_namespace import assert_inside
from registration_rate import (
    HA,
    HOME_NETWORK,
    MIPD,
    SPI,
    control,
    cpu_seconds,
    load,
    node_address,
    stall_report,
    wait_up,
)

HERE = Path(__file__).resolve().parent
ATTACKERS = {"random": "192.0.2.66", "forged": "192.0.2.67"}  # one flooding source per phase: a block in one
# phase (limits.source_block_time) does not carry over into the next
NS_PREFIX = "mipbench-flood-"
REPLY_TIMEOUT = 1.0  # a legitimate request unanswered after this long is a failure (a node would retransmit)


def care_of(i: int) -> str:
    return f"192.0.2.{100 + i}"  # node i sends from its own (co-located) care-of address


# ------------------------------------------------------------------ the flooder (in the namespace)


def flood_payloads(mode: str, sas: list[tuple[str, str]], count: int) -> list[bytes]:
    from mipd.security import SecurityAssociation, sign
    from mipd.security.replay import ntp_timestamp
    from mipd.wire import registration as reg
    from mipd.wire.extensions import MHAE

    rng = random.Random(434)
    if mode == "random":
        return [rng.randbytes(rng.randint(1, 1024)) for _ in range(count)]
    home = sas[0][0]
    wrong = SecurityAssociation(home, SPI, rng.randbytes(16))
    now = time.time()
    coa = ATTACKERS["forged"]
    return [sign(wrong, reg.RegistrationRequest(0, 1800, home, HA, coa, ntp_timestamp(now, i)).encode(), MHAE)
            for i in range(count)]


def flood(args: argparse.Namespace) -> None:
    assert_inside(args.ns, NS_PREFIX, HA, "flood", args.outer)
    if args.cpu >= 0:
        os.sched_setaffinity(0, {args.cpu})
    payloads = flood_payloads(args.mode, json.loads(Path(args.sas).read_text()), 4096)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ATTACKERS[args.mode], 0))
    send, dest = sock.sendto, (HA, 434)
    sent = 0
    start = time.perf_counter()
    end = start + args.seconds
    n = len(payloads)
    while time.perf_counter() < end:
        for i in range(1024):
            try:
                send(payloads[(sent + i) % n], dest)
            except OSError:
                pass
        sent += 1024
    print(json.dumps({"sent": sent, "seconds": time.perf_counter() - start}))


# ------------------------------------------------------------------ the legitimate nodes (in the namespace)


def nodes(args: argparse.Namespace) -> None:
    from mipd.security import SecurityAssociation, sign
    from mipd.security.replay import ntp_timestamp
    from mipd.wire import registration as reg
    from mipd.wire.extensions import MHAE

    assert_inside(args.ns, NS_PREFIX, HA, "flood", args.outer)
    sas = json.loads(Path(args.sas).read_text())[: args.nodes]
    rounds = int(args.seconds / args.interval) + 1
    now = time.time()
    socks, sel = [], selectors.DefaultSelector()
    plan: list[tuple[float, int, bytes]] = []  # (when, node, request)
    for i, (home, key) in enumerate(sas):
        sa = SecurityAssociation(home, SPI, bytes.fromhex(key), replay_window=3600)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((care_of(i), 0))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
        for k in range(rounds):
            when = (i / len(sas) + k) * args.interval
            req = reg.RegistrationRequest(0, 1800, home, HA, care_of(i), ntp_timestamp(now + when, k))
            plan.append((when, i, sign(sa, req.encode(), MHAE)))
    plan.sort()
    perf = time.perf_counter
    wall0 = time.time() - perf()
    start = perf()
    sent_at: dict[bytes, float] = {}
    series: list[tuple[float, float]] = []
    codes: dict[int, int] = {}
    late = 0
    nxt = 0
    while nxt < len(plan) or sent_at:
        now_p = perf()
        while nxt < len(plan) and start + plan[nxt][0] <= now_p:
            _when, i, data = plan[nxt]
            nxt += 1
            if start + _when < start + args.seconds:
                socks[i].sendto(data, (HA, 434))
                sent_at[data[16:24]] = perf()
        for key, _ev in sel.select(0.001):
            while True:
                try:
                    rep = key.fileobj.recv(2048)  # type: ignore[union-attr]
                except BlockingIOError:
                    break
                t = perf()
                sent = sent_at.pop(rep[12:20], None)
                if sent is None:
                    late += 1
                    continue
                codes[rep[1]] = codes.get(rep[1], 0) + 1
                series.append((round(wall0 + sent, 6), round(t - sent, 7)))
        for ident, sent in list(sent_at.items()):
            if perf() - sent > REPLY_TIMEOUT:
                del sent_at[ident]
        if nxt >= len(plan) and perf() - start > args.seconds + REPLY_TIMEOUT:
            break
    sent_total = sum(1 for when, _i, _d in plan if when < args.seconds)
    print(json.dumps({"sent": sent_total, "codes": codes, "late": late, "series": series}))


# ------------------------------------------------------------------ driver (root namespace)


def snmp_rcvbuf_errors(ns: str) -> int:
    text = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/snmp"], capture_output=True, text=True).stdout
    rows = [line.split() for line in text.splitlines() if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")]) if len(rows) >= 2 else 0


def counters(sock_path: str) -> tuple[dict[str, int], dict[str, int]]:
    c = control(sock_path, "counters")
    return c["roles"]["home_agent"], c["runtime"]


def delta(after: dict[str, int], before: dict[str, int], *prefixes: str) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in sorted(after.items())
            if k.startswith(prefixes) and v - before.get(k, 0) and not k.startswith("batch.max")}


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else float("nan")


def phase(name: str, args: argparse.Namespace, ns: str, tmp: Path, pid: int) -> None:
    sock_path, log_path = str(tmp / "mipd.sock"), tmp / "mipd.log"
    role0, run0 = counters(sock_path)
    cpu0, log0, drops0 = cpu_seconds(pid), log_path.stat().st_size, snmp_rcvbuf_errors(ns)
    common = ["--ns", ns, "--outer", str(os.stat("/proc/self/ns/net").st_ino), "--sas", str(tmp / "sas.json"),
              "--seconds", str(args.seconds)]
    stalls = tmp / f"stalls-{name}.json"
    prober = subprocess.Popen([sys.executable, str(HERE / "machine_stalls.py"), "--seconds", "3600",
                               "--json", str(stalls)])
    flooder = None
    try:
        if name != "quiet":
            flooder = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, __file__, "--flood", name,
                                        *common, "--cpu", str(args.flood_cpu)], stdout=subprocess.PIPE, text=True)
        legit = subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, "--legit", *common,
                                "--nodes", str(args.nodes), "--interval", str(args.interval)],
                               capture_output=True, text=True, timeout=600)
        flood_text = flooder.communicate(timeout=120)[0].strip() if flooder else ""
    finally:
        for child in (prober, flooder):
            if child is not None and child.poll() is None:
                child.terminate()
                child.wait(30)
    if flooder is not None and (flooder.returncode != 0 or not flood_text):
        print(f"  {name}: the flooder failed (exit {flooder.returncode})")
        return
    flood_out = json.loads(flood_text.splitlines()[-1]) if flood_text else None
    time.sleep(1.2)  # the daemon drains its backlog; the summary of the log lines left out is written
    role1, run1 = counters(sock_path)
    cpu = cpu_seconds(pid) - cpu0
    log_bytes = log_path.stat().st_size - log0
    kernel_drops = snmp_rcvbuf_errors(ns) - drops0
    if legit.returncode != 0:
        print(f"  {name}: legitimate nodes failed: {legit.stderr.strip()[-500:]}")
        return
    res = json.loads(legit.stdout.strip().splitlines()[-1])
    series = res["series"]
    latencies = sorted(lat for _t, lat in series)
    ok = res["codes"].get("0", 0)
    read = (run1.get("rx.udp", 0) - run0.get("rx.udp", 0) + run1.get("discard.oversize", 0)
            - run0.get("discard.oversize", 0) + run1.get("discard.source_over_rate", 0)
            - run0.get("discard.source_over_rate", 0))
    label = {"quiet": "no flood", "random": "random bytes", "forged": "forged authenticators"}[name]
    print(f"  {label}:")
    if flood_out:
        print(f"    flood: {flood_out['sent'] / flood_out['seconds']:,.0f} datagrams/s offered from {ATTACKERS[name]} "
              f"({flood_out['sent']:,} in {flood_out['seconds']:.1f} s)")
    print(f"    legitimate: {ok:,} of {res['sent']:,} answered with code 0 ({ok / max(1, res['sent']) * 100:.2f}%), "
          f"other codes {({k: v for k, v in res['codes'].items() if k != '0'})}, late {res['late']}; "
          f"latency p50 {pct(latencies, 0.5):.2f} ms, p99 {pct(latencies, 0.99):.2f} ms, "
          f"max {latencies[-1] * 1000 if latencies else float('nan'):.2f} ms [target p99 <= 50 ms, no failures]")
    samples = json.loads(stalls.read_text()) if stalls.exists() else []
    print("    " + stall_report(series, samples))
    offered = res["sent"] + (flood_out["sent"] if flood_out else 0)
    print(f"    daemon: {cpu:.2f} CPU s for {read:,} datagrams read ({cpu / max(1, read) * 1e6:.2f} us each), "
          f"{cpu / max(1, offered) * 1e6:.2f} us per datagram offered; full receive buffers dropped {kernel_drops:,} "
          f"(every socket of the namespace, the flooder's own included); "
          f"log {log_bytes:,} bytes")
    print(f"    counters: runtime {delta(run1, run0, 'discard.', 'rx.', 'source.')}; "
          f"home agent {delta(role1, role0, 'discard.', 'denied.', 'denial.', 'accepted.')}")


def run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("flood: skipped (needs root: a network namespace and UDP port 434)")
        return 0
    ns = f"{NS_PREFIX}{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="mipbench-flood-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        for address in (HA, *ATTACKERS.values(), *(care_of(i) for i in range(args.nodes))):
            subprocess.run(["ip", "-n", ns, "addr", "add", f"{address}/32", "dev", "lo"], check=True)
        sas = [(node_address(i), secrets.token_hex(16)) for i in range(max(args.nodes, 1))]
        keys = "security_associations:\n" + "".join(
            f"  - {{peer: {home}, spi: {SPI}, key: \"{key}\", replay_window: 3600}}\n" for home, key in sas)
        (tmp / "keys.yaml").write_text(keys)
        os.chmod(tmp / "keys.yaml", 0o600)
        (tmp / "sas.json").write_text(json.dumps(sas))
        (tmp / "mipd.yaml").write_text(
            "dataplane: {backend: none}\ncontrol_socket: mipd.sock\nstate_db: state.db\n"
            "keys_file: keys.yaml\nlog: {level: info, file: mipd.log}\n"
            f"home_agent:\n  address: {HA}\n  interface: lo\n  home_networks: [{HOME_NETWORK}]\n"
            f"  mobile_hosts: [{HOME_NETWORK}]\n  advertisement: {{enabled: false}}\n" + args.extra_config)
        proc = subprocess.Popen(["ip", "netns", "exec", ns, MIPD, "run", "--config", str(tmp / "mipd.yaml"),
                                 "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_up(str(tmp / "mipd.sock"), proc)
        print(f"flood: home agent daemon in namespace {ns}, {args.nodes} legitimate nodes re-registering every "
              f"{args.interval:g} s ({args.nodes / args.interval:,.0f} requests/s), {args.seconds:g} s per phase, "
              f"{os.cpu_count()} CPUs; flooder {f'on CPU {args.flood_cpu}' if args.flood_cpu >= 0 else 'not pinned'}"
              f"; load average before: {load()}")
        for name in args.phases.split(","):
            phase(name, args, ns, tmp, proc.pid)
        print(f"  load average after: {load()}")
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=50, help="legitimate mobile nodes, each from its own address")
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between a node's re-registrations")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    ap.add_argument("--phases", default="quiet,random,forged", help="which phases, in order")
    ap.add_argument("--flood-cpu", type=int, default=-1, help="pin the flooder to this CPU (default: not pinned)")
    ap.add_argument("--extra-config", default="", help="YAML appended to the daemon's configuration (e.g. limits)")
    ap.add_argument("--flood", choices=("random", "forged"), help=argparse.SUPPRESS)
    ap.add_argument("--legit", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ns", help=argparse.SUPPRESS)
    ap.add_argument("--outer", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--sas", help=argparse.SUPPRESS)
    ap.add_argument("--cpu", type=int, default=-1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.flood:
        args.mode = args.flood
        flood(args)
        return 0
    if args.legit:
        nodes(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
