#!/usr/bin/env python3
"""Home agent core: authenticated Registration Requests processed per second on one core.

Measures HomeAgent.on_packet end to end (decode, SA lookup, authenticator check, replay check,
binding update, signed reply encode) on pre-built requests from many mobile nodes, then decodes
the same bytes with scapy's MobileIP layers and prints the ratio of our decode speed to scapy's.
Issue target: at least 50,000 requests/s. Then the cost of hostile datagrams before the
authenticator is checked (RFC 5944 §3.8.2.1; issue 9 found 26-27 ms for a 65,507-byte one): the
largest UDP payload of padding or of tiny extensions, 1000 tiny extensions, 17 of them (one over
the default limit) and a forged authenticator, each CPU time per datagram. Prints figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import time

from mipd.protocol.actions import Packet
from mipd.protocol.config import HomeAgentConfig
from mipd.protocol.filters import HostSet
from mipd.protocol.home_agent import HomeAgent
from mipd.security import SecurityAssociation, SecurityAssociations, sign
from mipd.security.replay import ntp_timestamp
from mipd.wire import registration as reg
from mipd.wire.extensions import MHAE, AuthExtension, NAIExtension

HA = "10.1.0.1"


def node_address(i: int) -> str:
    return f"10.1.{(i >> 8) & 255}.{i & 255 or 1}" if i < 65_000 else f"10.{1 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


def build(nodes: int, rounds: int, now: float, handoff: bool = False) -> tuple[HomeAgent, list[Packet]]:
    """`rounds` registrations per node; with `handoff` each one moves the node to a new care-of address."""
    sas = SecurityAssociations()
    homes = sorted({node_address(i) for i in range(1, nodes + 1)})
    for home in homes:
        sas.add(SecurityAssociation(home, 256 + len(home), random.randbytes(16)))
    cfg = HomeAgentConfig(HA, "eth0", ("10.1.0.0/16",), mobile_hosts=HostSet(("10.0.0.0/8",)))
    ha = HomeAgent(cfg, sas, random.Random(7))
    packets = []
    for r in range(rounds):
        for k, home in enumerate(homes):
            sa = sas.get(home, 256 + len(home))
            coa = f"192.0.2.{1 + (k + (r if handoff else 0)) % 200}"
            ident = ntp_timestamp(now + r * 0.001, k)
            req = reg.RegistrationRequest(reg.FLAG_T, 600, home, HA, coa, ident, [NAIExtension(f"mn{k}@example.net")])
            packets.append(Packet(sign(sa, req.encode(), MHAE), coa, HA, 434))
    return ha, packets


def run(args: argparse.Namespace) -> None:
    now = time.time()
    for handoff in (False, True):
        measure(args, now, handoff)
    measure_decode(build(min(args.nodes, 2000), 1, now)[1])
    measure_hostile(now)


def measure(args: argparse.Namespace, now: float, handoff: bool) -> None:
    """Feed the requests round by round; print the median and best round (CPU time, one core)."""
    ha, packets = build(args.nodes, args.rounds, now, handoff)
    per_round = len(packets) // args.rounds
    rates = []
    on_packet = ha.on_packet
    for r in range(args.rounds):
        chunk = packets[r * per_round : (r + 1) * per_round]
        c0 = time.process_time()
        for p in chunk:
            on_packet(p, now)
        rates.append(len(chunk) / (time.process_time() - c0))
    rates.sort()
    accepted = ha.counters["accepted.registration"]
    kind = "every request a handoff to a new care-of address" if handoff else "re-registrations"
    median = rates[len(rates) // 2]
    print(f"home agent core ({kind}): {len(packets)} requests, {args.nodes} nodes, {args.rounds} rounds: "
          f"median {median:,.0f} requests/s ({1e6 / median:.1f} us each), best round {rates[-1]:,.0f}/s "
          f"[target >= 50,000/s]; accepted {accepted}, bindings {len(ha)}")
    if accepted != len(packets):
        print(f"WARNING: only {accepted} of {len(packets)} accepted: {dict(ha.counters)}")


def measure_decode(packets: list[Packet]) -> None:
    sample = [p.data for p in packets] * 10
    t0 = time.perf_counter()
    for d in sample:
        reg.decode(d)
    ours = len(sample) / (time.perf_counter() - t0)
    try:
        from scapy.layers.inet import UDP  # noqa: F401  (binds MobileIP to port 434)
        from scapy.layers.mobileip import MobileIP
    except ImportError:
        print(f"decode: ours {ours:,.0f}/s; scapy not installed, no ratio")
        return
    t0 = time.perf_counter()
    for d in sample:
        MobileIP(d)
    theirs = len(sample) / (time.perf_counter() - t0)
    print(f"decode: ours {ours:,.0f} msgs/s, scapy MobileIP {theirs:,.0f} msgs/s, ratio {ours / theirs:.1f}x")


def hostile_datagrams(home: str, now: float) -> dict[str, bytes]:
    """Requests from `home` (which has an SA) that no node would send, each with a forged MHAE at the end."""
    fixed = reg.RegistrationRequest(0, 600, home, HA, "192.0.2.1", ntp_timestamp(now)).encode_fixed()
    forged = AuthExtension(MHAE, 257, bytes(16)).encode()
    largest = 65_507  # the largest UDP payload over IPv4
    tiny = b"\x80\x00"  # a skippable extension (type 128) of length 0
    return {
        "65,507 bytes of padding": fixed + b"\x00" * (largest - len(fixed)),
        "65,507 bytes of tiny extensions": fixed + tiny * ((largest - len(fixed)) // 2),
        "1000 tiny extensions + forged MHAE": fixed + tiny * 1000 + forged,
        "17 tiny extensions + forged MHAE": fixed + tiny * 17 + forged,
        "forged MHAE (a normal request)": fixed + forged,
    }


def measure_hostile(now: float) -> None:
    """CPU time per hostile datagram through HomeAgent.on_packet (the denials it earns included)."""
    ha, packets = build(1, 1, now)
    home = node_address(1)
    for name, data in hostile_datagrams(home, now).items():
        pkt = Packet(data, "192.0.2.1", HA, 434)
        count = max(20, min(20_000, 2_000_000 // len(data)))
        c0 = time.process_time()
        for _ in range(count):
            ha.on_packet(pkt, now)
        per = (time.process_time() - c0) / count
        print(f"hostile: {name} ({len(data):,} bytes): {per * 1e6:,.1f} us CPU each ({1 / per:,.0f}/s on one core)")
    print(f"hostile: home agent counters {dict(sorted((k, v) for k, v in ha.counters.items() if '.' in k))}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=10)
    run(ap.parse_args())
