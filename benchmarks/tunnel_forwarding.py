#!/usr/bin/env python3
"""Userspace tunnel forwarding rate against plain routing on the same namespace path.

    CN 10.9.0.2 -- 10.9.0.1 HA 10.4.0.1 -- 10.4.0.254 R 10.2.0.254 -- 10.2.0.1 FA 10.3.0.1 -- MN

The mobile node (home address 10.1.0.50) sits behind the foreign agent. First the path is
plain routing (HA -> R -> FA -> MN by ordinary routes); then the same namespaces carry Mobile
IP: the HA tunnels CN -> MN traffic to the FA's care-of address with the userspace data plane
(mipd.dataplane, TUN + raw sockets, RFC 2003 IP-in-IP by default) and the FA reverse-tunnels
the MN's traffic back (RFC 3024). iperf3 measures UDP (1400-byte datagrams, unlimited offered
rate: received packets/s is the forwarding capacity) and TCP from CN to MN in both set-ups;
the ratio tunnel/plain is printed at the end.

Run as root on a host with iproute2 and iperf3:  .venv/bin/python benchmarks/tunnel_forwarding.py
Options: --seconds N (per measurement, default 5), --encap ipip|gre|minimal, --json.
Traffic stays inside the script's own namespaces (``mipbench-<pid>-*``), all removed at exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

PREFIX = f"mipbench-{os.getpid()}-"
ROLES = ("cn", "ha", "rt", "fa", "mn")
HOA, HA, COA, CN = "10.1.0.50", "10.4.0.1", "10.2.0.1", "10.9.0.2"
PYTHON = sys.executable
IPERF = "/usr/bin/iperf3"


def ns(role: str) -> str:
    return PREFIX + role


def sh(*cmd: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc


def ip(role: str, *lines: str) -> None:
    proc = subprocess.run(["ip", "-n", ns(role), "-batch", "-"], input="\n".join(lines) + "\n",
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ip in {role}: {proc.stderr.strip()}")


def in_ns(role: str, *cmd: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", ns(role), *cmd, **kwargs)


def build() -> None:
    for role in ROLES:
        sh("ip", "netns", "add", ns(role))
        ip(role, "link set lo up")
    for a, a_if, b, b_if in (("cn", "cn0", "ha", "ha-c"), ("ha", "ha-r", "rt", "rt-h"),
                             ("rt", "rt-f", "fa", "fa-r"), ("fa", "fa-v", "mn", "mn0")):
        sh("ip", "-n", ns(a), "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns",
           ns(b))
    ip("cn", "addr add 10.9.0.2/24 dev cn0", "link set cn0 up", "route add default via 10.9.0.1")
    ip("ha", "addr add 10.9.0.1/24 dev ha-c", "addr add 10.4.0.1/24 dev ha-r", "link set ha-c up",
       "link set ha-r up", "route add default via 10.4.0.254")
    ip("rt", "addr add 10.4.0.254/24 dev rt-h", "addr add 10.2.0.254/24 dev rt-f",
       "link set rt-h up", "link set rt-f up", "route add 10.9.0.0/24 via 10.4.0.1")
    ip("fa", "addr add 10.2.0.1/24 dev fa-r", "addr add 10.3.0.1/24 dev fa-v", "link set fa-r up",
       "link set fa-v up", "route add default via 10.2.0.254")
    fa_mac = in_ns("fa", "cat", "/sys/class/net/fa-v/address").stdout.strip()
    ip("mn", f"addr add {HOA}/32 dev mn0", "link set mn0 up", "route add 10.3.0.1 dev mn0",
       "route add default via 10.3.0.1 dev mn0 onlink",
       f"neigh replace 10.3.0.1 lladdr {fa_mac} dev mn0 nud permanent")
    for role in ("ha", "rt", "fa"):
        in_ns(role, "sysctl", "-qw", "net.ipv4.ip_forward=1")


def mn_mac() -> str:
    return in_ns("mn", "cat", "/sys/class/net/mn0/address").stdout.strip()


PLAIN_ROUTES = {
    "ha": [f"route add {HOA}/32 via 10.4.0.254"],
    "rt": [f"route add {HOA}/32 via {COA}"],
    "fa": [f"route add {HOA}/32 dev fa-v"],
}


def plain(on: bool) -> None:
    for role, lines in PLAIN_ROUTES.items():
        ip(role, *[ln.replace("route add", "route add" if on else "route del") for ln in lines])
    if on:
        ip("fa", f"neigh replace {HOA} lladdr {mn_mac()} dev fa-v nud permanent")
    else:
        ip("fa", f"neigh del {HOA} dev fa-v")


# -- the agents: this script, re-run inside a namespace ------------------------------------

def agent(role: str, encap: str, mac: str) -> None:
    """Open the userspace data plane as HA or FA, set up the MN's binding, serve until stdin
    closes, then print the counters."""
    from mipd.dataplane import open_dataplane, set_ip_forward

    set_ip_forward(True)
    dp = open_dataplane("userspace")
    if role == "ha":
        t = dp.add_tunnel(HA, COA, encap)
        dp.route_via_tunnel(HOA, t)
    else:
        t = dp.add_tunnel(COA, HA, encap)
        dp.add_host_route(HOA, "fa-v", mac)
        dp.reverse_tunnel(HOA, t, "fa-v")

    cpu_start = time.process_time()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        dp.attach(loop)
        done = asyncio.Event()
        loop.add_reader(sys.stdin.fileno(), done.set)
        print(json.dumps({"ready": True}), flush=True)
        await done.wait()
        dp.detach()

    asyncio.run(serve())
    counters = dp.counters()
    counters["cpu_seconds"] = time.process_time() - cpu_start  # type: ignore[assignment]
    dp.close()
    print(json.dumps(counters), flush=True)


def start_agent(role: str, encap: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(["ip", "netns", "exec", ns(role), PYTHON, os.path.abspath(__file__),
                             "--agent", role, "--encap", encap, "--mac", mn_mac()],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready" not in line:
        raise RuntimeError(f"{role} agent did not start: {line!r}")
    return proc


def stop_agent(proc: subprocess.Popen[str]) -> dict[str, int]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    out = proc.stdout.read()
    proc.wait(timeout=30)
    return json.loads(out.strip().splitlines()[-1])


# -- measurements ----------------------------------------------------------------------------

def iperf(seconds: int, udp: bool) -> dict[str, float]:
    """One iperf3 run CN -> MN (the server runs in the MN while measure() lasts)."""
    cmd = [IPERF, "-c", HOA, "-t", str(seconds), "-J"]
    if udp:
        cmd += ["-u", "-b", "0", "-l", "1400"]
    error = ""
    for _attempt in range(20):  # the server may still be finishing the previous test
        proc = in_ns("cn", *cmd, check=False, timeout=seconds + 60)
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError:
            report = {"error": proc.stderr.strip() or "no output"}
        if proc.returncode == 0 and "error" not in report:
            break
        error = report.get("error", proc.stderr)
        time.sleep(0.5)
    else:
        raise RuntimeError(f"iperf3 failed: {error}")
    end = report["end"]
    if udp:
        s = end["sum"]
        received = s["packets"] - s["lost_packets"]
        return {"pps": received / s["seconds"], "mbps": received * 1400 * 8 / s["seconds"] / 1e6,
                "sent_pps": s["packets"] / s["seconds"], "loss_pct": s["lost_percent"]}
    return {"mbps": end["sum_received"]["bits_per_second"] / 1e6}


def median_run(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per figure, the median over the runs (the machine may be busy with other work)."""
    out: dict[str, dict[str, float]] = {}
    for kind in runs[0]:
        out[kind] = {k: statistics.median(r[kind][k] for r in runs) for k in runs[0][kind]}
    return out


def measure(seconds: int) -> dict[str, dict[str, float]]:
    server = subprocess.Popen(["ip", "netns", "exec", ns("mn"), IPERF, "-s", "-B", HOA],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        udp = iperf(seconds, udp=True)
        time.sleep(1.0)  # let the queues the UDP flood filled drain
        tcp = iperf(seconds, udp=False)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return {"udp": udp, "tcp": tcp}


def cleanup() -> None:
    for role in ROLES:
        pids = subprocess.run(["ip", "netns", "pids", ns(role)], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        subprocess.run(["ip", "netns", "del", ns(role)], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--encap", choices=("ipip", "gre", "minimal"), default="ipip")
    parser.add_argument("--repeat", type=int, default=1, help="runs per set-up; medians reported")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--agent", choices=("ha", "fa"), help=argparse.SUPPRESS)
    parser.add_argument("--mac", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agent:
        agent(args.agent, args.encap, args.mac)
        return
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    results: dict[str, Any] = {"encap": args.encap, "seconds": args.seconds,
                               "repeat": args.repeat, "cpus": os.cpu_count(),
                               "loadavg_before": os.getloadavg()[0]}
    try:
        build()
        plain(True)
        results["plain"] = median_run([measure(args.seconds) for _ in range(args.repeat)])
        plain(False)
        agents = [start_agent("ha", args.encap), start_agent("fa", args.encap)]
        try:
            results["tunnel"] = median_run([measure(args.seconds) for _ in range(args.repeat)])
        finally:
            counters = [stop_agent(p) for p in agents]
        results["counters"] = {"ha": counters[0], "fa": counters[1]}
    finally:
        cleanup()
    p, t = results["plain"], results["tunnel"]
    results["ratio"] = {"udp_pps": t["udp"]["pps"] / p["udp"]["pps"],
                        "tcp_mbps": t["tcp"]["mbps"] / p["tcp"]["mbps"]}
    if args.json:
        print(json.dumps(results))
        return
    print(f"tunnel forwarding, CN -> HA -> R -> FA -> MN, {args.encap}, {args.seconds} s per run, "
          f"median of {args.repeat}, {results['cpus']} CPUs, load average before "
          f"{results['loadavg_before']:.2f}")
    print(f"{'':24}{'UDP 1400 B pkt/s':>18}{'UDP Mbit/s':>12}{'UDP loss %':>12}{'TCP Mbit/s':>12}")
    for name in ("plain", "tunnel"):
        r = results[name]
        print(f"{name + (' routing' if name == 'plain' else ' (userspace)'):24}"
              f"{r['udp']['pps']:>18,.0f}{r['udp']['mbps']:>12,.0f}{r['udp']['loss_pct']:>12.1f}"
              f"{r['tcp']['mbps']:>12,.0f}")
    print(f"{'ratio tunnel/plain':24}{results['ratio']['udp_pps']:>18.3f}{'':24}"
          f"{results['ratio']['tcp_mbps']:>12.3f}")
    ha, fa = results["counters"]["ha"], results["counters"]["fa"]
    print(f"HA: encapsulated {ha['encap_packets']:,}, decapsulated {ha['decap_packets']:,}, "
          f"ICMP frag-needed {ha['icmp_frag_needed_sent']}, dropped {ha['dropped']}")
    print(f"FA: decapsulated {fa['decap_packets']:,}, encapsulated {fa['encap_packets']:,}, "
          f"dropped {fa['dropped']}")
    for name, c in (("HA", ha), ("FA", fa)):
        packets = c["encap_packets"] + c["decap_packets"]
        if packets:
            per = c["cpu_seconds"] / packets * 1e6
            print(f"{name} agent CPU: {per:.1f} us per packet (user + kernel work in its context)"
                  f" = about {1e6 / per:,.0f} packets/s per core")


if __name__ == "__main__":
    main()
