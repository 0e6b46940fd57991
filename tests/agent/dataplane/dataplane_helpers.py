"""Helpers of the data-plane tests: namespaces, the CN-R-HA/FA-MN topology, drivers, captures.

Every namespace is named ``mipdp-<pid>-<n>-<role>``; `Namespaces.cleanup()` (called by the
``netns`` fixture's finalizer, also when a test fails) removes every namespace and process a
test created. Traffic stays inside these namespaces. Also used by
benchmarks/tunnel_forwarding.py.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
PREFIX = f"mipdp-{os.getpid()}-"
_counter = itertools.count()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def purge_stale_namespaces() -> None:
    """Remove namespaces left by an earlier, killed run of these tests (its pid is gone)."""
    if os.geteuid() != 0 or not Path("/run/netns").is_dir():
        return
    for entry in Path("/run/netns").iterdir():
        m = re.match(r"mipdp-(\d+)-", entry.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            subprocess.run(["ip", "netns", "del", entry.name], check=False)


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Poll `predicate` until it holds (True) or `timeout` passes (False). Not a timing
    assertion: the timeout only bounds a wait for something that is expected to happen."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def run(cmd: list[str], *, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


class Namespaces:
    """Creates namespaces and processes in them; ``cleanup()`` removes them all."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.procs: list[subprocess.Popen[Any]] = []
        self.files: list[str] = []  # temporary files (captures) to remove
        self.tag = f"{PREFIX}{next(_counter)}-"

    def add(self, role: str) -> str:
        name = f"{self.tag}{role}"
        run(["ip", "netns", "add", name])
        self.names[role] = name
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def __getitem__(self, role: str) -> str:
        return self.names[role]

    def ip(self, role: str, *lines: str) -> None:
        """Run `ip` commands (batch syntax, one per line) in namespace `role`."""
        proc = subprocess.run(["ip", "-n", self.names[role], "-batch", "-"],
                              input="\n".join(lines) + "\n", capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(f"ip -batch in {role} failed: {proc.stderr.strip()}\n{lines}")

    def sysctl(self, role: str, **values: Any) -> None:
        for key, value in values.items():
            run(["ip", "netns", "exec", self.names[role], "sysctl", "-qw",
                 f"{key.replace('__', '.').replace('_DASH_', '-')}={value}"])

    def exec(self, role: str, *cmd: str, check: bool = True,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return run(["ip", "netns", "exec", self.names[role], *cmd], check=check, timeout=timeout)

    def tool(self, role: str, *args: str, timeout: float = 60) -> Any:
        """Run nettool.py in `role`, return its JSON result."""
        proc = self.exec(role, PYTHON, str(HERE / "nettool.py"), *args, timeout=timeout)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def spawn(self, role: str, *cmd: str, **kwargs: Any) -> subprocess.Popen[Any]:
        proc = subprocess.Popen(["ip", "netns", "exec", self.names[role], *cmd], **kwargs)
        self.procs.append(proc)
        return proc

    def veth(self, a: str, a_if: str, b: str, b_if: str) -> None:
        run(["ip", "-n", self.names[a], "link", "add", a_if, "type", "veth", "peer", "name", b_if,
             "netns", self.names[b]])

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        for name in self.names.values():
            run(["ip", "netns", "del", name], check=False)
        for path in self.files:
            if os.path.exists(path):
                os.unlink(path)


class Driver:
    """A data plane running in a namespace (driver.py), called like the runtime would."""

    def __init__(self, ns: Namespaces, role: str, **options: Any) -> None:
        self.role = role
        self.tunnel: Any = None  # id of the tunnel start_agents() opened
        self.proc = ns.spawn(role, PYTHON, str(HERE / "driver.py"), json.dumps(options),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, bufsize=1)
        self.hello = self._read(30)

    def _read(self, timeout: float) -> Any:
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                raise AssertionError(f"driver in {self.role} did not answer in {timeout}s")
        finally:
            sel.close()
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"driver in {self.role} exited: {err}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise DriverError(reply["error"], reply.get("trace", ""))
        return reply["result"]

    def __call__(self, op: str, **args: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self.proc.stdin.flush()
        return self._read(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self("exit")
            self.proc.wait(timeout=10)


class DriverError(Exception):
    def __init__(self, error: str, trace: str) -> None:
        super().__init__(error)
        self.error = error
        self.trace = trace


class Capture:
    """tcpdump writing a pcap in a namespace; ``stop()`` returns scapy packets."""

    def __init__(self, ns: Namespaces, role: str, iface: str, bpf: str) -> None:
        fd, self.path = tempfile.mkstemp(prefix="mipdp-", suffix=".pcap")
        os.close(fd)
        ns.files.append(self.path)
        self.proc = ns.spawn(role, "tcpdump", "-i", iface, "-n", "-U", "--immediate-mode", "-s", "0", "-w", self.path,
                             bpf, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()  # "tcpdump: listening on ..." once it captures
        if "listening" not in line:
            raise AssertionError(f"tcpdump did not start: {line}")

    def stop(self) -> list[Any]:
        from scapy.utils import rdpcap

        time.sleep(0.2)  # let the last frames reach the capture buffer
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        try:
            return list(rdpcap(self.path))
        finally:
            os.unlink(self.path)


@dataclass
class Topology:
    """CN - R - HA (home link) and R - FA - MN (visited link), 10.x addresses.

    cn 10.9.0.2 --- 10.9.0.1 rt 10.1.0.254 --- home link --- 10.1.0.1 ha
                             rt 10.2.0.254 --- 10.2.0.1 fa (care-of) 10.3.0.1 --- mn (HoA 10.1.0.50)
    """

    ns: Namespaces
    macs: dict[str, str] = field(default_factory=dict)
    HOA = "10.1.0.50"
    HA = "10.1.0.1"
    COA = "10.2.0.1"
    CN = "10.9.0.2"
    FA_VISITED = "10.3.0.1"

    def mac(self, role: str, ifname: str) -> str:
        key = f"{role}/{ifname}"
        if key not in self.macs:
            out = self.ns.exec(role, "cat", f"/sys/class/net/{ifname}/address").stdout.strip()
            self.macs[key] = out
        return self.macs[key]


def build_topology(ns: Namespaces) -> Topology:
    for role in ("cn", "rt", "ha", "fa", "mn"):
        ns.add(role)
    ns.veth("cn", "cn0", "rt", "rt-c")
    ns.veth("rt", "rt-h", "ha", "ha-h")
    ns.veth("rt", "rt-f", "fa", "fa-r")
    ns.veth("fa", "fa-v", "mn", "mn0")
    ns.ip("cn", "addr add 10.9.0.2/24 dev cn0", "link set cn0 up", "route add default via 10.9.0.1")
    ns.ip("rt", "addr add 10.9.0.1/24 dev rt-c", "addr add 10.1.0.254/24 dev rt-h",
          "addr add 10.2.0.254/24 dev rt-f", "link set rt-c up", "link set rt-h up",
          "link set rt-f up")
    ns.ip("ha", "addr add 10.1.0.1/24 dev ha-h", "link set ha-h up",
          "route add default via 10.1.0.254")
    ns.ip("fa", "addr add 10.2.0.1/24 dev fa-r", "addr add 10.3.0.1/24 dev fa-v",
          "link set fa-r up", "link set fa-v up", "route add default via 10.2.0.254")
    topo = Topology(ns)
    # the MN away from home: home address only, FA as first hop with its MAC known from the
    # agent advertisement (RFC 5944 §4.2.1: no broadcast ARP away from home)
    ns.ip("mn", "addr add 10.1.0.50/32 dev mn0", "link set mn0 up",
          "route add 10.3.0.1 dev mn0 scope link",
          "route add default via 10.3.0.1 dev mn0 onlink",
          f"neigh replace 10.3.0.1 lladdr {topo.mac('fa', 'fa-v')} dev mn0 nud permanent")
    ns.sysctl("rt", net__ipv4__ip_forward=1)
    return topo


def kernel_state(ns: Namespaces, role: str) -> dict[str, str]:
    """What `ip` shows of routes (all tables), rules, neighbours, proxies and links."""
    return {
        "routes": ns.exec(role, "ip", "route", "show", "table", "all").stdout,
        "rules": ns.exec(role, "ip", "rule").stdout,
        "neigh": ns.exec(role, "ip", "neigh", "show", "nud", "permanent").stdout,
        "proxy": ns.exec(role, "ip", "neigh", "show", "proxy").stdout,
        "links": ns.exec(role, "ip", "-o", "link").stdout,
    }


PORT = 7007


def start_agents(topo: Topology, encap: str, *, reverse: bool, ha_opts: dict | None = None,
                 fa_opts: dict | None = None, mtu: int | None = None) -> tuple[Driver, Driver]:
    """HA and FA data planes set up as the runtime would for the MN registered via the FA."""
    ns = topo.ns
    ha = Driver(ns, "ha", **(ha_opts or {}))
    fa = Driver(ns, "fa", **(fa_opts or {}))
    # HA: binding HoA -> CoA (RFC 5944 §4.2.3, §4.6)
    t_ha = ha("add_tunnel", local=topo.HA, remote=topo.COA, encap=encap, mtu=mtu)["id"]
    ha("route_via_tunnel", dest=topo.HOA, tunnel=t_ha)
    ha("proxy_arp", address=topo.HOA, dev="ha-h", on=True)
    ha("gratuitous_arp", address=topo.HOA, dev="ha-h")
    # FA: visitor entry (RFC 5944 §4.2.2) and, optionally, the reverse tunnel (RFC 3024)
    t_fa = fa("add_tunnel", local=topo.COA, remote=topo.HA, encap=encap, mtu=mtu)["id"]
    fa("add_host_route", dest=topo.HOA, dev="fa-v", lladdr=topo.mac("mn", "mn0"))
    if reverse:
        fa("reverse_tunnel", source=topo.HOA, tunnel=t_fa, iif="fa-v")
    ha.tunnel, fa.tunnel = t_ha, t_fa
    return ha, fa


def echo_server(topo: Topology, role: str, bind: str = "0.0.0.0") -> None:
    """A UDP echo server on `bind`:PORT in `role` (the system python3: stdlib only, starts
    fast)."""
    proc = topo.ns.spawn(role, "python3", "-u", "-c", _ECHO, str(PORT), bind, stdout=-1,
                         text=True)
    assert proc.stdout is not None and "ready" in proc.stdout.readline()


_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = DONT: replies may be fragmented
s.bind((sys.argv[2], int(sys.argv[1])))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(65535)
    s.sendto(d, a)
"""
