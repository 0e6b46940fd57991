"""UDP stream source and sink run inside test namespaces (``ip netns exec NS python flowtool.py ...``).

    source DST PORT [--rate PPS] [--src ADDR] [--size BYTES]
        sends datagrams numbered 0, 1, 2, ... (8-byte sequence number, 8-byte send time) at PPS
        until stdin closes or it is killed; prints {"ready": true} once the socket is open.
    sink PORT [--bind ADDR]
        receives them and answers one JSON line per command read from stdin:
        ``stats``: {"received", "last_seq", "sources", "last_time"};
        ``wait AFTER COUNT TIMEOUT``: blocks until COUNT datagrams arrived at or after wall-clock
        time AFTER (or TIMEOUT s passed), then {"count", "first", "first_seq", "last_seq"}.

Arrival times are wall-clock (CLOCK_REALTIME is shared by every namespace), so a test or the
handoff benchmark can compare them with the time it moved a link.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import selectors
import socket
import struct
import sys
import time

HEADER = struct.Struct("!Qd")


def out(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def source(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.src:
        sock.bind((args.src, 0))
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin, selectors.EVENT_READ)
    out({"ready": True})
    interval = 1.0 / args.rate
    pad = b"s" * max(0, args.size - HEADER.size)
    seq = 0
    errors = 0
    next_at = time.monotonic()
    while True:
        now = time.monotonic()
        if now < next_at:
            if sel.select(next_at - now) and not sys.stdin.readline():
                break  # stdin closed: stop
            continue
        try:
            sock.sendto(HEADER.pack(seq, time.time()) + pad, (args.dst, args.port))
        except OSError:
            errors += 1  # no route while detached, ENOBUFS, ...: the stream goes on
        seq += 1
        next_at += interval
        if next_at < now - 1.0:
            next_at = now  # fell far behind (suspended): do not burst
    out({"sent": seq, "errors": errors})


class Sink:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.times: list[float] = []  # wall-clock arrival times, in order
        self.seqs: list[int] = []
        self.sources: set[str] = set()
        self.wait: tuple[float, int, float] | None = None  # (after, count, deadline)

    def receive(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(65535)
            except BlockingIOError:
                return
            seq = HEADER.unpack_from(data)[0] if len(data) >= HEADER.size else -1
            self.times.append(time.time())
            self.seqs.append(seq)
            self.sources.add(peer[0])

    def command(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        if words[0] == "stats":
            out({"received": len(self.times), "last_seq": self.seqs[-1] if self.seqs else None,
                 "last_time": self.times[-1] if self.times else None, "sources": sorted(self.sources)})
        elif words[0] == "wait":
            after, count, timeout = float(words[1]), int(words[2]), float(words[3])
            self.wait = (after, count, time.monotonic() + timeout)
            self.check_wait()
        else:
            out({"error": f"unknown command {words[0]!r}"})

    def check_wait(self, timed_out: bool = False) -> None:
        if self.wait is None:
            return
        after, count, _deadline = self.wait
        i = bisect.bisect_left(self.times, after)
        got = len(self.times) - i
        if got >= count or timed_out:
            out({"count": got, "first": self.times[i] if got else None,
                 "first_seq": self.seqs[i] if got else None, "last_seq": self.seqs[-1] if got else None})
            self.wait = None

    def timeout(self) -> float | None:
        if self.wait is None:
            return None
        return max(0.0, self.wait[2] - time.monotonic())


def sink(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.bind((args.bind, args.port))
    sock.setblocking(False)
    state = Sink(sock)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "sock")
    sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    out({"ready": True})
    while True:
        events = sel.select(state.timeout())
        if not events:
            state.check_wait(timed_out=True)
            continue
        for key, _mask in events:
            if key.data == "sock":
                state.receive()
                state.check_wait()
            else:
                line = sys.stdin.readline()
                if not line:
                    return
                state.command(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("source")
    p.add_argument("dst")
    p.add_argument("port", type=int)
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--src")
    p.add_argument("--size", type=int, default=64)
    p.set_defaults(func=source)
    p = sub.add_parser("sink")
    p.add_argument("port", type=int)
    p.add_argument("--bind", default="0.0.0.0")
    p.set_defaults(func=sink)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    args.func(args)


if __name__ == "__main__":
    main()
