#!/usr/bin/env python3
"""Registrations through a home agent that fetches SAs from RADIUS (issue 12, "Benchmark").

A `mipd run` home agent (signalling only) and a real FreeRADIUS (tests/radius_server.py) run in a
network namespace this script creates (``mipbench-radius-<pid>``; every address on its loopback).
Phases:

1. first-time: `--nodes` nodes known only to RADIUS register once each (every one needs a lookup),
   `--window` requests outstanding at a time;
2. cached: the same nodes re-register (their SAs cached since phase 1);
3. slow RADIUS: the home agent is restarted with a RADIUS server that answers after `--delay`
   seconds (a socket responder, FakeRadius); new nodes keep arriving (`--slow-rate` a second, each
   held for its lookup) while nodes with keys-file SAs re-register as fast as the window allows,
   first without the slow lookups (baseline), then with them.

Per phase: registrations per second, latency p50/p99, the daemon's CPU time per registration
(and FreeRADIUS's per lookup in phase 1). Prints figures, asserts nothing. Needs root and the
Debian package freeradius; the request generator refuses to send unless it runs inside the
namespace this script created.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from own_namespace import assert_inside  # noqa: E402
from registration_rate import HA, HOME_NETWORK, MIPD, cpu_seconds, load, wait_up  # noqa: E402

NS_PREFIX = "mipbench-radius-"
RADIUS_PORT = 18125
SPI = 300
RETRANSMIT = 3.0  # a request not answered after this long is sent again (a held one then joins its lookup)


def node(i: int) -> str:
    return f"10.1.{(i >> 8) + 1}.{i & 255}"  # RADIUS nodes: 10.1.1.0 ...


def file_node(i: int) -> str:
    return f"10.1.200.{i}"  # keys-file nodes (phase 3)


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] * 1000 if values else float("nan")


# ------------------------------------------------------------------ the generator (inside the namespace)


def generate(args: argparse.Namespace) -> None:
    """Closed loop: `window` requests outstanding; `nodes` (home, key hex) registered once each
    (`--rounds` times), or for `--seconds` round robin. One JSON line: sent, answered by code, latencies."""
    from mipd.security import SecurityAssociation, sign
    from mipd.security.replay import ntp_timestamp
    from mipd.wire import registration as reg
    from mipd.wire.extensions import MHAE

    assert_inside(args.ns, NS_PREFIX, HA, "radius_lookup")
    nodes = json.loads(Path(args.nodes_file).read_text())
    sas = {home: SecurityAssociation(home, SPI, bytes.fromhex(key)) for home, key in nodes}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("192.0.2.1", 0))
    sock.settimeout(0.05)
    outstanding: dict[str, tuple[float, float, bytes]] = {}  # home -> (first sent, last sent, request)
    latencies: list[float] = []
    codes: dict[int, int] = {}
    queue = [home for home, _ in nodes]
    end = time.monotonic() + args.seconds if args.seconds else None
    sent = 0
    counter = 0
    began = time.monotonic()
    while True:
        now = time.monotonic()
        if end is not None and now >= end:
            break
        while len(outstanding) < args.window and (queue or (end is not None and not args.once)):
            home = queue.pop(0) if queue else nodes[counter % len(nodes)][0]
            counter += 1
            if home in outstanding:
                break
            request = reg.RegistrationRequest(
                0, 600, home, HA, "192.0.2.1", ntp_timestamp(time.time(), counter & 0xFFFF)
            )
            data = sign(sas[home], request.encode_fixed(), MHAE)
            sock.sendto(data, (HA, 434))
            sent += 1
            outstanding[home] = (now, now, data)
        if end is None and not queue and not outstanding:
            break
        try:
            reply = reg.decode(sock.recv(4096))
        except TimeoutError:
            for home, (first, last, data) in list(outstanding.items()):
                if time.monotonic() - last > RETRANSMIT:
                    if time.monotonic() - first > 4 * RETRANSMIT:
                        codes[-1] = codes.get(-1, 0) + 1  # never answered
                        del outstanding[home]
                    else:
                        sock.sendto(data, (HA, 434))
                        outstanding[home] = (first, time.monotonic(), data)
            continue
        started = outstanding.pop(reply.home_address, None)
        if started is not None:
            latencies.append(time.monotonic() - started[0])
            codes[reply.code] = codes.get(reply.code, 0) + 1
    elapsed = time.monotonic() - began  # first request to the last reply (or the end of --seconds)
    print(json.dumps({"sent": sent, "codes": codes, "latencies": latencies, "elapsed": elapsed}))


# ------------------------------------------------------------------ the driver


class Agent:
    """A mipd home agent in the namespace with the given radius section and keys."""

    def __init__(self, ns: str, tmp: Path, radius: str, secret: str, file_nodes: list[tuple[str, str]]) -> None:
        (tmp / "keys.yaml").write_text(
            "security_associations:\n"
            + "".join(f'  - {{peer: {h}, spi: {SPI}, key: "{k}", replay_window: 3600}}\n' for h, k in file_nodes)
            + f'radius_secrets: {{"127.0.0.1": "{secret}"}}\n'
        )
        os.chmod(tmp / "keys.yaml", 0o600)
        (tmp / "mipd.yaml").write_text(
            "dataplane: {backend: none}\ncontrol_socket: mipd.sock\nstate_db: state.db\nkeys_file: keys.yaml\n"
            f"log: {{level: warning, file: mipd.log}}\nhome_agent:\n  address: {HA}\n  interface: lo\n"
            f"  home_networks: [{HOME_NETWORK}]\n  mobile_hosts: [{HOME_NETWORK}]\n"
            "  advertisement: {enabled: false}\n"
            "  max_lifetime: 600\n" + radius
        )
        self.sock = str(tmp / "mipd.sock")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, MIPD, "run", "--config", str(tmp / "mipd.yaml"), "--foreground"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_up(self.sock, self.proc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def run_generator(
    ns: str,
    tmp: Path,
    nodes: list[tuple[str, str]],
    window: int,
    seconds: float = 0.0,
    background: bool = False,
    once: bool = False,
) -> subprocess.Popen[str] | dict:
    path = tmp / f"nodes-{len(nodes)}-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(nodes))
    cmd = [
        "ip",
        "netns",
        "exec",
        ns,
        sys.executable,
        __file__,
        "--generate",
        "--ns",
        ns,
        "--nodes-file",
        str(path),
        "--window",
        str(window),
        "--seconds",
        str(seconds),
    ]
    if once:
        cmd.append("--once")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    if background:
        return proc
    out = proc.communicate(timeout=900)[0]
    return json.loads(out.strip().splitlines()[-1])


def report(label: str, result: dict, cpu: float, extra: str = "") -> None:
    lat = sorted(result["latencies"])
    done = len(lat)
    wall = result["elapsed"]
    print(
        f"  {label}: {done:,} registrations in {wall:.2f} s = {done / wall:,.0f}/s; latency p50 "
        f"{pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms; codes {result['codes']}; daemon CPU "
        f"{cpu / max(1, done) * 1e6:,.0f} us per registration{extra}"
    )


def run(args: argparse.Namespace) -> int:
    import radius_server

    if os.geteuid() != 0 or not radius_server.available():
        print("radius_lookup: skipped (needs root and the Debian package freeradius)")
        return 0
    ns = f"{NS_PREFIX}{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="mipbench-radius-"))
    server = agent = spoof = None
    try:
        subprocess.run(["ip", "netns", "add", ns], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        for address in (HA, "192.0.2.1"):
            subprocess.run(["ip", "-n", ns, "addr", "add", f"{address}/32", "dev", "lo"], check=True)
        secret = secrets.token_hex(16)
        server = radius_server.RadiusServer(tmp / "radius", port=RADIUS_PORT, secret=secret, netns=ns)
        nodes = [(node(i), secrets.token_hex(16)) for i in range(args.nodes)]
        for home, key in nodes:
            server.add_sa(home, SPI, key)
        server.start()
        radius = (
            f"radius:\n  servers: [{{address: 127.0.0.1, port: {RADIUS_PORT}}}]\n  lookup_rate: 0\n  timeout: 5\n"
            f"  pending_lookups: {max(64, args.window)}\n"
        )
        (tmp / "a").mkdir()
        agent = Agent(ns, tmp / "a", radius, secret, [])
        print(
            f"radius_lookup: home agent and FreeRADIUS in namespace {ns}, {args.nodes:,} nodes, window "
            f"{args.window}, {os.cpu_count()} CPUs; load average before: {load()}"
        )
        for label in ("first-time (RADIUS lookup each)", "cached SAs"):
            cpu0, rcpu0 = cpu_seconds(agent.proc.pid), cpu_seconds(server.proc.pid)
            result = run_generator(ns, tmp, nodes, args.window)
            rcpu = cpu_seconds(server.proc.pid) - rcpu0
            extra = f"; FreeRADIUS CPU {rcpu / max(1, args.nodes) * 1e6:,.0f} us per lookup" if "first" in label else ""
            report(label, result, cpu_seconds(agent.proc.pid) - cpu0, extra)
        agent.stop()
        server.stop()
        # slow RADIUS: a responder that answers after --delay seconds; keys-file nodes beside it
        sock = radius_server.bound_udp("127.0.0.1", RADIUS_PORT, ns)
        slow_key = secrets.token_hex(16)  # the responder gives every node this key
        unknown = [(node(60000 + i), slow_key) for i in range(int(args.slow_rate * args.seconds))]  # arriving meanwhile
        spoof = radius_server.FakeRadius(
            sock, secret.encode(), [radius_server.sa_avpair(0, SPI, slow_key)], delay=args.delay
        ).start()
        file_nodes = [(file_node(i), secrets.token_hex(16)) for i in range(200)]
        (tmp / "b").mkdir()
        agent = Agent(ns, tmp / "b", radius, secret, file_nodes)
        for label, slow in (
            ("keys-file nodes, RADIUS idle", False),
            (f"keys-file nodes, RADIUS {args.delay:g} s slow", True),
        ):
            slow_proc = None
            cpu0 = cpu_seconds(agent.proc.pid)
            if slow:
                slow_proc = run_generator(
                    ns,
                    tmp,
                    unknown,
                    max(1, int(args.slow_rate * args.delay)),
                    args.seconds + args.delay + 0.5,
                    background=True,
                    once=True,
                )
            result = run_generator(ns, tmp, file_nodes, args.window, args.seconds)
            cpu = cpu_seconds(agent.proc.pid) - cpu0
            extra = ""
            if slow_proc is not None:
                slow_result = json.loads(slow_proc.communicate(timeout=120)[0].strip().splitlines()[-1])
                lat = sorted(slow_result["latencies"])
                extra = (
                    f"; meanwhile {slow_result['sent']:,} requests of new nodes waited for RADIUS (p50 "
                    f"{pct(lat, 0.5):.0f} ms, codes {slow_result['codes']}), {spoof.requests:,} lookups sent"
                )
            report(label, result, cpu, extra)
        print(f"  load average after: {load()}")
        return 0
    finally:
        if agent is not None:
            agent.stop()
        if server is not None:
            server.stop()
        if spoof is not None:
            spoof.stop()
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=2000, help="nodes known to RADIUS (phases 1 and 2)")
    ap.add_argument("--window", type=int, default=32, help="requests outstanding at a time")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each part of phase 3")
    ap.add_argument("--delay", type=float, default=2.0, help="seconds the slow RADIUS server takes to answer")
    ap.add_argument("--slow-rate", type=float, default=20.0, help="new nodes a second arriving while RADIUS is slow")
    ap.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ns", help=argparse.SUPPRESS)
    ap.add_argument("--nodes-file", help=argparse.SUPPRESS)
    ap.add_argument("--once", action="store_true", help=argparse.SUPPRESS)  # each node once, never round robin
    args = ap.parse_args()
    if args.generate:
        generate(args)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
