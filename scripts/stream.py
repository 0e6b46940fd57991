#!/usr/bin/env python3
"""UDP stream for the end-to-end demo: a source on the correspondent node, a sink on the mobile node.

Standard library only (it runs on the lab hosts with Debian's /usr/bin/python3). Every process
keeps its records in one directory (DIR); on the namespace lab every host sees the same files.

    stream.py sink --dir DIR --port PORT --interface IFACE [--local ADDR] [--daemon]
        receives the datagrams and records each one (sequence number, kernel arrival time) in
        DIR/arrivals.bin; watches IFACE's carrier over rtnetlink and records every change
        (DIR/links.jsonl) - the link moves of a roaming mobile node.
    stream.py source --dir DIR --dst ADDR --port PORT [--local ADDR] [--rate PPS] [--size BYTES] [--daemon]
        sends datagrams numbered 0, 1, 2, ... (sequence number, send time) to ADDR at PPS and
        records each send (DIR/sends.bin).
    stream.py mark --dir DIR NAME [--move]
        starts phase NAME now (DIR/marks.jsonl); --move: the mobile node moves to another link
        in this phase (the handoff is measured from its carrier coming up on the new link).
    stream.py stop --dir DIR [--linger SECONDS]
        stops the source, waits for datagrams still in flight, stops the sink.
    stream.py report --dir DIR [--grace SECONDS] [--json FILE]
        per phase: datagrams sent, received, lost, and for a move the handoff.

--local ADDR: refuse to start unless ADDR is an address of this host (the source also sends from it),
so a stream started on the wrong host or namespace never sends anything.
With --daemon, `source` and `sink` detach (new session, stdio on /dev/null, pid in DIR/NAME.pid)
once they are ready and print {"pid": ..., "ready": true}: an SSH command or an Ansible task
returns while they go on. SIGTERM makes them write what they hold and exit.

The handoff of a move is the time from the mobile node's carrier coming up on the new link to the
first datagram reaching it there. Datagrams lost between the last one the old path delivered before
the link went down (if that arrived at most `--grace` seconds before; else from `--grace` seconds
before the link went down) and that first datagram on the new link are lost in the handoff window;
any other loss is a failure of the network.

All times are wall-clock (CLOCK_REALTIME is the same in every network namespace).
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time
from pathlib import Path

HEADER = struct.Struct("!Qd")  # on the wire: sequence number, send time
RECORD = struct.Struct("=Qd")  # in the files: sequence number, time
SO_TIMESTAMPNS = 35
TIMESPEC = struct.Struct("=qq")
RTMGRP_LINK = 1
NLMSG = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
RTM_NEWLINK, RTM_DELLINK = 16, 17
IFF_LOWER_UP = 1 << 16
FLUSH_EVERY = 0.2  # seconds between writes of the records

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def out(obj: object) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Stop(Exception):
    """SIGTERM/SIGINT: write what is held and exit."""


def _on_signal(_signum: int, _frame: object) -> None:
    raise Stop


def daemonize(directory: Path, name: str) -> int | None:
    """Detach (double fork, new session). The caller's process returns the pid once the child calls
    ready(); in the child this returns None."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid > 0:  # the caller: wait for the grandchild's ready line
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            line = pipe.readline()
        os.waitpid(pid, 0)
        if not line:
            err = directory / f"{name}.err"
            raise SystemExit(f"stream {name} did not start: {err.read_text() if err.exists() else 'no error file'}")
        return int(line)
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    err = os.open(directory / f"{name}.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(err, 2)
    os.close(devnull)
    os.close(err)
    _READY["fd"] = write_end
    return None


_READY: dict[str, int] = {}


def ready(directory: Path, name: str, daemon: bool) -> None:
    (directory / f"{name}.pid").write_text(f"{os.getpid()}\n")
    if daemon:
        fd = _READY.pop("fd")
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
    else:
        out({"pid": os.getpid(), "ready": True})


class Records:
    """Fixed-size records appended to a file, written every FLUSH_EVERY seconds and at the end."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "ab")
        self.buffer = bytearray()
        self.written_at = time.monotonic()

    def add(self, seq: int, t: float) -> None:
        self.buffer += RECORD.pack(seq, t)

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.buffer and (force or now - self.written_at >= FLUSH_EVERY):
            self.file.write(self.buffer)
            self.file.flush()
            self.buffer.clear()
            self.written_at = now

    def close(self) -> None:
        self.flush(force=True)
        self.file.close()


def read_records(path: Path) -> list[tuple[int, float]]:
    if not path.exists():
        return []
    data = path.read_bytes()
    usable = len(data) - len(data) % RECORD.size
    return [RECORD.unpack_from(data, i) for i in range(0, usable, RECORD.size)]


# ---------------------------------------------------------------------------------------- source


def check_local(address: str | None) -> None:
    """Exit unless `address` is one of this host's addresses (binding to it says so)."""
    if not address:
        return
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((address, 0))
    except OSError as e:
        raise SystemExit(f"{address} is not an address of this host ({e.strerror}): not starting") from None
    finally:
        probe.close()


def source(args: argparse.Namespace) -> None:
    directory = Path(args.dir)
    check_local(args.local)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.local:
        sock.bind((args.local, 0))
    sock.setblocking(False)
    if args.daemon and (pid := daemonize(directory, "source")) is not None:
        out({"ready": True, "pid": pid})
        return
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    sends = Records(directory / "sends.bin")
    pad = b"s" * max(0, args.size - HEADER.size)
    interval = 1.0 / args.rate
    seq = errors = 0
    ready(directory, "source", args.daemon)
    next_at = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if now < next_at:
                time.sleep(next_at - now)
                continue
            sent_at = time.time()
            # a stop between sending and recording would leave a datagram received but never sent:
            # SIGTERM/SIGINT wait until both are done
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            try:
                sock.sendto(HEADER.pack(seq, sent_at) + pad, (args.dst, args.port))
            except OSError:
                errors += 1  # no route for a moment, ENOBUFS...: counted as sent (and lost)
            sends.add(seq, sent_at)
            sends.flush()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            seq += 1
            next_at += interval
            if next_at < now - 1.0:
                next_at = now  # the machine stalled for a second: do not burst
    except Stop:
        pass
    finally:
        sends.close()
        (directory / "source.done").write_text(json.dumps({"sent": seq, "send_errors": errors}) + "\n")


# ------------------------------------------------------------------------------------------ sink


def carrier_events(data: bytes, ifindex: int) -> list[bool]:
    """The carrier states (IFF_LOWER_UP) that rtnetlink link messages in `data` report for ifindex."""
    states = []
    offset = 0
    while offset + NLMSG.size <= len(data):
        length, kind, _flags, _seq, _pid = NLMSG.unpack_from(data, offset)
        if length < NLMSG.size:
            break
        if kind in (RTM_NEWLINK, RTM_DELLINK) and length >= NLMSG.size + IFINFO.size:
            _family, _type, index, flags, _change = IFINFO.unpack_from(data, offset + NLMSG.size)
            if index == ifindex:
                states.append(kind == RTM_NEWLINK and bool(flags & IFF_LOWER_UP))
        offset += (length + 3) & ~3
    return states


def carrier_now(interface: str) -> bool | None:
    try:
        return Path(f"/sys/class/net/{interface}/carrier").read_text().strip() == "1"
    except OSError:
        return None


def sink(args: argparse.Namespace) -> None:
    directory = Path(args.dir)
    check_local(args.local)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind(("0.0.0.0", args.port))
    sock.setblocking(False)
    links = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    links.bind((0, RTMGRP_LINK))
    links.setblocking(False)
    ifindex = socket.if_nametoindex(args.interface)
    if args.daemon and (pid := daemonize(directory, "sink")) is not None:
        out({"ready": True, "pid": pid})
        return
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    arrivals = Records(directory / "arrivals.bin")
    link_log = open(directory / "links.jsonl", "a")
    carrier = carrier_now(args.interface)
    link_log.write(json.dumps({"t": time.time(), "interface": args.interface, "carrier": carrier,
                               "initial": True}) + "\n")
    link_log.flush()
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "udp")
    sel.register(links, selectors.EVENT_READ, "link")
    ready(directory, "sink", args.daemon)
    try:
        while True:
            for key, _mask in sel.select(FLUSH_EVERY):
                if key.data == "link":
                    now = time.time()
                    while True:
                        try:
                            data = links.recv(65536)
                        except BlockingIOError:
                            break
                        for state in carrier_events(data, ifindex):
                            if state != carrier:
                                carrier = state
                                link_log.write(json.dumps({"t": now, "interface": args.interface,
                                                           "carrier": state}) + "\n")
                                link_log.flush()
                    continue
                while True:
                    try:
                        data, ancdata, _flags, _peer = sock.recvmsg(2048, 64)
                    except BlockingIOError:
                        break
                    t = None
                    for level, kind, cdata in ancdata:
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(cdata) >= TIMESPEC.size:
                            sec, nsec = TIMESPEC.unpack_from(cdata)
                            t = sec + nsec / 1e9
                    if len(data) >= HEADER.size:
                        arrivals.add(HEADER.unpack_from(data)[0], t if t is not None else time.time())
            arrivals.flush()
    except Stop:
        pass
    finally:
        arrivals.close()
        link_log.close()


# ----------------------------------------------------------------------------------- mark / stop


def mark(args: argparse.Namespace) -> None:
    entry = {"t": time.time(), "phase": args.name, "move": args.move}
    with open(Path(args.dir) / "marks.jsonl", "a") as f:
        f.write(json.dumps(entry) + "\n")
    out(entry)


def _stop_one(directory: Path, name: str, timeout: float = 10.0) -> bool:
    pid_file = directory / f"{name}.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink()
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink()
    return True


def stop(args: argparse.Namespace) -> None:
    directory = Path(args.dir)
    stopped_at = time.time()
    source_stopped = _stop_one(directory, "source")
    time.sleep(args.linger)  # the last datagrams are still on their way
    sink_stopped = _stop_one(directory, "sink")
    (directory / "stopped.json").write_text(json.dumps({"t": stopped_at}) + "\n")
    out({"source": source_stopped, "sink": sink_stopped, "t": stopped_at})


# ---------------------------------------------------------------------------------------- report


def read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def analyse(directory: Path, grace: float = 0.5) -> dict[str, object]:
    """Datagrams sent, received and lost per phase; for a move, its link events and handoff."""
    sends = read_records(directory / "sends.bin")
    arrivals = read_records(directory / "arrivals.bin")
    marks = read_lines(directory / "marks.jsonl")
    links = read_lines(directory / "links.jsonl")
    stopped = json.loads((directory / "stopped.json").read_text())["t"] if (directory / "stopped.json").exists() \
        else (sends[-1][1] if sends else time.time())
    sent_at = dict(sends)
    received: dict[int, float] = {}
    for seq, t in arrivals:
        received.setdefault(seq, t)  # the first copy counts
    arrival_times = sorted(received.values())
    first_arrival_at = {t: seq for seq, t in received.items()}
    changes = [e for e in links if not e.get("initial")]
    phases = []
    for i, m in enumerate(marks):
        start = m["t"]
        end = marks[i + 1]["t"] if i + 1 < len(marks) else stopped
        in_phase = [seq for seq, t in sends if start <= t < end]
        lost = [seq for seq in in_phase if seq not in received]
        phase: dict[str, object] = {"phase": m["phase"], "start": start, "end": end, "move": bool(m.get("move")),
                                    "sent": len(in_phase), "received": len(in_phase) - len(lost),
                                    "lost": len(lost), "lost_in_handoff": 0, "lost_outside_handoff": len(lost),
                                    "handoff_ms": None, "outage_ms": None, "link_down": None, "link_up": None}
        if m.get("move"):
            down = next((e["t"] for e in changes if e["t"] >= start and e["carrier"] is False and e["t"] < end), None)
            up = next((e["t"] for e in changes if down is not None and e["t"] >= down and e["carrier"] is True
                       and e["t"] < end), None)
            first = next((t for t in arrival_times if up is not None and up <= t < end), None)
            phase.update(link_down=down, link_up=up)
            if first is not None:
                first_seq = first_arrival_at[first]
                phase.update(handoff_ms=round((first - up) * 1000, 1), outage_ms=round((first - down) * 1000, 1),
                             first_seq=first_seq)
                # The window: after the last datagram the old path delivered before the link went down
                # (when it delivered up to `grace` s before: else from `grace` s before the link went
                # down) up to the first datagram on the new link.
                last_before = max((t for t in arrival_times if t < down), default=None)
                if last_before is not None and last_before >= down - grace:
                    last_seq = first_arrival_at[last_before]
                    in_window = [seq for seq in lost if last_seq < seq < first_seq]
                    window = [sent_at.get(last_seq, down - grace), sent_at.get(first_seq, end)]
                else:
                    window = [down - grace, sent_at.get(first_seq, end)]
                    in_window = [seq for seq in lost if window[0] <= sent_at[seq] < window[1]]
                phase.update(lost_in_handoff=len(in_window), lost_outside_handoff=len(lost) - len(in_window),
                             window=window)
            elif down is not None:  # nothing came through after the move: all of it counts
                phase.update(window=[down - grace, end])
        phases.append(phase)
    total_lost = sum(p["lost"] for p in phases)
    return {"sent": len(sends), "received": len(received), "lost": total_lost,
            "lost_outside_handoff": sum(p["lost_outside_handoff"] for p in phases),
            "duplicates": len(arrivals) - len(received), "grace_s": grace, "phases": phases,
            "link_changes": changes}


def report(args: argparse.Namespace) -> None:
    result = analyse(Path(args.dir), args.grace)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    print(f"{'phase':<14}{'sent':>7}{'lost':>6}{'in handoff':>12}{'outside':>9}{'handoff':>10}")
    for p in result["phases"]:
        handoff = f"{p['handoff_ms']:.0f} ms" if p["handoff_ms"] is not None else "-"
        print(f"{p['phase']:<14}{p['sent']:>7}{p['lost']:>6}{p['lost_in_handoff']:>12}"
              f"{p['lost_outside_handoff']:>9}{handoff:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("source")
    p.add_argument("--dir", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--local")
    p.add_argument("--daemon", action="store_true")
    p.set_defaults(func=source)
    p = sub.add_parser("sink")
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--interface", required=True)
    p.add_argument("--local")
    p.add_argument("--daemon", action="store_true")
    p.set_defaults(func=sink)
    p = sub.add_parser("mark")
    p.add_argument("--dir", required=True)
    p.add_argument("name")
    p.add_argument("--move", action="store_true")
    p.set_defaults(func=mark)
    p = sub.add_parser("stop")
    p.add_argument("--dir", required=True)
    p.add_argument("--linger", type=float, default=0.5)
    p.set_defaults(func=stop)
    p = sub.add_parser("report")
    p.add_argument("--dir", required=True)
    p.add_argument("--grace", type=float, default=0.5)
    p.add_argument("--json")
    p.set_defaults(func=report)
    args = parser.parse_args()
    if getattr(args, "rate", 1.0) <= 0:
        parser.error("--rate must be positive")
    args.func(args)


if __name__ == "__main__":
    main()
