"""Small traffic tool run inside test namespaces (``ip netns exec NS python nettool.py ...``).

There is no ping/arping on the test machine, so UDP echo, DF probing (IP_RECVERR) and ARP
probing (scapy) live here. Every subcommand prints one JSON line as its result.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import struct
import sys
import time

IP_MTU_DISCOVER = 10
IP_PMTUDISC_DO = 2
IP_PMTUDISC_DONT = 0
IP_RECVERR = 11
IP_MTU = 14
MSG_ERRQUEUE = 0x2000


def out(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def udp_echo(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
    sock.bind((args.bind, args.port))
    out({"ready": True})
    while True:
        data, peer = sock.recvfrom(65535)
        sock.sendto(data, peer)


def udp_ping(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO if args.df
                    else IP_PMTUDISC_DONT)
    if args.src:
        sock.bind((args.src, 0))
    sock.settimeout(args.timeout)
    received = 0
    sizes = []
    peers = set()
    for i in range(args.count):
        payload = i.to_bytes(4, "big") + b"m" * max(0, args.size - 4)
        try:
            sock.sendto(payload, (args.dst, args.port))
        except OSError as exc:
            out({"sent": i, "received": received, "error": exc.errno})
            return
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                break
            if data[:4] == payload[:4]:
                received += 1
                sizes.append(len(data))
                peers.add(peer[0])
                break
    end = time.monotonic() + args.linger
    while (left := end - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            sock.recvfrom(65535)
        except TimeoutError:
            break
    out({"sent": args.count, "received": received, "sizes": sizes, "peers": sorted(peers),
         "local": sock.getsockname()[0]})


def df_probe(args: argparse.Namespace) -> None:
    """Send a DF datagram of `size` bytes of IP; report the ICMP error the kernel queued."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO)
    sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    sock.connect((args.dst, args.port))
    payload = b"x" * (args.size - 28)
    result: dict[str, object] = {}
    for _attempt in range(args.attempts):
        try:
            sock.send(payload)
        except OSError as exc:  # EMSGSIZE once the kernel knows the path MTU
            result["send_errno"] = exc.errno
        ready, _w, _x = select.select([sock], [], [], args.timeout)
        if not ready:
            continue
        try:
            _data, ancdata, _flags, _addr = sock.recvmsg(2048, 512, MSG_ERRQUEUE)
        except BlockingIOError:
            continue
        except OSError as exc:
            result["recv_errno"] = exc.errno
            continue
        for level, kind, cdata in ancdata:
            if level == socket.IPPROTO_IP and kind == IP_RECVERR:
                ee_errno, origin, icmp_type, icmp_code, _pad, info, _data32 = struct.unpack_from(
                    "=IBBBBII", cdata)
                offender = socket.inet_ntoa(cdata[16 + 4 : 16 + 8]) if len(cdata) >= 24 else None
                result.update(errno=ee_errno, origin=origin, type=icmp_type, code=icmp_code,
                              mtu=info, offender=offender)
        if "type" in result:
            break
    try:
        result["path_mtu"] = sock.getsockopt(socket.IPPROTO_IP, IP_MTU)
    except OSError:
        pass
    out(result)


def arp_probe(args: argparse.Namespace) -> None:
    from scapy.all import ARP, Ether, conf, srp

    conf.verb = 0
    answered, _unanswered = srp(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=args.address),
                                iface=args.iface, timeout=args.timeout, retry=args.retry)
    out([{"psrc": r.psrc, "hwsrc": r.hwsrc, "op": r.op} for _s, r in answered])


def raw_send(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    data = bytes.fromhex(args.hex)
    for _ in range(args.count):
        sock.sendto(data, (args.dst, 0))
    out({"sent": args.count})


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("udp-echo")
    p.add_argument("port", type=int)
    p.add_argument("--bind", default="0.0.0.0")
    p.set_defaults(func=udp_echo)
    p = sub.add_parser("udp-ping")
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--count", type=int, default=3)
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--df", action="store_true")
    p.add_argument("--src")
    p.add_argument("--linger", type=float, default=0.0,
                   help="keep the socket open this long after the last ping, reading what still comes "
                        "(duplicates), so the host sends no ICMP port unreachable for them")
    p.set_defaults(func=udp_ping)
    p = sub.add_parser("df-probe")
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("size", type=int)
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--attempts", type=int, default=5)
    p.set_defaults(func=df_probe)
    p = sub.add_parser("arp-probe")
    p.add_argument("iface")
    p.add_argument("address")
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--retry", type=int, default=2)
    p.set_defaults(func=arp_probe)
    p = sub.add_parser("raw-send")
    p.add_argument("dst")
    p.add_argument("hex")
    p.add_argument("--count", type=int, default=1)
    p.set_defaults(func=raw_send)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
